"""The captions tool, kernel side: it shows the current object's caption on the current frame, Save stores a person's
text (one undo step, empty deletes), Describe runs the chosen captioner in a worker (progress, Cancel) on this frame or
every frame of the object, and a person's edit survives a later Describe. The captioner is a recording test double
registered as a ``captioner`` part (the real captioners are tested in tests/backends and tests/workflows)."""

from __future__ import annotations

import threading
from typing import ClassVar

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, registry
from annotator_widgets.errors import PromptError
from annotator_widgets.widgets import VideoAnnotator
from annotator_widgets.widgets.tools.captions import CaptionsTool
from annotator_widgets.workflows.describe import edit_caption
from tests.support.waiting import wait_idle


class Recorder:
    """Captioner double: answers "<name> <width>x<height> <prompt>" and records the crops it saw."""

    gate: threading.Event | None = None
    started = threading.Event()
    calls: ClassVar[list[list[np.ndarray]]] = []
    args: ClassVar[list[object]] = []

    def __init__(self, arg=None) -> None:
        self.name = "recorder"
        Recorder.args.append(arg)

    def describe(self, images, prompts):
        Recorder.started.set()
        if Recorder.gate is not None:
            assert Recorder.gate.wait(30), "the test never opened the gate"
        Recorder.calls.append(list(images))
        return [f"seen {im.shape[1]}x{im.shape[0]} {p}".strip() for im, p in zip(images, prompts, strict=True)]

    def close(self) -> None:
        pass


@pytest.fixture
def recorder():
    Recorder.gate, Recorder.calls, Recorder.args = None, [], []
    Recorder.started.clear()
    registry.register("captioner", "recorder", Recorder)
    yield Recorder
    registry.unregister("captioner", "recorder")
    Recorder.gate = None


@pytest.fixture
def ann(clip, disc, recorder, tmp_path):
    s = AnnotationSession(clip.frames, project=tmp_path / "c.awp", segmenter=disc, show_progress=False)
    a = VideoAnnotator(s, tools=["points", "captions"], max_display_side=160)
    yield a
    a.close()
    s.close()


def test_save_shows_edits_and_undoes_one_step(ann):
    tool = ann.tools["captions"]
    assert isinstance(tool, CaptionsTool) and "aw-captions" in tool.widget._dom_classes
    assert "recorder" in tool.captioners.options
    assert tool.target() == 0 and "the whole frame" in tool.what.value and tool.box.value == ""
    ann.click(60, 50)  # an object with a mask on frame 0
    oid = ann.current_object
    assert tool.target() == oid and f"object {oid}" in tool.what.value
    tool.box.value = "a ball rolling left"
    tool.save_button.click()
    assert ann.session.view(0).captions[oid].text == "a ball rolling left" and "saved" in ann.status
    assert tool.source.value == "<i>by a person</i>"
    ann.frame = 1
    assert tool.box.value == ""  # nothing described on frame 1
    ann.frame = 0
    assert tool.box.value == "a ball rolling left"
    tool.box.value = "a red ball"
    tool.save()
    ann.session.undo()  # one step back: the first text
    ann.refresh()
    assert tool.box.value == "a ball rolling left"
    tool.box.value = "   "
    assert tool.save() is None and oid not in ann.session.view(0).captions and "deleted" in ann.status


def test_typing_survives_an_unrelated_refresh(ann):
    tool = ann.tools["captions"]
    tool.box.value = "half typed"
    ann.refresh()
    assert tool.box.value == "half typed"
    ann.frame = 2  # another frame: its caption (none)
    assert tool.box.value == ""


def test_describe_this_frame_then_every_frame_of_the_object_keeping_a_persons_edit(ann, recorder):
    tool = ann.tools["captions"]
    ann.click(60, 50)
    oid = ann.current_object
    wait_idle(ann, ann.propagate())
    ann.frame = 0  # the propagation followed the frames
    tool.captioners.value = "recorder"
    tool.prompt = "What is the {object} doing?"
    job = tool.describe()
    wait_idle(ann, job)
    (cap,) = job.result()
    assert cap.frame == 0 and cap.obj_id == oid and cap.model == "recorder"
    assert cap.text.endswith("What is the object doing?") and tool.box.value == cap.text
    assert "by recorder, asked 'What is the object doing?'" in tool.source.value
    assert "described 1 frame(s) with recorder" in ann.status and ann.error == ""
    # a person edits frame 0; then Describe every frame of the object: 12 frames, the edit is kept
    tool.box.value = "my words"
    tool.save()
    tool.scope = "object"
    job = tool.describe()
    wait_idle(ann, job)
    assert [c.frame for c in job.result()] == list(range(12))
    assert ann.session.view(0).captions[oid].text == "my words" and ann.session.view(0).captions[oid].edited
    assert ann.session.view(5).captions[oid].model == "recorder"
    assert tool.box.value == "my words" and ", edited" in tool.source.value


def test_describe_the_whole_frame_and_cancel(ann, recorder):
    tool = ann.tools["captions"]
    tool.captioner = Recorder()
    wait_idle(ann, tool.describe())
    assert ann.session.view(0).captions[0].text == "seen 320x180"  # the whole frame, object 0
    # cancel while the first batch of 8 frames is described: the 8 are kept, the other 4 are not asked for
    ann.click(60, 50)
    wait_idle(ann, ann.propagate())
    tool.scope = "object"
    recorder.started.clear()
    recorder.gate = threading.Event()
    job = tool.describe()
    assert recorder.started.wait(30)
    job.cancel()
    recorder.gate.set()
    wait_idle(ann, job)
    assert "describing cancelled after 8 of 12 frames" in ann.status and ann.error == ""
    oid = ann.current_object
    assert [f for f in range(12) if oid in ann.session.view(f).captions] == list(range(8))


def test_describe_an_object_with_no_mask_here_is_a_clear_error(ann):
    tool = ann.tools["captions"]
    tool.captioners.value = "recorder"
    ann.click(60, 50)
    ann.frame = 4  # not propagated: no mask on frame 4
    wait_idle(ann, tool.describe())
    assert "has no mask on frame(s) 4" in ann.error and "propagate it first" in ann.error


def test_edit_caption_bad_input(ann):
    s = ann.session
    with pytest.raises(PromptError, match="out of range"):
        edit_caption(s, 99, 0, "x")
    with pytest.raises(PromptError, match="unknown object"):
        edit_caption(s, 0, 42, "x")
    with pytest.raises(PromptError, match="a caption is text"):
        edit_caption(s, 0, 0, None)  # type: ignore[arg-type]
    assert s.view(0).captions == {}


def test_the_captioner_box_takes_a_saved_models_folder(ann, recorder, tmp_path):
    """Offline, a model is a folder ("blip:<folder>", as the error of a missing model says): the captioner box
    takes it typed (a dropdown offered only the names), and a captioner set from code shows in the box."""
    tool = ann.tools["captions"]
    ann.click(60, 50)
    tool.captioners.value = f"recorder:{tmp_path}"  # typed by the person
    assert tool.captioner == f"recorder:{tmp_path}"
    wait_idle(ann, tool.describe())
    assert recorder.args[-1] == str(tmp_path) and ann.error == ""
    tool.captioner = "recorder"  # from code: the box says what Describe will use
    assert tool.captioners.value == "recorder"
    wait_idle(ann, tool.describe())
    assert recorder.args[-1] is None
    tool.captioners.value = "  "
    with pytest.raises(PromptError, match="no captioner"):
        tool.describe()
