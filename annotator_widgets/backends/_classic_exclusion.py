"""Mutual exclusion of the classic tracker's objects: a pixel belongs to at most one of them.

Private to :mod:`annotator_widgets.backends._classic_tracker`. Objects tracked together claim pixels
independently; where two claims overlap (an object passing in front of another, or a mask that leaked
onto its neighbour), each connected piece of the overlap goes to the object whose colours it has
(its colour histogram from its prompt frame, :func:`~annotator_widgets.backends._classic_ops.histogram`),
and the other object is occluded there rather than covering its neighbour.
"""

from __future__ import annotations

import cv2
import numpy as np

_EPS = 1e-4  # added to histogram densities: a colour an object never showed is unlikely, not impossible


def exclusive(
    masks: dict[int, np.ndarray],
    index: np.ndarray,
    colours: dict[int, np.ndarray],
    fixed: dict[int, np.ndarray] | None = None,
) -> dict[int, np.ndarray]:
    """The masks with every overlap given to one object.

    Args:
        masks: Object id -> (H, W) bool mask (the tracked objects); not modified.
        index: (H, W) colour bins of the frame (:func:`~annotator_widgets.backends._classic_ops.colour_index`).
        colours: Object id -> its colour histogram (every key of ``masks``).
        fixed: Object id -> mask that wins every overlap (a prompt on this frame: the user's word).

    Returns:
        Object id -> mask, with no pixel in two masks (nor in a ``fixed`` one). Each connected piece
        of the overlap of two masks goes whole to the object whose colour histogram gives its pixels
        the higher summed log-likelihood; objects without overlaps keep their masks unchanged.
    """
    out = dict(masks)
    for mask in (fixed or {}).values():
        out = {obj: m & ~mask if (m & mask).any() else m for obj, m in out.items()}
    ids = sorted(out)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            both = out[a] & out[b]
            if not both.any():
                continue
            n, labels = cv2.connectedComponents(both.astype(np.uint8), connectivity=8)
            ratio = np.log(colours[a][index] + _EPS) - np.log(colours[b][index] + _EPS)
            votes = np.bincount(labels.ravel(), weights=ratio.ravel(), minlength=n)
            a_wins = votes > 0
            a_wins[0] = False
            to_a = both & a_wins[labels]
            out[a], out[b] = out[a] & ~(both & ~to_a), out[b] & ~to_a
    return out
