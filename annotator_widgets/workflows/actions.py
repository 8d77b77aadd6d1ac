"""Track my action: hand-object interactions -> action segments -> descriptions in words.

* :func:`find_interactions` streams the video's frames once, measures every (person, object)
  pair with :func:`annotator_widgets.interactions.measure` (poses and masks read from the
  project frame by frame, a hand model run on the frame only when asked), turns each pair's
  distances into segments (:func:`annotator_widgets.action_segments.find_segments`) and stores
  them in the project in one undo step. Segments it found before for the same pairs are
  replaced; segments a person made or edited (``meta["auto"]`` not true, or ``meta["edited"]``
  true) are kept, and no new segment is added over them.
* :func:`describe_actions` asks a captioner about each segment: the key frame (the segment's
  highest-scoring frame, else its middle), cropped to the union of the person's and the object's
  boxes plus a margin, and the question ``"What is the person doing with the {object}?"``.
  Batched; each finished batch is stored at once (one undo step for the run), so a cancel keeps
  what was done.

**One id per person**: ``person_id`` of a segment is the person's object id, which is also the
id of their pose track (:meth:`Project.poses`) and of their masklet.

Progress callbacks get ``(done, total)``; ``cancel`` is a :class:`threading.Event` or a callable
returning True to stop (checked between frames / batches).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import registry
from ..action_segments import find_segments
from ..crops import masked_crop
from ..errors import PromptError, SessionBusyError
from ..hands import assign_hands, hand_regions
from ..interactions import InteractionParams, measure
from ..types import ActionSegment, HandPose, frame_range

if TYPE_CHECKING:
    from ..project import Project
    from ..session import AnnotationSession

__all__ = ["DEFAULT_QUESTION", "LABEL", "describe_actions", "find_interactions", "has_segments"]

log = logging.getLogger(__name__)

#: the label of segments found by :func:`find_interactions`
LABEL = "interaction"
#: the question :func:`describe_actions` asks by default (``{object}``: the object's name or category)
DEFAULT_QUESTION = "What is the person doing with the {object}?"

Progress = Callable[[int, int], None] | None
Cancel = threading.Event | Callable[[], bool] | None


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def _check_idle(session: AnnotationSession) -> None:
    if session.busy:
        raise SessionBusyError.running("a propagation is running")


def _ids(given: Iterable[int] | None, default: list[int], what: str, known: set[int]) -> list[int]:
    if given is None:
        return default
    ids = [int(i) for i in given]
    missing = sorted(set(ids) - known)
    if missing:
        raise PromptError(f"unknown {what} id(s)", given=missing, hint=f"known ids: {sorted(known)}")
    return ids


def _user_owned(seg: ActionSegment) -> bool:
    """A segment a person made or changed: never replaced by a new run."""
    return not seg.meta.get("auto") or bool(seg.meta.get("edited"))


def _hands_on(estimator: Any, frame: int, image: np.ndarray, poses: list[Any], fps: float) -> list[HandPose]:
    """Hands on one frame given to the tracked people: searched around their wrists where the estimator can
    (``detect_in_boxes``, for small hands), else on the whole frame."""
    if hasattr(estimator, "detect_in_boxes"):
        boxes = [box for pose in poses for box in hand_regions(pose).values()]
        found = estimator.detect_in_boxes(image, boxes, index=frame) if boxes else []
    else:
        found = estimator.detect(image, timestamp_ms=round(frame * 1000.0 / (fps or 25.0)))
    return assign_hands([dataclasses.replace(h, frame=frame) for h in found], poses)


def find_interactions(
    session: AnnotationSession,
    *,
    persons: Iterable[int] | None = None,
    objects: Iterable[int] | None = None,
    hands: str | Any | None = None,
    params: InteractionParams | None = None,
    start: int | None = None,
    stop: int | None = None,
    label: str = LABEL,
    progress: Progress = None,
    cancel: Cancel = None,
) -> list[int]:
    """Find when each person's hands touch each object and store the segments.

    Args:
        session: The annotation session (its project holds the poses and masks).
        persons: Person ids (objects with poses); None: every object with a pose.
        objects: Object ids (objects with masks); None: every object with a mask that is not a person.
        hands: None (the pose model's wrist, pinky, index and thumb), a hand-estimator spec such as
            ``"mediapipe"``, or a :class:`~annotator_widgets.backends.HandEstimator` with ``detect_in_boxes``.
        params: Thresholds (:class:`~annotator_widgets.interactions.InteractionParams`).
        start: First frame (included); None: 0.
        stop: Last frame (excluded); None: the end.
        label: The label of the new segments.
        progress: Called with ``(frames done, frames total)``.
        cancel: Stop between frames; nothing is stored then (earlier segments stay as they were).

    Returns:
        The ids of the segments stored, in time order ([] when cancelled).

    Raises:
        SessionBusyError: A propagation is running.
        PromptError: Unknown person or object ids.
        PromptError: No person with poses or no object with masks to pair.
    """
    _check_idle(session)
    project = session.project
    params = params or InteractionParams()
    known = {o.obj_id for o in project.objects()}
    posed = [oid for oid in sorted(known) if project.pose_frames(oid)]
    people = _ids(persons, posed, "person", known)
    masked = [oid for oid in sorted(known) if oid not in people and project.mask_frames(oid)]
    things = _ids(objects, masked, "object", known)
    pairs = [(p, o) for p in people for o in things if p != o]
    if not pairs:
        raise PromptError(
            "no (person, object) pair to measure",
            given=f"persons {people}, objects {things}",
            hint="track people (session.track_people()) and segment an object first",
        )
    frames = frame_range(start, stop, project.num_frames)
    first, n = frames.start, len(frames)
    dist = {pair: np.full((3, n), np.nan) for pair in pairs}  # effective, left, right
    score = {pair: np.zeros(n) for pair in pairs}
    estimator = None if hands is None else registry.resolve("hands", hands)
    try:
        for k, f in enumerate(frames):
            if _cancelled(cancel):
                log.info("find_interactions cancelled on frame %d; nothing stored", f)
                return []
            poses = {p.person_id: p for p in project.poses(f) if p.person_id in people}
            anns = project.annotations(f)
            masks = {o: anns[o].mask for o in things if o in anns}
            found = []
            if estimator is not None and poses:
                found = _hands_on(estimator, f, session.video[f], list(poses.values()), session.video.fps)
            for (p, o), d in dist.items():
                if p not in poses:
                    continue
                r = measure(poses[p], o, masks.get(o), hands=found, params=params)
                d[:, k] = (r.distance, r.distances.get("left", math.nan), r.distances.get("right", math.nan))
                score[(p, o)][k] = r.score
            if progress is not None:
                progress(k + 1, n)
    finally:
        if isinstance(hands, str) and estimator is not None:
            estimator.close()
    segments = []
    for (p, o), d in dist.items():
        segments += find_segments(
            d[0],
            score[(p, o)],
            enter=params.enter,
            leave=params.leave,
            min_frames=params.min_frames,
            max_gap=params.max_gap,
            label=label,
            person_id=p,
            obj_id=o,
            first_frame=first,
            sides=(d[1], d[2]),
        )
    if not segments:
        best = {pair: float(np.nanmin(d[0])) if not np.isnan(d[0]).all() else None for pair, d in dist.items()}
        log.warning(
            "no interaction found on frames %d..%d; closest hand distance per (person, object) in person scales: %s "
            "(enter threshold %.2f)",
            frames.start,
            frames.stop,
            best,
            params.enter,
        )
    return _store(project, segments, set(pairs), frames)


def _store(project: Project, segments: list[ActionSegment], pairs: set[tuple[int, int]], frames: range) -> list[int]:
    """Replace the automatic segments of ``pairs`` inside ``frames`` by ``segments``, atomically, as one undo step."""
    ids = []
    with project.transaction("find interactions"):
        kept: dict[tuple[int | None, int | None], list[ActionSegment]] = {}
        for aid, seg in project.actions().items():
            pair = (seg.person_id, seg.obj_id)
            if pair not in pairs:
                continue
            inside = frames.start <= seg.start and seg.stop <= frames.stop
            if inside and not _user_owned(seg):
                project.remove_action(aid)
            else:
                kept.setdefault(pair, []).append(seg)
        for seg in sorted(segments, key=lambda s: (s.start, s.person_id or 0, s.obj_id or 0)):
            other = kept.get((seg.person_id, seg.obj_id), [])
            if any(seg.start < k.stop and k.start < seg.stop for k in other):
                log.info("segment %d..%d overlaps a kept segment of the same pair; not added", seg.start, seg.stop)
                continue
            ids.append(project.add_action(seg))
    return ids


def _update_action(project: Project, action_id: int, **changes: Any) -> int:
    """Change fields of a stored segment (one undo step, same id); returns its id."""
    project.update_action(action_id, **changes)
    return action_id


def _box_of(project: Project, frame: int, obj_id: int | None) -> tuple[float, float, float, float] | None:
    """The object's mask box on ``frame``, else (a person) their pose box; None if neither."""
    if obj_id is None:
        return None
    ann = project.annotation(frame, obj_id)
    if ann is not None and ann.box is not None:
        return ann.box.xyxy
    for pose in project.poses(frame):
        if pose.person_id == obj_id:
            box = pose.box(min_visibility=0.5)
            return None if box is None else box.xyxy
    return None


def has_segments(session: AnnotationSession) -> bool:
    """Whether the project holds any action segment (found, or added in code)."""
    return bool(session.project.actions())


def key_frame(seg: ActionSegment) -> int:
    """The frame that shows a segment best: ``meta["key_frame"]`` when inside it, else its middle."""
    key = seg.meta.get("key_frame")
    if isinstance(key, int) and seg.start <= key < seg.stop:
        return key
    return (seg.start + seg.stop - 1) // 2


def action_crop(project: Project, frame: np.ndarray, seg: ActionSegment, *, margin: float = 0.15) -> np.ndarray | None:
    """The key frame cropped to the union of the person's and the object's boxes, grown by ``margin``.

    ``margin`` is a fraction of the union's longer side; parts outside the frame are filled with
    :data:`~annotator_widgets.crops.MEAN_RGB`. None when neither box is known on the key frame.
    """
    f = key_frame(seg)
    boxes = [b for b in (_box_of(project, f, seg.person_id), _box_of(project, f, seg.obj_id)) if b is not None]
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = margin * max(x1 - x0, y1 - y0)
    h, w = frame.shape[:2]
    # the crop region as a mask reaching past the frame is not possible; mark what lies inside and
    # let masked_crop fill the rest of the (unclipped, square) box
    rect = np.zeros((h, w), bool)
    rx0, ry0 = max(0, math.floor(x0 - pad)), max(0, math.floor(y0 - pad))
    rx1, ry1 = min(w, math.ceil(x1 + pad)), min(h, math.ceil(y1 + pad))
    if rx1 <= rx0 or ry1 <= ry0:
        return None
    rect[ry0:ry1, rx0:rx1] = True
    return masked_crop(frame, rect, margin=0.0, square=False, background="mean")


def _question(template: str, project: Project, seg: ActionSegment) -> str:
    obj = project.get_object(seg.obj_id) if seg.obj_id is not None else None
    person = project.get_object(seg.person_id) if seg.person_id is not None else None
    names = {
        "object": (obj.name or obj.category) if obj is not None else "object",
        "person": (person.name or "person") if person is not None else "person",
        "label": seg.label,
    }
    names["object"] = names["object"] or "object"
    try:
        return template.format_map(names)
    except (KeyError, IndexError, ValueError) as exc:
        raise PromptError(
            "the question template has an unknown placeholder",
            given=template,
            hint="use {object}, {person} or {label}, and {{ }} for literal braces",
        ) from exc


def describe_actions(
    session: AnnotationSession,
    captioner: str | Any,
    *,
    question: str = DEFAULT_QUESTION,
    actions: Iterable[int] | None = None,
    overwrite_edited: bool = False,
    batch_size: int = 8,
    margin: float = 0.15,
    progress: Progress = None,
    cancel: Cancel = None,
) -> dict[int, str]:
    """Describe each action segment in words with a captioner and store the answers.

    Args:
        session: The annotation session.
        captioner: A captioner spec (``"blip:<hub id or folder>"``, see the ``captioner`` registry)
            or an instance with ``describe(images, prompts)``; a spec's model is closed at the end.
        question: Template asked per segment; ``{object}`` (name or category), ``{person}``, ``{label}``.
        actions: Segment ids; None: all segments with a person or an object.
        overwrite_edited: Also redo descriptions a person edited (``meta["edited"]``).
        batch_size: Crops per captioner call.
        margin: Context around the person + object box, as a fraction of its longer side.
        progress: Called with ``(segments done, total)``.
        cancel: Stop between batches; descriptions already stored stay.

    Returns:
        Segment id -> description (a described segment keeps its id).

    Raises:
        SessionBusyError: A propagation is running.
        PromptError: Unknown segment ids, a bad template or batch size.
    """
    _check_idle(session)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise PromptError("batch_size must be a positive int", given=batch_size)
    project = session.project
    stored = project.actions()
    wanted = _ids(actions, list(stored), "action", set(stored))
    todo = [
        aid
        for aid in wanted
        if (stored[aid].person_id or stored[aid].obj_id)
        and (overwrite_edited or not (stored[aid].meta.get("edited") and stored[aid].description))
    ]
    for aid in todo:
        _question(question, project, stored[aid])  # a bad template fails before any model runs
    model = registry.resolve("captioner", captioner)
    out: dict[int, str] = {}
    done = 0
    try:
        with project.group("describe actions"):
            for lo in range(0, len(todo), batch_size):
                if _cancelled(cancel):
                    log.info("describe_actions cancelled after %d of %d segments", done, len(todo))
                    break
                batch, crops, prompts = [], [], []
                for aid in todo[lo : lo + batch_size]:
                    seg = stored[aid]
                    crop = action_crop(project, session.video[key_frame(seg)], seg, margin=margin)
                    if crop is None:
                        log.warning("segment %d: neither the person nor the object is on its key frame", aid)
                        continue
                    batch.append(aid)
                    crops.append(crop)
                    prompts.append(_question(question, project, seg))
                texts = model.describe(crops, prompts) if crops else []
                for aid, text in zip(batch, texts, strict=True):
                    new_id = _update_action(project, aid, description=str(text).strip())
                    out[new_id] = str(text).strip()
                done += min(batch_size, len(todo) - lo)
                if progress is not None:
                    progress(done, len(todo))
    finally:
        if isinstance(captioner, str):
            model.close()
    return out
