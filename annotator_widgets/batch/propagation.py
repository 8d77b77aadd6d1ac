"""Resumable propagation: track every prompted object through the frames the project is still missing.

The session's ``propagate`` always starts a pass at its beginning. A batch that was killed has already
saved a contiguous run of frames from each pass's start (frames are saved in the order they are produced, each
in one transaction that also records the pass's last saved frame in the project's metadata, ``META_KEY``),
so this module propagates only the rest: it reads, per pass, the last saved frame,
hands the saved masks there to the segmenter's ``resume_from(frame, objects, reverse)`` (an optional
method; :class:`~annotator_widgets.backends.classic.ClassicSegmenter` has it) and continues from that
frame. A segmenter without it, or one that cannot restore its state exactly, re-runs the pass from its
start and skips writing the frames already saved; those frames are counted as *recomputed*.

Passes follow :meth:`AnnotationSession.propagate` with ``"both"``: forward from the earliest prompt to the
last frame, then backward from it to frame 0, split at shot cuts as the session splits them when its
``stop_at_cuts`` is on (:func:`~annotator_widgets.propagation.plan_passes`; a pass in a later shot keeps its own
``META_KEY`` entry, ``forward@<start>``). Masks are written one frame per transaction, with the source
``prompted`` on a prompt's frame and ``propagated`` elsewhere, as the session does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..backends import ObjectMask
from ..propagation import cut_warning, plan_passes
from ..rle import RLE
from ..types import Annotation, Source

__all__ = ["META_KEY", "PropagationCount", "propagate_missing"]

META_KEY = "batch.propagated.{}"  # the last frame a pass saved, in the project (same transaction as the masks)

log = logging.getLogger(__name__)


@dataclass
class PropagationCount:
    """What a resumable propagation did: frames the segmenter computed, and how many of them were already saved."""

    computed: int = 0
    recomputed: int = 0
    written: int = 0
    resumed_from: list[int] | None = None


def propagate_missing(
    session: object,
    direction: str = "both",
    *,
    on_frame: Callable[[int, int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> PropagationCount:
    """Propagate the session's prompts over the frames its project has not saved yet.

    Args:
        session: An :class:`~annotator_widgets.session.AnnotationSession` (its video, project and segmenter
            are used; nothing else runs on it meanwhile).
        direction: ``"forward"``, ``"backward"`` or ``"both"``.
        on_frame: Called as ``on_frame(frame, done, total)`` after each frame is saved.
        cancel: Stop between frames when set (everything saved so far stays).

    Returns:
        The counts; ``recomputed`` is 0 when every pass resumed exactly.
    """
    from ..errors import PromptError

    video, project, seg = session.video, session.project, session.segmenter  # type: ignore[attr-defined]
    prompt_frames = project.prompt_frames()
    if not prompt_frames:
        raise PromptError(
            "nothing to propagate: no object has a prompt",
            given=str(project.path),
            hint="give prompts (--prompts FILE) or a step that makes them",
        )
    n = len(video)
    start = prompt_frames[-1] if direction == "backward" else prompt_frames[0]
    cuts = session.cuts() if getattr(session, "stop_at_cuts", False) else []  # type: ignore[attr-defined]
    passes = plan_passes(direction, start, None, n, None, cuts, project.prompts())
    prompted = {(p.frame, p.obj_id) for p in project.prompts()}
    total = len({f for p in passes for f in p.frames()})
    count = PropagationCount(resumed_from=[])
    saved: set[int] = set()  # frames saved by an earlier pass (or before an interruption)
    seg.start(video)
    for prompt in project.prompts():
        seg.set_prompt(prompt)
    with project.group("batch propagate"):
        for p in passes:
            reverse, step = p.reverse, -1 if p.reverse else 1
            way = "backward" if reverse else "forward"
            key = META_KEY.format(way if p.start == start else f"{way}@{p.start}")  # a shot after a cut: its own
            got = project.get_meta(key)
            resume = None if got is None else int(got)
            if resume is not None:
                saved.update(range(p.start, resume + step, step))
            if resume is not None and (resume - p.end) * step >= 0:
                continue  # this pass finished before
            first = p.start
            if resume is not None and resume != p.start:
                objects = {
                    oid: ObjectMask(ann.rle.to_mask(), ann.score) for oid, ann in project.annotations(resume).items()
                }
                resumer = getattr(seg, "resume_from", None)
                if resumer is not None and resumer(resume, objects, reverse=reverse):
                    first = resume
                    count.resumed_from.append(resume)  # type: ignore[union-attr]
                    log.info("resuming the %s pass from saved frame %d", key, resume)
                else:
                    log.warning(
                        "the segmenter %r cannot resume exactly: re-running the pass from frame %d",
                        getattr(seg, "name", type(seg).__name__),
                        p.start,
                    )
            stream = seg.propagate(first, abs(p.end - first), reverse)
            try:
                for out in stream:
                    if cancel is not None and cancel.is_set():
                        return count
                    if out.frame != first:
                        count.computed += 1
                    if resume is not None and (out.frame - resume) * step <= 0:
                        count.recomputed += out.frame != first
                        continue  # saved before the interruption
                    if out.frame in saved:
                        continue  # a pass's start frame, saved by the pass before it (as the session does)
                    kept = {oid: om for oid, om in out.objects.items() if p.objects is None or oid in p.objects}
                    anns = [
                        Annotation(
                            out.frame,
                            oid,
                            RLE.from_mask(om.mask),
                            om.score,
                            Source.PROMPTED if (out.frame, oid) in prompted else Source.PROPAGATED,
                        )
                        for oid, om in kept.items()
                    ]
                    with project.transaction("batch propagate"):
                        project.put_annotations(anns, label="batch propagate")
                        if p.cut is not None and out.frame == p.end:
                            for oid, om in kept.items():
                                if om.mask.any():
                                    project.put_warning(cut_warning(out.frame, oid, p.cut))
                        project.set_meta(key, str(out.frame))
                    saved.add(out.frame)
                    count.written += 1
                    if on_frame is not None:
                        on_frame(out.frame, len(saved), total)
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
    return count
