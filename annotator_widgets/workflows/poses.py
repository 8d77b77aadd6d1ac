"""People as objects and prompts: tracked poses stored under object ids, clicks on people, prompts from landmarks.

The pieces the people workflows (:mod:`annotator_widgets.workflows.people`) are made of,
each usable on its own:

* :func:`store_tracks` - tracked poses into a project, one object per person (people
  already stored keep their ids);
* :func:`nearest_person` - the person a click points at;
* :func:`new_people` - the detections that are nobody already known;
* :func:`pose_to_prompt` - a person's landmarks as a segmenter prompt (points or a box).

A tracked person is an ordinary project object with category :data:`PERSON`: its
global object id is its person id everywhere - in the stored poses, in the
segmenter's masklet and in every export.

Example:
    >>> import numpy as np
    >>> lm = np.zeros((33, 3), np.float32)
    >>> lm[:, 0], lm[:, 1], lm[:, 2] = np.linspace(100, 140, 33), np.linspace(50, 150, 33), 1.0
    >>> nearest_person([PersonPose(0, 7, lm)], 120, 100).person_id
    7
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from .. import landmarks as lm_index
from ..errors import PromptError
from ..pose_tracker import select_people
from ..types import Box, ObjectInfo, PersonPose, Point, Prompt

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["PERSON", "nearest_person", "new_people", "pose_box", "pose_to_prompt", "store_tracks"]

log = logging.getLogger(__name__)

#: the category of tracked people
PERSON = "person"
_NOSE = lm_index.NOSE
_L_SH, _R_SH = lm_index.LEFT_SHOULDER, lm_index.RIGHT_SHOULDER
_L_HIP, _R_HIP = lm_index.LEFT_HIP, lm_index.RIGHT_HIP


def pose_box(pose: PersonPose, min_visibility: float = 0.5) -> Box | None:
    """The box around a person's landmarks with visibility >= ``min_visibility`` (all of them if none is)."""
    return pose.box(min_visibility) or pose.box(0.0)


def _match_existing(
    project: Project, by_track: Mapping[int, Mapping[int, PersonPose]], category: str, min_iou: float
) -> dict[int, int]:
    """Track id -> id of an existing ``category`` object whose stored poses the track follows.

    A track follows an object when their landmark boxes overlap (IoU >= ``min_iou``) on at
    least half of the frames where both have a pose; best matches first, one track per object.
    """
    known = {
        o.obj_id: {p.frame: b for p in project.iter_poses(o.obj_id) if (b := pose_box(p)) is not None}
        for o in project.objects()
        if o.category == category
    }
    pairs = []
    for tid, frames in by_track.items():
        mine = {f: b for f, p in frames.items() if (b := pose_box(p)) is not None}
        for oid, theirs in known.items():
            shared = set(mine) & set(theirs)
            if shared:
                hit = float(np.mean([mine[f].iou(theirs[f]) >= min_iou for f in shared]))
                if hit >= 0.5:
                    pairs.append((-hit, -len(shared), tid, oid))
    ids: dict[int, int] = {}
    for _, _, tid, oid in sorted(pairs):
        if tid not in ids and oid not in ids.values():
            ids[tid] = oid
    return ids


