"""Phrases through time: propagation with re-detection, and SAM 3's own tracking.

:func:`propagate_text` propagates the session in chunks of ``every`` frames. At each chunk's last
frame it grounds the phrases of the text-created objects again (:mod:`.text` routes) and matches
the detections of each phrase to that phrase's masklets by box IoU, with Hungarian assignment
(``scipy.optimize.linear_sum_assignment``, cost ``1 - IoU``, a pair counts when its IoU is at
least ``iou``):

* a **matched** detection is stored linked to its object (``meta["iou"]``); the object keeps its id
  and masklet. **Drift rule**: with ``reprompt_below`` set, a matched object whose mask box has an
  IoU below ``reprompt_below`` with its detection is re-prompted on that frame with the detection's
  box (``reprompt_below`` must exceed ``iou``; None, the default, never re-prompts);
* an **unmatched** detection that overlaps no object by ``iou`` or more becomes a **new object**
  (new id, named by the phrase) prompted on that frame; it is first propagated back over the chunk
  before (to the previous key frame, not across a shot cut; only its masks written: a face that came
  into view mid-chunk is masked from where it came in), and propagation continues with it;
  one that does overlap another object (a duplicate, or another phrase's object) is stored as a
  candidate only;
* objects without a detection keep tracking (a missed detection changes nothing).

Everything the models said is stored, so rendering or exporting never re-runs a model; the whole
run is one undo step. Chunk boundaries are computed twice (end of a chunk, start of the next:
``1/every`` extra segmenter frames, yielded once).

:func:`track_concept` streams SAM 3's video tracking into the project: each instance becomes an
object when it first appears (named by its phrase, its first mask stored as its mask prompt), every
frame's masks are stored as propagated annotations. :func:`seed_masks` turns stored masks into mask
prompts so the session's segmenter (e.g. ``sam3-tracker:<same folder>``) is seeded with them and
clicks refine the objects like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import registry
from ..errors import PromptError, SessionBusyError
from ..rle import RLE
from ..types import Box, Detection, ObjectInfo, Prompt, Source, box_iou, check_frame, frame_range
from .text import _make_object, _rolled_back, phrase_of
from .text_routes import Finder, Found, open_finder, plan_routes, split_phrases

if TYPE_CHECKING:
    from ..session import AnnotationSession, FrameResult

__all__ = ["match_detections", "propagate_text", "remembered_routes", "seed_masks", "track_concept"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None] | None
Cancel = threading.Event | Callable[[], bool] | None


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def _iou(a: Box, b: Box) -> float:
    return float(box_iou([a.xyxy], [b.xyxy])[0, 0])


def match_detections(
    detections: Sequence[Box], objects: Sequence[Box | None], iou: float = 0.5
) -> list[tuple[int, int, float]]:
    """Hungarian matching of boxes by IoU: ``[(detection index, object index, iou), ...]`` with ``iou >= iou``.

    Example:
        >>> a, b = Box.from_corners(0, 0, 10, 10), Box.from_corners(20, 0, 30, 10)
        >>> match_detections([b, a], [a, b, None])
        [(0, 1, 1.0), (1, 0, 1.0)]
    """
    if not detections or not objects:
        return []
    from scipy.optimize import linear_sum_assignment

    nan = (np.nan,) * 4
    m = np.nan_to_num(box_iou([d.xyxy for d in detections], [nan if o is None else o.xyxy for o in objects]))
    rows, cols = linear_sum_assignment(1.0 - m)
    return sorted((int(r), int(c), float(m[r, c])) for r, c in zip(rows, cols, strict=True) if m[r, c] >= iou)


def _redetect(
    session: AnnotationSession,
    frame: int,
    finders: list[tuple[Finder, list[str]]],
    iou: float,
    reprompt_below: float | None,
) -> list[ObjectInfo]:
    """Ground on ``frame``, match to the masklets, store, and create objects for new instances."""
    found: list[Found] = []
    for finder, group in finders:
        found += finder.find(session, frame, group)
    boxes = {oid: ann.box for oid, ann in session.annotations(frame).items()}
    objects = session.objects
    new: list[ObjectInfo] = []
    dets: list[Detection] = []
    with session.project.transaction(f"re-detect on frame {frame}"):
        for phrase in dict.fromkeys(f.detection.label for f in found):
            mine = [f for f in found if f.detection.label == phrase]
            objs = [o for o in objects if phrase_of(o) == phrase]
            matches = {
                d: (o, v)
                for d, o, v in match_detections(
                    [f.detection.box for f in mine], [boxes.get(o.obj_id) for o in objs], iou
                )
            }
            for i, f in enumerate(mine):
                det = f.detection
                if i in matches:
                    info, v = objs[matches[i][0]], matches[i][1]
                    dets.append(replace(det, obj_id=info.obj_id, meta={**det.meta, "iou": round(v, 4)}))
                    if reprompt_below is not None and v < reprompt_below:
                        log.info("object %d drifted on frame %d (IoU %.2f): re-prompted", info.obj_id, frame, v)
                        session.add_box(frame, info.obj_id, det.box, keep_points=False, text=phrase)
                elif any(b is not None and _iou(det.box, b) >= iou for b in boxes.values()):
                    dets.append(det)  # overlaps a tracked object: a candidate, not a new instance
                else:
                    info, linked = _make_object(session, f, str(det.meta.get("route", finders[0][0].route)))
                    boxes[info.obj_id] = det.box
                    new.append(info)
                    dets.append(linked)
        if dets:
            session.project.put_detections(frame, dets)
    if new:
        log.info("frame %d: %d new object(s) %s", frame, len(new), [o.obj_id for o in new])
    return new


def remembered_routes(session: AnnotationSession, phrases: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The plan of ``route="auto"`` where each phrase takes the route its objects were made with.

    :func:`.text.add_text` stores the route spec in the object's ``meta["route"]`` (in the project, so
    a reopened project remembers it); the newest object of a phrase decides. A phrase without one
    (clicked objects, or a bare ``"grounder"`` from a loaded instance) is planned as ``"auto"``.
    """
    routes: dict[str, str] = {}
    for o in sorted(session.objects, key=lambda o: o.obj_id):
        spec = str(o.meta.get("route", "")) if o.meta else ""
        if phrase_of(o) in phrases and spec and spec not in ("auto", "grounder"):
            routes[phrase_of(o)] = spec
    plan: dict[str, list[str]] = {}
    for p in phrases:
        for spec, group in [(routes[p], [p])] if p in routes else plan_routes("auto", [p]):
            plan.setdefault(spec, []).extend(group)
    return list(plan.items())


