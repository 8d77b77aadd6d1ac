"""Hands and people: where a person's hands should be, and which detected hand is whose.

Pure numpy / scipy on :class:`~annotator_widgets.types.PersonPose` and
:class:`~annotator_widgets.types.HandPose` records, so it works with any pose and hand model.

* :func:`hand_regions` - square boxes around a person's hands from the body model's wrist,
  pinky and index landmarks, sized by the shoulder width (to search with a hand model:
  :meth:`~annotator_widgets.backends.hands.MediaPipeHandEstimator.detect_in_boxes`).
* :func:`assign_hands` - gives each hand the person whose pose wrist *of the same side* is
  nearest, distances normalised by that person's shoulder width, one hand per person and side,
  solved jointly (Hungarian algorithm) so that two people's hands close together are not both
  given to one of them.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import HandPose, PersonPose
    >>> from annotator_widgets import landmarks as lm
    >>> body = np.zeros((33, 3), np.float32); body[:, 2] = 1.0
    >>> body[lm.LEFT_SHOULDER, :2], body[lm.RIGHT_SHOULDER, :2] = (120, 50), (80, 50)
    >>> for side, (x, y) in (("left", (130, 120)), ("right", (70, 120))):
    ...     body[list(lm.POSE_HANDS[side]), :2] = (x, y)  # wrist, pinky, index, thumb
    >>> person = PersonPose(0, 7, body)
    >>> hand = np.zeros((21, 3), np.float32); hand[:, :2] = (131, 128); hand[0, :2] = (131, 121)
    >>> [h.person_id for h in assign_hands([HandPose(0, None, "left", hand)], [person])]
    [7]
    >>> hand_regions(person)["left"].xyxy
    (90.0, 80.0, 170.0, 160.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from . import landmarks as lm
from .backends._optional import require
from .errors import PromptError
from .types import Box, HandPose, PersonPose

__all__ = ["assign_hands", "hand_regions", "shoulder_width", "wrist_distances"]

_SIDES = ("left", "right")
_WRIST = {"left": lm.LEFT_WRIST, "right": lm.RIGHT_WRIST}


def shoulder_width(person: PersonPose) -> float:
    """The distance between the person's shoulders in pixels (at least 1), the unit of hand distances.

    Where the shoulders coincide (a person seen side-on), a quarter of the body box's height is used.
    """
    d = float(np.hypot(*(person.landmarks[lm.LEFT_SHOULDER, :2] - person.landmarks[lm.RIGHT_SHOULDER, :2])))
    if d < 1.0:
        box = person.box()
        d = 0.25 * (box.y1 - box.y0) if box is not None else 1.0
    return max(d, 1.0)


def hand_regions(person: PersonPose, *, scale: float = 2.0, min_visibility: float = 0.3) -> dict[str, Box]:
    """Square boxes where the person's hands should be, by side (``"left"``, ``"right"``: their own).

    Each box is centred on the mean of the body model's wrist, pinky and index landmarks of that
    side and is ``scale`` x the shoulder width wide. A side whose wrist is less visible than
    ``min_visibility`` is left out. Boxes may reach outside the frame.

    Raises:
        PromptError: ``scale`` is not positive.
    """
    if not np.isfinite(scale) or scale <= 0:
        raise PromptError("scale must be a positive number", given=scale)
    side_px = scale * shoulder_width(person)
    out = {}
    for side in _SIDES:
        wrist, pinky, index, _thumb = lm.POSE_HANDS[side]
        if person.landmarks[wrist, 2] < min_visibility:
            continue
        cx, cy = person.landmarks[[wrist, pinky, index], :2].mean(axis=0)
        half = side_px / 2
        out[side] = Box(float(cx - half), float(cy - half), float(cx + half), float(cy + half))
    return out


def wrist_distances(
    hands: Sequence[HandPose], people: Sequence[PersonPose], *, min_visibility: float = 0.3
) -> np.ndarray:
    """``(hands, people)`` distances from each hand's wrist to the person's wrist of the hand's side,
    in that person's shoulder widths; ``inf`` where that pose wrist is less visible than ``min_visibility``."""
    out = np.full((len(hands), len(people)), np.inf)
    for j, person in enumerate(people):
        unit = shoulder_width(person)
        for i, hand in enumerate(hands):
            wrist = _WRIST[hand.handedness]
            if person.landmarks[wrist, 2] >= min_visibility:
                out[i, j] = float(np.hypot(*(hand.landmarks[lm.HAND_WRIST, :2] - person.landmarks[wrist, :2]))) / unit
    return out


def assign_hands(
    hands: Sequence[HandPose],
    people: Sequence[PersonPose],
    *,
    max_distance: float = 0.75,
    min_visibility: float = 0.3,
) -> list[HandPose]:
    """Give each hand to the person whose same-side pose wrist is nearest (one hand per person and side).

    Args:
        hands: Hands on one frame (any ``person_id``; it is replaced).
        people: Tracked people on the same frame (``person_id`` is their stable id).
        max_distance: Largest wrist-to-wrist distance, in the person's shoulder widths, at which
            a hand is still theirs; farther hands stay unassigned.
        min_visibility: Pose wrists less visible than this take no hand.

    Returns:
        The hands in the same order, with ``person_id`` set, or None where no person fits.

    Raises:
        PromptError: Hands and people are not all on one frame, or ``max_distance`` is not positive.
    """
    if not np.isfinite(max_distance) or max_distance <= 0:
        raise PromptError("max_distance must be a positive number of shoulder widths", given=max_distance)
    frames = {h.frame for h in hands} | {p.frame for p in people}
    if len(frames) > 1:
        raise PromptError("hands and people must all be on one frame", given=sorted(frames))
    assigned: list[int | None] = [None] * len(hands)
    if hands and people:
        optimize = require("scipy.optimize", purpose="assigning hands to people")

        dist = wrist_distances(hands, people, min_visibility=min_visibility)
        # one column per (person, side); a hand can only take the slot of its own side
        cost = np.full((len(hands), 2 * len(people)), np.inf)
        for k, side in enumerate(_SIDES):
            rows = [i for i, h in enumerate(hands) if h.handedness == side]
            cost[rows, k::2] = dist[rows]
        allowed = cost <= max_distance
        if allowed.any():
            big = 1e6  # finite stand-in for "not allowed", so the solver always has a full assignment
            rows, cols = optimize.linear_sum_assignment(np.where(allowed, cost, big))
            for i, c in zip(rows, cols, strict=True):
                if allowed[i, c]:
                    assigned[i] = people[c // 2].person_id
    return [dataclasses.replace(h, person_id=pid) for h, pid in zip(hands, assigned, strict=True)]
