"""Masked crops: the fast path (OpenCV box, fill and masked copy) gives the same pixels as the plain NumPy one.

:func:`reference_crop` is the straightforward implementation (two ``any()`` passes for the box, a
broadcast fill, ``np.copyto`` with ``where=``): every crop a scorer or captioner sees must be
byte-identical to it, so cached embeddings and scores do not change with the optimisation.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator_widgets.crops import MEAN_RGB, crop_box, masked_crop, masked_crops, tight_box
from annotator_widgets.errors import PromptError
from annotator_widgets.rle import RLE


def reference_crop(frame, mask, *, margin=0.1, background="mean", size=None, square=True):
    mask = np.asarray(mask, bool)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    pad = round(margin * max(x1 - x0, y1 - y0))
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    if square:
        w, h = x1 - x0, y1 - y0
        if w < h:
            x0 -= (h - w) // 2
            x1 = x0 + h
        elif h < w:
            y0 -= (w - h) // 2
            y1 = y0 + w
    height, width = mask.shape
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    dx0, dy0 = sx0 - x0, sy0 - y0
    dx1, dy1 = dx0 + (sx1 - sx0), dy0 + (sy1 - sy0)
    region = frame[sy0:sy1, sx0:sx1]
    if background == "blur":
        padded = cv2.copyMakeBorder(region, dy0, (y1 - y0) - dy1, dx0, (x1 - x0) - dx1, cv2.BORDER_REPLICATE)
        sigma = max(2.0, 0.05 * max(x1 - x0, y1 - y0))
        out = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma, sigmaY=sigma)
    else:
        colour = {"mean": MEAN_RGB, "black": (0, 0, 0)}.get(background, background)
        out = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
        out[...] = np.asarray(colour, np.uint8)
    np.copyto(out[dy0:dy1, dx0:dx1], region, where=mask[sy0:sy1, sx0:sx1, None])
    if size is not None:
        h, w = out.shape[:2]
        scale = size / max(h, w)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        if new != (w, h):
            out = cv2.resize(out, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return out


def random_mask(rng, height, width):
    """A blob, a thin line, a single pixel or scattered pixels, often touching an edge."""
    mask = np.zeros((height, width), bool)
    kind = rng.integers(4)
    if kind == 0:
        cx, cy = rng.integers(-5, width + 5), rng.integers(-5, height + 5)
        cv2.ellipse(
            mask.view(np.uint8),
            (int(cx), int(cy)),
            (int(rng.integers(1, 40)), int(rng.integers(1, 30))),
            float(rng.integers(180)),
            0,
            360,
            1,
            -1,
        )
    elif kind == 1:
        y = rng.integers(height)
        mask[y, rng.integers(width // 2) : rng.integers(width // 2 + 1, width + 1)] = True
    elif kind == 2:
        mask[rng.integers(height), rng.integers(width)] = True
    else:
        mask[rng.random((height, width)) < 0.01] = True
    if not mask.any():
        mask[0, width - 1] = True
    return mask


CASES = [
    {"margin": 0.1, "background": "mean", "size": 32},
    {"margin": 0.1, "background": "mean", "size": 224},
    {"margin": 0.0, "background": "black", "size": None},
    {"margin": 0.5, "background": "blur", "size": 48},
    {"margin": 0.25, "background": (10, 200, 30), "size": None, "square": False},
    {"margin": 1.0, "background": "mean", "size": 7, "square": False},
]


@pytest.mark.parametrize("options", CASES)
def test_crops_are_byte_identical_to_the_plain_numpy_crop(options):
    rng = np.random.default_rng(7)
    for trial in range(24):
        if options["background"] == "blur" and trial % 2:
            continue  # the reference blur of a whole 320x240 frame is slow; small frames cover the same code
        height, width = (240, 320) if trial % 2 else (int(rng.integers(5, 60)), int(rng.integers(5, 60)))
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        masks = [random_mask(rng, height, width) for _ in range(3)]
        got = masked_crops(frame, masks, **options)
        for mask, crop in zip(masks, got, strict=True):
            want = reference_crop(frame, mask, **options)
            assert crop.dtype == np.uint8 and crop.shape == want.shape
            assert np.array_equal(crop, want), (trial, options)
            assert np.array_equal(masked_crop(frame, mask, **options), want)


def test_non_contiguous_masks_and_frames_and_rles_crop_the_same():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    mask = random_mask(rng, 80, 60).T  # a transposed (column-major) view
    want = reference_crop(frame, mask, size=32)
    assert np.array_equal(masked_crop(frame, mask, size=32), want)
    assert np.array_equal(masked_crop(frame, RLE.from_mask(np.ascontiguousarray(mask)), size=32), want)
    wide = rng.integers(0, 256, (60, 160, 3), dtype=np.uint8)
    view = wide[:, ::2]  # a strided frame
    assert np.array_equal(masked_crop(view, mask, size=32), reference_crop(np.ascontiguousarray(view), mask, size=32))


def test_given_boxes_are_used_and_checked():
    frame = np.full((20, 30, 3), 9, np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[4:8, 10:20] = True
    box = tight_box(mask)
    assert box == (10, 4, 20, 8) and crop_box(mask, margin=0.0) == (10, 1, 20, 11)
    assert np.array_equal(masked_crops(frame, [mask], boxes=[box])[0], masked_crop(frame, mask))
    with pytest.raises(PromptError, match="one tight"):
        masked_crops(frame, [mask], boxes=[])
    with pytest.raises(PromptError, match="one tight"):
        masked_crops(frame, [mask], boxes=[(0, 0, 31, 20)])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f, m: masked_crop(f, np.zeros_like(m)), "mask is empty"),
        (lambda f, m: masked_crop(f, m[:, :5]), "not the frame's size"),
        (lambda f, m: masked_crop(f[..., 0], m), "RGB uint8"),
        (lambda f, m: masked_crop(f, m, margin=-1), "margin"),
        (lambda f, m: masked_crop(f, m, size=0), "size"),
        (lambda f, m: masked_crop(f, m, background="plaid"), "unknown background"),
        (lambda f, m: tight_box(np.zeros((4, 4), bool)), "mask is empty"),
    ],
)
def test_bad_input_is_a_prompt_error(call, match):
    frame = np.zeros((10, 10, 3), np.uint8)
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    with pytest.raises(PromptError, match=match):
        call(frame, mask)
