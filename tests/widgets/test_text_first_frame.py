"""The Text tool's "Find first frame", kernel side: the scan runs as a worker job, the annotator jumps to the found
frame, the best candidate is drawn and the score curve along the timeline, a click tracks it both ways (one undo step),
Shift+click dismisses it, nothing found is said with the best score, Cancel stores nothing.

The clip is generated with its true masks; object 2 turns pure red on frame ``RED_FROM``. The scorer is a test double
registered as a ``scorer`` part (a crop's score for a "red ..." phrase is its share of pure-red pixels), the candidates
are the true masks, the segmenter is the real classic one.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video, registry
from annotator_widgets.data import synthetic_clip
from annotator_widgets.widgets import VideoAnnotator
from annotator_widgets.widgets.timeline import curve_bars
from annotator_widgets.widgets.tools.text import TextTool, candidate_options
from tests.support.waiting import wait_for, wait_idle

NUM_FRAMES, RED_FROM, TARGET = 24, 13, 2


class RedScorer:
    """Scorer double: the embedding of a crop is (red share, rest); "red ..." phrases score the red share.

    ``gate`` (an Event), when set on the class, makes every image batch wait for it; ``started`` is set on the
    first batch.
    """

    gate: threading.Event | None = None
    started = threading.Event()

    args: ClassVar[list[object]] = []

    def __init__(self, arg=None) -> None:
        self.name = "red-test"
        RedScorer.args.append(arg)

    def embed_images(self, crops):
        RedScorer.started.set()
        if RedScorer.gate is not None:
            assert RedScorer.gate.wait(30), "the test never opened the gate"
        red = [float(np.mean((c[..., 0] > 200) & (c[..., 1] < 60) & (c[..., 2] < 60))) for c in crops]
        return np.asarray([[r, 1.0 - r] for r in red], np.float32)

    def embed_text(self, phrases):
        return np.asarray([[1.0, 0.0] if "red" in p else [0.0, 0.0] for p in phrases], np.float32)

    def score(self, images, texts):
        return np.clip(np.asarray(images) @ np.asarray(texts).T, 0.0, 1.0)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def red():
    clip = synthetic_clip(num_frames=NUM_FRAMES, size=(96, 72), num_objects=2, seed=3)
    frames = clip.frames.copy()
    for t in range(NUM_FRAMES):
        frames[t][clip.masks[TARGET][t]] = (255, 0, 0) if t >= RED_FROM else (0, 0, 255)
    truth = {t: [clip.masks[1][t], clip.masks[TARGET][t]] for t in range(NUM_FRAMES)}
    return frames, clip.masks, truth


@pytest.fixture
def scorer_part():
    RedScorer.gate, RedScorer.args = None, []
    RedScorer.started.clear()
    registry.register("scorer", "red-test", RedScorer)
    yield
    registry.unregister("scorer", "red-test")
    RedScorer.gate = None


@pytest.fixture
def ann(red, scorer_part, tmp_path):
    frames, _, truth = red
    s = AnnotationSession(open_video(frames, fps=30.0), project=tmp_path / "f.awp", segmenter="classic")
    a = VideoAnnotator(s, tools=["text"], max_display_side=96)
    tool = a.tools["text"]
    assert isinstance(tool, TextTool)
    tool.text, tool.scorer, tool.find_candidates, tool.find_every, tool.find_threshold = (
        "red shoes",
        "red-test",
        truth,
        5,
        0.2,
    )
    yield a
    a.close()
    s.close()


def mouse(ann, x, y, *, shift=False):
    for kind in ("mousedown", "mouseup"):
        ann.mouse_events._dom_handlers(
            {"type": kind, "button": 0, "shiftKey": shift, "relativeX": x, "relativeY": y, "boundingRectWidth": 96}
        )


def test_find_first_frame_jumps_draws_the_curve_and_a_click_tracks_both_ways(red, ann):
    _, masks, _ = red
    tool = ann.tools["text"]
    assert "aw-text-first" in tool.widget.children[1]._dom_classes and "red-test" in tool.scorers.options
    assert candidate_options()[0] == "grid" and "grounder:owlv2" in candidate_options()
    flat = ann.timeline.widget.height
    job = tool.find_first()
    wait_idle(ann, job)
    found = job.result()
    assert found.frame == RED_FROM and ann.frame == RED_FROM and tool.found is found
    assert np.array_equal(found.mask, masks[TARGET][RED_FROM])
    assert f"first matches on frame {RED_FROM}" in ann.status and ann.error == ""
    # coarse 0, 5, ..., 23 in one batch (15 passes), then 11..14 in one (13 passes): the curve along the
    # timeline is the scan's, with its threshold
    assert sorted(ann.timeline.curve) == [0, 5, 10, 11, 12, 13, 14, 15, 20, 23] and ann.timeline.curve == found.curve
    assert ann.timeline.curve_threshold == 0.2 and ann.timeline.widget.height > flat
    assert tool.draw_candidates() == 1  # the found region's dashed box on this frame...
    ann.frame = 3
    assert tool.draw_candidates() == 0  # ...and not on another
    ann.frame = RED_FROM
    # in text mode a click on the found region tracks it forward and backward: one object named by the phrase,
    # one undo step
    ann.tool = "text"
    ys, xs = np.nonzero(found.mask)
    mouse(ann, float(np.median(xs)), float(np.median(ys)))
    wait_for(lambda: not ann.busy and ann.session.objects)
    (obj,) = ann.session.objects
    assert obj.name == "red shoes" and ann.current_object == obj.obj_id
    assert ann.session.project.mask_frames(obj.obj_id) == list(range(NUM_FRAMES))
    assert tool.found is None and ann.timeline.curve == {} and ann.timeline.widget.height == flat
    assert "tracking 'red shoes' from frame" in ann.status and ann.error == ""
    ann.session.undo()
    assert ann.session.objects == []


def test_enter_tracks_the_found_region_and_shift_click_dismisses_it(ann):
    tool = ann.tools["text"]
    ann.tool = "text"
    wait_idle(ann, tool.find_first())
    ys, xs = np.nonzero(tool.found.mask)
    mouse(ann, float(np.median(xs)), float(np.median(ys)), shift=True)
    assert tool.found is None and ann.timeline.curve == {} and ann.session.objects == []
    wait_idle(ann, tool.find_first())
    ann.key_events._dom_handlers({"type": "keydown", "key": "Enter"})
    wait_for(lambda: not ann.busy and ann.session.objects)
    assert [o.name for o in ann.session.objects] == ["red shoes"]


def test_nothing_found_is_said_with_the_best_score_and_nothing_is_created(ann):
    tool = ann.tools["text"]
    tool.text = "blue shoes"  # the double scores only "red ..." phrases: every score is 0
    wait_idle(ann, tool.find_first())
    assert "no frame matches 'blue shoes'" in ann.error and "the best score was 0.000" in ann.error
    assert tool.found is None and ann.timeline.curve == {} and ann.session.objects == []
    tool.text = "  "
    tool.first_button.click()
    assert "type what to find first" in ann.error


def test_the_scorer_box_takes_a_saved_models_folder(ann, tmp_path):
    """The scorer box shows the scorer set from code (the dropdown kept showing its first name) and takes a
    name with a folder typed by the person ("clip:<folder>", as a missing model's error says)."""
    tool = ann.tools["text"]
    assert tool.scorers.value == "red-test"  # set from code in the fixture
    tool.scorers.value = f"red-test:{tmp_path}"  # typed
    assert tool.scorer == f"red-test:{tmp_path}"
    wait_idle(ann, tool.find_first())
    assert RedScorer.args[-1] == str(tmp_path) and ann.frame == RED_FROM and ann.error == ""


def test_cancel_stops_the_scan_and_stores_nothing(ann):
    tool = ann.tools["text"]
    RedScorer.gate = threading.Event()
    job = tool.find_first()
    assert RedScorer.started.wait(30)
    job.cancel()
    RedScorer.gate.set()
    wait_idle(ann, job)
    assert "cancelled" in ann.status and ann.error == ""
    assert tool.found is None and ann.session.objects == [] and ann.frame == 0


def test_curve_bars_follow_the_scores_and_the_threshold():
    bars = curve_bars({0: 0.0, 5: 0.5, 9: 2.0}, 0.5, 10, 130, 30, 12)
    assert [b[0] for b in bars] == [30.0, 80.0, 120.0]  # 10 px per frame after the label column
    assert [b[3] for b in bars] == [1.0, 6.0, 12.0]  # at least a pixel, clipped at 1.0
    assert [b[4] for b in bars] == [False, True, True]
    assert all(b[1] + b[3] == 12 for b in bars)  # standing on the strip's floor
