"""From per-frame hand-object distances to action segments: hysteresis, gap bridging, minimum duration.

Pure functions on arrays, so each step is tested on scripted distance sequences:

1. :func:`hysteresis` - a frame enters contact at a distance <= ``enter`` and stays in contact
   until the distance exceeds ``leave``; a distance that flickers around one threshold therefore
   gives one run, not many. Undecided frames (NaN: nobody or nothing visible) are not in contact
   but do not reset the state: contact resumes after them while the distance stays under ``leave``.
2. :func:`bridge_gaps` - gaps of at most ``max_gap`` frames between two runs are filled.
3. :func:`runs` - ``(start, stop)`` of each run (stop excluded, like every frame range), and runs
   shorter than ``min_frames`` dropped.

:func:`find_segments` chains them and makes :class:`~annotator_widgets.types.ActionSegment`
records with the segment's confidence (the mean per-frame score over its frames), the hand
(``"left"``, ``"right"`` or ``"both"``) and the key frame (highest score) in ``meta``.

Example:
    >>> import numpy as np
    >>> d = np.array([1, 1, .2, .3, .4, .3, .5, .2, 1, 1, 1, .2, 1])  # flicker around .45, one blip
    >>> hysteresis(d, enter=.25, leave=.45).astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0]
    >>> runs(bridge_gaps(hysteresis(d, enter=.25, leave=.45), max_gap=1), min_frames=3)
    [(2, 8)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import PromptError
from .types import ActionSegment

__all__ = ["bridge_gaps", "find_segments", "hysteresis", "runs", "segment_hand"]

#: a side counts for a segment's ``hand`` when it is within ``leave`` on this share of the segment's decided frames
HAND_SHARE = 0.25


def _vector(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, np.float64)
    if arr.ndim != 1:
        raise PromptError(f"{name} must be a 1-D sequence (one value per frame)", given=f"shape {arr.shape}")
    return arr


def hysteresis(distances: Any, *, enter: float, leave: float) -> np.ndarray:
    """Per-frame contact from distances: enter at ``<= enter``, leave at ``> leave``.

    Args:
        distances: One distance per frame; NaN = no decision on that frame.
        enter: Threshold to start contact.
        leave: Threshold to end it (``>= enter``).

    Returns:
        Boolean array, True on frames in contact (never on undecided frames).

    Raises:
        PromptError: ``leave < enter`` or distances that are not 1-D.
    """
    d = _vector(distances, "distances")
    if not leave >= enter:
        raise PromptError("leave must be >= enter", given=(enter, leave))
    out = np.zeros(d.shape, bool)
    state = False
    for i, v in enumerate(d):
        if math.isnan(v):
            continue
        state = v <= leave if state else v <= enter
        out[i] = state
    return out


def bridge_gaps(active: Any, *, max_gap: int) -> np.ndarray:
    """``active`` with every gap of at most ``max_gap`` frames between two True runs filled.

    Example:
        >>> bridge_gaps([1, 0, 0, 1, 0, 0, 0, 1], max_gap=2).astype(int).tolist()
        [1, 1, 1, 1, 0, 0, 0, 1]
    """
    a = np.asarray(active, bool).copy()
    if max_gap <= 0:
        return a
    on = np.flatnonzero(a)
    for prev, nxt in itertools.pairwise(on):
        if 1 < nxt - prev <= max_gap + 1:
            a[prev + 1 : nxt] = True
    return a


def runs(active: Any, *, min_frames: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of each True run (``stop`` excluded) at least ``min_frames`` long.

    Example:
        >>> runs([0, 1, 1, 0, 1, 1, 1], min_frames=3)
        [(4, 7)]
    """
    a = np.concatenate([[False], np.asarray(active, bool), [False]])
    edges = np.flatnonzero(a[1:] != a[:-1])
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True) if e - s >= min_frames]


def segment_hand(left: Any, right: Any, *, leave: float) -> str:
    """``"left"``, ``"right"`` or ``"both"``: the sides within ``leave`` on at least a quarter of the decided frames.

    Example:
        >>> segment_hand([.1, .1, .9, .1], [.9, .2, .1, .1], leave=.45)
        'both'
        >>> segment_hand([.1, .1, .9, .1], [.9, .9, .9, float("nan")], leave=.45)
        'left'
    """
    share = {}
    for side, values in (("left", left), ("right", right)):
        v = _vector(values, side)
        decided = ~np.isnan(v)
        share[side] = float((v[decided] <= leave).mean()) if decided.any() else 0.0
    sides = [s for s in ("left", "right") if share[s] >= HAND_SHARE]
    if len(sides) == 2:
        return "both"
    if sides:
        return sides[0]
    return "left" if share["left"] >= share["right"] else "right"


def find_segments(
    distances: Any,
    scores: Any,
    *,
    enter: float,
    leave: float,
    min_frames: int,
    max_gap: int,
    label: str = "interacts with",
    person_id: int | None = None,
    obj_id: int | None = None,
    first_frame: int = 0,
    sides: Sequence[Any] | None = None,
) -> list[ActionSegment]:
    """Action segments of one (person, object) pair from its per-frame distances and scores.

    Args:
        distances: Effective distance per frame (NaN: no decision).
        scores: Per-frame score in 0..1 (same length).
        enter: Distance that starts contact (see :class:`~annotator_widgets.interactions.InteractionParams`).
        leave: Distance beyond which contact ends.
        min_frames: Shortest segment kept.
        max_gap: Longest gap bridged.
        label: The segments' label.
        person_id: The person's object id.
        obj_id: The object's id.
        first_frame: The video frame of ``distances[0]``.
        sides: Optional ``(left_distances, right_distances)`` for the ``hand`` in ``meta``.

    Returns:
        Segments in time order; ``score`` = mean per-frame score over the segment,
        ``meta`` = ``{"hand", "key_frame", "auto": True}``.

    Example:
        >>> d = [1, .2, .2, .2, .2, 1]
        >>> [(s.start, s.stop, s.meta["key_frame"]) for s in find_segments(
        ...     d, [0, .5, .9, .5, .5, 0], enter=.25, leave=.45, min_frames=3, max_gap=1, first_frame=10)]
        [(11, 15, 12)]
    """
    d = _vector(distances, "distances")
    s = _vector(scores, "scores")
    if s.shape != d.shape:
        raise PromptError("one score per distance is needed", given=(d.size, s.size))
    active = bridge_gaps(hysteresis(d, enter=enter, leave=leave), max_gap=max_gap)
    out = []
    for start, stop in runs(active, min_frames=min_frames):
        seg_scores = np.nan_to_num(s[start:stop], nan=0.0)
        key = start + int(np.argmax(seg_scores))
        if sides is not None:
            hand = segment_hand(
                _vector(sides[0], "left")[start:stop], _vector(sides[1], "right")[start:stop], leave=leave
            )
        else:
            hand = "both"
        out.append(
            ActionSegment(
                start + first_frame,
                stop + first_frame,
                label,
                person_id,
                obj_id,
                score=round(float(seg_scores.mean()), 4),
                meta={"hand": hand, "key_frame": key + first_frame, "auto": True},
            )
        )
    return out