def propagate_text(
    session: AnnotationSession,
    *,
    every: int = 10,
    direction: Literal["forward", "backward"] = "forward",
    start: int | None = None,
    stop: int | None = None,
    phrases: str | Iterable[str] | None = None,
    route: str = "auto",
    grounder: Any = None,
    threshold: float | None = None,
    top_k: int | None = None,
    iou: float = 0.5,
    reprompt_below: float | None = None,
    progress: ProgressFn = None,
    cancel: Cancel = None,
    **options: Any,
) -> Iterator[FrameResult]:
    """Propagate with re-detection every ``every`` frames (see the module docstring for the rules).

    Args:
        session: The annotation session (objects made by :func:`.text.add_text` carry their phrase).
        every: Frames per chunk; the phrases are grounded again on each chunk's last frame.
        direction: ``"forward"`` or ``"backward"``.
        start: First frame (default: the earliest prompted frame forward, the latest backward).
        stop: Frame where it stops (excluded), as in :func:`~annotator_widgets.types.frame_range`.
        phrases: The phrases to re-detect (default: the phrases of the text-created objects).
        route: The route (as in :func:`.text.add_text`). ``"auto"`` (without ``grounder``) takes each
            phrase's remembered route (:func:`remembered_routes`: the one :func:`.text.add_text` used,
            e.g. ``"grounder:owlv2:<folder>"``) and picks one for the others.
        grounder: A grounder part name, spec or instance for every phrase (overrides the remembered routes).
        threshold: The model's lowest score kept.
        top_k: At most this many boxes per phrase.
        iou: The matching gate (box IoU).
        reprompt_below: Re-prompt matched objects whose IoU is below this (None: never).
        progress: Called with ``(frames done, total)``.
        cancel: An Event or a callable; checked between frames (``session.cancel()`` works too).
        **options: For the route's part (e.g. ``device="cpu"``).

    Returns:
        A generator of :class:`~annotator_widgets.session.FrameResult`, one per frame; the
        arguments are checked when it is created.
    """
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise PromptError("every must be a positive number of frames", given=every)
    if direction not in ("forward", "backward"):
        raise PromptError("direction must be 'forward' or 'backward'", given=direction)
    if not 0.0 < iou <= 1.0 or (reprompt_below is not None and not iou < reprompt_below <= 1.0):
        raise PromptError("need 0 < iou < reprompt_below <= 1", given=(iou, reprompt_below))
    words = (
        split_phrases(phrases)
        if phrases is not None
        else list(dict.fromkeys(p for o in session.objects if (p := phrase_of(o))))
    )
    if not words:
        raise PromptError("no phrase to re-detect", hint="create objects with add_text() first, or pass phrases='...'")
    plan = remembered_routes(session, words) if route == "auto" and grounder is None else []
    plan = plan or plan_routes(route, words, grounder)
    prompt_frames = session.project.prompt_frames()
    if not prompt_frames:
        raise PromptError("nothing to propagate: no object has a prompt yet", hint="call add_text() first")
    reverse = direction == "backward"
    first = (prompt_frames[-1] if reverse else prompt_frames[0]) if start is None else start
    span = frame_range(check_frame(first, len(session.video)), stop, len(session.video), reverse=reverse)
    finders = [
        (open_finder(spec, threshold=threshold, top_k=top_k, instance=grounder, **options), group)
        for spec, group in plan
    ]
    return _run(session, span, stop, int(every), direction, finders, iou, reprompt_below, progress, cancel)


