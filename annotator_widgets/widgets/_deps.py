"""The optional widget libraries, imported in one place with an error that names the ``[widgets]`` extra."""

from __future__ import annotations

import logging
import sys

from ..backends._optional import require

__all__ = ["enable_colab", "ipycanvas", "ipyevents", "ipywidgets"]

log = logging.getLogger(__name__)

ipywidgets = require("ipywidgets", "widgets", purpose="the annotator widgets")
ipycanvas = require("ipycanvas", "widgets", purpose="the annotator widgets")
ipyevents = require("ipyevents", "widgets", purpose="the annotator widgets")

_colab_enabled = False


def enable_colab() -> bool:
    """Turn on Colab's custom widget manager when running in Colab (needed for ipycanvas); True if done.

    Outside Colab (``google.colab`` not imported) this does nothing.
    """
    global _colab_enabled
    if _colab_enabled or "google.colab" not in sys.modules:
        return _colab_enabled
    try:
        from google.colab import output  # type: ignore[import-not-found, unused-ignore]

        output.enable_custom_widget_manager()
        _colab_enabled = True
        log.info("enabled Colab's custom widget manager for ipycanvas")
    except Exception as exc:  # noqa: BLE001 - Colab's API moved: keep going, clicks may not reach the kernel
        log.warning("could not enable Colab's custom widget manager: %s", exc)
    return _colab_enabled
