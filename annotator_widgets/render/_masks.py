"""Mask inputs shared by the overlay and the effects: bool arrays, RLEs or Annotations, their box and union."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import Annotation

__all__ = ["MaskInput", "MasksInput", "as_mask", "mask_box", "union"]

#: one mask: a ``(H, W)`` bool array, an :class:`~annotator_widgets.rle.RLE` or an :class:`Annotation`
MaskInput = np.ndarray | RLE | Annotation
#: one mask, ``{obj_id: mask}``, a sequence of masks, or None (nothing)
MasksInput = MaskInput | Mapping[int, MaskInput] | Iterable[MaskInput] | None


def as_mask(m: MaskInput) -> np.ndarray:
    """A ``(H, W)`` bool array from any mask input."""
    if isinstance(m, Annotation):
        return m.mask
    if isinstance(m, RLE):
        return m.to_mask()
    return np.asarray(m, bool)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` (end excluded) of the mask's pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def union(masks: MasksInput, shape: tuple[int, int]) -> np.ndarray:
    """The union of ``masks`` as one ``shape`` bool array (all False for None or no masks); treat it as read-only.

    Raises:
        AnnotatorError: A mask's size differs from ``shape``.
    """
    if masks is None:
        items: Iterable[MaskInput] = ()
    elif isinstance(masks, np.ndarray | RLE | Annotation):
        items = (masks,)
    elif isinstance(masks, Mapping):
        items = masks.values()
    else:
        items = masks
    out: np.ndarray | None = None
    for m in items:
        mask = as_mask(m)
        if mask.shape != shape:
            raise AnnotatorError("mask and frame differ in size", given=(mask.shape, shape))
        out = mask if out is None else out | mask  # one mask is used as it is, never copied
    return np.zeros(shape, bool) if out is None else out
