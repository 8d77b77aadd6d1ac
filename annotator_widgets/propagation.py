"""What a propagation yields and how its masks reach the project: :class:`FrameResult`, :class:`Progress`,
the writer thread that encodes and commits masks off the propagation loop (:class:`MaskWriter`) and the
generator wrapper that keeps the session busy while a propagation exists (:class:`PropagationRun`), and the
passes a propagation makes (:class:`Pass`; :func:`split_at_cuts` keeps each inside one shot, so that no mask is
carried across a shot cut: see :mod:`.cuts`).

:class:`~annotator_widgets.session.AnnotationSession` drives them; they know nothing of segmenters.
"""

from __future__ import annotations

import dataclasses
import functools
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._empty import empty_warning, near_empty
from .cuts import shot_bounds
from .errors import AnnotatorError, ProjectError, PromptError
from .rle import RLE
from .types import Annotation, MaskWarning, Prompt, Source, check_frame, frame_range

if TYPE_CHECKING:
    from .backends.protocols import VideoSegmenter
    from .project import Project

__all__ = [
    "FrameResult",
    "MaskWriter",
    "Pass",
    "PassPlan",
    "Progress",
    "PropagationRun",
    "cut_warning",
    "plan_passes",
    "propagation_plan",
    "run_passes",
    "split_at_cuts",
]

CUT_WARNING = "shot_cut"  # MaskWarning.kind on an object's last frame before a cut the propagation did not cross


@dataclass(frozen=True, eq=False)
class FrameResult:
    """One propagated frame: the masks (video pixels, bool) and scores of every tracked object.

    Unpacks as ``frame, masks`` for SAM2-style loops; use attributes for the rest.
    """

    frame: int
    masks: dict[int, np.ndarray]
    scores: dict[int, float | None] = field(default_factory=dict)
    direction: str = "forward"

    def __iter__(self) -> Iterator[Any]:
        return iter((self.frame, self.masks))


@dataclass
class Progress:
    """Live state of the running (or last) propagation.

    ``done`` frames were yielded; ``saved`` of them are committed to the project (frames are
    saved in the order they were yielded, the latest being ``last_saved``). A crash loses at
    most the ``done - saved`` frames in flight.
    """

    total: int = 0
    done: int = 0
    saved: int = 0
    last_saved: int | None = None
    frame: int | None = None
    direction: str = ""
    running: bool = False
    cancelled: bool = False
    error: str | None = None
    empty: int = 0  # frames where an object's mask came out (near) empty; see session.warnings
    empty_objects: set[int] = field(default_factory=set)
    cuts: list[int] = field(default_factory=list)  # shot cuts the propagation stopped at (see session.warnings)
    #: "cuts" while the shot cuts between the prompts are scanned, before the first frame (``scan_done`` of
    #: ``scan_total`` frames; :func:`~.cutscan.span_cuts`), else ""
    stage: str = ""
    scan_done: int = 0
    scan_total: int = 0


@dataclass(frozen=True)
class Pass:
    """One run of the segmenter: from ``start`` over ``count`` more frames, backward when ``reverse``.

    ``objects``: the only objects whose masks are kept (None: all). ``cut``: the first frame across the shot
    cut this pass stops before (None: it ends where it was asked to); its objects get a warning there.
    """

    start: int
    count: int
    reverse: bool = False
    objects: frozenset[int] | None = None
    cut: int | None = None

    @property
    def end(self) -> int:
        """The pass's last frame (included)."""
        return self.start - self.count if self.reverse else self.start + self.count

    def frames(self) -> range:
        """The frames of the pass in the order they are produced."""
        step = -1 if self.reverse else 1
        return range(self.start, self.end + step, step)


