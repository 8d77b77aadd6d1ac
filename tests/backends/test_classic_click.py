"""The classic segmenter's click path: prepare() never changes masks, and the fast path keeps accuracy at 720p."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets.backends import _classic_ops as ops
from annotator_widgets.backends import _classic_prompt as prompt_path
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import SyntheticClip, synthetic_clip
from annotator_widgets.rle import mask_iou
from annotator_widgets.types import Box, Point, Prompt
from annotator_widgets.video import VideoSource, open_video


@pytest.fixture(scope="module")
def hd() -> SyntheticClip:
    return synthetic_clip(num_frames=3, size=(1280, 720), num_objects=3, seed=2)


def _centre(mask: np.ndarray) -> Point:
    ys, xs = np.nonzero(mask)
    i = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    return Point(float(xs[i]), float(ys[i]), 1)


def _prompts(clip: SyntheticClip) -> list[Prompt]:
    out = []
    for obj in sorted(clip.masks):
        c = _centre(clip.masks[obj][1])
        out.append(Prompt(1, obj, points=(c,)))
        out.append(Prompt(1, obj + 10, box=Box(*clip.boxes[obj][1])))
        out.append(Prompt(1, obj + 20, points=(c, Point(c.x + 40, c.y - 60, 0))))
    return out


class _Counting(VideoSource):
    """An in-memory video that counts decodes (each call to ``frame`` decodes: no cache of its own)."""

    def __init__(self, frames: np.ndarray) -> None:
        self._frames = frames
        self.decoded: list[int] = []
        h, w = frames.shape[1:3]
        super().__init__(fps=30, size=(w, h), length=len(frames), name="counting", path=None, cache_bytes=0)

    def _decode(self, index: int) -> np.ndarray:
        self.decoded.append(index)
        return self._frames[index].copy()


def test_masks_are_the_same_with_and_without_prepare(hd: SyntheticClip) -> None:
    plain, prepared = ClassicSegmenter(prepared_frames=0), ClassicSegmenter()
    video = _Counting(hd.frames)
    plain.start(open_video(hd.frames))
    prepared.start(video)
    prepared.prepare(0)
    prepared.prepare(1)  # moving forward: frame 2 is prepared too
    assert sorted(video.decoded) == [0, 1, 2]
    for prompt in _prompts(hd):
        a = plain.set_prompt(prompt)[prompt.obj_id]
        b = prepared.set_prompt(prompt)[prompt.obj_id]
        assert np.array_equal(a.mask, b.mask), prompt
        assert a.score == b.score
    assert sorted(video.decoded) == [0, 1, 2]  # the clicks found frame 1 prepared: no decode on the click path


def test_prepare_checks_its_frame(hd: SyntheticClip) -> None:
    seg = ClassicSegmenter()
    with pytest.raises(Exception, match="start"):
        seg.prepare(0)
    seg.start(open_video(hd.frames))
    with pytest.raises(Exception, match="frame"):
        seg.prepare(3)


def test_clicks_and_boxes_at_720p_stay_accurate(hd: SyntheticClip) -> None:
    seg = ClassicSegmenter()
    seg.start(open_video(hd.frames))
    for obj in sorted(hd.masks):
        truth = hd.masks[obj][1]
        click = seg.set_prompt(Prompt(1, obj, points=(_centre(truth),)))[obj].mask
        box = seg.set_prompt(Prompt(1, obj, box=Box(*hd.boxes[obj][1])))[obj].mask
        assert mask_iou(click, truth) >= 0.98 and mask_iou(box, truth) >= 0.98, obj


def test_a_click_at_720p_costs_a_bounded_grabcut_work(hd: SyntheticClip, monkeypatch: pytest.MonkeyPatch) -> None:
    """GrabCut work (pixels x iterations) per click: the competition runs coarse, the winner is refined in a
    band on a crop tight around it. The earlier path (three hypotheses at 128 px, the winner redone at 160 px)
    cost about 224,000; counting work, not time, keeps this independent of the machine's load."""
    work: list[int] = []
    real = prompt_path.grabcut

    def counting(img: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
        work.append(img.shape[0] * img.shape[1] * iterations)
        return real(img, labels, iterations)

    monkeypatch.setattr(prompt_path, "grabcut", counting)
    seg = ClassicSegmenter()
    seg.start(open_video(hd.frames))
    for obj in sorted(hd.masks):
        work.clear()
        seg.set_prompt(Prompt(1, obj, points=(_centre(hd.masks[obj][1]),)))
        assert 0 < sum(work) <= 80_000, work
        work.clear()
        seg.set_prompt(Prompt(1, obj, box=Box(*hd.boxes[obj][1])))
        assert 0 < sum(work) <= 60_000, work


@pytest.mark.parametrize(
    ("small", "radius"),
    [((80, 45), 24), ((40, 30), 12), ((112, 90), 3), ((300, 200), 2)],
)
def test_guided_filter_in_the_outline_band_equals_the_whole_image_filter(
    hd: SyntheticClip, small: tuple[int, int], radius: int
) -> None:
    import cv2

    img = hd.frames[1]
    h, w = img.shape[:2]
    rng = np.random.default_rng(radius)
    lab = cv2.cvtColor(cv2.resize(img, small, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2Lab).astype(int)
    masks = [
        np.abs(lab[..., 1] - lab[..., 1].mean()) < rng.integers(4, 16),  # scattered, touching the borders
        np.zeros(small[::-1], bool),
        np.ones(small[::-1], bool),
    ]
    masks[1][2:6, 3:9] = True  # one small blob: most tiles are skipped
    masks.append(masks[1].copy())
    masks[3][-8:-3, -12:-4] = True  # two blobs far apart: filtered as two rectangles, not their common box
    for m in masks:
        soft = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        whole = cv2.ximgproc.guidedFilter(img, soft, radius, 0.02 * 255**2) > 0.5
        assert np.array_equal(ops.guided_threshold(img, soft, radius, 0.02 * 255**2), whole)


def test_hypotheses_on_worker_threads_give_the_same_masks(hd: SyntheticClip, monkeypatch: pytest.MonkeyPatch) -> None:
    """The competing hypotheses run on threads; each seeds its own thread's RNG, so masks match a serial run."""
    results = []
    for workers in (1, 3):
        monkeypatch.setattr(prompt_path, "HYPOTHESIS_WORKERS", workers)
        seg = ClassicSegmenter()
        seg.start(open_video(hd.frames))
        results.append([seg.set_prompt(p)[p.obj_id] for p in _prompts(hd)])
    for serial, threaded in zip(*results, strict=True):
        assert np.array_equal(serial.mask, threaded.mask) and serial.score == threaded.score


def test_a_forked_child_clicks_with_its_own_hypothesis_pool(hd: SyntheticClip) -> None:
    """After a fork (multiprocessing executors) the child has none of the parent's pool threads."""
    import multiprocessing

    seg = ClassicSegmenter()
    seg.start(open_video(hd.frames))
    prompt = _prompts(hd)[0]
    here = seg.set_prompt(prompt)[prompt.obj_id].mask  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        there = pool.apply(_click_area, (hd.frames, prompt))
    assert there == int(here.sum())


def _click_area(frames: np.ndarray, prompt: Prompt) -> int:
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    assert prompt_path._POOL is None  # forgotten at the fork
    return int(seg.set_prompt(prompt)[prompt.obj_id].mask.sum())


def test_a_clearly_good_colour_region_skips_the_window_hypotheses(
    hd: SyntheticClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A positive click whose colour region has a strong edge all around runs one coarse GrabCut, not three,
    and keeps the full competition's accuracy; a negative click (a correction) always runs the competition."""
    runs: list[tuple[int, int]] = []
    real = prompt_path.grabcut

    def counting(img: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
        runs.append(img.shape[:2])
        return real(img, labels, iterations)

    monkeypatch.setattr(prompt_path, "grabcut", counting)
    masks: dict[float | None, list[np.ndarray]] = {}
    counts: dict[float | None, list[int]] = {}
    for rank in (None, prompt_path.EARLY_ACCEPT_RANK):
        monkeypatch.setattr(prompt_path, "EARLY_ACCEPT_RANK", rank)
        seg = ClassicSegmenter()
        seg.start(open_video(hd.frames))
        masks[rank], counts[rank] = [], []
        for p in _prompts(hd):
            if p.box is None:
                runs.clear()
                masks[rank].append(seg.set_prompt(p)[p.obj_id].mask)
                counts[rank].append(len(runs))
    early = prompt_path.EARLY_ACCEPT_RANK
    assert early is not None
    clicks, negatives = slice(0, None, 2), slice(1, None, 2)  # _prompts: click, (box), click + negative per object
    assert all(n >= 4 for n in counts[None])  # three coarse hypotheses and the refinement
    assert sum(counts[early][clicks]) < sum(counts[None][clicks])  # some clicks skipped the windows
    assert counts[early][negatives] == counts[None][negatives]
    for full, fast in zip(masks[None], masks[early], strict=True):
        assert mask_iou(full, fast) >= 0.98
    truths = [hd.masks[obj][1] for obj in sorted(hd.masks)]
    for fast, truth in zip(masks[early][clicks], truths, strict=True):
        assert mask_iou(fast, truth) >= 0.98


def _post_frame(sliver: tuple[int, int], *, neighbour: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """An object seen only as a ``(width, height)`` sliver of cyan between a purple post and a blue object.

    Over a striped, noisy green background, as an object passing behind an occluder and another object
    of the clip ``bench_effort.py`` runs (seed 2, frames 118-127). Returns the frame and the sliver.
    """
    w, h = sliver
    yy, xx = np.mgrid[0:240, 0:320]
    img = np.empty((240, 320, 3), np.float32)
    img[:] = (80, 130, 80)
    img += 18 * np.sin((xx + yy) / 5.0)[..., None]
    img[(xx >= 120) & (xx < 145)] = (110, 80, 120)  # the post
    truth = (xx >= 145) & (xx < 145 + w) & (yy >= 100) & (yy < 100 + h)
    img[truth] = (60, 200, 190)
    if neighbour:
        img[(xx >= 145 + w) & (xx < 195 + w) & (yy >= 90) & (yy < 150)] = (70, 60, 210)
    img += np.random.default_rng(0).normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("sliver", [(6, 40), (4, 16), (7, 9), (5, 12), (6, 10), (6, 14)])
def test_a_click_on_a_sliver_gives_the_sliver(sliver: tuple[int, int]) -> None:
    """6x40: a sample disc wider than the sliver took the neighbours' colours for the object's and grew
    into the blue object; 6x10 and 5x12: GrabCut's result, hardly larger than the click's seed, was taken
    for a collapse and the window widened until the blue object won. Both gave masks 10-50x the sliver."""
    img, truth = _post_frame(sliver)
    seg = ClassicSegmenter()
    seg.start(open_video(img[None]))
    ys, xs = np.nonzero(truth)
    mask = seg.set_prompt(Prompt(0, 1, points=(Point(float(xs.mean()), float(ys.mean())),)))[1].mask
    assert mask_iou(mask, truth) >= 0.8, (int(mask.sum()), int(truth.sum()))
    assert mask.sum() <= 2 * truth.sum()


def test_a_click_inside_an_object_larger_than_the_first_window_still_finds_all_of_it() -> None:
    """A click whose first window lies inside a large object collapses onto the click and looks wider:
    the small-object rule (a strong edge and unlike colours all around) does not stop it there."""
    yy, xx = np.mgrid[0:240, 0:320]
    img = np.empty((240, 320, 3), np.float32)
    img[:] = (80, 130, 80)
    img += 18 * np.sin((xx + yy) / 5.0)[..., None]
    truth = ((xx - 160) / 140.0) ** 2 + ((yy - 120) / 105.0) ** 2 <= 1
    img[truth] = (200, 90, 60)
    img[truth] += 25 * np.sin(xx[truth] / 4.0)[:, None]  # stripes inside the object
    img += np.random.default_rng(1).normal(0, 8, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    seg = ClassicSegmenter()
    seg.start(open_video(img[None]))
    mask = seg.set_prompt(Prompt(0, 1, points=(Point(160.0, 120.0),)))[1].mask
    assert mask_iou(mask, truth) >= 0.9
