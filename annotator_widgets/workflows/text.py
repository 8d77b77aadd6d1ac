"""Language in the loop: a phrase becomes objects ("What do you want to track?").

* :func:`ground` runs a route (a grounder, the face detector, the pose model, a COCO detector or
  SAM 3) on one frame and stores what it said as *candidate* detections (model, phrase, box, score).
* :func:`accept` turns stored candidates into objects: one object per detection, named by its
  phrase (``category`` = the phrase, ``meta["text"]`` = the phrase), prompted with the box
  (``Prompt(box=..., text=phrase)``) through the session's verbs; the detection is linked to it.
* :func:`add_text` is both in one undo step; with SAM 3 (``route="concept"``) the objects are
  prompted with SAM 3's masks instead of boxes.

**Routes** (``route=``): ``"grounder[:spec]"`` (an open-vocabulary grounder part, default ``owlv2``),
``"concept[:spec]"`` (SAM 3's masks on that frame), ``"faces"`` (MediaPipe faces, no download),
``"people"`` (the pose model's people as boxes, no download), ``"detector[:spec]"`` (a COCO detector,
default ``detr``: COCO class names only). ``"auto"``: face phrases take ``"faces"`` and person phrases
``"people"`` unless a ``grounder`` is given; other phrases go to the grounder (default ``owlv2``, whose
weights may need a download: the error then says so and names the offline routes).

Nothing is written when a route finds nothing: :class:`~annotator_widgets.errors.NotFoundError`
names the phrases, the model and the best score seen. A failure half-way rolls the whole call back.
Re-detection during propagation and SAM 3's own tracking live in :mod:`.text_tracking`.

Example:
    >>> split_phrases("faces, license plates; faces")
    ['faces', 'license plates']
    >>> plan_routes("auto", ["faces", "a person", "a red car"])
    [('faces', ['faces']), ('people', ['a person']), ('grounder:owlv2', ['a red car'])]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFoundError, PromptError, SessionBusyError
from ..types import Detection, MaskWarning, ObjectInfo, box_iou, check_frame
from .text_routes import (
    DEFAULT_DETECTOR,
    DEFAULT_GROUNDER,
    PEOPLE_PHRASES,
    Finder,
    Found,
    open_finder,
    plan_routes,
    split_phrases,
)

if TYPE_CHECKING:
    from ..session import AnnotationSession

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_GROUNDER",
    "PEOPLE_PHRASES",
    "Finder",
    "Found",
    "accept",
    "add_text",
    "ground",
    "open_finder",
    "phrase_of",
    "plan_routes",
    "reject",
    "split_phrases",
]

log = logging.getLogger(__name__)


def _check(session: AnnotationSession, frame: Any) -> int:
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    return check_frame(frame, len(session.video))


def _find_all(
    session: AnnotationSession,
    frame: int,
    phrases: list[str],
    route: str,
    grounder: Any,
    threshold: float | None,
    top_k: int | None,
    options: dict[str, Any],
) -> list[Found]:
    found: list[Found] = []
    best: dict[str, float] = {}
    names = []
    for spec, group in plan_routes(route, phrases, grounder):
        finder = open_finder(spec, threshold=threshold, top_k=top_k, instance=grounder, **options)
        try:
            found += finder.find(session, frame, group)
            best.update(finder.best_scores)
            names.append(finder.name)
        finally:
            finder.close()
    if not found:
        top = max(best.items(), key=lambda kv: kv[1], default=(phrases[0], 0.0))
        raise NotFoundError(
            f"{' / '.join(names)} found nothing for {phrases} on frame {frame}",
            given=f"best score {top[1]:.3f} ({top[0]})" + ("" if threshold is None else f", threshold {threshold:g}"),
            hint="lower the threshold, rephrase (a short noun phrase such as 'a red dress'), "
            "or try another frame or route",
        )
    return sorted(found, key=lambda f: -f.detection.score)


def ground(
    session: AnnotationSession,
    frame: int,
    phrases: str | Iterable[str],
    *,
    route: str = "auto",
    grounder: Any = None,
    threshold: float | None = None,
    top_k: int | None = None,
    store: bool = True,
    **options: Any,
) -> list[Detection]:
    """Find the phrases on one frame and store what the model said as candidate detections.

    Args:
        session: The annotation session.
        frame: The frame to look at.
        phrases: ``"faces, license plates"`` or a list of phrases.
        route: See the module docstring (``"auto"``, ``"grounder:owlv2:<folder>"``, ``"faces"``...).
        grounder: A grounder part name, spec or instance (used for every phrase).
        threshold: The model's lowest score kept (None: its default).
        top_k: At most this many boxes per phrase.
        store: Store them (replacing this model's earlier candidates on the frame), one undo step.
        **options: For the route's part (e.g. ``device="cpu"``).

    Returns:
        The detections, best first (candidates: ``obj_id`` None; one that lands on an object already masked on
        the frame - box IoU >= :data:`SAME_OBJECT_IOU` - is linked to it, not offered again).

    Raises:
        NotFoundError: Nothing found (nothing is stored).
    """
    frame = _check(session, frame)
    words = split_phrases(phrases)
    found = _find_all(session, frame, words, route, grounder, threshold, top_k, options)
    dets = _link_to_objects(session, frame, [f.detection for f in found])
    if store:
        linked = {(d.model, d.obj_id) for d in session.project.detections(frame, obj_id=...).values() if d.obj_id}
        with session.project.transaction(f"find {', '.join(words)} on frame {frame}"):
            for model in sorted({d.model for d in dets}):
                mine = [d for d in dets if d.model == model and (d.model, d.obj_id) not in linked]  # (kept already)
                session.project.put_detections(frame, mine, replace_model=model)
    return dets


#: a detection whose box overlaps an object's mask box on its frame at least this much (IoU) is that object
SAME_OBJECT_IOU = 0.5


def _link_to_objects(session: AnnotationSession, frame: int, dets: list[Detection]) -> list[Detection]:
    """Detections (best first) that land on an object already masked on the frame are linked to it (each object
    once, ``meta["iou"]``) instead of being offered again as candidates: Find run twice on a frame does not offer
    what was accepted the first time, so accepting all cannot duplicate an object."""
    boxes = {oid: box.xyxy for oid, ann in session.annotations(frame).items() if (box := ann.box) is not None}
    out = []
    for det in dets:
        if boxes:
            ids = list(boxes)
            ious = box_iou([det.box.xyxy], [boxes[i] for i in ids])[0]
            best = int(np.argmax(ious))
            if ious[best] >= SAME_OBJECT_IOU:
                del boxes[ids[best]]
                det = replace(det, obj_id=ids[best], meta={**det.meta, "iou": round(float(ious[best]), 4)})
        out.append(det)
    return out


def _make_object(session: AnnotationSession, found: Found, route: str) -> tuple[ObjectInfo, Detection]:
    det = found.detection
    phrase = det.label
    info = session.project.add_object(name=phrase, category=phrase, meta={"text": phrase, "route": route})
    if found.mask is not None and found.mask.any():
        session.add_mask(det.frame, info.obj_id, found.mask, text=phrase)
    elif not session.add_box(det.frame, info.obj_id, det.box, text=phrase)[info.obj_id].any():
        # the segmenter found nothing in the box: the box itself becomes the mask, and the project says so
        w, h = session.video.size
        box = np.zeros((h, w), bool)
        x0, y0, x1, y1 = (round(v) for v in det.box.xyxy)
        box[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)] = True
        session.add_mask(det.frame, info.obj_id, box, text=phrase)
        message = f"{session.segmenter.name} found nothing in the {phrase!r} box; the box is the mask"
        session.project.put_warning(MaskWarning(det.frame, info.obj_id, "box_as_mask", message))
        log.warning("object %d frame %d: %s", info.obj_id, det.frame, message)
    return info, replace(det, obj_id=info.obj_id)


def _rolled_back(session: AnnotationSession) -> None:
    """The project dropped prompts the segmenter saw: make the session rebuild its segmenter."""
    session._synced = False  # the session's own rebuild flag


def _det_ids(det_ids: Iterable[int]) -> list[int]:
    """The ids as ints; a Detection (what :func:`ground` returns) or anything else is a clear error."""
    ids = list(det_ids)
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int | np.integer)]
    if bad:
        raise PromptError(
            "accept and reject take detection ids",
            given=bad[:3],
            hint="the candidates' ids are the keys of session.project.detections(frame, obj_id=None)",
        )
    return [int(i) for i in ids]


def accept(session: AnnotationSession, det_ids: Iterable[int]) -> list[ObjectInfo]:
    """Make stored candidate detections objects (box prompts with their phrase), one undo step.

    Args:
        session: The annotation session.
        det_ids: Candidate ids: the keys of ``session.project.detections(frame, obj_id=None)``.

    Raises:
        PromptError: An id is not a candidate (unknown, already accepted or rejected), or not an id.
    """
    ids = _det_ids(det_ids)
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    candidates = session.project.detections(obj_id=None)
    bad = [i for i in ids if i not in candidates]
    if bad:
        raise PromptError("not a candidate detection", given=bad, hint=f"candidates: {sorted(candidates)}")
    made = []
    try:
        with session.project.transaction(f"accept {len(ids)} detection(s)"):
            for det_id in ids:
                det = candidates[det_id]
                info, _ = _make_object(session, Found(det), str(det.meta.get("route", det.model)))
                session.project.accept_detection(det_id, info.obj_id)
                made.append(info)
    except BaseException:
        _rolled_back(session)
        raise
    return made


def reject(session: AnnotationSession, det_ids: Iterable[int]) -> None:
    """Turn candidate detections down (kept, flagged, left out of candidates), one undo step."""
    ids = _det_ids(det_ids)
    with session.project.transaction(f"reject {len(ids)} detection(s)"):
        for det_id in ids:
            session.project.reject_detection(det_id)


Accept = Callable[[Detection], bool] | Iterable[int] | None


def add_text(
    session: AnnotationSession,
    frame: int,
    text: str | Iterable[str],
    *,
    route: str = "auto",
    grounder: Any = None,
    threshold: float | None = None,
    top_k: int | None = None,
    max_objects: int | None = None,
    accept: Accept = None,
    **options: Any,
) -> list[ObjectInfo]:
    """One object per instance of the phrases on ``frame``, prompted with its box (or SAM 3's mask).

    Every detection is stored (the accepted ones linked to their objects, the others as candidates);
    the objects are named by their phrase. One undo step; nothing is kept if anything fails.

    Args:
        session: The annotation session.
        frame: The frame to look at.
        text: ``"faces, license plates"`` or a list of phrases.
        route: See the module docstring.
        grounder: A grounder part name, spec or instance (used for every phrase).
        threshold: The model's lowest score kept.
        top_k: At most this many boxes per phrase.
        max_objects: At most this many objects (the best scores).
        accept: Which detections become objects: None (all), a predicate on the
            :class:`~annotator_widgets.types.Detection`, or indices into the best-first list.
        **options: For the route's part (e.g. ``device="cpu"``).

    Returns:
        The new objects, best detection first.

    Raises:
        NotFoundError: Nothing found, or nothing accepted (nothing is stored).
    """
    frame = _check(session, frame)
    words = split_phrases(text)
    if max_objects is not None and (isinstance(max_objects, bool) or int(max_objects) < 1):
        raise PromptError("max_objects must be a positive integer or None", given=max_objects)
    found = _find_all(session, frame, words, route, grounder, threshold, top_k, options)
    if accept is None:
        chosen = list(range(len(found)))
    elif callable(accept):
        chosen = [i for i, f in enumerate(found) if accept(f.detection)]
    else:
        chosen = [int(i) for i in accept]
        if any(not 0 <= i < len(found) for i in chosen):
            raise PromptError("accept index out of range", given=chosen, hint=f"{len(found)} detections were found")
    chosen = chosen[:max_objects] if max_objects is not None else chosen
    if not chosen:
        raise NotFoundError(
            f"no detection of {words} was accepted", given=f"{len(found)} found", hint="loosen `accept`"
        )
    made: list[ObjectInfo] = []
    try:
        with session.project.transaction(f"add text {', '.join(words)} on frame {frame}"):
            dets = []
            for i, f in enumerate(found):
                if i in chosen:
                    info, det = _make_object(session, f, str(f.detection.meta.get("route", route)))
                    made.append(info)
                    dets.append(det)
                else:
                    dets.append(f.detection)
            session.project.put_detections(frame, dets)
    except BaseException:
        _rolled_back(session)
        raise
    log.info("add_text %s on frame %d: %d object(s) of %d detection(s)", words, frame, len(made), len(found))
    return made


def phrase_of(info: ObjectInfo) -> str:
    """The phrase that created an object ("" for one made by clicks)."""
    return str(info.meta.get("text", "")) if info.meta else ""
