"""A probe module whose import skips (a missing library), as ``pytest.importorskip`` at module level does."""

import pytest

pytest.importorskip("annotator_widgets_no_such_library")


def test_never_runs() -> None:
    raise AssertionError("unreachable")