def split_at_cuts(
    passes: Sequence[Pass], cuts: Sequence[int], prompts: dict[int, set[int]], num_frames: int, *, both: bool = False
) -> list[Pass]:
    """The passes cut at shot boundaries, so that no mask is carried from one shot into another.

    The shot holding a pass's start keeps that start; every other shot the pass runs through is propagated only
    if one of its frames holds a prompt, starting at its first prompted frame (its last when going backward; both
    ways from its first with ``both``). Each piece keeps only the objects prompted in its shot.

    Args:
        passes: The passes without cuts (as the session plans them).
        cuts: Ascending first frames of the shots after the first (:func:`~.cuts.video_cuts`).
        prompts: Prompted frame -> the objects prompted there.
        num_frames: The video's length.
        both: The passes are one forward and one backward from the same start (``direction="both"``).

    Example:
        >>> split_at_cuts([Pass(2, 7)], [5], {2: {1}, 6: {2}}, 10)
        [Pass(start=2, count=2, reverse=False, objects=frozenset({1}), cut=5), Pass(start=6, count=3, reverse=False, objects=frozenset({2}), cut=None)]
    """  # noqa: E501
    if not cuts:
        return list(passes)
    out: list[Pass] = []
    seen: set[tuple[int, int, bool]] = set()
    for p in passes:
        lo, hi = min(p.start, p.end), max(p.start, p.end)
        shots = [shot_bounds(cuts, lo, num_frames)]
        while shots[-1][1] <= hi:
            shots.append(shot_bounds(cuts, shots[-1][1], num_frames))
        for shot in shots[::-1] if p.reverse else shots:  # in the direction of travel
            a, b = shot
            first, last = max(a, lo), min(b - 1, hi)
            prompted = sorted(f for f in prompts if first <= f <= last)
            objects = frozenset(o for f in prompts if a <= f < b for o in prompts[f])
            if a <= p.start < b:
                starts = [(p.start, p.reverse)]
            elif not prompted:
                starts = []
            elif both:
                starts = [(prompted[0], False), (prompted[0], True)]
            else:
                starts = [(prompted[-1] if p.reverse else prompted[0], p.reverse)]
            for s, reverse in starts:
                end = first if reverse else last
                if (s, end, reverse) in seen:
                    continue
                seen.add((s, end, reverse))
                crossed = (lo < a if reverse else hi >= b) and (a > 0 if reverse else b < num_frames)
                out.append(Pass(s, abs(end - s), reverse, objects, (a if reverse else b) if crossed else None))
    return out


PassPlan = Callable[..., list[Pass]]  # plan_passes with its first arguments bound: (cuts, prompts) -> passes


def plan_passes(
    direction: str,
    start: int,
    stop: int | None,
    num_frames: int,
    objects: frozenset[int] | None,
    cuts: Sequence[int],
    prompts: Iterable[Prompt],
) -> list[Pass]:
    """The passes of a propagation (see :meth:`~.session.AnnotationSession.propagate`), split at ``cuts``; with
    ``objects``, only their prompts plan the passes and only their masks are kept (passes keeping none dropped)."""
    if direction == "both":
        passes = [Pass(start, num_frames - 1 - start, False), Pass(start, start, True)]
    else:
        span = frame_range(start, stop, num_frames, reverse=direction == "backward")
        passes = [Pass(start, len(span) - 1, direction == "backward")]
    by_frame: dict[int, set[int]] = {}
    for prompt in prompts:
        if objects is None or prompt.obj_id in objects:
            by_frame.setdefault(prompt.frame, set()).add(prompt.obj_id)
    if objects is not None and not by_frame:
        return []  # none of them has a prompt: nothing to carry
    passes = split_at_cuts(passes, cuts, by_frame, num_frames, both=direction == "both")
    if objects is None:
        return passes
    kept = [dataclasses.replace(p, objects=objects if p.objects is None else p.objects & objects) for p in passes]
    return [p for p in kept if p.objects]


