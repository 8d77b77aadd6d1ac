"""Who is who across frames: :class:`PersonTracker` gives a pose estimator's people stable ids.

MediaPipe returns every frame's people in an arbitrary order and swaps them
when they cross. :class:`PersonTracker` gives them stable ids: each frame it
solves an assignment (Hungarian, :func:`scipy.optimize.linear_sum_assignment`)
between known people and new detections on a cost that combines

* the distance between head and torso keypoints (nose, eyes, ears, shoulders,
  hips), weighted by visibility and divided by the person's size (torso scale),
  after moving the known person by its velocity;
* ``1 - IoU`` of the boxes around the visible landmarks;
* optionally the Bhattacharyya distance of hue/saturation histograms of the
  torso region (clothes), which keeps people apart after they cross;

with a gate that forbids implausible matches. A person who is not seen is kept
for ``max_lost`` frames (moved on by its velocity, its gate widening with the
gap) and gets its id back when it returns. Colours are compared only where a
detection overlaps nobody else, and learnt only from people standing clear of
others. Two fits of one person are merged. When one person is selected (the
largest, or the one nearest a click), everybody else is still tracked, without
an id in the output, so that the selected person's track is not pulled onto
someone else while they are hidden.

The features compared come from :mod:`annotator_widgets.pose_features`; running a
pose model over a video and tracking is :func:`annotator_widgets.pose_tracking.track_people`.
NumPy, SciPy and OpenCV only.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import PersonPose
    >>> def person(x):
    ...     lm = np.zeros((33, 3), np.float32)
    ...     lm[:, 0], lm[:, 1], lm[:, 2] = x + np.arange(33) % 5 * 10, 100 + np.arange(33) * 5, 1.0
    ...     return PersonPose(0, 1, lm)
    >>> tracker = PersonTracker()
    >>> [(p.person_id, int(p.landmarks[0, 0])) for p in tracker.update([person(100), person(400)])]
    [(1, 100), (2, 400)]
    >>> [(p.person_id, int(p.landmarks[0, 0])) for p in tracker.update([person(405), person(104)])]  # swapped
    [(1, 104), (2, 405)]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from . import landmarks as lm_index
from .errors import PromptError
from .pose_features import PersonFeatures, bhattacharyya, describe_people, keypoint_distance, overlap
from .types import PersonPose, box_iou

__all__ = ["PersonTracker", "Selection", "select_people"]

log = logging.getLogger(__name__)

_NOSE, _L_HIP, _R_HIP = lm_index.NOSE, lm_index.LEFT_HIP, lm_index.RIGHT_HIP
_INVALID = 1e6

#: who a tracking run follows: everybody, the largest person, or the one nearest an ``(x, y)`` click
Selection = Literal["all", "largest"] | tuple[float, float]


@dataclass(eq=False)
class _Track:
    track_id: int
    det: PersonFeatures
    frame: int
    steps: list[np.ndarray] = field(default_factory=list)  # recent per-frame displacements
    scale: float = 1.0
    hist: np.ndarray | None = None

    @property
    def velocity(self) -> np.ndarray:
        """Median of the recent per-frame displacements (robust to a few bad landmark fits)."""
        if not self.steps:
            return np.zeros(2, np.float32)
        return np.median(np.asarray(self.steps), axis=0).astype(np.float32)


def _is_all(select: Any) -> bool:
    return isinstance(select, str) and select == "all"


def select_people(poses: Sequence[PersonPose], select: Selection, *, min_visibility: float = 0.5) -> list[PersonPose]:
    """The people a selection picks on one frame.

    Args:
        poses: The detections on that frame.
        select: ``"all"``, ``"largest"`` (largest box around visible landmarks) or an
            ``(x, y)`` click: the person whose nose or mid-hip is nearest to it.
        min_visibility: Landmarks below it are ignored.

    Example:
        >>> select_people([], "all")
        []
    """
    if isinstance(select, str):
        if select == "all":
            return list(poses)
        if select == "largest":
            boxes = [(p.box(min_visibility) or p.box(0.0)) for p in poses]
            return (
                [max(zip(poses, boxes, strict=True), key=lambda pb: pb[1].area if pb[1] else 0.0)[0]] if poses else []
            )
        raise PromptError("select must be 'all', 'largest' or an (x, y) click", given=select)
    try:
        x, y = (float(v) for v in select)
    except (TypeError, ValueError) as exc:
        raise PromptError("select must be 'all', 'largest' or an (x, y) click", given=select) from exc
    best, best_d = None, np.inf
    for p in poses:
        lm = p.landmarks
        anchors = [lm[_NOSE, :2]] if lm[_NOSE, 2] >= min_visibility else []
        if lm[_L_HIP, 2] >= min_visibility and lm[_R_HIP, 2] >= min_visibility:
            anchors.append((lm[_L_HIP, :2] + lm[_R_HIP, :2]) / 2)
        if not anchors:
            anchors = [lm[lm[:, 2].argmax(), :2]]
        d = min(float(np.hypot(a[0] - x, a[1] - y)) for a in anchors)
        if d < best_d:
            best, best_d = p, d
    return [] if best is None else [best]


class PersonTracker:
    """Stable person ids across frames (Hungarian assignment with a gate, re-identification of the lost).

    Args:
        max_lost: Frames a person may go unseen and still get its id back.
        gate: Largest keypoint distance, in torso sizes, for a match one frame apart;
            it widens by ``gate_growth`` per extra frame a person has been unseen (at most 3x).
        gate_growth: Relative widening of the gate per unseen frame.
        keypoint_weight: Weight of the normalised keypoint distance in the cost.
        iou_weight: Weight of ``1 - IoU`` of landmark boxes in the cost.
        color_weight: Weight of the torso colour distance (used when frames are given).
        scale_weight: Weight of ``|log(size ratio)|`` (a merged fit of two people is larger).
        lost_penalty: Extra cost of matching a person unseen on the previous frame
            (prefers people just seen).
        velocity_window: Recent displacements whose median is a person's velocity.
        max_extrapolate: Frames an unseen person is moved on by its velocity (then it stays).
        min_visibility: Landmarks with lower visibility are ignored.
        duplicate_distance: Two detections closer than this (torso sizes) are one person;
            the weaker is dropped (MediaPipe sometimes follows one person twice).
        new_person_distance: An unmatched detection this close (torso sizes) to a matched
            one is a stray second fit of that person, not a new person: it is dropped.
        new_tracks: Give a new id to every unmatched detection; False reports only the
            people already known.

    Example:
        >>> tracker = PersonTracker(max_lost=15)
        >>> tracker.update([]) == []
        True
    """

    def __init__(
        self,
        *,
        max_lost: int = 30,
        gate: float = 1.0,
        gate_growth: float = 0.15,
        keypoint_weight: float = 2.0,
        iou_weight: float = 0.25,
        color_weight: float = 2.0,
        scale_weight: float = 0.5,
        lost_penalty: float = 0.1,
        velocity_window: int = 8,
        max_extrapolate: int = 20,
        min_visibility: float = 0.5,
        duplicate_distance: float = 0.1,
        new_person_distance: float = 0.5,
        new_tracks: bool = True,
    ) -> None:
        if max_lost < 0 or gate <= 0:
            raise PromptError("max_lost must be >= 0 and gate > 0", given=(max_lost, gate))
        self.max_lost = int(max_lost)
        self.gate = float(gate)
        self.gate_growth = float(gate_growth)
        self.keypoint_weight = float(keypoint_weight)
        self.iou_weight = float(iou_weight)
        self.color_weight = float(color_weight)
        self.scale_weight = float(scale_weight)
        self.lost_penalty = float(lost_penalty)
        self.velocity_window = max(1, int(velocity_window))
        self.max_extrapolate = max(0, int(max_extrapolate))
        self.min_visibility = float(min_visibility)
        self.duplicate_distance = float(duplicate_distance)
        self.new_person_distance = float(new_person_distance)
        self.new_tracks = bool(new_tracks)
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = -1
        self._follow: set[int] | None = None  # ids to report (None: everybody)
        self._starting: set[int] | None = None  # id() of the poses selected by start()
        self._next_hidden = -1  # people tracked but not reported get negative ids

    # ------------------------------------------------------------------ state
    @property
    def track_ids(self) -> list[int]:
        """Ids of the people currently remembered (seen or recently lost) and reported."""
        return [t.track_id for t in self._tracks if t.track_id > 0]

    @property
    def next_id(self) -> int:
        """The id the next new person will get (settable: a tracker copied to run backward continues the ids)."""
        return self._next_id

    @next_id.setter
    def next_id(self, value: int) -> None:
        self._next_id = int(value)

    def reset(self, next_id: int = 1) -> None:
        """Forget everybody; new ids start at ``next_id``."""
        self._tracks = []
        self._next_id = int(next_id)
        self._frame = -1
        self._follow = None
        self._starting = None
        self._next_hidden = -1

    def copy(self) -> PersonTracker:
        """An independent tracker with the same settings and memory (to track backward from a frame)."""
        other = PersonTracker.__new__(PersonTracker)
        other.__dict__.update(self.__dict__)
        other._tracks = [replace(t, steps=list(t.steps)) for t in self._tracks]
        other._follow = None if self._follow is None else set(self._follow)
        return other

    # ------------------------------------------------------------------ features
    def describe(self, poses: Sequence[PersonPose], frame_rgb: np.ndarray | None = None) -> list[PersonFeatures]:
        """Compute the features the tracker compares (positions, box, scale, torso colours)."""
        return describe_people(poses, frame_rgb, min_visibility=self.min_visibility)

    @staticmethod
    def _near(a: PersonFeatures, b: PersonFeatures, limit: float) -> bool:
        dist = keypoint_distance(a.points, a.weights, b.points, b.weights)
        return dist is not None and dist / max(a.scale, b.scale) < limit

    def _dedupe(self, dets: list[PersonFeatures]) -> list[PersonFeatures]:
        keep: list[PersonFeatures] = []
        for d in sorted(dets, key=lambda d: -d.pose.score):
            if not any(self._near(d, k, self.duplicate_distance) for k in keep):
                keep.append(d)
        return [d for d in dets if any(d is k for k in keep)]

    # ------------------------------------------------------------------ assignment
    def _shift(self, t: _Track, frame: int) -> np.ndarray:
        """Expected displacement of a person since it was last seen (velocity times the gap, capped)."""
        return t.velocity * float(np.clip(frame - t.frame, -self.max_extrapolate, self.max_extrapolate))

    def _cost(self, t: _Track, d: PersonFeatures, frame: int, use_color: bool = True) -> float:
        # frames may run backward (tracking back from a selection): velocities are per frame index
        step = frame - t.frame
        dt = max(1, abs(step))
        shift = self._shift(t, frame)
        pred = t.det.points + shift
        scale = 0.5 * (t.scale + d.scale)
        dist = keypoint_distance(pred, t.det.weights, d.points, d.weights)
        if dist is None:  # no shared visible keypoint: compare box centres
            tb, db = t.det.box, d.box
            dist = float(
                np.hypot((tb[0] + tb[2] - db[0] - db[2]) / 2 + shift[0], (tb[1] + tb[3] - db[1] - db[3]) / 2 + shift[1])
            )
        norm = dist / scale
        gate = self.gate * min(3.0, 1.0 + self.gate_growth * (dt - 1))
        if norm > gate:
            return _INVALID
        box = t.det.box + np.array([shift[0], shift[1], shift[0], shift[1]], np.float32)
        cost = self.keypoint_weight * norm + self.iou_weight * (1.0 - float(box_iou(box, d.box)[0, 0]))
        cost += self.scale_weight * abs(float(np.log(d.scale / t.scale)))
        if use_color and self.color_weight and t.hist is not None and d.hist is not None:
            cost += self.color_weight * bhattacharyya(t.hist, d.hist)
        if dt > 1:
            cost += self.lost_penalty
        return cost

    def assign(self, dets: Sequence[PersonFeatures], frame: int | None = None) -> list[PersonPose]:
        """Give each detection an id (see :meth:`update`); ``dets`` come from :meth:`describe`."""
        from scipy.optimize import linear_sum_assignment

        frame = self._frame + 1 if frame is None else int(frame)
        self._frame = frame
        dets = self._dedupe(list(dets))
        tracks = list(self._tracks)
        matches: dict[int, _Track] = {}
        # where everybody is expected now: a detection overlapping two of them, or another detection, may
        # have mixed colours (not compared); colours are learnt only from people standing clear of all others
        expected = [t.det.box + np.tile(self._shift(t, frame), 2) for t in tracks]
        if tracks and dets:
            color_ok = [
                sum(overlap(d.box, b) > 0.2 for b in expected) <= 1
                and all(overlap(d.box, o.box) < 0.2 for o in dets if o is not d)
                for d in dets
            ]
            cost = np.array(
                [[self._cost(t, d, frame, ok) for d, ok in zip(dets, color_ok, strict=True)] for t in tracks]
            )
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _INVALID:
                    matches[int(c)] = tracks[r]
        out = []
        # new people are numbered left to right
        for j in sorted(range(len(dets)), key=lambda j: (j not in matches, float(dets[j].box[0] + dets[j].box[2]))):
            d = dets[j]
            t = matches.get(j)
            if t is not None:
                others = [b for k, b in zip(tracks, expected, strict=True) if k is not t]
                others += [o.box for o in dets if o is not d]
                self._update_track(t, d, frame, clear=all(overlap(d.box, b) < 0.05 for b in others))
            elif not any(self._near(d, o, self.new_person_distance) for i, o in enumerate(dets) if i in matches):
                tid = self._new_id(d)
                if tid is None:
                    continue
                t = _Track(tid, d, frame, scale=d.scale, hist=d.hist)
                self._tracks.append(t)
            else:
                continue
            if t.track_id > 0:
                out.append(replace(d.pose, frame=max(0, frame), person_id=t.track_id))
        self._tracks = [t for t in self._tracks if abs(frame - t.frame) <= self.max_lost]
        return sorted(out, key=lambda p: p.person_id)

    def _new_id(self, d: PersonFeatures) -> int | None:
        """The id of a new person: reported (positive), tracked but hidden (negative), or None (ignored)."""
        if self._starting is not None:
            visible = id(d.pose) in self._starting
        else:
            visible = self._follow is None and self.new_tracks
        if visible:
            tid, self._next_id = self._next_id, self._next_id + 1
            if self._follow is not None:
                self._follow.add(tid)
            return tid
        if self._follow is not None:  # others compete for the followed person's detections
            tid, self._next_hidden = self._next_hidden, self._next_hidden - 1
            return tid
        return None

    def _update_track(self, t: _Track, d: PersonFeatures, frame: int, *, clear: bool) -> None:
        dt = (frame - t.frame) or 1
        w = np.minimum(t.det.weights, d.weights)
        if w.sum() >= 0.5:
            t.steps = [
                *t.steps[-(self.velocity_window - 1) :],
                ((d.points - t.det.points) * w[:, None]).sum(axis=0) / w.sum() / dt,
            ]
        t.scale = 0.8 * t.scale + 0.2 * d.scale
        if d.hist is not None and (clear or t.hist is None):
            t.hist = d.hist if t.hist is None else 0.8 * t.hist + 0.2 * d.hist
        t.det, t.frame = d, frame

    def start(
        self,
        poses: Sequence[PersonPose],
        select: Selection = "all",
        *,
        frame: int = 0,
        frame_rgb: np.ndarray | None = None,
    ) -> list[PersonPose]:
        """Forget everybody and begin with the people ``select`` picks on ``frame`` (ids 1, 2, ...).

        After ``"largest"`` or a click only the selected person is reported; everybody
        else is still tracked (without an id in the output), so that the selected
        person's track is not pulled onto someone else while they are unseen.

        Raises:
            PromptError: ``select`` is a single person and nobody is found on this frame.
        """
        return self.start_detections(self.describe(poses, frame_rgb), select, frame=frame)

    def start_detections(
        self, dets: Sequence[PersonFeatures], select: Selection = "all", *, frame: int = 0
    ) -> list[PersonPose]:
        """:meth:`start` on detections already described by :meth:`describe`."""
        chosen = {id(p) for p in select_people([d.pose for d in dets], select, min_visibility=self.min_visibility)}
        every = _is_all(select)
        if not every and not chosen:
            raise PromptError(
                "no person to select on this frame",
                given=(frame, select),
                hint="pick a frame where a person is detected, or lower min_pose_detection_confidence",
            )
        self.reset()
        self._follow = None if every else set()
        self._starting = chosen
        try:
            return self.assign(dets, frame)
        finally:
            self._starting = None

    def update(
        self, poses: Sequence[PersonPose], frame_rgb: np.ndarray | None = None, *, frame: int | None = None
    ) -> list[PersonPose]:
        """Give this frame's people stable ids.

        Args:
            poses: PersonFeaturess (any ``person_id``), e.g. from ``PoseEstimator.detect``.
            frame_rgb: The frame, to compare torso colours (optional, helps after crossings).
            frame: Frame index (default: one after the previous call). Gaps count as unseen frames.

        Returns:
            The tracked poses with ``frame`` and ``person_id`` set, sorted by id; detections
            not followed (``new_tracks=False``) or dropped as duplicates are left out.
        """
        return self.assign(self.describe(poses, frame_rgb), frame)
