"""The annotator is made of tools: a new tool is one class plus one registration, and plugs in by name."""

from __future__ import annotations

import pytest

from annotator_widgets import AnnotationSession, registry
from annotator_widgets.errors import BackendError, PromptError
from annotator_widgets.widgets import Shortcut, Tool, VideoAnnotator, help_text
from annotator_widgets.widgets.tools import make_tools
from annotator_widgets.widgets.tools.person import PersonTool
from annotator_widgets.widgets.tools.points import PointsTool


class StampTool(Tool):
    """A test tool using only the host's public API: a click stamps a 20x20 box for the current object."""

    name = "stamp"
    tooltip = "a click stamps a box"
    hint = "stamp clicks: a click stamps a box"
    cursor = "copy"
    shortcuts = (Shortcut(("x",), "toggle", "stamp clicks on / off"), Shortcut(("z",), "toggle", "never reached"))
    mouse_help = (("click (stamp mode)", "stamp a box"),)

    def __init__(self) -> None:
        super().__init__()
        self.activations: list[str] = []

    def on_click(self, x, y, *, button=0, shift=False):
        if button != 0:
            return False
        host = self.host
        with host.lock:
            host.check_idle("stamp")
            masks = host.session.add_box(host.frame, host.ensure_object(), (x - 10, y - 10, x + 10, y + 10))
            host.refresh(f"stamped at ({x:.0f}, {y:.0f})", masks=masks)
        return True

    def activate(self):
        self.activations.append("on")
        super().activate()

    def deactivate(self):
        self.activations.append("off")


@pytest.fixture
def stamp():
    registry.register("tool", "stamp", StampTool)
    yield
    registry.unregister("tool", "stamp")


@pytest.fixture
def session(clip, disc, tmp_path):
    s = AnnotationSession(clip.frames, project=tmp_path / "t.awp", segmenter=disc)
    yield s
    s.close()


def mouse(ann, kind, x, y, *, button=0):
    ann.mouse_events._dom_handlers(
        {"type": kind, "button": button, "relativeX": x, "relativeY": y, "boundingRectWidth": 160}
    )


def test_a_registered_tool_plugs_in_by_name(stamp, session):
    ann = VideoAnnotator(session, tools=["stamp"], max_display_side=160)
    try:
        assert list(ann.tools) == ["points", "stamp"]  # points is always there, first
        assert [v for _, v in ann.toolbar.tool.options] == ["points", "stamp"]
        assert "cursor: copy" in ann.canvas.style.value and "stamp clicks on / off" in ann.toolbar.help_panel.value
        assert ann.press("x") == "stamp.toggle"
        tool = ann.tools["stamp"]
        assert ann.tool == "stamp" and "aw-tool-stamp" in ann.canvas.surface._dom_classes
        assert tool.activations == ["on"] and ann.status == StampTool.hint
        mouse(ann, "mousedown", 50, 30)  # CSS (50, 30) on the half-size canvas: video (100, 60)
        mouse(ann, "mouseup", 50, 30)
        [prompt] = session.prompts(0)
        assert prompt.box.xyxy == (90.0, 50.0, 110.0, 70.0) and "stamped at (100, 60)" in ann.status
        mouse(ann, "mousedown", 60, 30, button=2)  # not handled by the stamp tool: the base tool's negative point
        mouse(ann, "mouseup", 60, 30, button=2)
        [prompt] = session.prompts(0)
        assert [(p.x, p.y, p.label) for p in prompt.points] == [(120.0, 60.0, 0)]
        assert ann.press("z") == "undo" and len(session.prompts(0)[0].points) == 0  # the annotator's keys come first
        ann.press("Escape")
        assert ann.tool == "points" and tool.activations == ["on", "off"]
        with pytest.raises(PromptError, match="unknown click tool"):
            ann.tool = "person"  # not in this annotator
    finally:
        ann.close()


def test_make_tools_checks_what_it_is_given(stamp):
    tools = make_tools(["person", StampTool, PointsTool()])
    assert [t.name for t in tools] == ["points", "person", "stamp"]
    assert isinstance(tools[1], PersonTool)
    with pytest.raises(BackendError, match="unknown tool") as err:
        make_tools(["lasso"])
    assert "person" in str(err.value) and "stamp" in str(err.value)  # the known names are listed
    with pytest.raises(BackendError, match="must be a Tool"):
        make_tools([object()])
    with pytest.raises(BackendError, match="own non-empty name"):
        make_tools(["person", PersonTool()])


def test_a_tool_instance_belongs_to_one_annotator(session):
    person = PersonTool()
    with pytest.raises(BackendError, match="not part of an annotator"):
        person.host  # noqa: B018
    ann = VideoAnnotator(session, tools=["points", person], max_display_side=160)
    try:
        assert ann.tools["person"] is person and person.host is ann
        assert "region" not in ann.tools and "o: person clicks" in help_text(list(ann.tools.values()))
        with pytest.raises(BackendError, match="already belongs"):
            VideoAnnotator(session, tools=[person], max_display_side=160)
    finally:
        ann.close()
