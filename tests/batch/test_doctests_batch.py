"""The batch modules' runnable examples (kept here rather than in tests/test_doctests.py's shared list)."""

import doctest
import importlib

import pytest

MODULES = [
    "annotator_widgets.batch.manifest",
    "annotator_widgets.batch.pipeline",
    "annotator_widgets.batch.runner",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
