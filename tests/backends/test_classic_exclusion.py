"""Objects the classic tracker follows together exclude each other: one passing in front of another keeps
the other's mask off it (the effort goal's loss around frame 230 of bench_effort's clip)."""

from __future__ import annotations

import cv2
import numpy as np

from annotator_widgets.backends import _classic_ops as ops
from annotator_widgets.backends._classic_exclusion import exclusive
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.rle import RLE, mask_iou
from annotator_widgets.types import Prompt
from annotator_widgets.video import open_video


def _crossing_clip(n: int = 24, w: int = 160, h: int = 120) -> tuple[np.ndarray, dict[int, list[np.ndarray]]]:
    """A striped red disc (object 2) sliding left in front of a striped magenta ellipse (object 1), hiding most."""
    rng = np.random.default_rng(0)

    def texture(sigma: float, amp: float, colour: tuple[int, int, int]) -> np.ndarray:
        noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), sigma)
        return noise * amp + np.array(colour, np.float32)

    bg = texture(3, 40, (110, 100, 150))
    back_tex, front_tex = texture(1.5, 40, (200, 40, 180)), texture(1.5, 40, (200, 50, 40))
    yy, xx = np.mgrid[:h, :w]
    stripes = (np.sin(xx / 3.0)[..., None] * 40).astype(np.float32)
    frames, truth = [], {1: [], 2: []}
    for t in range(n):
        back = ((xx - (70 + 0.5 * t)) / 26) ** 2 + ((yy - 60) / 20) ** 2 <= 1
        front = (xx - (130 - 4 * t)) ** 2 + (yy - 62) ** 2 <= 21**2
        img = np.where(back[..., None], back_tex + stripes, bg)
        img = np.where(front[..., None], np.roll(front_tex + stripes, -4 * t, axis=1), img)
        frames.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
        truth[1].append(back & ~front)
        truth[2].append(front)
    return np.stack(frames), truth


def test_an_object_passing_in_front_does_not_take_the_hidden_objects_mask() -> None:
    frames, truth = _crossing_clip()
    assert min(m.sum() for m in truth[1]) < 0.25 * truth[1][0].sum()  # the front object hides most of it
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    for obj in (1, 2):
        seg.set_prompt(Prompt(0, obj, mask=RLE.from_mask(truth[obj][0])))
    ious = {obj: [] for obj in (1, 2)}
    for out in seg.propagate(0):
        masks = {obj: out.objects[obj].mask for obj in (1, 2)}
        assert not (masks[1] & masks[2]).any(), out.frame  # a pixel belongs to one object at most
        for obj in (1, 2):
            ious[obj].append(mask_iou(masks[obj], truth[obj][out.frame]))
    assert len(ious[1]) == len(frames)
    # independent tracking put object 1's mask on object 2 from frame 13 on (IoU 0.2-0.5)
    assert min(ious[1]) >= 0.9, np.round(ious[1], 2)
    assert min(ious[2]) >= 0.9, np.round(ious[2], 2)


def _two_colours() -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """A frame half red, half blue, and the colour histograms of each half."""
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = (200, 30, 30)
    img[:, 20:] = (30, 30, 200)
    index = ops.colour_index(img)
    left = np.zeros((20, 40), bool)
    left[:, :20] = True
    return index, {1: ops.histogram(index, left), 2: ops.histogram(index, ~left)}


def test_an_overlap_goes_to_the_object_whose_colours_it_has() -> None:
    index, colours = _two_colours()
    a, b = np.zeros((20, 40), bool), np.zeros((20, 40), bool)
    a[2:18, 2:30] = True  # object 1 (red) leaked onto the blue half
    b[2:18, 22:38] = True  # object 2 (blue)
    a_before = a.copy()
    out = exclusive({1: a, 2: b}, index, colours)
    assert not (out[1] & out[2]).any()
    assert np.array_equal(out[2], b)  # the blue overlap stays with the blue object
    assert np.array_equal(out[1], a & ~b)
    assert np.array_equal(a, a_before)  # the inputs are not modified
    swapped = exclusive({1: b, 2: a}, index, {1: colours[2], 2: colours[1]})
    assert np.array_equal(swapped[1], b) and np.array_equal(swapped[2], a & ~b)  # not the object order


def test_masks_without_overlap_are_unchanged_and_prompts_win_every_overlap() -> None:
    index, colours = _two_colours()
    a, b = np.zeros((20, 40), bool), np.zeros((20, 40), bool)
    a[2:10, 2:18] = True
    b[12:18, 22:38] = True
    out = exclusive({1: a, 2: b}, index, colours)
    assert out[1] is a and out[2] is b
    prompt = np.zeros((20, 40), bool)
    prompt[5:15, 10:30] = True  # object 3's prompt on this frame, over both
    out = exclusive({1: a, 2: b}, index, {**colours}, fixed={3: prompt})
    assert np.array_equal(out[1], a & ~prompt) and np.array_equal(out[2], b & ~prompt)