def propagation_plan(
    direction: str,
    start: int | None,
    stop: int | None,
    prompt_frames: Sequence[int],
    num_frames: int,
    name: str,
    objects: Iterable[int] | None = None,
) -> tuple[int, PassPlan]:
    """A propagation's arguments checked (:class:`~.errors.PromptError`): its start frame (default: the earliest
    prompted frame, the latest backward) and its plan, :func:`plan_passes` waiting for the cuts and the prompts
    (``objects``: only these objects' masks are kept)."""
    if direction not in ("forward", "backward", "both"):
        raise PromptError(
            "direction must be 'forward', 'backward' or 'both'", given=direction, hint="pass one of those three"
        )
    if not prompt_frames:
        raise PromptError(
            "nothing to propagate: no object has a prompt yet",
            given=name,
            hint="add points, a box or a mask first (add_points / add_box / add_mask)",
        )
    start = check_frame(prompt_frames[-1 if direction == "backward" else 0] if start is None else start, num_frames)
    only = None if objects is None else frozenset(int(o) for o in objects)
    if only is not None and not only:
        raise PromptError("objects= names no object", given=objects, hint="pass object ids, or None for every object")
    plan = functools.partial(plan_passes, direction, start, stop, num_frames, only)
    plan([], [])  # checks the range now; the cuts are read when the propagation runs (they may need decoding)
    return start, plan


def cut_warning(frame: int, obj_id: int, cut: int) -> MaskWarning:
    """The warning on ``obj_id``'s last frame before the shot cut at ``cut`` that the propagation stopped at."""
    side = "after" if frame < cut else "before"
    return MaskWarning(
        frame,
        obj_id,
        CUT_WARNING,
        f"object {obj_id} was not carried across the shot cut at frame {cut} (it was tracked up to frame {frame}): "
        f"prompt it again {side} the cut to track it there, or propagate with cuts=False to cross cuts",
    )


class MaskWriter:
    """Encodes masks to RLE and commits them, off the propagation loop (bounded queue)."""

    _STOP = object()

    def __init__(self, project: Project, maxsize: int, progress: Progress) -> None:
        self._project = project
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._progress = progress
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="annotator-writer", daemon=True)
        self._thread.start()

    def submit(
        self,
        frame: int,
        items: list[tuple[int, np.ndarray, float | None, Source]],
        warnings: Sequence[MaskWarning] = (),
    ) -> None:
        """Queue one frame's masks, and the warnings about them (stored after the masks they are about)."""
        if self._error is not None:
            raise self._wrap(self._error)
        self._queue.put((frame, items, tuple(warnings)))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is self._STOP:
                self._queue.task_done()
                return
            batch = [first]
            while len(batch) < 8:  # commit what is already waiting together
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is self._STOP:
                    self._queue.put(nxt)  # handled on the next loop
                    self._queue.task_done()
                    break
                batch.append(nxt)
            try:
                if self._error is None:
                    anns = [
                        Annotation(frame, oid, RLE.from_mask(mask), score, source)
                        for frame, items, _ in batch
                        for oid, mask, score, source in items
                    ]
                    with self._project.transaction("propagate"):
                        self._project.put_annotations(anns, label="propagate")
                        for _, _, warnings in batch:
                            for warning in warnings:
                                self._project.put_warning(warning)
                    self._progress.saved += len(batch)
                    self._progress.last_saved = batch[-1][0]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
                self._error = exc
            finally:
                for _ in batch:
                    self._queue.task_done()

    @staticmethod
    def _wrap(exc: BaseException) -> BaseException:
        if isinstance(exc, AnnotatorError):
            return exc
        return ProjectError("saving propagated masks failed", given=repr(exc), hint="check free disk space")

    def close(self) -> None:
        """Wait until every submitted frame is committed; re-raise a write error."""
        self._queue.put(self._STOP)
        self._queue.join()
        self._thread.join()
        if self._error is not None:
            raise self._wrap(self._error)