def _run(
    session: AnnotationSession,
    span: range,
    stop: int | None,
    every: int,
    direction: Literal["forward", "backward"],
    finders: list[tuple[Finder, list[str]]],
    iou: float,
    reprompt_below: float | None,
    progress: ProgressFn,
    cancel: Cancel,
) -> Iterator[FrameResult]:
    done, total, pos = 0, len(span), 0
    key_yielded = False  # whether the chunk's first frame (the previous chunk's key frame) was yielded already
    try:
        with session.project.group(f"propagate {direction} with re-detection every {every}"):
            while True:
                end = min(pos + every, len(span) - 1)
                last = end == len(span) - 1
                run = session.propagate(direction, span[pos], stop if last else span[end] + span.step)
                try:
                    for result in run:
                        if pos and key_yielded and result.frame == span[pos]:
                            continue  # the previous chunk's last frame, already yielded
                        key_yielded = result.frame == span[end]  # (False when the chunk stops at a cut)
                        done += 1
                        if progress is not None:
                            progress(done, total)
                        yield result
                        if _cancelled(cancel):  # before the next frame is computed
                            return
                finally:
                    run.close()  # type: ignore[attr-defined]
                if last and progress is not None and done < total:
                    progress(done, done)  # (frames in shots without prompts were not propagated: done is all)
                if session.progress.cancelled or last:
                    return
                new = _redetect(session, span[end], finders, iou, reprompt_below)
                if new:  # (appeared since the previous key frame: filled in back to it, within the shot)
                    yield from _fill_in(session, new, span[end], span[pos] - span.step, direction, cancel, key_yielded)
                    key_yielded = True
                    if session.progress.cancelled or _cancelled(cancel):
                        return
                pos = end
    except BaseException:
        _rolled_back(session)
        raise
    finally:
        for finder, _ in finders:
            finder.close()


def _fill_in(
    session: AnnotationSession,
    new: list[ObjectInfo],
    key: int,
    stop: int,
    direction: str,
    cancel: Cancel,
    key_yielded: bool,
) -> Iterator[FrameResult]:
    """The objects found new on key frame ``key`` propagated back over the chunk that came before it (to ``stop``,
    excluded; not across a shot cut), only their masks written: a face that came into view in the middle of a
    chunk is masked from where it came in, not from the next key frame on. The key frame itself is yielded unless
    the chunk before yielded it."""
    back: Literal["forward", "backward"] = "backward" if direction == "forward" else "forward"
    run = session.propagate(back, key, stop, objects=[o.obj_id for o in new])
    try:
        for result in run:
            if result.frame != key or not key_yielded:
                yield result
            if _cancelled(cancel):
                return
    finally:
        run.close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- SAM 3


