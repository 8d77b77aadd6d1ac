"""A correction click on a tracked frame refines the tracked mask when the segmenter declares ``refines_masks``.

The real classic segmenter plays the refining one; a small test double that records prompts plays a
segmenter without the capability (SAM2 refines from its own memory, so it gets the click alone).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator_widgets import AnnotationSession, Source
from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import SyntheticClip, synthetic_clip
from annotator_widgets.rle import RLE, mask_iou
from annotator_widgets.types import Point, Prompt

FRAME, OBJ = 48, 1


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return synthetic_clip(num_frames=49, size=(320, 240), num_objects=3, seed=0, occluders=2)


def _centre(mask: np.ndarray) -> tuple[float, float]:
    d = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(d.argmax()), d.shape)
    return float(x), float(y)


def _tracked(truth: np.ndarray) -> np.ndarray:
    cut = int(np.percentile(np.nonzero(truth)[1], 70))
    out = truth.copy()
    out[:, cut:] = False
    return out


def _with_tracked_mask(session: AnnotationSession, mask: np.ndarray) -> None:
    """What propagation leaves: a stored mask on a frame without a prompt (one undo step)."""
    session.add_object()
    session.project.put_mask(FRAME, OBJ, mask, score=0.8, source=Source.PROPAGATED)


@pytest.fixture()
def classic(tmp_path, clip: SyntheticClip):
    s = AnnotationSession(clip.frames, tmp_path / "c.awp", ClassicSegmenter())
    yield s
    s.close()


def test_a_click_on_a_tracked_frame_refines_the_tracked_mask(classic: AnnotationSession, clip: SyntheticClip) -> None:
    truth = clip.masks[OBJ][FRAME]
    tracked = _tracked(truth)
    _with_tracked_mask(classic, tracked)
    click = _centre(truth & ~tracked)
    got = classic.add_points(FRAME, OBJ, [click])[OBJ]

    prompt = classic.project.prompt(FRAME, OBJ)
    assert prompt is not None and prompt.points == (Point(*click),)
    assert prompt.mask is not None and np.array_equal(prompt.mask.to_mask(), tracked)  # the prior is stored
    assert np.array_equal(classic.project.annotation(FRAME, OBJ).mask, got)
    alone = ClassicSegmenter()
    alone.start(classic.video)
    click_only = alone.set_prompt(Prompt(FRAME, OBJ, (Point(*click),)))[OBJ].mask
    assert mask_iou(got, truth) > mask_iou(tracked, truth) + 0.2
    assert mask_iou(got, truth) > mask_iou(click_only, truth) + 0.05


def test_undo_restores_the_tracked_mask_and_a_rebuild_gives_the_same_masks(
    classic: AnnotationSession, clip: SyntheticClip
) -> None:
    truth = clip.masks[OBJ][FRAME]
    tracked = _tracked(truth)
    _with_tracked_mask(classic, tracked)
    first = classic.add_points(FRAME, OBJ, [_centre(truth & ~tracked)])[OBJ]
    # a second click on that frame accumulates onto the same prompt, with its prior
    ys, xs = np.nonzero(truth & ~first) if (truth & ~first).any() else np.nonzero(truth)
    second = classic.add_points(FRAME, OBJ, [(float(xs[0]), float(ys[0]))])[OBJ]
    prompt = classic.project.prompt(FRAME, OBJ)
    assert len(prompt.points) == 2 and np.array_equal(prompt.mask.to_mask(), tracked)

    classic.undo()
    assert np.array_equal(classic.project.annotation(FRAME, OBJ).mask, first)
    classic.undo()
    assert classic.project.prompt(FRAME, OBJ) is None
    ann = classic.project.annotation(FRAME, OBJ)
    assert ann.source is Source.PROPAGATED and np.array_equal(ann.mask, tracked)
    classic.redo()
    classic.redo()
    assert np.array_equal(classic.project.annotation(FRAME, OBJ).mask, second)
    # the segmenter's state after undo/redo is the one its stored prompts give
    start = next(iter(classic.segmenter.propagate(FRAME, max_frames=0)))
    assert np.array_equal(start.objects[OBJ].mask, second)
    # a rebuild from the stored prompts alone (reset + set_prompt of each) gives the same masks
    fresh = ClassicSegmenter()
    fresh.start(classic.video)
    for p in classic.project.prompts():
        fresh.set_prompt(p)
    assert np.array_equal(next(iter(fresh.propagate(FRAME, max_frames=0))).objects[OBJ].mask, second)


class Recording:
    """A test double: records prompts; the mask is a square at the first point (or the prompt's mask)."""

    name = "recording"

    def __init__(self, refines: bool) -> None:
        if refines:
            self.refines_masks = True
        self.prompts: list[Prompt] = []

    def start(self, video) -> None:
        self.size = video.size

    def set_prompt(self, prompt: Prompt) -> dict[int, ObjectMask]:
        self.prompts.append(prompt)
        w, h = self.size
        m = np.zeros((h, w), bool) if prompt.mask is None else prompt.mask.to_mask()
        x, y = int(prompt.points[0].x), int(prompt.points[0].y)
        m[max(0, y - 2) : y + 2, max(0, x - 2) : x + 2] = True
        return {prompt.obj_id: ObjectMask(m, 0.9)}

    def propagate(self, start, max_frames=None, reverse=False):
        yield SegmenterFrame(start, {})

    def remove_object(self, obj_id: int) -> None:
        pass

    def reset(self) -> None:
        self.prompts.clear()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("refines", [False, True])
def test_only_segmenters_that_refine_get_the_tracked_mask(tmp_path, refines: bool) -> None:
    frames = np.zeros((5, 40, 60, 3), np.uint8)
    tracked = np.zeros((40, 60), bool)
    tracked[10:20, 10:30] = True
    with AnnotationSession(frames, tmp_path / "r.awp", Recording(refines)) as s:
        s.add_object()
        s.project.put_mask(2, 1, tracked, source=Source.PROPAGATED)
        s.add_points(2, 1, [(40, 15)])
        sent = s.segmenter.prompts[-1]
        assert sent.points == (Point(40, 15),)
        if refines:
            assert sent.mask == RLE.from_mask(tracked)
        else:
            assert sent.mask is None  # SAM2 and the like: the click alone, as before
        assert s.project.prompt(2, 1) == sent
        # a frame without a stored mask: the click alone either way
        s.add_points(3, 1, [(5, 5)])
        assert s.segmenter.prompts[-1].mask is None
        # a frame with a prompt: clicks accumulate onto it (keeping its mask, if any)
        s.add_points(2, 1, [(45, 15)], labels=[0])
        again = s.segmenter.prompts[-1]
        assert len(again.points) == 2 and again.mask == sent.mask
