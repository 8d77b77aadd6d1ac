"""ClassicSegmenter (GrabCut + DIS optical flow) against synthetic ground truth and the protocol's semantics."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from annotator_widgets import open_video, registry
from annotator_widgets.backends import VideoSegmenter
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import SyntheticClip, synthetic_clip
from annotator_widgets.errors import BackendError, PromptError
from annotator_widgets.metrics import evaluate_propagation, prompt_from_truth
from annotator_widgets.rle import RLE, mask_iou
from annotator_widgets.types import Box, Point, Prompt
from annotator_widgets.video import VideoSource


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return synthetic_clip()


@pytest.fixture()
def seg(clip: SyntheticClip) -> ClassicSegmenter:
    s = ClassicSegmenter()
    s.start(clip.video())
    return s


def _run(seg: ClassicSegmenter, start: int = 0, **kw: object) -> dict[int, dict[int, np.ndarray]]:
    """frame -> obj_id -> mask of one propagation."""
    return {out.frame: {o: m.mask for o, m in out.objects.items()} for out in seg.propagate(start, **kw)}


def test_resolves_by_name_and_follows_the_protocol() -> None:
    seg = registry.resolve("segmenter", "classic", grabcut_side=128)
    assert isinstance(seg, ClassicSegmenter)
    assert isinstance(seg, VideoSegmenter)
    assert seg.name == "classic" and seg.grabcut_side == 128


@pytest.mark.parametrize(
    ("kind", "reverse"),
    [("points", False), ("box", False), ("points", True), ("box", True)],
)
def test_propagation_miou_on_the_synthetic_clip(clip: SyntheticClip, kind: str, reverse: bool) -> None:
    result = evaluate_propagation(ClassicSegmenter(), clip, kind, reverse=reverse)  # type: ignore[arg-type]
    assert result["frames"] == clip.num_frames
    assert min(result["prompt_iou"].values()) > 0.9
    assert result["miou"] >= 0.8, result
    assert result["worst_frame_iou"] > 0.5, result


def test_a_single_click_finds_the_whole_object(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    for obj in clip.masks:
        out = seg.set_prompt(prompt_from_truth(clip, obj, 0, "points", num_points=1))
        assert mask_iou(out[obj].mask, clip.masks[obj][0]) > 0.9
        assert 0.0 <= out[obj].score <= 1.0


def test_propagated_masks_have_scores_in_0_1(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    outs = list(seg.propagate(0, max_frames=5))
    assert [o.frame for o in outs] == list(range(6))
    for out in outs:
        (m,) = out.objects.values()
        assert m.mask.dtype == bool and m.mask.shape == (240, 320)
        assert m.score is not None and 0.0 <= m.score <= 1.0
        assert type(m.score) is float, repr(m.score)  # a plain float: printed as 0.93, not np.float64(0.93)
    assert np.mean([o.objects[1].score for o in outs[1:]]) > 0.8  # a clean track scores high


def test_the_score_drops_when_the_object_is_gone() -> None:
    # a cut to another scene after frame 9: whatever the tracker holds on to is not the object
    before, after = synthetic_clip(num_frames=10, seed=2), synthetic_clip(num_frames=10, seed=3)
    seg = ClassicSegmenter()
    seg.start(open_video(np.concatenate([before.frames, after.frames])))
    seg.set_prompt(prompt_from_truth(before, 1, 0, "box"))
    scores = [out.objects[1].score for out in seg.propagate(0)]
    assert min(scores[1:10]) > 0.8
    assert np.mean(scores[10:]) < 0.5 * np.mean(scores[1:10])


def test_without_catch_up_an_object_joins_only_where_it_has_a_mask(clip: SyntheticClip) -> None:
    seg = ClassicSegmenter(catch_up=False)
    seg.start(clip.video())
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    seg.set_prompt(prompt_from_truth(clip, 2, 6, "box"))
    seen = {f: set(objs) for f, objs in _run(seg, 3, max_frames=4).items()}
    assert seen == {3: set(), 4: set(), 5: set(), 6: {2}, 7: {2}}


def _two_tone_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red square stacked on a blue one over a noisy green background."""
    rng = np.random.default_rng(0)
    img = np.empty((240, 320, 3), np.float32)
    img[:] = (70, 120, 60)
    top = np.zeros((240, 320), bool)
    top[70:120, 110:210] = True
    bottom = np.zeros((240, 320), bool)
    bottom[120:170, 110:210] = True
    img[top], img[bottom] = (200, 60, 50), (50, 70, 190)
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), top, bottom


