"""Hand-object interaction on one frame: how close a person's hands are to an object's mask.

Pure NumPy and OpenCV on :class:`~annotator_widgets.types.PersonPose` /
:class:`~annotator_widgets.types.HandPose` records and boolean masks, so it works with any
pose model, hand model and segmenter. :mod:`annotator_widgets.action_segments` turns the
per-frame measurements into segments.

For each (person, object) pair and side (the person's own left and right hand):

* **distance** - from each visible hand landmark to the *nearest mask pixel* (a distance
  transform of the mask's bounding-box neighbourhood, not the centroid), the smallest over
  the hand's landmarks, in units of the person's scale (:func:`person_scale`: shoulder width,
  else 0.8 x torso length). The hand is the body model's wrist, pinky, index and thumb, or the
  21 landmarks of a hand model's :class:`HandPose` of that person and side when given.
  Landmarks less visible than ``min_visibility`` are ignored; no visible landmark on either
  side (or no scale) means *no decision* for that frame (``distance`` NaN). Distances farther
  than ``reach`` are not measured exactly: they are the distance to the mask's box (a lower
  bound, beyond every threshold).
* **overlap** - the fraction of the hand's region (:func:`annotator_widgets.hands.hand_regions`,
  ``hand_box`` shoulder widths wide, clipped to the frame) covered by the mask.
* **depth** (off by default) - MediaPipe's world landmarks are metres around the hips, and
  their z (depth) is the model's coarsest estimate. The object has no depth of its own, so it
  is read from the body landmarks the mask covers (an object held against the body): a hand
  more than ``depth_tolerance`` metres in front of or behind them does not touch the object.
  Without world landmarks, with a wrist less visible than ``depth_min_visibility``, or with
  no body landmark under the mask, the check has no say (``depth_ok`` None): it is unreliable there.

A frame's **effective distance** is the smaller side's distance, or 0 when a side's overlap
reaches ``overlap_enter`` (the hand region mostly on the object); its **score** is
``1 - effective / leave`` clipped to 0..1 (1: touching, 0: at or beyond the leave threshold).

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import PersonPose
    >>> from annotator_widgets import landmarks as lm
    >>> body = np.zeros((33, 3), np.float32); body[:, 2] = 1.0
    >>> body[lm.LEFT_SHOULDER, :2], body[lm.RIGHT_SHOULDER, :2] = (140, 50), (100, 50)
    >>> body[list(lm.POSE_HANDS["left"]), :2] = (150, 120)
    >>> body[list(lm.POSE_HANDS["right"]), :2] = (90, 120)
    >>> mask = np.zeros((200, 240), bool); mask[110:130, 160:200] = True  # 10 px right of the left hand
    >>> r = measure(PersonPose(0, 1, body), 2, mask)
    >>> r.hand, round(r.distances["left"], 2), round(r.distance, 2)
    ('left', 0.25, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import landmarks as lm
from .errors import PromptError
from .hands import hand_regions
from .types import HandPose, PersonPose

__all__ = ["SIDES", "FrameInteraction", "InteractionParams", "measure", "person_scale"]

SIDES = ("left", "right")
#: shoulder width / torso length (shoulder centre to hip centre) of an adult, roughly: converts a
#: torso length into the shoulder-width unit when the shoulders are not both visible
TORSO_TO_SHOULDERS = 0.8


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise PromptError(f"{name} must be a positive number", given=value)
    return float(value)


@dataclass(frozen=True)
class InteractionParams:
    """Every threshold of interaction finding, in one place (distances in person scales).

    Attributes:
        enter: A hand at or below this distance starts an interaction.
        leave: An interaction ends when the hand is farther than this (``leave >= enter``: hysteresis).
        min_frames: Segments shorter than this many frames are dropped.
        max_gap: Gaps of at most this many frames (away or undecided) inside an interaction are bridged.
        min_visibility: Body landmarks less visible than this are ignored.
        reach: Distances are measured exactly up to this; farther ones are lower bounds (must be > ``leave``).
        overlap_enter: A hand region covered this much by the mask counts as touching (0..1; 1.01 disables).
        hand_box: Width of a hand's region, in shoulder widths.
        use_depth: Veto touches whose world-landmark depth differs (see the module's notes).
        depth_tolerance: Metres of depth difference still counted as touching.
        depth_min_visibility: The wrist visibility needed to trust its world landmark.
    """

    enter: float = 0.25
    leave: float = 0.45
    min_frames: int = 5
    max_gap: int = 3
    min_visibility: float = 0.5
    reach: float = 0.6
    overlap_enter: float = 0.5
    hand_box: float = 0.6
    use_depth: bool = False
    depth_tolerance: float = 0.25
    depth_min_visibility: float = 0.8

    def __post_init__(self) -> None:
        for name in ("enter", "leave", "reach", "hand_box", "depth_tolerance"):
            _positive(name, getattr(self, name))
        if self.leave < self.enter:
            raise PromptError(
                "leave must be >= enter (hysteresis)",
                given=(self.enter, self.leave),
                hint="e.g. enter=0.25, leave=0.45",
            )
        if self.reach <= self.leave:
            raise PromptError("reach must be larger than leave", given=(self.leave, self.reach))
        for name in ("min_frames", "max_gap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "min_frames" else 0):
                raise PromptError(f"{name} must be an int >= {1 if name == 'min_frames' else 0}", given=v)
        for name in ("min_visibility", "depth_min_visibility"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise PromptError(f"{name} must lie in 0..1", given=getattr(self, name))
        if not self.overlap_enter > 0.0:
            raise PromptError("overlap_enter must be > 0 (above 1 disables it)", given=self.overlap_enter)


@dataclass(frozen=True)
class FrameInteraction:
    """One (person, object) pair on one frame.

    Attributes:
        frame, person_id, obj_id: Which pair, where.
        distances: Side -> nearest hand-landmark-to-mask distance in person scales (NaN: no visible landmark).
        overlaps: Side -> fraction of the hand region covered by the mask (NaN: no region).
        depth_ok: Side -> the depth check's verdict, or None where it has no say (or is off).
        distance: The effective distance (see the module), NaN when there is no decision.
        hand: The side of the effective distance (``"left"`` / ``"right"``), None without a decision.
        score: ``1 - distance / leave`` clipped to 0..1, 0 without a decision.
    """

    frame: int
    person_id: int
    obj_id: int
    distances: dict[str, float] = field(default_factory=dict)
    overlaps: dict[str, float] = field(default_factory=dict)
    depth_ok: dict[str, bool | None] = field(default_factory=dict)
    distance: float = math.nan
    hand: str | None = None
    score: float = 0.0


def person_scale(person: PersonPose, *, min_visibility: float = 0.5) -> float | None:
    """The person's size in pixels: shoulder width, else 0.8 x torso length; None if neither is visible.

    Example:
        >>> import numpy as np
        >>> body = np.zeros((33, 3), np.float32)
        >>> body[lm.LEFT_HIP, :], body[lm.RIGHT_HIP, :] = (60, 150, 1), (40, 150, 1)
        >>> body[lm.LEFT_SHOULDER, :] = (50, 50, 1)  # the right shoulder is hidden
        >>> person_scale(PersonPose(0, 1, body))
        80.0
    """
    pts = person.landmarks
    ls, rs, lh, rh = (pts[i] for i in lm.TORSO)
    if ls[2] >= min_visibility and rs[2] >= min_visibility:
        d = float(np.hypot(*(ls[:2] - rs[:2])))
        if d >= 1.0:
            return d
    shoulders = [p[:2] for p in (ls, rs) if p[2] >= min_visibility]
    hips = [p[:2] for p in (lh, rh) if p[2] >= min_visibility]
    if shoulders and hips:
        torso = float(np.hypot(*(np.mean(shoulders, axis=0) - np.mean(hips, axis=0))))
        if torso >= 1.0:
            return TORSO_TO_SHOULDERS * torso
    return None


def _hand_points(person: PersonPose, side: str, hand: HandPose | None, min_visibility: float) -> np.ndarray:
    """``(K, 2)`` pixel positions of the visible landmarks of one hand."""
    if hand is not None:
        # the hand model has no per-landmark visibility: a detected hand's landmarks all count
        return hand.landmarks[:, :2]
    pts = person.landmarks[list(lm.POSE_HANDS[side])]
    return pts[pts[:, 2] >= min_visibility, :2]


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _distances_px(mask: np.ndarray, box: tuple[int, int, int, int], points: np.ndarray, reach_px: float) -> np.ndarray:
    """Pixel distance of each point to the nearest mask pixel: exact up to ``reach_px``, beyond it a value
    that is itself beyond ``reach_px`` (the distance to the mask's box, or the transform's value in the crop).

    The distance transform runs on the mask's box grown by the reach, cut down to the points' box grown
    by the reach: every mask pixel within reach of a point lies inside it, so a large mask costs no more
    than the neighbourhood of the hand.
    """
    h, w = mask.shape
    x0, y0, x1, y1 = box
    pad = math.ceil(reach_px) + 1
    px0, py0 = points.min(axis=0)
    px1, py1 = points.max(axis=0)
    cx0, cy0 = max(0, x0 - pad, math.floor(px0) - pad), max(0, y0 - pad, math.floor(py0) - pad)
    cx1, cy1 = min(w, x1 + pad, math.ceil(px1) + pad + 1), min(h, y1 + pad, math.ceil(py1) + pad + 1)
    out = np.empty(len(points), np.float64)
    inside = []
    for i, (x, y) in enumerate(points):
        # distance to the box: a lower bound, beyond reach for every point outside the grown box
        dx = max(x0 - x, 0.0, x - (x1 - 1))
        dy = max(y0 - y, 0.0, y - (y1 - 1))
        out[i] = math.hypot(dx, dy)
        xi, yi = round(float(x)), round(float(y))
        if cx0 <= xi < cx1 and cy0 <= yi < cy1:
            inside.append((i, xi - cx0, yi - cy0))
    crop = mask[cy0:cy1, cx0:cx1] if cx1 > cx0 and cy1 > cy0 else mask[:0, :0]
    if inside and not crop.any():  # no mask pixel within reach of any point
        for i, _, _ in inside:
            out[i] = max(out[i], float(pad))
    elif inside:
        # distanceTransform measures each non-zero pixel's distance to the nearest zero: zeros on the mask
        dt = cv2.distanceTransform(np.where(crop, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        for i, cx, cy in inside:
            out[i] = float(dt[cy, cx])
    return out


def _overlap(mask: np.ndarray, region: tuple[float, float, float, float]) -> float:
    h, w = mask.shape
    x0, y0 = max(0, round(region[0])), max(0, round(region[1]))
    x1, y1 = min(w, round(region[2])), min(h, round(region[3]))
    if x1 <= x0 or y1 <= y0:
        return math.nan
    return float(mask[y0:y1, x0:x1].mean())


def _depth_ok(person: PersonPose, side: str, mask: np.ndarray, params: InteractionParams) -> bool | None:
    world = person.world_landmarks
    wrist = lm.POSE_HANDS[side][0]
    if world is None or person.landmarks[wrist, 2] < params.depth_min_visibility:
        return None
    h, w = mask.shape
    hand_ids = set(lm.POSE_HANDS["left"] + lm.POSE_HANDS["right"])
    under = [
        i
        for i, (x, y, v) in enumerate(person.landmarks)
        if i not in hand_ids
        and v >= params.min_visibility
        and 0 <= int(y) < h
        and 0 <= int(x) < w
        and mask[int(y), int(x)]
    ]
    if not under:
        return None
    object_z = float(np.median(world[under, 2]))
    return bool(abs(float(world[wrist, 2]) - object_z) <= params.depth_tolerance)


def measure(
    person: PersonPose,
    obj_id: int,
    mask: np.ndarray | None,
    *,
    hands: Sequence[HandPose] = (),
    params: InteractionParams | None = None,
) -> FrameInteraction:
    """Measure one person's hands against one object's mask on one frame.

    Args:
        person: The person's pose (``person_id`` is the person's object id).
        obj_id: The object's id.
        mask: ``(H, W)`` boolean mask of the object; None when it is unknown on this frame
            (no decision), an empty mask when the object is known absent (no interaction).
        hands: Hand-model hands on this frame; those with this person's id replace the body
            model's hand landmarks of their side.
        params: Thresholds (defaults: :class:`InteractionParams`).

    Returns:
        The measurements and the frame's effective distance and score.

    Raises:
        PromptError: A mask that is not 2-D.
    """
    params = params or InteractionParams()
    base = FrameInteraction(person.frame, person.person_id, int(obj_id))
    scale = person_scale(person, min_visibility=params.min_visibility)
    if mask is None or scale is None:
        return base
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise PromptError("a mask must be a 2-D (H, W) array", given=f"shape {mask.shape}")
    mask = mask.astype(bool, copy=False)
    own = {h.handedness: h for h in hands if h.person_id == person.person_id}
    box = _mask_box(mask)
    regions = hand_regions(person, scale=params.hand_box, min_visibility=params.min_visibility)
    distances: dict[str, float] = {}
    overlaps: dict[str, float] = {}
    depth: dict[str, bool | None] = {}
    for side in SIDES:
        pts = _hand_points(person, side, own.get(side), params.min_visibility)
        if len(pts) == 0:
            distances[side], overlaps[side], depth[side] = math.nan, math.nan, None
            continue
        if box is None:  # the object is known absent
            distances[side], overlaps[side], depth[side] = math.inf, 0.0, None
            continue
        distances[side] = float(_distances_px(mask, box, pts, params.reach * scale).min()) / scale
        hand = own.get(side)
        region = hand.box().xyxy if hand is not None else (regions[side].xyxy if side in regions else None)
        overlaps[side] = math.nan if region is None else _overlap(mask, region)
        depth[side] = _depth_ok(person, side, mask, params) if params.use_depth else None
    effective: dict[str, float] = {}
    for side, d in distances.items():
        if math.isnan(d) or depth[side] is False:
            effective[side] = d if math.isnan(d) else math.inf
            continue
        touching = not math.isnan(overlaps[side]) and overlaps[side] >= params.overlap_enter
        effective[side] = 0.0 if touching else d
    decided = {s: d for s, d in effective.items() if not math.isnan(d)}
    if not decided:
        return FrameInteraction(base.frame, base.person_id, base.obj_id, distances, overlaps, depth)
    side = min(decided, key=lambda s: (decided[s], SIDES.index(s)))
    dist = decided[side]
    score = float(np.clip(1.0 - dist / params.leave, 0.0, 1.0)) if math.isfinite(dist) else 0.0
    return FrameInteraction(base.frame, base.person_id, base.obj_id, distances, overlaps, depth, dist, side, score)
