"""The runnable examples in the export modules' docstrings (the package-wide list lives in tests/test_doctests.py)."""

import doctest
import importlib

import pytest

MODULES = [
    "annotator_widgets.export._io",
    "annotator_widgets.export.polygons",
    "annotator_widgets.export.coco",
    "annotator_widgets.export.coco_import",
    "annotator_widgets.export.yolo",
    "annotator_widgets.export.yolo_import",
    "annotator_widgets.export.mot",
    "annotator_widgets.export.mot_import",
    "annotator_widgets.export.davis",
    "annotator_widgets.export.cvat",
    "annotator_widgets.export.cvat_import",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
