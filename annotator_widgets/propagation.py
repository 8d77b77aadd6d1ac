"""What a propagation yields and how its masks reach the project: :class:`FrameResult`, :class:`Progress`,
the writer thread that encodes and commits masks off the propagation loop (:class:`MaskWriter`) and the
generator wrapper that keeps the session busy while a propagation exists (:class:`PropagationRun`).

:class:`~annotator_widgets.session.AnnotationSession` drives them; they know nothing of segmenters.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._empty import empty_warning, near_empty
from .errors import AnnotatorError, ProjectError
from .rle import RLE
from .types import Annotation, MaskWarning, Source

if TYPE_CHECKING:
    from .backends.protocols import VideoSegmenter
    from .project import Project

__all__ = ["FrameResult", "MaskWriter", "Progress", "PropagationRun", "run_passes"]


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

    def __init__(self, gen: Iterator[FrameResult], busy: threading.Lock) -> None:
        self._gen = gen
        self._busy: threading.Lock | None = busy
        self._started = False

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
    passes: list[tuple[int, int, bool]],
    writer: MaskWriter,
    prompted: set[tuple[int, int]],
    prog: Progress,
    bar: Any,
    cancel: threading.Event,
    on_empty: Callable[[MaskWarning], None],
) -> Iterator[FrameResult]:
    """The propagation loop: each pass ``(start, count, reverse)`` of the segmenter, every frame once, its masks
    queued to the writer (with a warning for each (near-)empty mask, also given to ``on_empty``), progress kept."""
    seen: set[int] = set()
    for start, count, reverse in passes:
        stream = segmenter.propagate(start, count, reverse)
        try:
            for out in stream:
                if cancel.is_set():
                    prog.cancelled = True
                    return
                if out.frame in seen:
                    continue
                seen.add(out.frame)
                items = [
                    (oid, om.mask, om.score, Source.PROMPTED if (out.frame, oid) in prompted else Source.PROPAGATED)
                    for oid, om in out.objects.items()
                ]
                empty = [
                    empty_warning(out.frame, oid, int(np.count_nonzero(om.mask)), propagated=True)
                    for oid, om in out.objects.items()
                    if near_empty(om.mask)
                ]
                writer.submit(out.frame, items, empty)
                for warning in empty:
                    on_empty(warning)
                prog.done += 1
                prog.frame = out.frame
                bar.update(1)
                yield FrameResult(
                    out.frame,
                    {oid: om.mask for oid, om in out.objects.items()},
                    {oid: om.score for oid, om in out.objects.items()},
                    "backward" if reverse else "forward",
                )
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