def store_tracks(
    project: Project,
    tracks: Sequence[Sequence[PersonPose]],
    *,
    category: str = PERSON,
    names: Mapping[int, str] | None = None,
    match_existing: bool = True,
    min_iou: float = 0.5,
) -> dict[int, ObjectInfo]:
    """Store tracked people in a project, each under one object id.

    A track that follows a person already in the project (same ``category``, landmark
    boxes overlapping by ``min_iou`` on most shared frames) updates that person, so
    tracking again - with other settings, or from a click - keeps ids, masks and colours;
    every other track becomes a new object. Poses of other objects on the same frames
    are kept. The whole import is one undo step.

    Args:
        project: The project to write to.
        tracks: One list per frame of tracked poses (``person_id`` = track id), as
            :func:`~annotator_widgets.pose_tracking.track_people` returns them; a pose's
            ``frame`` is its index in ``tracks``.
        category: Category of the objects.
        names: Optional track id -> name of a new object (default ``"person <track id>"``).
        match_existing: Look for the people already stored (else every track is new).
        min_iou: Box overlap that counts as the same person on a frame.

    Returns:
        Track id -> :class:`ObjectInfo` (its ``obj_id`` is the person id from now on).

    Example:
        >>> objs = store_tracks(project, aw.track_people("walk.mp4"))  # doctest: +SKIP
    """
    by_track: dict[int, dict[int, PersonPose]] = {}
    for f, poses in enumerate(tracks):
        for p in poses:
            by_track.setdefault(p.person_id, {})[f] = p
    ids = _match_existing(project, by_track, category, min_iou) if match_existing else {}
    objects: dict[int, ObjectInfo] = {}
    with project.group(f"store {len(by_track)} tracked people"):
        for tid in sorted(by_track):
            if tid in ids:
                objects[tid] = project.object(ids[tid])
            else:
                name = (names or {}).get(tid, f"{category} {tid}")
                objects[tid] = project.add_object(name=name, category=category)
        for frame, poses in enumerate(tracks):
            if not poses:
                continue
            new = [replace(p, frame=frame, person_id=objects[p.person_id].obj_id) for p in poses]
            mine = {p.person_id for p in new}
            kept = [p for p in project.poses(frame) if p.person_id not in mine]
            project.put_poses(frame, kept + new)
    log.info("stored %d people (%d already known) over %d frames", len(objects), len(ids), sum(1 for f in tracks if f))
    return objects


def nearest_person(
    poses: Sequence[PersonPose], x: float, y: float, *, reach: float = 0.5, min_visibility: float = 0.5
) -> PersonPose | None:
    """The person a click at video pixel ``(x, y)`` points at, or None.

    Candidates are the people whose box (around their visible landmarks, grown by ``reach``
    of its longer side on every side) contains the click; of those, the one whose nose or
    mid-hip is nearest (:func:`~annotator_widgets.pose_tracker.select_people`).

    Example:
        >>> import numpy as np
        >>> lm = np.zeros((33, 3), np.float32)
        >>> lm[:, 0], lm[:, 1], lm[:, 2] = np.linspace(100, 140, 33), np.linspace(50, 150, 33), 1.0
        >>> person = PersonPose(0, 7, lm)
        >>> nearest_person([person], 120, 100).person_id, nearest_person([person], 400, 100)
        (7, None)
    """

    def contains(p: PersonPose) -> bool:
        box = pose_box(p, min_visibility)
        if box is None:
            return False
        m = reach * max(box.x1 - box.x0, box.y1 - box.y0)
        return box.x0 - m <= x <= box.x1 + m and box.y0 - m <= y <= box.y1 + m

    chosen = select_people([p for p in poses if contains(p)], (float(x), float(y)), min_visibility=min_visibility)
    return chosen[0] if chosen else None


def new_people(poses: Sequence[PersonPose], known: Sequence[PersonPose], min_iou: float = 0.5) -> list[PersonPose]:
    """The poses that overlap none of the ``known`` people (IoU of their landmark boxes below ``min_iou``)."""
    boxes = [b for k in known if (b := pose_box(k)) is not None]
    return [p for p in poses if (b := pose_box(p)) is not None and all(b.iou(k) < min_iou for k in boxes)]


def _visible(pose: PersonPose, index: int, min_visibility: float) -> bool:
    return bool(pose.landmarks[index, 2] >= min_visibility)


