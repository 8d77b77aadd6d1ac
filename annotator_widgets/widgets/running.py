"""Work beside the kernel's message loop, as the annotator's verbs: propagation and tasks.

A propagation (:meth:`JobActions.propagate`) streams frames to the canvas, the progress
bar and the timeline while the kernel keeps serving the widget; a task
(:meth:`JobActions.run_task`: tracking people, picking a person, seeding a region - the
tools start them) reports into the same progress bar. Cancel and ``Esc`` stop either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..progress import Cancelled
from ..session import FrameResult
from .canvas import drawing
from .jobs import PropagationJob, TaskJob

if TYPE_CHECKING:
    from ..session import AnnotationSession
    from .canvas import FrameCanvas
    from .controls import PropagationBar
    from .pointer import Pointer
    from .stats import Stats
    from .tools import Tool

__all__ = ["JobActions"]

Direction = Literal["forward", "backward", "both"]


class JobActions:
    """Propagation and tasks in worker threads, with progress, Cancel and Esc (mixed into ``VideoAnnotator``)."""

    if TYPE_CHECKING:  # provided by VideoAnnotator
        session: AnnotationSession
        canvas: FrameCanvas
        propagation_bar: PropagationBar
        stats: Stats
        frame: int
        busy: bool
        playing: bool
        tool: str
        max_in_flight: int
        _lock: threading.RLock
        _job: PropagationJob | None
        _task: TaskJob | None
        _busy_what: str
        _finishing: bool
        _quiet_frame: bool
        pointer: Pointer
        _last_ui: float
        _last_timeline: float
        _task_follow: bool

        def refresh(self, message: str | None = None, *, masks: dict[int, np.ndarray] | None = None) -> None: ...
        def say(self, message: str) -> None: ...
        def show_error(self, message: str) -> None: ...
        def check_idle(self, what: str) -> None: ...
        def pause(self) -> None: ...
        def _draw(self, masks: dict[int, np.ndarray] | None = None, frame: int | None = None) -> int: ...
        def _refresh_timeline(self) -> None: ...
        @property
        def tools(self) -> Mapping[str, Tool]: ...

    def propagate(self, direction: Direction = "forward") -> PropagationJob:
        """Propagate every prompted object from the current frame in a worker thread.

        The canvas follows the frames as they complete (until you navigate), the progress
        bar and timeline update live, and Cancel (or :meth:`cancel`) stops it.

        Returns:
            A :class:`PropagationJob`: ``wait()``, ``result()``, ``cancel()``, ``progress``.
        """
        with self._lock:
            self.check_idle("start another propagation")
            self.pause()
            job = PropagationJob(self.session, direction, self.frame, self._on_propagated, self._on_propagation_done)
            self._job = job
            self._busy_what = "propagating"
            self.busy = True
            self.propagation_bar.running(True)
            self.propagation_bar.set_progress(0, 1, "starting…")
            self.say(f"propagating {direction} from frame {self.frame}… (Esc or Cancel to stop)")
        job.start()
        threading.Thread(target=self._show_cut_scan, args=(job,), name="annotator-cut-scan", daemon=True).start()
        return job

    def _show_cut_scan(self, job: PropagationJob, every: float = 0.25) -> None:
        """Before its first frame a propagation may scan the shot cuts between prompts far apart (seconds on a long
        video): the bar counts the frames scanned until the first frame comes (then the frames take over)."""
        while not job.done and not job.frames:
            prog = self.session.progress
            if prog.stage == "cuts" and prog.scan_total:
                with self._lock:
                    if not job.frames:
                        text = f"shot cuts: {prog.scan_done}/{prog.scan_total} frames scanned"
                        self.propagation_bar.set_progress(prog.scan_done, prog.scan_total, text)
            if job._stop.wait(every):  # cancelled: the status line says so from here
                return

    def propagate_forward(self) -> PropagationJob:
        """Propagate forward from the current frame."""
        return self.propagate("forward")

    def propagate_backward(self) -> PropagationJob:
        """Propagate backward from the current frame."""
        return self.propagate("backward")

    def propagate_both(self) -> PropagationJob:
        """Propagate both ways from the current frame."""
        return self.propagate("both")

    def cancel(self) -> None:
        """Stop a running propagation after its current frame (frames done so far are kept), or a task."""
        for job in (self._job, self._task):
            if job is not None and not job.done:
                job.cancel()
                self.say("cancelling…")

    def escape(self) -> None:
        """Cancel a job, stop playing, drop a drag in progress, or go back to the base tool (point clicks)."""
        if self.busy:
            self.cancel()
        elif self.playing:
            self.pause()
        elif self.pointer.pressed:
            self.pointer.drop()
        else:
            base = next(iter(self.tools))
            if self.tool != base:
                self.tool = base

    def _on_propagated(self, result: FrameResult) -> None:
        job = self._job
        with self._lock:
            now = time.perf_counter()
            if not self._show_frame(result, job is not None and job.follow):
                self.stats.count("stream_skipped")
            if now - self._last_ui >= 0.1:
                self._last_ui = now
                prog = self.session.progress
                self.propagation_bar.set_progress(prog.done, prog.total, f"{prog.done}/{prog.total}")
            if now - self._last_timeline >= 0.25:
                self._last_timeline = now
                self._refresh_timeline()

    def _show_frame(self, result: FrameResult, follow: bool) -> bool:
        """Draw a streamed frame's masks when the display follows the stream (moving to its frame) or shows that
        frame, and the browser is not behind; whether it was drawn (under the lock)."""
        if not (follow or result.frame == self.frame) or not self.canvas.ready(self.max_in_flight):
            return False
        with drawing():  # frame, cursor and slider move together
            if follow and result.frame != self.frame:
                self._quiet_frame = True
                try:
                    self.frame = result.frame
                finally:
                    self._quiet_frame = False
            self._draw(dict(result.masks), frame=result.frame)
        return True

    def show_streamed(self, result: FrameResult) -> None:
        """Show a frame a task streams (Propagate with re-detection) as a propagation shows its frames: the canvas
        follows them until the user navigates (frames are skipped while the browser is behind), and the timeline
        fills in; called from the task's worker."""
        with self._lock:
            now = time.perf_counter()
            self._show_frame(result, self._task_follow)
            if now - self._last_timeline >= 0.25:
                self._last_timeline = now
                self._refresh_timeline()

    def _on_propagation_done(self, job: PropagationJob, error: BaseException | None) -> None:
        with self._lock:
            prog = self.session.progress
            self.propagation_bar.running(False)
            self.propagation_bar.set_progress(prog.done, prog.total, f"{prog.done}/{prog.total}")
            self.refresh()
            what = f"propagated {job.direction} from frame {job.start_frame}: {prog.done}/{prog.total} frames"
            if error is not None:
                self.show_error(f"{what}, then failed: {error}")
            elif job.cancelled and prog.done < prog.total:
                self.say(f"{what} (cancelled; those frames are kept, z undoes them all)")
            else:
                self.say(f"{what} (z undoes it)")
            self.busy = False  # last, so "not busy" means the status line says how it ended

    @property
    def job(self) -> PropagationJob | None:
        """The running or last propagation."""
        return self._job

    # ------------------------------------------------------------------ tasks
    def run_task(self, what: str, work: Callable[[TaskJob], Any], finish: Callable[[Any], str | None]) -> TaskJob:
        """Run ``work(job)`` in a worker thread, with progress in the propagation bar and Cancel / Esc.

        ``work`` reports with ``job.report`` and stops when ``job.is_cancelled()``; then, under
        the lock, ``finish(result)`` returns the message for the status line (errors, its own
        included, go to the status line). Playback stops; other edits wait until it ends.
        """
        self.pause()
        started = time.perf_counter()
        last = [0.0]

        def progress(done: int, total: int, text: str) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.1 or done >= total:
                last[0] = now
                with self._lock:
                    self.propagation_bar.set_progress(done, total, text or f"{done}/{total}")

        def done(job: TaskJob, result: Any, error: BaseException | None) -> None:
            with self._lock:
                self.propagation_bar.running(False)
                before = self._job
                message = None
                if error is None:
                    self._finishing = True  # finish may start a propagation (check_idle lets it)
                    try:
                        message = finish(result)
                    except Exception as exc:  # noqa: BLE001 - shown in the status line
                        error = exc
                    finally:
                        self._finishing = False
                self.refresh()
                if isinstance(error, Cancelled):
                    self.say(f"{what} cancelled: nothing was stored")
                elif error is not None:
                    self.show_error(f"{what} failed: {error}")
                elif message:
                    self.say(f"{message} ({time.perf_counter() - started:.1f} s)")
                if self._job is before or self._job is None or self._job.done:
                    self.busy = False  # last, so "not busy" means the status line says how it ended

        job = TaskJob(what, work, progress, done)
        self._task = job
        self._task_follow = True
        self._busy_what = what
        self.busy = True
        self.propagation_bar.running(True)
        self.propagation_bar.set_progress(0, 1, "starting…")
        self.say(f"{what}… (Esc or Cancel to stop)")
        return job.start()

    @property
    def task(self) -> TaskJob | None:
        """The running or last task (tracking people, picking a person, seeding a region)."""
        return self._task
