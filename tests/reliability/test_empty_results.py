"""No silent empty result: the classic box path falls back instead of collapsing, and the session says
when a prompt or a propagated frame comes out empty."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from annotator_widgets import AnnotationSession
from annotator_widgets.backends import SegmenterFrame
from annotator_widgets.backends import _classic_prompt as ops
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.types import Box, Prompt
from annotator_widgets.video import open_video

from .clips import iou, noise_clip

BOX_IOU_BAR = 0.85  # a tight box around the noise-textured star (the box's ellipse alone scores ~0.51)
# every propagated frame. Known gap: on pure noise textures the banded GrabCut refine still erodes the mask
# by a few percent a frame (seeds 0/1 end near 0.6 after 8 frames). Restoring every object-coloured pixel
# GrabCut drops held >= 0.79 here but cost 0.007 classic mIoU on synthetic_clip, so only large drops are
# restored (measured: classic mIoU unchanged, 0.989/0.990).
PROPAGATED_IOU_BAR = 0.55


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tight_box_on_noise_texture_is_found_and_kept(seed: int) -> None:
    clip = noise_clip(seed=seed)
    seg = ClassicSegmenter()
    seg.start(open_video(clip.frames))
    first = seg.set_prompt(Prompt(0, 1, box=Box(*clip.box(0))))[1]
    assert iou(first.mask, clip.truth[0]) >= BOX_IOU_BAR
    assert first.score is not None and first.score > 0.5
    ious = [iou(out.objects[1].mask, clip.truth[out.frame]) for out in seg.propagate(0)]
    assert len(ious) == len(clip.frames)
    assert min(ious) >= PROPAGATED_IOU_BAR, ious


def test_plain_box_grabcut_collapses_on_this_clip() -> None:
    """The clip really provokes the collapse the fallback exists for (so the test above tests the fallback)."""
    clip = noise_clip(seed=0)
    crop = ops._Crop(clip.frames[0], (0, 0, 160, 120), np.zeros((0, 2)), np.zeros((0, 2)), 160)
    plain = crop.hypothesis(clip.box(0), 4)
    assert plain.mask.sum() < ops.MIN_BOX_SHARE * crop.box_area(clip.box(0))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_box_over_plain_background_scores_low(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    clip = noise_clip(seed=seed)
    seg = ClassicSegmenter()
    seg.start(open_video(clip.frames))
    obj = seg.set_prompt(Prompt(0, 1, box=Box(*clip.box(0))))[1]
    with caplog.at_level(logging.INFO, logger=ops.__name__):
        nothing = seg.set_prompt(Prompt(0, 2, box=Box(*clip.background_box)))[2]
    assert nothing.mask.any()  # never an empty mask from a non-empty box...
    assert nothing.score is not None and obj.score is not None
    assert nothing.score <= ops.FALLBACK_SCORE < obj.score  # ...but its score says nothing was found
    assert "nothing stands out inside the box" in caplog.text


def test_empty_prompt_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    clip = noise_clip(num_frames=3)
    with AnnotationSession(clip.frames, segmenter="classic") as session:
        with caplog.at_level(logging.WARNING):
            masks = session.add_points(1, None, [(80, 60)], labels=[0])  # only a negative click: nothing to find
        (obj_id,) = masks
        assert not masks[obj_id].any()
        (w,) = session.warnings
        assert (w.frame, w.obj_id, w.kind) == (1, obj_id, "empty_prompt")
        assert "positive click" in w.message and w.message in caplog.text
        assert session.project.warnings(frame=1) == [w]  # stored with the mask, on its frame
        assert [(x.obj_id, x.kind) for x in session.view(1).warnings] == [(obj_id, "empty_prompt")]
        session.undo()  # the warning belongs to the prompt's undo step
        assert session.project.warnings() == [] and session.project.annotations(1) == {}
        session.redo()
        assert session.project.warnings(frame=1) == [w]
        session.add_box(0, None, clip.box(0))
        assert len(session.warnings) == 1  # a found object says nothing


def test_empty_propagated_frames_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    """An object that leaves the view: every empty frame is recorded, the log warns once per object."""
    clip = noise_clip(num_frames=6)
    frames = clip.frames.copy()
    frames[3:] = clip.frames[0][None].copy()
    frames[3:, 15:90, 15:90] = np.random.default_rng(5).integers(0, 256, (3, 75, 75, 3))  # the star is gone
    with AnnotationSession(frames, segmenter="classic") as session:
        mask = np.zeros(clip.truth[0].shape, bool)
        mask[40:60, 40:60] = True
        session.add_mask(0, 1, mask)
        with caplog.at_level(logging.WARNING):
            # a segmenter that loses the object: the test double drops it after frame 2
            real = session.segmenter.propagate

            def losing(start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
                for out in real(start, max_frames, reverse):
                    if out.frame >= 3:
                        out.objects[1] = type(out.objects[1])(np.zeros_like(mask), 0.0)
                    yield out

            session.segmenter.propagate = losing  # type: ignore[method-assign]
            session.run()
        empty = [w for w in session.warnings if w.kind == "empty_propagated"]
        assert [w.frame for w in empty] == [3, 4, 5]
        # stored after their masks (a stored mask replaces its warnings), so the project keeps all three
        assert [(w.frame, w.kind) for w in session.project.warnings(obj_id=1)] == [
            (f, "empty_propagated") for f in (3, 4, 5)
        ]
        assert session.progress.empty == 3 and session.progress.empty_objects == {1}
        assert sum("object 1 has an empty mask" in r.getMessage() for r in caplog.records) == 1