class PropagationRun(Iterator[FrameResult]):
    """The generator :meth:`AnnotationSession.propagate` returns: the session is busy from the
    moment it is created, and stays so until it is exhausted, closed or garbage-collected, even
    when it is never iterated."""

    def __init__(
        self, gen: Iterator[FrameResult], busy: threading.Lock, live: weakref.WeakSet[PropagationRun] | None = None
    ) -> None:
        self._gen = gen
        self._busy: threading.Lock | None = busy
        self._started = False
        if live is not None:  # the session's runs not yet closed: it closes them (their masks saved) before its project
            live.add(self)

    def __iter__(self) -> PropagationRun:
        return self

    def __next__(self) -> FrameResult:
        self._started = True
        return next(self._gen)

    def close(self) -> None:
        """Stop the propagation after the current frame, keeping every yielded frame."""
        self._gen.close()  # type: ignore[attr-defined]
        busy, self._busy = self._busy, None
        if busy is not None and not self._started:
            busy.release()  # a generator that never ran has no finally to do it

    def __del__(self) -> None:
        self.close()


def run_passes(
    segmenter: VideoSegmenter,
    passes: Sequence[Pass],
    writer: MaskWriter,
    prompted: set[tuple[int, int]],
    prog: Progress,
    bar: Any,
    cancel: threading.Event,
    on_empty: Callable[[MaskWarning], None],
    cut_ahead: Callable[[int, bool], int | None] | None = None,
) -> Iterator[FrameResult]:
    """The propagation loop: each :class:`Pass` of the segmenter, every frame once, its masks queued to the writer
    (with a warning for each (near-)empty mask, and one for each object still tracked on the last frame before a
    cut the pass stops at, also given to ``on_empty``), progress kept.

    ``cut_ahead(frame, reverse)``: the cut a pass must stop at on ``frame`` when the passes were planned without
    knowing every cut (:meth:`~.cutscan.CutScanner.cut_ahead`): the pass ends there, as if planned so.
    """
    seen: set[int] = set()
    plan = list(passes)
    for i, p in enumerate(plan):
        if cancel.is_set():  # (asked before a pass starts: e.g. while the cuts were scanned)
            prog.cancelled = True
            return
        start, count, reverse = p.start, p.count, p.reverse
        stream = segmenter.propagate(start, count, reverse)
        try:
            for out in stream:
                if cancel.is_set():
                    prog.cancelled = True
                    return
                if cut_ahead is not None and out.frame != p.end:
                    cut = cut_ahead(out.frame, reverse)
                    if cut is not None:  # found as the pass goes: it ends on this frame
                        p = plan[i] = dataclasses.replace(p, count=abs(out.frame - start), cut=cut)
                        prog.total = bar.total = len({f for q in plan for f in q.frames()})
                if out.frame not in seen:
                    seen.add(out.frame)
                    yield _frame_result(out, p, writer, prompted, prog, bar, on_empty)
                if out.frame == p.end:
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()


def _frame_result(
    out: Any,
    p: Pass,
    writer: MaskWriter,
    prompted: set[tuple[int, int]],
    prog: Progress,
    bar: Any,
    on_empty: Callable[[MaskWarning], None],
) -> FrameResult:
    """One segmenter frame of pass ``p``: its masks queued to the writer with their warnings, progress kept."""
    objects = {
        oid: om for oid, om in out.objects.items() if p.objects is None or oid in p.objects
    }  # the others were prompted in another shot
    items = [
        (oid, om.mask, om.score, Source.PROMPTED if (out.frame, oid) in prompted else Source.PROPAGATED)
        for oid, om in objects.items()
    ]
    empty = [
        empty_warning(out.frame, oid, int(np.count_nonzero(om.mask)), propagated=True)
        for oid, om in objects.items()
        if near_empty(om.mask)
    ]
    if p.cut is not None and out.frame == p.end:
        empty += [cut_warning(out.frame, oid, p.cut) for oid, om in objects.items() if om.mask.any()]
        prog.cuts.append(p.cut)
    writer.submit(out.frame, items, empty)
    for warning in empty:
        on_empty(warning)
    prog.done += 1
    prog.frame = out.frame
    bar.update(1)
    return FrameResult(
        out.frame,
        {oid: om.mask for oid, om in objects.items()},
        {oid: om.score for oid, om in objects.items()},
        "backward" if p.reverse else "forward",
    )