def _prompt_points(pose: PersonPose, min_visibility: float) -> list[tuple[float, float]]:
    """Positive points on the head and upper torso, kept away from the silhouette's edges."""
    lm = pose.landmarks
    pts: list[tuple[float, float]] = []
    if _visible(pose, _NOSE, min_visibility):
        pts.append((float(lm[_NOSE, 0]), float(lm[_NOSE, 1])))
    if _visible(pose, _L_SH, min_visibility) and _visible(pose, _R_SH, min_visibility):
        ls, rs = lm[_L_SH, :2], lm[_R_SH, :2]
        width = float(np.hypot(*(ls - rs)))
        chest = (ls + rs) / 2 + np.array([0.0, 0.2 * width])
        pts.append((float(chest[0]), float(chest[1])))
        for s in (ls, rs):  # a quarter of the way from the shoulder joint to the chest
            p = s + 0.25 * (chest - s)
            pts.append((float(p[0]), float(p[1])))
        if _visible(pose, _L_HIP, min_visibility) and _visible(pose, _R_HIP, min_visibility):
            hip = (lm[_L_HIP, :2] + lm[_R_HIP, :2]) / 2
            belly = chest + (hip - chest) / 3
            pts.append((float(belly[0]), float(belly[1])))
    if not pts:  # nothing reliable: the most visible landmark
        k = int(np.argmax(lm[:, 2]))
        pts.append((float(lm[k, 0]), float(lm[k, 1])))
    return pts


def pose_to_prompt(
    pose: PersonPose,
    kind: Literal["points", "box"] = "points",
    *,
    frame: int | None = None,
    obj_id: int | None = None,
    min_visibility: float = 0.5,
    margin: float = 0.1,
    size: tuple[int, int] | None = None,
) -> Prompt:
    """A segmenter prompt for one person, from its landmarks.

    Args:
        pose: The person's pose.
        kind: ``"points"``: positive clicks on the nose, the chest, just inside both
            shoulders and on the upper belly (hips visible), from landmarks with
            visibility >= ``min_visibility``; ``"box"``: the box around those landmarks
            grown by ``margin`` of its size on every side.
        frame: Frame of the prompt (default ``pose.frame``).
        obj_id: Object of the prompt (default ``pose.person_id``).
        min_visibility: Landmarks below it are not used.
        margin: Box growth, as a fraction of the box's width and height.
        size: ``(width, height)`` of the video: points and box are kept inside it.

    Returns:
        A :class:`Prompt` with the points or the box.

    Raises:
        PromptError: Unknown ``kind``, or nothing of the person lies inside the frame.

    Example:
        >>> import numpy as np
        >>> lm = np.zeros((33, 3), np.float32); lm[:, 2] = 1
        >>> lm[:, 0], lm[:, 1] = np.linspace(100, 200, 33), np.linspace(50, 300, 33)
        >>> pose_to_prompt(PersonPose(4, 2, lm), "box").box
        Box(x0=90.0, y0=25.0, x1=210.0, y1=325.0)
    """
    frame = pose.frame if frame is None else frame
    obj_id = pose.person_id if obj_id is None else obj_id
    if kind == "box":
        box = pose.box(min_visibility) or pose.box(0.0)
        if box is None:
            raise PromptError("the pose has no landmarks", given=(pose.frame, pose.person_id))
        mx, my = margin * (box.x1 - box.x0), margin * (box.y1 - box.y0)
        grown = Box(box.x0 - mx, box.y0 - my, box.x1 + mx, box.y1 + my)
        if size is not None:
            clipped = grown.clip(*size)
            if clipped is None:
                raise PromptError("the person's box lies outside the frame", given=grown.xyxy)
            grown = clipped
        return Prompt(frame, obj_id, box=grown)
    if kind != "points":
        raise PromptError("kind must be 'points' or 'box'", given=kind)
    pts = _prompt_points(pose, min_visibility)
    if size is not None:
        w, h = size
        pts = [(x, y) for x, y in pts if 0 <= x < w and 0 <= y < h]
        if not pts:
            raise PromptError("none of the person's landmarks lies inside the frame", given=(frame, obj_id))
    return Prompt(frame, obj_id, tuple(Point(x, y) for x, y in pts))
