"""Work that runs beside the kernel's message loop: propagation, playback and other tasks, in worker threads.

The kernel keeps handling clicks, slider moves and Cancel while these run; they
report back through callbacks that the annotator serialises with its own lock.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..progress import Cancelled

if TYPE_CHECKING:
    from ..session import AnnotationSession, FrameResult, Progress

__all__ = ["JobCancelled", "Player", "PropagationJob", "TaskJob"]

log = logging.getLogger(__name__)


class _Job:
    """A worker thread whose outcome lands in a future: start, wait, result, error, cancel."""

    _thread_name = "annotator-job"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)

    def start(self) -> Any:
        """Start the worker thread; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        raise NotImplementedError

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if error is None:
            self._future.set_result(result)
        else:
            self._future.set_exception(error)

    @property
    def done(self) -> bool:
        """True once the worker has finished (completed, cancelled or failed)."""
        return self._future.done()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended it, if any (None while running)."""
        return self._future.exception() if self._future.done() else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it ends; False on timeout."""
        try:
            self._future.exception(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def result(self, timeout: float | None = None) -> Any:
        """What the work returned, once it ends; re-raises its error."""
        return self._future.result(timeout)


class PropagationJob(_Job):
    """A propagation running in a worker thread: wait on it, read its progress, or cancel it.

    Args:
        session: The session to propagate.
        direction: ``"forward"``, ``"backward"`` or ``"both"``.
        start: The frame to start from.
        on_frame: Called in the worker thread with each :class:`FrameResult`.
        on_done: Called in the worker thread when it ends, with the error if it failed.

    Raises:
        AnnotatorError: At once (not in the thread) when there is nothing to propagate
            or the arguments are wrong.
    """

    _thread_name = "annotator-propagate"

    def __init__(
        self,
        session: AnnotationSession,
        direction: str,
        start: int,
        on_frame: Callable[[FrameResult], None],
        on_done: Callable[[PropagationJob, BaseException | None], None],
    ) -> None:
        self.session = session
        self.direction = direction
        self.start_frame = int(start)
        self.frames: list[int] = []
        self.follow = True  # the display follows the propagated frames until the user navigates
        self._on_frame = on_frame
        self._on_done = on_done
        self._gen = session.propagate(direction, start=self.start_frame)  # type: ignore[arg-type]
        super().__init__()

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            for result in self._gen:
                self.frames.append(result.frame)
                try:
                    self._on_frame(result)
                except Exception:  # a display problem must not stop the propagation
                    log.exception("showing propagated frame %d failed", result.frame)
                if self._stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported through the future and the widget
            error = exc
        finally:
            try:
                self._gen.close()  # type: ignore[attr-defined]  # flushes the writer: every frame yielded is in the project
            except BaseException as exc:  # noqa: BLE001
                error = error or exc
        try:
            self._on_done(self, error)
        except Exception:
            log.exception("finishing the propagation display failed")
        self._settle(self.frames, error)

    def cancel(self) -> None:
        """Stop after the current frame; frames done so far stay in the project."""
        self._stop.set()
        self.session.cancel()

    @property
    def progress(self) -> Progress:
        """The session's live progress record (total, done, saved, cancelled, error)."""
        return self.session.progress

    @property
    def cancelled(self) -> bool:
        """True if it was stopped before reaching the end."""
        return self._stop.is_set() or bool(self.session.progress.cancelled)

    def result(self, timeout: float | None = None) -> list[int]:
        """The frames propagated, once it ends; re-raises its error."""
        return self._future.result(timeout)

    def __repr__(self) -> str:
        state = "running" if not self.done else ("cancelled" if self.cancelled else "done")
        return f"PropagationJob({self.direction!r}, start={self.start_frame}, frames={len(self.frames)}, {state})"


class JobCancelled(Cancelled):
    """Raised by :meth:`TaskJob.check` inside a job's work once it was asked to stop."""


class TaskJob(_Job):
    """One piece of work (e.g. tracking people) in a worker thread, with progress and cancel.

    The work is called with the job. It reports progress through :meth:`report` and stops
    once :meth:`is_cancelled` says so, raising :class:`~annotator_widgets.progress.Cancelled`
    (or calling :meth:`check`, which does both): pass ``progress=job.report,
    cancel=job.is_cancelled`` to a workflow.

    Args:
        what: What it does, for messages ("tracking people").
        work: ``work(job) -> result``, run in the worker thread.
        on_progress: Called in the worker thread with ``(done, total, text)`` at each report.
        on_done: Called in the worker thread when it ends, as ``on_done(job, result, error)``: the
            work's result, or None and the error if it failed (a ``Cancelled`` when cancelled).

    Example:
        >>> job = TaskJob("counting", lambda j: [j.report(i + 1, 3) for i in range(3)] and 3,
        ...               lambda done, total, text: None, lambda job, result, error: None).start()
        >>> job.result(5), job.progress, job.cancelled
        (3, (3, 3), False)
    """

    _thread_name = "annotator-task"

    def __init__(
        self,
        what: str,
        work: Callable[[TaskJob], Any],
        on_progress: Callable[[int, int, str], None],
        on_done: Callable[[TaskJob, Any, BaseException | None], None],
    ) -> None:
        self.what = what
        self.done_count = 0
        self.total = 0
        self._work = work
        self._on_progress = on_progress
        self._on_done = on_done
        super().__init__()

    def report(self, done: int, total: int, text: str = "") -> None:
        """From the work: ``done`` of ``total`` steps are finished (shown in the widget)."""
        self.done_count, self.total = int(done), int(total)
        try:
            self._on_progress(self.done_count, self.total, text)
        except Exception:  # a display problem must not stop the work
            log.exception("showing the progress of %s failed", self.what)

    def is_cancelled(self) -> bool:
        """From the work: True once the job was asked to stop (a workflow's ``cancel`` signal)."""
        return self._stop.is_set()

    def check(self) -> None:
        """From the work: raise :class:`JobCancelled` if the job was asked to stop."""
        if self._stop.is_set():
            raise JobCancelled(f"{self.what} was cancelled", given=f"{self.done_count}/{self.total} steps done")

    def _run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._work(self)
        except BaseException as exc:  # noqa: BLE001 - reported through the future and the widget
            error = exc
        try:
            self._on_done(self, result, error)
        except Exception:
            log.exception("finishing %s failed", self.what)
        self._settle(result, error)

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._stop.set()

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)`` steps as last reported."""
        return self.done_count, self.total

    @property
    def cancelled(self) -> bool:
        """True if it was asked to stop."""
        return self._stop.is_set()

    def __repr__(self) -> str:
        state = "running" if not self.done else ("cancelled" if self.cancelled else "done")
        return f"TaskJob({self.what!r}, {self.done_count}/{self.total}, {state})"


class Player:
    """Plays frames from a worker thread at a wall-clock rate, dropping frames when the browser lags.

    Args:
        show: Shows one frame (called in the worker thread).
        num_frames: Length of the video.
        wait_for_client: Blocks until the browser is ready for another frame (returns False on timeout).
        on_stop: Called in the worker thread when playback ends by itself.
    """

    def __init__(
        self,
        show: Callable[[int], None],
        num_frames: int,
        wait_for_client: Callable[[], bool],
        on_stop: Callable[[], None],
    ) -> None:
        self._show = show
        self._n = int(num_frames)
        self._wait = wait_for_client
        self._on_stop = on_stop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shown = 0
        self.dropped = 0
        self.started = time.perf_counter()

    @property
    def running(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, first: int, fps: float, loop: bool = False) -> None:
        """Play from frame ``first`` at ``fps`` frames per second."""
        self.stop()
        self._stop = threading.Event()
        self.shown = self.dropped = 0
        self.started = time.perf_counter()
        self._thread = threading.Thread(
            target=self._run, args=(int(first), float(fps), bool(loop), self._stop), name="annotator-play", daemon=True
        )
        self._thread.start()

    def stop(self, wait: bool = False) -> None:
        """Ask the worker to stop; ``wait`` joins it (never from the worker itself)."""
        self._stop.set()
        t = self._thread
        if wait and t is not None and t is not threading.current_thread():
            t.join(timeout=5)

    def _run(self, first: int, fps: float, loop: bool, stop: threading.Event) -> None:
        t0 = time.perf_counter()
        origin, last = first, first
        ended = False
        try:
            while not stop.is_set():
                self._wait()  # back-pressure: at most a couple of frames waiting in the browser
                if stop.is_set():
                    break
                target = origin + int((time.perf_counter() - t0) * fps)
                if target <= last:
                    time.sleep(max(0.0, (last + 1 - origin) / fps - (time.perf_counter() - t0)))
                    continue
                if target >= self._n:
                    if not loop:
                        if last < self._n - 1:
                            self._show(self._n - 1)
                            self.shown += 1
                        ended = True
                        break
                    t0, origin, target = time.perf_counter(), 0, 0
                    last = -1
                self.dropped += max(0, target - last - 1)
                self._show(target)
                self.shown += 1
                last = target
        except Exception:
            log.exception("playback stopped by an error")
            ended = True
        if ended and not stop.is_set():
            try:
                self._on_stop()
            except Exception:
                log.exception("stopping playback failed")

    def summary(self) -> dict[str, Any]:
        """Frames shown and dropped during the last run."""
        return {"shown": self.shown, "dropped": self.dropped}