def seed_masks(
    session: AnnotationSession, obj_ids: Iterable[int] | None = None, *, frame: int | None = None
) -> list[Prompt]:
    """Store each object's stored mask as its mask prompt (with its phrase) so the session's segmenter is seeded.

    The session rebuilds its segmenter from the project's prompts, so after this clicks on any
    frame refine the objects (with ``sam3-tracker:<folder>`` this is SAM 3's own tracker).

    Args:
        session: The annotation session.
        obj_ids: The objects (default: every object without a prompt).
        frame: The frame to seed from (default: each object's first frame with a mask).

    Returns:
        The prompts stored (objects without a mask there are skipped).
    """
    project = session.project
    ids = (
        [o.obj_id for o in session.objects if not project.prompt_frames(o.obj_id)]
        if obj_ids is None
        else [int(i) for i in obj_ids]
    )
    prompts = []
    with project.transaction(f"seed {len(ids)} object(s) from their masks"):
        for oid in ids:
            info = project.object(oid)
            frames = project.mask_frames(oid) if frame is None else [frame]
            ann = project.annotations(frames[0]).get(oid) if frames else None
            if ann is None or ann.rle.is_empty:
                continue
            prompt = Prompt(ann.frame, oid, mask=ann.rle, text=phrase_of(info))
            project.put_prompt(prompt)
            prompts.append(prompt)
    _rolled_back(session)  # rebuilt from the project's prompts on the next verb
    return prompts


def track_concept(
    session: AnnotationSession,
    phrases: str | Iterable[str],
    *,
    concept: str | Any = "sam3",
    frame: int = 0,
    direction: Literal["forward", "backward"] = "forward",
    max_frames: int | None = None,
    seed: bool = True,
    progress: ProgressFn = None,
    cancel: Cancel = None,
    **options: Any,
) -> dict[int, ObjectInfo]:
    """Track every instance of the phrases with SAM 3 and stream the masks into the project.

    Args:
        session: The annotation session.
        phrases: ``"a person, a dog"`` or a list.
        concept: A concept part spec (``"sam3:<hub id or folder>"``) or a started-or-not instance.
        frame: The frame SAM 3 first looks at.
        direction: ``"forward"`` or ``"backward"``.
        max_frames: Frames after ``frame`` at most (None: to the end).
        seed: Store each instance's first mask as its mask prompt (:func:`seed_masks`).
        progress: Called with ``(frames done, total)``.
        cancel: An Event or a callable, checked between frames; what was stored stays.
        **options: For the concept part.

    Returns:
        SAM 3 instance id -> the project object made for it.

    Raises:
        NotFoundError: SAM 3 found nothing on ``frame`` (nothing is stored).
    """
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    frame = check_frame(frame, len(session.video))
    words = split_phrases(phrases)
    if direction not in ("forward", "backward"):
        raise PromptError("direction must be 'forward' or 'backward'", given=direction)
    owned = isinstance(concept, str)
    seg: Any = registry.resolve("concept", concept, **options) if owned else concept
    project = session.project
    made: dict[int, ObjectInfo] = {}
    first: dict[int, int] = {}
    reverse = direction == "backward"
    span = frame_range(frame, None, len(session.video), reverse=reverse)
    total = len(span) if max_frames is None else min(len(span), max_frames + 1)
    try:
        seg.start(session.video)
        seg.add_text(frame, words)
        with project.group(f"track {', '.join(words)} with {getattr(seg, 'name', 'SAM 3')}"):
            for done, out in enumerate(seg.propagate(frame, max_frames, reverse), 1):
                if _cancelled(cancel):
                    break
                with project.transaction(None):
                    for inst, om in sorted(out.objects.items()):
                        mask = np.asarray(om.mask, bool)
                        if not mask.any():
                            continue
                        if inst not in made:
                            phrase = seg.phrase_of(inst)
                            meta = {"text": phrase, "route": "concept", "instance": int(inst)}
                            made[inst] = project.add_object(name=phrase, category=phrase, meta=meta)
                            first[made[inst].obj_id] = out.frame
                        source = Source.PROMPTED if first[made[inst].obj_id] == out.frame else Source.PROPAGATED
                        project.put_mask(
                            out.frame, made[inst].obj_id, RLE.from_mask(mask), score=om.score, source=source
                        )
                if progress is not None:
                    progress(done, total)
            if seed:
                for oid, f in first.items():
                    seed_masks(session, [oid], frame=f)
    finally:
        if owned:
            seg.close()
    _rolled_back(session)
    return made
