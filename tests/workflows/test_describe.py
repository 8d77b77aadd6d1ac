"""Describe objects, regions and frames: crops, batching, storage, edits, undo, bad input.

A tiny random BLIP (built in code, loaded through the real captioner) checks the real path; a
recording captioner double checks what is asked (crops, prompts, batches) next to it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.backends.captioners_blip import BlipCaptioner
from annotator_widgets.crops import MEAN_RGB
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import PromptError
from annotator_widgets.types import Caption
from annotator_widgets.workflows.describe import describe, region_crop
from tests.support.vlm_text import build_tiny_blip

MASKED = range(0, 6)  # object 1 has masks on frames 0..5 only


class Recorder:
    """Captioner double: answers with the crop's size and the prompt, and records every call."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[list[np.ndarray], list[str]]] = []

    def describe(self, images, prompts):
        self.calls.append((list(images), list(prompts)))
        return [f" {im.shape[1]}x{im.shape[0]} {p} " for im, p in zip(images, prompts, strict=True)]

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=10, size=(96, 72), num_objects=2, seed=5)


@pytest.fixture
def session(clip, tmp_path):
    s = AnnotationSession(open_video(clip.frames, fps=30.0), project=tmp_path / "p.awp", segmenter="classic")
    ball = s.add_object(name="ball")
    with s.project.transaction("setup"):
        for f in MASKED:
            s.project.put_mask(f, ball.obj_id, clip.masks[1][f])
    yield s
    s.close()


def test_captions_are_stored_per_frame_with_model_and_prompt_as_one_undo_step(session, clip):
    rec = Recorder()
    done = []
    caps = describe(
        session,
        [0, 1, 2, 3, 4],
        1,
        captioner=rec,
        prompt="What is the {object} doing?",
        batch_size=2,
        progress=lambda i, n: done.append((i, n)),
    )
    assert [len(images) for images, _ in rec.calls] == [2, 2, 1]
    assert {p for _, prompts in rec.calls for p in prompts} == {"What is the ball doing?"}
    assert [c.frame for c in caps] == [0, 1, 2, 3, 4] and all(c.obj_id == 1 for c in caps)
    assert all(c.model == "recorder" and c.prompt == "What is the ball doing?" and not c.edited for c in caps)
    assert caps[0].text == caps[0].text.strip() and caps[0].text.endswith("What is the ball doing?")
    stored = session.project.captions(1)
    assert [(c.frame, c.text) for c in stored] == [(c.frame, c.text) for c in caps]
    assert done == [(2, 5), (4, 5), (5, 5)]
    # the crop is the object's box plus the margin, from that frame
    ann = session.project.annotation(3, 1)
    assert np.array_equal(rec.calls[1][0][1], region_crop(clip.frames[3], ann.box, margin=0.15))
    assert session.project.undo() == "describe object 1"
    assert session.project.captions(1) == []


def test_an_edited_caption_survives_a_rerun_unless_asked(session):
    rec = Recorder()
    describe(session, [0, 1], 1, captioner=rec)
    mine = session.project.put_caption(Caption(0, 1, "a red ball in my hand"))
    assert mine.edited and mine.model == "recorder"
    again = describe(session, [0, 1], 1, captioner=rec, prompt="What colour is the {object}?")
    assert again[0].text == "a red ball in my hand" and again[0].edited
    assert again[1].prompt == "What colour is the ball?"
    forced = describe(session, [0], 1, captioner=rec, overwrite_edited=True)
    assert not forced[0].edited and forced[0].text != "a red ball in my hand"


def test_no_mask_on_a_frame_is_a_clear_error_before_the_model_runs(session):
    rec = Recorder()
    with pytest.raises(PromptError, match=r"object 1 has no mask on frame\(s\) 7, 9") as info:
        describe(session, [2, 7, 9], 1, captioner=rec)
    assert "propagate" in str(info.value)
    assert rec.calls == [] and session.project.captions() == []


@pytest.mark.parametrize(
    ("args", "kw", "match"),
    [
        ([[]], {}, "no frame"),
        ([[10]], {}, "frame indices"),
        ([[0], 99], {}, "99"),
        ([[0], 1], {"prompt": "What is {thing}?"}, "placeholder"),
        ([[0], 1], {"batch_size": 0}, "batch_size"),
        ([[0], 1], {"region": (0, 0, 5, 5)}, "not both"),
    ],
)
def test_bad_input(session, args, kw, match):
    with pytest.raises(PromptError, match=match):
        describe(session, *args, captioner=Recorder(), **kw)


def test_whole_frames_and_regions(session, clip):
    rec = Recorder()
    frames = describe(session, 8, captioner=rec)
    assert frames[0].obj_id == 0 and session.project.caption(8) is not None
    assert rec.calls[0][0][0].shape == clip.frames[8].shape
    region = describe(session, [8, 9], region=(10, 10, 30, 20), captioner=rec, margin=0.0)
    assert [c.frame for c in region] == [8, 9] and all(c.obj_id == 0 for c in region)
    assert rec.calls[1][0][0].shape == (10, 20, 3)
    assert np.array_equal(rec.calls[1][0][1], clip.frames[9][10:20, 10:30])
    assert session.project.caption(9) is None  # region captions are returned, not stored


def test_masked_crops_show_only_the_object(session, clip):
    rec = Recorder()
    describe(session, [2], 1, captioner=rec, masked=True, margin=0.0)
    crop = rec.calls[0][0][0]
    ann = session.project.annotation(2, 1)
    x0, y0, x1, y1 = (int(v) for v in ann.box.xyxy)
    inside = clip.masks[1][2][y0:y1, x0:x1]
    assert crop.shape[:2] == inside.shape
    assert np.array_equal(crop[inside], clip.frames[2][y0:y1, x0:x1][inside])
    assert (crop[~inside] == MEAN_RGB).all()


def test_cancel_keeps_the_finished_batches(session):
    stop = threading.Event()
    caps = describe(
        session, list(MASKED), 1, captioner=Recorder(), batch_size=2, progress=lambda i, n: stop.set(), cancel=stop
    )
    assert [c.frame for c in caps] == [0, 1] and [c.frame for c in session.project.captions(1)] == [0, 1]


def test_tiny_blip_through_the_real_loading_code(session, tmp_path):
    captioner = BlipCaptioner(build_tiny_blip(tmp_path / "blip"), max_new_tokens=6)
    caps = describe(session, [0, 1, 2], 1, captioner=captioner, batch_size=2)
    assert len(caps) == 3 and all(isinstance(c.text, str) and c.model == captioner.name for c in caps)
    assert [c.text for c in session.project.captions(1)] == [c.text for c in caps]
    # batched equals one by one (the captioner pads so; the workflow must not mix up the order)
    single = [describe(session, [f], 1, captioner=captioner)[0].text for f in (0, 1, 2)]
    assert single == [c.text for c in caps]
    session.project.undo()
    session.project.undo()
    session.project.undo()
    session.project.undo()
    assert session.project.captions(1) == []
    captioner.close()