def test_a_negative_point_removes_a_region_the_positive_prompt_included() -> None:
    img, top, bottom = _two_tone_frame()
    seg = ClassicSegmenter()
    seg.start(open_video(img[None]))
    box = Box(100, 60, 220, 180)
    positive = seg.set_prompt(Prompt(0, 1, points=(Point(160, 95),), box=box))[1].mask
    assert (positive & bottom).mean() / bottom.mean() > 0.9  # the box takes both halves
    corrected = seg.set_prompt(Prompt(0, 1, points=(Point(160, 95), Point(160, 145, label=0)), box=box))[1].mask
    assert (corrected & top).sum() / top.sum() > 0.9
    assert (corrected & bottom).sum() / bottom.sum() < 0.1
    # points only: a positive click on each half takes both; turning one negative drops that half
    both = seg.set_prompt(Prompt(0, 2, points=(Point(160, 95), Point(160, 145))))[2].mask
    assert (both & bottom).sum() / bottom.sum() > 0.8
    one = seg.set_prompt(Prompt(0, 2, points=(Point(160, 95), Point(160, 145, label=0))))[2].mask
    assert (one & bottom).sum() / bottom.sum() < 0.1 and (one & top).sum() / top.sum() > 0.9


def test_a_mask_prompt_returns_exactly_that_mask(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    drawn = np.zeros((240, 320), bool)
    drawn[50:90, 40:100] = True
    drawn[60:70, 60:70] = False  # a hole GrabCut would never invent
    out = seg.set_prompt(Prompt(3, 4, points=(Point(45, 55),), mask=RLE.from_mask(drawn)))
    assert set(out) == {4} and np.array_equal(out[4].mask, drawn)
    first = next(iter(seg.propagate(3)))
    assert np.array_equal(first.objects[4].mask, drawn)


def test_a_prompt_frame_reanchors_propagation(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    truth = clip.masks[1][10]
    seg.set_prompt(Prompt(10, 1, mask=RLE.from_mask(truth)))
    masks = _run(seg, 0, max_frames=12)
    assert np.array_equal(masks[10][1], truth)
    assert mask_iou(masks[12][1], clip.masks[1][12]) > 0.9


def test_adding_an_object_later_leaves_earlier_results_unchanged(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "points"))
    before = _run(seg, 0, max_frames=20)
    assert all(set(f) == {1} for f in before.values())
    seg.set_prompt(prompt_from_truth(clip, 2, 8, "points"))  # on a later frame, after propagating
    after = _run(seg, 0, max_frames=20)
    for t in range(21):
        assert (2 in after[t]) == (t >= 8)  # the new object joins on its prompt frame
        if t < 8:
            assert np.array_equal(after[t][1], before[t][1]), t
        else:  # tracked together, the objects exclude each other: they touch here, and share no pixel
            assert not (after[t][1] & after[t][2]).any(), t
            assert mask_iou(after[t][1], clip.masks[1][t]) >= mask_iou(before[t][1], clip.masks[1][t]) - 0.01, t
    assert any(not np.array_equal(after[t][1], before[t][1]) for t in range(8, 21))  # they did meet
    assert mask_iou(after[20][2], clip.masks[2][20]) > 0.9


def test_stopping_and_resuming_matches_one_run(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    full = _run(seg, 0, max_frames=12)
    for out in seg.propagate(0):  # the consumer stops after frame 5
        if out.frame == 5:
            break
    resumed = _run(seg, 5, max_frames=7)
    assert sorted(resumed) == list(range(5, 13))
    for t in resumed:
        assert np.array_equal(resumed[t][1], full[t][1]), t
    # a start frame with no stored mask: the object is tracked up to it silently first
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    caught_up = _run(seg, 9, max_frames=1)
    assert np.array_equal(caught_up[9][1], full[9][1]) and np.array_equal(caught_up[10][1], full[10][1])


def test_prompts_changed_during_propagation(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    for obj in clip.masks:
        seg.set_prompt(prompt_from_truth(clip, obj, 0, "box"))
    truth = clip.masks[2][6]
    seen = []
    for out in seg.propagate(0, max_frames=8):
        seen.append(set(out.objects))
        if out.frame == 2:
            seg.set_prompt(prompt_from_truth(clip, 1, 0, "points"))  # replaces where object 1's track began
            seg.set_prompt(Prompt(6, 2, mask=RLE.from_mask(truth)))  # a correction ahead
        if out.frame == 6:
            assert np.array_equal(out.objects[2].mask, truth)
    assert seen == [{1, 2}] * 3 + [{2}] * 6  # object 1's later masks would not follow from its prompt
    again = _run(seg, 0, max_frames=3)
    assert set(again[3]) == {1, 2}
    assert mask_iou(again[3][1], clip.masks[1][3]) > 0.9


def test_remove_object_stops_yielding_it(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    for obj in clip.masks:
        seg.set_prompt(prompt_from_truth(clip, obj, 0, "box"))
    seen = []
    for out in seg.propagate(0, max_frames=6):
        seen.append(set(out.objects))
        if out.frame == 2:
            seg.remove_object(1)
    assert seen == [{1, 2}] * 3 + [{2}] * 4
    assert all(set(f) == {2} for f in _run(seg, 0, max_frames=2).values())
    seg.remove_object(99)  # unknown ids are ignored


def test_reset_clears_everything_but_the_video(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    seg.set_prompt(prompt_from_truth(clip, 1, 0, "box"))
    gen = seg.propagate(0)
    next(gen)
    seg.reset()
    assert list(gen) == []  # a running propagation stops
    assert all(not f for f in _run(seg, 0, max_frames=3).values())
    out = seg.set_prompt(prompt_from_truth(clip, 2, 0, "box"))  # still usable
    assert mask_iou(out[2].mask, clip.masks[2][0]) > 0.9
    seg.close()
    with pytest.raises(BackendError, match="start"):
        seg.set_prompt(prompt_from_truth(clip, 2, 0, "box"))


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        (Prompt(0, 1, points=(Point(400, 100),)), "320x240"),
        (Prompt(0, 1, points=(Point(100, 100), Point(10, 250, label=0))), "320x240"),
        (Prompt(0, 1, box=Box(330, 10, 400, 50)), "320x240"),
        (Prompt(0, 1, mask=RLE.from_mask(np.ones((10, 10), bool))), "320x240"),
        (Prompt(60, 1, points=(Point(10, 10),)), "60-frame video"),
    ],
)
def test_bad_prompts_raise_prompt_error(seg: ClassicSegmenter, prompt: Prompt, match: str) -> None:
    with pytest.raises(PromptError, match=match):
        seg.set_prompt(prompt)


def test_bad_arguments_raise() -> None:
    with pytest.raises(BackendError, match="start"):
        ClassicSegmenter().set_prompt(Prompt(0, 1, points=(Point(1, 1),)))
    with pytest.raises(BackendError, match="flow_preset"):
        ClassicSegmenter(flow_preset="slow")
    seg = ClassicSegmenter()
    seg.start(open_video(np.zeros((3, 32, 32, 3), np.uint8)))
    with pytest.raises(PromptError, match="3-frame video"):
        next(seg.propagate(3))
    assert seg.set_prompt(Prompt(0, 1, points=(Point(5, 5, label=0),)))[1].mask.sum() == 0  # negatives only


class _PingPong(VideoSource):
    """A long lazy video that plays a short clip forward and backward: nothing is held per frame."""

    def __init__(self, frames: np.ndarray, length: int) -> None:
        self._clip = frames
        super().__init__(
            fps=30, size=(frames.shape[2], frames.shape[1]), length=length, name="pingpong", path=None, cache_bytes=0
        )

    def index(self, i: int) -> int:
        period = 2 * len(self._clip) - 2
        k = i % period
        return k if k < len(self._clip) else period - k

    def _decode(self, index: int) -> np.ndarray:
        return self._clip[self.index(index)].copy()


def test_memory_does_not_grow_with_video_length() -> None:
    psutil = pytest.importorskip("psutil")
    short = synthetic_clip(num_frames=40, size=(640, 360), num_objects=1, seed=3)
    video = _PingPong(short.frames, 300)
    seg = ClassicSegmenter()
    seg.start(video)
    seg.set_prompt(prompt_from_truth(short, 1, 0, "box"))
    proc = psutil.Process()
    rss = {}
    ious = []
    for out in seg.propagate(0):
        ious.append(mask_iou(out.objects[1].mask, short.masks[1][video.index(out.frame)]))
        if out.frame in (20, 299):
            gc.collect()
            rss[out.frame] = proc.memory_info().rss
    assert len(ious) == 300
    # keeping a 640x360 mask per frame would add 69 MB, keeping frames 207 MB
    assert rss[299] - rss[20] < 32 * 2**20, f"RSS grew by {(rss[299] - rss[20]) / 2**20:.1f} MB"
    assert np.mean(ious) > 0.8
