"""The runnable examples in docstrings are tests too."""

import doctest
import importlib

import pytest

MODULES = [
    "annotator_widgets",
    "annotator_widgets.errors",
    "annotator_widgets.rle",
    "annotator_widgets.types",
    "annotator_widgets.video",
    "annotator_widgets.project",
    "annotator_widgets.project_schema",
    "annotator_widgets.project_migrations",
    "annotator_widgets.cuts",
    "annotator_widgets.cutscan",
    "annotator_widgets.store.tables",
    "annotator_widgets.store.lock",
    "annotator_widgets.store.undo",
    "annotator_widgets.store.store",
    "annotator_widgets.store.migrations",
    "annotator_widgets.session",
    "annotator_widgets.segmenter_sync",
    "annotator_widgets.prompt_input",
    "annotator_widgets.render",
    "annotator_widgets.render.overlay",
    "annotator_widgets.render.effects",
    "annotator_widgets.render.video",
    "annotator_widgets.render.region",
    "annotator_widgets.render.layers",
    "annotator_widgets.render.compose",
    "annotator_widgets.export.coco",
    "annotator_widgets.export.base",
    "annotator_widgets.backends._optional",
    "annotator_widgets.backends._sam2_memory",
    "annotator_widgets.backends.pose",
    "annotator_widgets.pose_tracking",
    "annotator_widgets.pose_tracker",
    "annotator_widgets.pose_features",
    "annotator_widgets.progress",
    "annotator_widgets.view",
    "annotator_widgets.workflows.poses",
    "annotator_widgets.workflows.text",
    "annotator_widgets.workflows.text_tracking",
    "annotator_widgets.workflows.text_routes",
    "tests.support.people",
    "annotator_widgets.data",
    "annotator_widgets.landmarks",
    "annotator_widgets.registry",
    "annotator_widgets.metrics",
    "annotator_widgets.crops",
    "annotator_widgets.workflows.candidates",
    "annotator_widgets.workflows.describe",
    "annotator_widgets.hands",
    "annotator_widgets.interactions",
    "annotator_widgets.action_segments",
    "annotator_widgets.export.actions",
    "tests.support.interaction_clip",
    "annotator_widgets.widgets.shortcuts",
    "annotator_widgets.widgets.notes",
    "annotator_widgets.widgets.tools.effects",
    "annotator_widgets.widgets.tools.export",
    "annotator_widgets.widgets.tools.interactions",
    "annotator_widgets.widgets.action_strip",
    "annotator_widgets.workflows.outputs",
    "annotator_widgets.widgets.flow",
    "annotator_widgets.widgets.landing",
    "annotator_widgets.widgets.tools.captions",
    "annotator_widgets.widgets.tools.text",
    "annotator_widgets.widgets.timeline",
    "annotator_widgets.workflows.people_detect",
    "annotator_widgets.batch.language",
    "annotator_widgets.cli_args",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
