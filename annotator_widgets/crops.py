"""Crops of masked image regions, prepared for an image/text model (CLIP, SigLIP, a captioner).

A candidate mask is scored by cropping the box around it and replacing everything outside
the mask, so the model sees the object and not its neighbours. Pure NumPy and OpenCV.

* :func:`crop_box` - where the crop sits in the frame: the mask's tight box, grown by a
  margin and (by default) made square around its centre, so a model's centre-crop
  preprocessing (CLIP resizes the short side and cuts the long one) keeps the whole object.
  The box may reach past the frame's edges; those parts count as background.
* :func:`masked_crop` - the crop itself, with the background outside the mask filled with
  :data:`MEAN_RGB` (``"mean"``: zero after CLIP-family normalisation), black, a blur of
  the frame (context without detail), or any RGB colour; optionally resized.

Example:
    >>> import numpy as np
    >>> frame = np.full((40, 60, 3), 200, np.uint8)
    >>> mask = np.zeros((40, 60), bool); mask[10:20, 30:50] = True
    >>> crop_box(mask, margin=0.0)
    (30, 5, 50, 25)
    >>> crop = masked_crop(frame, mask, margin=0.0, background="black")
    >>> crop.shape, int(crop[0, 0, 0]), int(crop[10, 10, 0])
    ((20, 20, 3), 0, 200)
    >>> masked_crop(frame, mask, size=32).shape
    (32, 32, 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from .errors import PromptError

__all__ = ["BACKGROUNDS", "MEAN_RGB", "crop_box", "masked_crop", "masked_crops"]

#: OpenAI CLIP's normalisation mean x 255 (SigLIP's 0.5 x 255 is within 12 levels): a fill the
#: model sees as "nothing" (zero after its preprocessing).
MEAN_RGB: tuple[int, int, int] = (122, 116, 104)

#: the named backgrounds; an ``(r, g, b)`` tuple is accepted too
BACKGROUNDS = ("mean", "black", "blur")


def _mask_array(mask: Any) -> np.ndarray:
    if hasattr(mask, "to_mask"):  # an RLE
        mask = mask.to_mask()
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise PromptError(
            "a mask must be a 2-D (H, W) array", given=f"shape {arr.shape}", hint="pass one object's boolean mask"
        )
    return arr.astype(bool, copy=False)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise PromptError(
            "the mask is empty: there is nothing to crop",
            given=f"{mask.shape[1]}x{mask.shape[0]} mask",
            hint="skip empty masks before cropping",
        )
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def crop_box(mask: Any, *, margin: float = 0.1, square: bool = True) -> tuple[int, int, int, int]:
    """Where :func:`masked_crop` cuts: ``(x0, y0, x1, y1)`` in frame pixels, ``x1``/``y1`` exclusive.

    Args:
        mask: ``(H, W)`` boolean mask (or an RLE) of one object.
        margin: Added on every side, as a fraction of the tight box's longer side.
        square: Grow the shorter side (around the box's centre) to the longer one.

    Returns:
        The box; it may extend past the frame (negative or beyond ``W``/``H``).

    Raises:
        PromptError: An empty mask, a mask that is not 2-D, or a negative margin.
    """
    if not isinstance(margin, int | float) or not math.isfinite(margin) or margin < 0:
        raise PromptError("margin must be a finite number >= 0", given=margin, hint="e.g. margin=0.1 (10%)")
    x0, y0, x1, y1 = _tight_box(_mask_array(mask))
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
    return x0, y0, x1, y1


def _check_frame(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise PromptError(
            "a frame must be an RGB uint8 (H, W, 3) array",
            given=f"shape {arr.shape}, dtype {arr.dtype}",
            hint="convert grey or RGBA images with cv2.cvtColor, and scale float images to 0..255 uint8",
        )
    return arr


def _fill_colour(background: Any) -> tuple[int, int, int] | None:
    """The constant fill of ``background``, or None for ``"blur"``."""
    if isinstance(background, str):
        if background == "mean":
            return MEAN_RGB
        if background == "black":
            return (0, 0, 0)
        if background == "blur":
            return None
    elif (
        isinstance(background, tuple | list)
        and len(background) == 3
        and all(isinstance(c, int | np.integer) and 0 <= c <= 255 for c in background)
    ):
        return (int(background[0]), int(background[1]), int(background[2]))
    raise PromptError(
        "unknown background", given=background, hint=f"use one of {BACKGROUNDS} or an (r, g, b) tuple of 0..255 ints"
    )


def masked_crop(
    frame: np.ndarray,
    mask: Any,
    *,
    margin: float = 0.1,
    background: str | tuple[int, int, int] = "mean",
    size: int | None = None,
    square: bool = True,
) -> np.ndarray:
    """The crop of ``frame`` around ``mask`` with everything outside the mask replaced.

    Args:
        frame: RGB uint8 ``(H, W, 3)`` image.
        mask: ``(H, W)`` boolean mask (or an RLE) of one object, the frame's size.
        margin: Context around the mask's box, a fraction of its longer side (see :func:`crop_box`).
        background: What replaces pixels outside the mask (and outside the frame): ``"mean"``
            (:data:`MEAN_RGB`), ``"black"``, ``"blur"`` (a Gaussian blur of the frame with sigma 5%
            of the crop's side, at least 2 px; the frame's edge pixels are repeated past its border),
            or an ``(r, g, b)`` colour.
        size: Resize so the longer side is ``size`` pixels (``size x size`` for square crops);
            None keeps the frame's resolution.
        square: Make the crop square (see :func:`crop_box`).

    Returns:
        A new RGB uint8 array; pixels inside the mask are the frame's own (before any resize).

    Raises:
        PromptError: Not an RGB uint8 frame, a mask of another size, an empty mask, a bad
            margin, background or size.
    """
    frame = _check_frame(frame)
    m = _mask_array(mask)
    height, width = frame.shape[:2]
    if m.shape != (height, width):
        raise PromptError(
            "the mask is not the frame's size",
            given=f"mask {m.shape[1]}x{m.shape[0]}, frame {width}x{height}",
            hint="pass the mask of this frame",
        )
    if size is not None and (isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1):
        raise PromptError("size must be a positive int or None", given=size)
    fill = _fill_colour(background)
    x0, y0, x1, y1 = crop_box(m, margin=margin, square=square)
    # the part of the box inside the frame, and where it lands in the crop
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    dx0, dy0 = sx0 - x0, sy0 - y0
    dx1, dy1 = dx0 + (sx1 - sx0), dy0 + (sy1 - sy0)
    region = frame[sy0:sy1, sx0:sx1]
    if fill is None:
        padded = cv2.copyMakeBorder(region, dy0, (y1 - y0) - dy1, dx0, (x1 - x0) - dx1, cv2.BORDER_REPLICATE)
        sigma = max(2.0, 0.05 * max(x1 - x0, y1 - y0))
        out = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma, sigmaY=sigma)
    else:
        out = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
        for channel, value in enumerate(fill):  # per channel: 3x faster than broadcasting a tuple
            out[..., channel] = value
    # the object's own pixels back (copyto with a mask: several times faster than boolean indexing)
    np.copyto(out[dy0:dy1, dx0:dx1], region, where=m[sy0:sy1, sx0:sx1, None])
    if size is not None:
        h, w = out.shape[:2]
        scale = size / max(h, w)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        if new != (w, h):
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            out = cv2.resize(out, new, interpolation=interpolation)
    return out


def masked_crops(frame: np.ndarray, masks: Iterable[Any], **options: Any) -> list[np.ndarray]:
    """:func:`masked_crop` of every mask on one frame (same options for all)."""
    frame = _check_frame(frame)
    return [masked_crop(frame, mask, **options) for mask in masks]
