"""The Text tool, kernel side: Find shows candidates, clicks accept or reject them, Enter accepts all, clicks elsewhere
refine, and Propagate re-detects every K frames - driven through the tool's public methods and DOM events, with a
scripted grounder (the clip's true boxes) registered as a part."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, registry
from annotator_widgets.widgets import VideoAnnotator
from annotator_widgets.widgets.tools.text import TextTool, route_options
from tests.support.scripted import register_scripted
from tests.support.waiting import wait_for, wait_idle

PHRASE = "a blob"


def mouse(ann, x, y, *, button=0, shift=False):
    for kind in ("mousedown", "mouseup"):
        ann.mouse_events._dom_handlers(
            {
                "type": kind,
                "button": button,
                "shiftKey": shift,
                "relativeX": x / 2,
                "relativeY": y / 2,
                "boundingRectWidth": 160,
            }
        )


@pytest.fixture
def scripted(clip):
    def script(frame):
        out = []
        for oid in (1, 2):
            b = clip.boxes[oid][frame]
            if not np.isnan(b).any() and (oid == 1 or frame >= 4):  # object 2 is seen from frame 4 on
                out.append((PHRASE, tuple(float(v) for v in b), 0.9 - 0.1 * oid))
        return out

    built = register_scripted(clip.frames, script)
    yield built
    registry.unregister("grounder", "scripted")


@pytest.fixture
def ann(clip, disc, tmp_path):
    s = AnnotationSession(clip.frames, project=tmp_path / "t.awp", segmenter=disc, show_progress=False)
    a = VideoAnnotator(s, tools=["text"], max_display_side=160)
    yield a
    a.close()
    s.close()


def test_route_options_list_registered_grounders():
    opts = route_options()
    assert opts[:5] == ["auto", "faces", "people", "concept", "detector"] and "grounder:owlv2" in opts


def test_find_accept_reject_enter_and_refine(clip, scripted, ann):
    tool = ann.tools["text"]
    assert isinstance(tool, TextTool) and "aw-text" in tool.widget._dom_classes
    assert ann.press("w") == "text.toggle" and ann.tool == "text"
    tool.text, tool.route = PHRASE, "grounder:scripted"
    ann.frame = 4
    wait_idle(ann, tool.find())
    cands = tool.candidates()
    assert len(cands) == 2 and "2 candidate(s)" in ann.status
    assert all(d.model == "scripted" for d in cands.values())
    first, second = sorted(cands, key=lambda i: -cands[i].score)
    # a click in the first box accepts it: an object named by the phrase, prompted with the box and the text
    b = cands[first].box
    mouse(ann, (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2)
    objs = ann.session.objects
    assert [o.name for o in objs] == [PHRASE] and ann.current_object == objs[0].obj_id
    (p,) = ann.session.prompts(4)
    assert p.text == PHRASE and p.box == b
    assert list(tool.candidates()) == [second]
    # Shift+click on the other one rejects it; Find again shows it no more... then Enter accepts what is left
    b2 = cands[second].box
    mouse(ann, (b2.x0 + b2.x1) / 2, (b2.y0 + b2.y1) / 2, shift=True)
    assert tool.candidates() == {} and len(ann.session.objects) == 1
    assert ann.session.project.detections(4, rejected=True).keys() == {second}
    assert tool.accept_all() == [] and "no candidate" in ann.status
    # a click outside any candidate is an ordinary point for the current object: it refines it
    obj = objs[0].obj_id
    mouse(ann, 2, 2)
    (p,) = ann.session.prompts(4)
    assert p.obj_id == obj and len(p.points) == 1 and p.box == b


def test_enter_accepts_all_then_propagate_with_redetection(clip, scripted, ann):
    tool = ann.tools["text"]
    tool.text, tool.route, tool.every = PHRASE, "grounder:scripted", 3
    ann.tool = "text"
    wait_idle(ann, tool.find())
    assert len(tool.candidates()) == 1  # only object 1 is seen on frame 0
    assert tool.draw_candidates() == 1
    ann.key_events._dom_handlers({"type": "keydown", "key": "Enter"})
    assert len(ann.session.objects) == 1 and tool.candidates() == {}
    job = tool.propagate()
    wait_idle(ann, job)
    assert job.result() == len(clip.frames)
    objs = ann.session.objects
    assert len(objs) == 2 and objs[1].name == PHRASE  # object 2 appeared: re-detected on frame 6
    assert ann.session.project.prompt_frames(objs[1].obj_id) == [6]
    assert "new objects [" in ann.status and ann.error == ""
    assert scripted[-1].calls == [3, 6, 9]


def test_find_with_nothing_found_says_so(clip, scripted, ann):
    tool = ann.tools["text"]
    tool.text, tool.route = "a unicorn", "grounder:scripted"
    job = tool.find()
    wait_idle(ann, job)
    assert "found nothing" in ann.error and "a unicorn" in ann.error
    assert ann.session.objects == [] and ann.session.project.detections(rejected=None) == {}


def test_the_models_own_threshold_until_one_is_set(clip, disc, tmp_path):
    """A grounder's own threshold (here 0.5, like the faces route) applies unless the person sets one: a fixed
    low default in the widget turned every weak match (0.2 here; headlights on bikes.mp4) into a candidate,
    and re-detection into a new object each time."""
    from tests.support.scripted import ScriptedGrounder

    def script(frame):
        b1 = clip.boxes[1][frame]
        return [(PHRASE, tuple(float(v) for v in b1), 0.9), (PHRASE, (2.0, 2.0, 30.0, 30.0), 0.2)]

    built = []

    def factory(arg=None, *, threshold=0.5, top_k=None):
        built.append(ScriptedGrounder(clip.frames, script, name="picky", threshold=threshold))
        return built[-1]

    registry.register("grounder", "picky", factory, summary="test double: a 0.5 default threshold", replace=True)
    s = AnnotationSession(clip.frames, project=tmp_path / "t.awp", segmenter=disc, show_progress=False)
    ann = VideoAnnotator(s, tools=["text"], max_display_side=160)  # the route list is read when the bar is built
    try:
        tool = ann.tools["text"]
        assert tool.threshold is None and tool.default_threshold.value and tool.slider.disabled
        tool.text, tool.route, tool.every = PHRASE, "grounder:picky", 4
        wait_idle(ann, tool.find())
        assert [d.score for d in tool.candidates().values()] == [0.9]  # the weak match is the model's to drop
        assert built[-1].threshold == 0.5
        tool.accept_all()
        wait_idle(ann, tool.propagate())
        assert len(ann.session.objects) == 1  # re-detection added no object for the weak match
        # the person sets one: unticking the box takes the slider's value, moving the slider changes it
        tool.default_threshold.value = False
        assert tool.threshold == tool.slider.value and not tool.slider.disabled
        tool.slider.value = 0.15
        assert tool.threshold == 0.15
        ann.frame = 0
        wait_idle(ann, tool.find())
        # the weak one is offered now; the strong one is the object accepted before (linked, not offered again)
        assert [d.score for d in tool.candidates().values()] == [0.2]
        assert [d.score for d in ann.session.project.detections(0, obj_id=...).values() if d.obj_id] == [0.9]
        assert built[-1].threshold == 0.15
        tool.threshold = None  # from code: back to the model's own, and the bar shows it
        assert tool.default_threshold.value and tool.slider.disabled
    finally:
        ann.close()
        s.close()
        registry.unregister("grounder", "picky")


def test_propagate_with_redetection_shows_the_frames_as_they_come(clip, scripted, ann, disc):
    """Propagate with re-detection ran for minutes on bikes.mp4 with the canvas on its first frame and the timeline
    filled in only at the end; now the canvas follows the frames as Propagate does, until the person navigates."""
    import threading

    tool = ann.tools["text"]
    tool.text, tool.route, tool.every = PHRASE, "grounder:scripted", 3
    wait_idle(ann, tool.find())
    tool.accept_all()
    wait_idle(ann, tool.propagate())
    assert ann.frame == len(clip.frames) - 1  # followed to the last frame
    (row, *_) = ann.timeline_rows
    assert row.mask_frames() == list(range(len(clip.frames)))
    # navigating while it runs stops the following: the person stays where they went
    ann.frame = 0
    disc.gate = threading.Semaphore(0)
    job = tool.propagate()
    for _ in range(3):
        disc.gate.release()
    wait_for(lambda: ann.frame == 2)
    ann.frame = 1  # the person goes back
    for _ in range(20):
        disc.gate.release()
    wait_idle(ann, job)
    assert ann.frame == 1 and job.error is None


def test_a_route_with_a_saved_models_folder_can_be_typed(clip, scripted, ann, tmp_path):
    """Offline, a grounder is a folder: route "grounder:owlv2:<folder>" (the spec the README and the objects' meta
    use). The route dropdown refused it, typed or set from code (TraitError); the box takes it."""
    tool = ann.tools["text"]
    assert "grounder:scripted" in tool.routes.options and tool.routes.value == "auto"
    tool.routes.value = f"grounder:scripted:{tmp_path}"  # typed
    assert tool.route == f"grounder:scripted:{tmp_path}"
    tool.text = PHRASE
    wait_idle(ann, tool.find())
    assert len(tool.candidates()) == 1 and ann.error == ""
    tool.route = "faces"  # from code: the box shows it
    assert tool.routes.value == "faces"
