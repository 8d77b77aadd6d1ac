"""``python -m annotator_widgets``: the ``annotator-widgets`` command (:mod:`annotator_widgets.cli`)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
