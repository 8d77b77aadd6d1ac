"""Clicks added to a mask prompt correct that mask (the classic segmenter's ``refines_masks``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import SyntheticClip, synthetic_clip
from annotator_widgets.rle import RLE, mask_iou
from annotator_widgets.types import Point, Prompt
from annotator_widgets.video import open_video


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    # posts in front of textured objects over a textured background: a click alone can lose the object
    return synthetic_clip(num_frames=49, size=(320, 240), num_objects=3, seed=0, occluders=2)


@pytest.fixture()
def seg(clip: SyntheticClip) -> ClassicSegmenter:
    s = ClassicSegmenter()
    s.start(clip.video())
    return s


def centre(mask: np.ndarray, label: int = 1) -> Point:
    """The pixel of ``mask`` farthest from its outline (where the simulated annotator clicks)."""
    d = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(d.argmax()), d.shape)
    return Point(float(x), float(y), label)


def missing_right(truth: np.ndarray, share: float = 70) -> np.ndarray:
    """The truth without its right part (beyond the ``share`` percentile of its columns)."""
    cut = int(np.percentile(np.nonzero(truth)[1], share))
    tracked = truth.copy()
    tracked[:, cut:] = False
    return tracked


def spilled(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The truth plus a block of background glued to its right side; returns (mask, spill)."""
    ys, xs = np.nonzero(truth)
    x1, y0, y1 = xs.max(), ys.min(), ys.max()
    spill = np.zeros_like(truth)
    spill[y0:y1, x1 : x1 + (xs.max() - xs.min()) // 2] = True
    spill &= ~truth
    return truth | spill, spill


@pytest.mark.parametrize(("frame", "obj"), [(0, 3), (48, 1)])
def test_a_positive_click_adds_the_missed_part_and_beats_a_click_alone(
    clip: SyntheticClip, seg: ClassicSegmenter, frame: int, obj: int
) -> None:
    truth = clip.masks[obj][frame]
    tracked = missing_right(truth)
    click = centre(truth & ~tracked)
    refined = seg.set_prompt(Prompt(frame, obj, (click,), mask=RLE.from_mask(tracked)))[obj].mask
    alone = seg.set_prompt(Prompt(frame, obj, (click,)))[obj].mask
    j_refined = mask_iou(refined, truth)
    assert j_refined > 0.95
    assert j_refined > mask_iou(tracked, truth) + 0.2
    assert j_refined > mask_iou(alone, truth) + 0.05
    assert (refined & tracked).sum() >= 0.99 * tracked.sum()  # the tracked part stays


@pytest.mark.parametrize(("frame", "obj"), [(0, 2), (24, 1)])
def test_a_negative_click_removes_the_spill_and_keeps_the_rest(
    clip: SyntheticClip, seg: ClassicSegmenter, frame: int, obj: int
) -> None:
    truth = clip.masks[obj][frame]
    tracked, spill = spilled(truth)
    click = centre(spill, label=0)
    out = seg.set_prompt(Prompt(frame, obj, (click,), mask=RLE.from_mask(tracked)))[obj].mask
    assert (out & spill).sum() < 0.5 * spill.sum()
    assert (out & truth).sum() > 0.98 * truth.sum()
    assert mask_iou(out, truth) > mask_iou(tracked, truth) + 0.1
    # away from the spill the mask is exactly the one given
    near = cv2.dilate(spill.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    assert np.array_equal(out[~near], tracked[~near])


def test_refinement_is_deterministic_and_the_mask_is_its_prior(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    truth = clip.masks[3][0]
    tracked = missing_right(truth)
    prompt = Prompt(0, 3, (centre(truth & ~tracked),), mask=RLE.from_mask(tracked))
    first = seg.set_prompt(prompt)[3].mask
    seg.reset()
    assert np.array_equal(seg.set_prompt(prompt)[3].mask, first)
    # the refined mask is the object's mask on that frame: propagation starts from it
    start = next(iter(seg.propagate(0, max_frames=0)))
    assert np.array_equal(start.objects[3].mask, first)


def test_a_click_inside_the_mask_and_a_mask_without_clicks_change_nothing(
    clip: SyntheticClip, seg: ClassicSegmenter
) -> None:
    truth = clip.masks[2][0]
    inside = seg.set_prompt(Prompt(0, 2, (centre(truth),), mask=RLE.from_mask(truth)))[2].mask
    assert np.array_equal(inside, truth)
    assert np.array_equal(seg.set_prompt(Prompt(0, 2, mask=RLE.from_mask(truth)))[2].mask, truth)


def test_the_classic_segmenter_declares_it() -> None:
    assert ClassicSegmenter.refines_masks is True


def test_a_click_far_from_the_mask_starts_over_from_the_clicks(clip: SyntheticClip, seg: ClassicSegmenter) -> None:
    # the tracked mask jumped onto another object: growing it would keep the wrong object
    truth, other = clip.masks[1][0], clip.masks[2][0]
    click = centre(truth)
    wrong = seg.set_prompt(Prompt(0, 1, (click,), mask=RLE.from_mask(other)))[1].mask
    alone = seg.set_prompt(Prompt(0, 1, (click,)))[1].mask
    assert np.array_equal(wrong, alone)
    assert mask_iou(wrong, truth) > 0.8 and not (wrong & other).any()


def _like_coloured_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red textured band on grass; the object is its left part, its right part a like-coloured neighbour.

    Returns (image, object, band): a mask of the whole band spills onto the neighbour, whose colours
    are the object's (no colour model can tell them apart).
    """
    rng = np.random.default_rng(0)
    img = np.clip(np.array([40, 90, 40]) + rng.normal(0, 8, (240, 320, 3)), 0, 255).astype(np.uint8)
    band = np.zeros((240, 320), bool)
    band[80:160, 60:220] = True
    img[band] = np.clip(np.array([200, 60, 50]) + rng.normal(0, 15, (int(band.sum()), 3)), 0, 255).astype(np.uint8)
    obj = np.zeros_like(band)
    obj[80:160, 60:160] = True
    return img, obj, band


def _segmenter(img: np.ndarray) -> ClassicSegmenter:
    s = ClassicSegmenter()
    s.start(open_video(img[None]))
    return s


def _disc(shape: tuple[int, int], x: int, y: int, r: int) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, (x, y), r, 1, -1)
    return out.astype(bool)


@pytest.mark.parametrize("click", [(190, 120), (205, 95), (175, 150)])
def test_a_negative_click_in_a_spill_like_the_object_removes_its_spot(click: tuple[int, int]) -> None:
    img, obj, band = _like_coloured_scene()
    x, y = click
    out = _segmenter(img).set_prompt(Prompt(0, 1, (Point(x, y, 0),), mask=RLE.from_mask(band)))[1].mask
    assert not (out & _disc(out.shape, x, y, 5)).any()  # the spot clicked and its neighbourhood are out
    assert (band & ~out).sum() > 80  # more than a GrabCut seed
    assert (out & obj).sum() > 0.97 * obj.sum()  # the object stays
    assert not (out & ~band).any()  # and nothing is added


def test_a_positive_click_on_a_spot_like_the_background_adds_it() -> None:
    img, _, band = _like_coloured_scene()
    x, y = 236, 120  # the object goes on over grass-coloured ground: the click says so
    out = _segmenter(img).set_prompt(Prompt(0, 1, (Point(x, y, 1),), mask=RLE.from_mask(band)))[1].mask
    assert out[_disc(out.shape, x, y, 4)].all()
    assert (out & band).sum() == band.sum()


def test_the_latest_click_wins_where_two_clicks_disagree() -> None:
    img, _, band = _like_coloured_scene()
    x, y = 190, 120
    prompt = Prompt(0, 1, (Point(x, y, 0), Point(x + 2, y, 1)), mask=RLE.from_mask(band))
    out = _segmenter(img).set_prompt(prompt)[1].mask
    assert out[y, x + 2] and out[y, x]  # the positive click came last: its spot is in


@pytest.fixture(scope="module")
def clip2() -> SyntheticClip:
    # seed 2 of bench_effort's clip, as far as the frames below (the frames do not depend on the length)
    return synthetic_clip(num_frames=288, size=(320, 240), num_objects=3, seed=2, occluders=2)


def test_a_negative_click_after_starting_over_only_removes(clip2: SyntheticClip) -> None:
    # frame 118: object 1 shows a thin sliver; its tracked mask lies on another object, so a click on
    # it starts over. A negative click on the sliver's spill used to flip the prompt path to a
    # hypothesis ten times the object's size (J 0.9 -> 0.1); it must only take the spill away.
    frame, truth, other = 118, clip2.masks[1][118], clip2.masks[3][118]
    seg = ClassicSegmenter()
    seg.start(clip2.video())
    pos = centre(truth)
    alone = seg.set_prompt(Prompt(frame, 1, (pos,)))[1].mask
    neg = centre(alone & ~truth, label=0)
    both = seg.set_prompt(Prompt(frame, 1, (pos, neg), mask=RLE.from_mask(other)))[1].mask
    assert not (both & ~alone).any()
    assert not both[int(neg.y), int(neg.x)]
    assert mask_iou(both, truth) >= mask_iou(alone, truth) - 0.02 > 0.8


def test_after_starting_over_a_second_click_corrects_the_mask_the_first_gave(clip2: SyntheticClip) -> None:
    # frame 287: a post cuts object 3 in two and its tracked mask lies elsewhere. The first click (on
    # the right part) starts over; the second (on the left part) used to segment both clicks from
    # scratch, which took the post and the ground between them (J 0.34).
    frame, truth = 287, clip2.masks[3][287]
    seg = ClassicSegmenter()
    seg.start(clip2.video())
    elsewhere = np.zeros_like(truth)
    elsewhere[10:40, 250:300] = True
    right = truth.copy()
    right[:, :92] = False
    first, second = centre(right), centre(truth & ~right)
    one = seg.set_prompt(Prompt(frame, 3, (first,), mask=RLE.from_mask(elsewhere)))[3].mask
    two = seg.set_prompt(Prompt(frame, 3, (first, second), mask=RLE.from_mask(elsewhere)))[3].mask
    assert mask_iou(two, truth) > max(0.9, mask_iou(one, truth))
    assert (two & one).sum() > 0.95 * one.sum()  # the second click corrects the first one's mask


def test_a_click_flips_its_colour_around_it_not_a_post_between_it_and_the_mask() -> None:
    img, _, band = _like_coloured_scene()
    img[60:180, 155:172] = (128, 128, 128)  # a grey post in front of the band
    tracked = band.copy()
    tracked[:, 150:] = False  # the tracker kept the part left of the post
    x, y = 188, 120  # the part right of the post is the object too
    out = _segmenter(img).set_prompt(Prompt(0, 1, (Point(x, y, 1),), mask=RLE.from_mask(tracked)))[1].mask
    assert out[_disc(out.shape, x, y, 8)].all()
    assert not out[:, 155:172].any()
    assert (out & tracked).sum() == tracked.sum()


@pytest.mark.parametrize("parts", [(3, 30, 6, 12), (3, 14, 6, 10)])
def test_a_click_on_each_part_of_an_object_cut_by_a_post_takes_both_parts_not_their_neighbour(
    parts: tuple[int, int, int, int],
) -> None:
    """The tracked mask holds the thin part left of the post (``parts``: its width and height, then the right
    part's); a click on the part right of it (far from the mask), then one on the left part: each far click
    adds its part, segmented alone, where segmenting both clicks together took in the blue object beside the
    right part (masks 20-60x the object's; bench_effort seed 2, frames 122-128)."""
    lw, lh, rw, rh = parts
    yy, xx = np.mgrid[0:240, 0:320]
    img = np.empty((240, 320, 3), np.float32)
    img[:] = (80, 130, 80)
    img += 18 * np.sin((xx + yy) / 5.0)[..., None]
    img[(xx >= 120) & (xx < 145)] = (110, 80, 120)  # the post
    left = (xx >= 120 - lw) & (xx < 120) & (yy >= 100) & (yy < 100 + lh)
    right = (xx >= 145) & (xx < 145 + rw) & (yy >= 95) & (yy < 95 + rh)
    img[left | right] = (60, 200, 190)
    img[(xx >= 145 + rw) & (xx < 195 + rw) & (yy >= 90) & (yy < 150)] = (70, 60, 210)  # another object
    img += np.random.default_rng(0).normal(0, 8, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    seg = ClassicSegmenter()
    seg.start(open_video(img[None]))
    ly, lx = np.nonzero(left)
    ry, rx = np.nonzero(right)
    clicks = (Point(float(rx.mean()), float(ry.mean())), Point(float(lx.mean()), float(ly.mean())))
    mask = seg.set_prompt(Prompt(0, 1, points=clicks, mask=RLE.from_mask(left)))[1].mask
    assert mask_iou(mask, left | right) >= 0.8, (int(mask.sum()), int((left | right).sum()))
