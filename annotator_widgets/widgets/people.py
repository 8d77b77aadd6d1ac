"""People in the annotator: track everybody, click a person to select or track them, seed a region.

The *People* bar under the propagation bar holds **Track people** (MediaPipe pose
through the whole video, then our identity tracker; every person becomes an object
of category ``person`` whose skeleton is drawn in its colour), the number of people
and the detection threshold, the click tool (``points`` / ``person`` / ``region``)
and **Segment person**. Long steps run in a worker thread (:class:`~.jobs.TaskJob`)
with progress in the propagation bar and *Cancel* / ``Esc``; widgets are only
touched under the annotator's lock, as propagation does.

"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import traitlets

from ..errors import PromptError
from ..people import nearest_person, new_people, seed_region, segment_people, store_tracks
from ..types import Box, PersonPose
from ._deps import ipywidgets as ipw
from .controls import _button
from .jobs import JobCancelled, TaskJob

if TYPE_CHECKING:
    from ..session import AnnotationSession
    from .canvas import FrameCanvas
    from .controls import PropagationBar
    from .jobs import PropagationJob

__all__ = ["TOOLS", "PeopleActions", "PeopleBar"]

Tool = Literal["points", "person", "region"]
#: what a plain click or drag on the video does
TOOLS: tuple[str, ...] = ("points", "person", "region")
#: colour of the rubber band of a region drag
REGION_COLOR = (255, 214, 0)
_RUN_UP = 10  # frames MediaPipe sees before the seeded frame (in video mode it finds more people than on one image)


class _ReportingEstimator:
    """A pose estimator that reports each frame to a job (stopping there after a cancel) and may check it."""

    def __init__(
        self,
        inner: Any,
        job: TaskJob,
        total: int,
        text: str,
        check: Callable[[int, list[PersonPose]], None] | None = None,
    ) -> None:
        self._inner, self._job, self._total, self._text, self._check = inner, job, int(total), text, check
        self.calls = 0

    def detect(self, frame: np.ndarray, timestamp_ms: int = 0) -> list[PersonPose]:
        self._job.check()
        poses = self._inner.detect(frame, timestamp_ms)
        index = self.calls  # track_people asks for frames 0, 1, 2, ... in order
        self.calls += 1
        if self._check is not None:
            self._check(index, poses)
        self._job.report(self.calls, self._total, f"{self._text} {self.calls}/{self._total}")
        return poses


class PeopleBar:
    """Track people (number of people, detection threshold), the click tool, and Segment person."""

    def __init__(self) -> None:
        self.track = _button("Track people", icon="users", tooltip="detect and track every person through the video")
        self.num_people = ipw.BoundedIntText(
            value=2,
            min=1,
            max=20,
            description="people",
            tooltip="most people found per frame",
            layout=ipw.Layout(width="112px"),
            style={"description_width": "initial"},
        )
        self.threshold = ipw.FloatSlider(
            value=0.3,
            min=0.05,
            max=0.95,
            step=0.05,
            description="threshold",
            readout_format=".2f",
            tooltip="pose detection confidence (lower finds more people, and more false ones)",
            layout=ipw.Layout(width="230px"),
            style={"description_width": "initial"},
        )
        self.tool = ipw.ToggleButtons(
            options=[("points", "points"), ("person", "person"), ("region", "region")],
            value="points",
            tooltips=[
                "clicks add points, drags add boxes for the current object",
                "a click selects the person under it, or detects and tracks them (o)",
                "drag a region: every person meeting it becomes an object, propagated together (r)",
            ],
            style={"button_width": "70px"},
        )
        self.segment = _button(
            "Segment person", icon="user", tooltip="mask the current person from their landmarks on this frame (s)"
        )
        self.widget = ipw.HBox(
            [ipw.Label("People:"), self.track, self.num_people, self.threshold, self.tool, self.segment]
        )
        self.widget.add_class("aw-people")

    def running(self, on: bool) -> None:
        """Disable the buttons that start work while a job runs (or enable them)."""
        self.track.disabled = on
        self.segment.disabled = on


class PeopleActions(traitlets.HasTraits):
    """People verbs of :class:`~annotator_widgets.widgets.VideoAnnotator` (mixed in; buttons and keys call them)."""

    tool = traitlets.Unicode("points", help="what a click or drag on the video does: points, person or region")
    num_people = traitlets.Int(2, help="most people the pose model finds per frame")
    pose_threshold = traitlets.Float(0.3, help="pose detection confidence threshold 0..1")
    pose_model = traitlets.Unicode(None, allow_none=True, help="a .task path or registry name")

    if TYPE_CHECKING:  # provided by VideoAnnotator
        session: AnnotationSession
        canvas: FrameCanvas
        propagation_bar: PropagationBar
        people_bar: PeopleBar
        frame: int
        current_object: int | None
        busy: bool
        _lock: threading.RLock
        _task: TaskJob | None
        _busy_what: str

        def _guard(self, fn: Any, what: str) -> Any: ...
        def _refresh_all(self, message: str | None = None) -> None: ...
        def _refresh_timeline(self) -> None: ...
        def _draw(self, masks: dict[int, np.ndarray] | None = None, frame: int | None = None) -> int: ...
        def _say(self, message: str) -> None: ...
        def show_error(self, message: str) -> None: ...
        def _check_idle(self, what: str) -> None: ...
        def pause(self) -> None: ...
        def propagate(self, direction: Literal["forward", "backward", "both"] = "forward") -> PropagationJob: ...

    @traitlets.validate("tool")
    def _valid_tool(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in TOOLS:
            raise PromptError("unknown click tool", given=proposal["value"], hint=f"use one of {TOOLS}")
        return str(proposal["value"])

    @traitlets.validate("num_people")
    def _valid_num_people(self, proposal: dict[str, Any]) -> int:
        if not 1 <= int(proposal["value"]) <= 20:
            raise PromptError("num_people must be 1..20", given=proposal["value"])
        return int(proposal["value"])

    @traitlets.validate("pose_threshold")
    def _valid_threshold(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("pose_threshold must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    def _wire_people(self) -> None:
        bar = self.people_bar
        self.canvas.surface.add_class(f"aw-tool-{self.tool}")
        traitlets.link((self, "tool"), (bar.tool, "value"))
        traitlets.link((self, "num_people"), (bar.num_people, "value"))
        traitlets.link((self, "pose_threshold"), (bar.threshold, "value"))
        self.observe(self._guard(self._on_tool, "changing the click tool"), names=["tool"])
        self.observe(self._guard(lambda ch: bar.running(bool(ch["new"])), "showing the state"), names=["busy"])
        bar.track.on_click(self._guard(lambda _b: self.track_people(), "tracking people"))
        bar.segment.on_click(self._guard(lambda _b: self.segment_person(), "segmenting the person"))

    def _on_tool(self, change: dict[str, Any]) -> None:
        surface = self.canvas.surface
        surface.remove_class(f"aw-tool-{change['old']}")
        surface.add_class(f"aw-tool-{change['new']}")
        self._say(
            {
                "points": "clicks add points, drags add boxes",
                "person": "person clicks: click a person to select them (or to track them); o or Esc: back to points",
                "region": "region drags: drag over people to seed and propagate them; r or Esc: back to points",
            }[change["new"]]
        )

    # ------------------------------------------------------------------ modes
    def toggle_person_mode(self) -> None:
        """Clicks select (or track) the person under them, or add points again (the ``o`` key)."""
        self.tool = "points" if self.tool == "person" else "person"

    def toggle_region_mode(self) -> None:
        """Drags seed every person meeting the rectangle, or add boxes again (the ``r`` key)."""
        self.tool = "points" if self.tool == "region" else "region"

    # ------------------------------------------------------------------ verbs
    def make_pose_estimator(self, running_mode: Literal["video", "image"] = "video") -> Any:
        """A new pose estimator with the widget's settings (override to use another backend).

        Called in the worker thread; the caller closes it.
        """
        from .. import registry

        return registry.resolve(
            "pose",
            "mediapipe",
            model=self.pose_model,
            num_poses=self.num_people,
            min_pose_detection_confidence=self.pose_threshold,
            running_mode=running_mode,
        )

    def _track(
        self, job: TaskJob, check: Callable[[int, list[PersonPose]], None] | None = None, **kw: Any
    ) -> list[list[PersonPose]]:
        """Track people through the video with a new estimator (in the worker); ``kw`` go to ``track_people``."""
        from ..pose_tracking import track_people

        inner = self.make_pose_estimator("video")
        try:
            est = _ReportingEstimator(inner, job, len(self.session.video), "pose", check)
            return track_people(self.session.video, estimator=est, **kw)
        finally:
            inner.close()

    def track_people(self) -> TaskJob:
        """Detect and track every person through the video in a worker thread (``num_people``, ``pose_threshold``).

        Each person becomes an object of category ``person`` with its poses (a person already
        in the project keeps its id, see :func:`~annotator_widgets.people.store_tracks`); skeletons are drawn in the
        object's colour and the timeline shows on which frames each person's pose is found.

        Returns:
            The :class:`~.jobs.TaskJob`; its ``result()`` is ``{track id: object id}``.
        """

        def work(job: TaskJob) -> dict[int, int]:
            return {tid: o.obj_id for tid, o in store_tracks(self.session.project, self._track(job)).items()}

        def finish(ids: dict[int, int]) -> str:
            n = len(self.session.video)
            if not ids:
                raise PromptError(
                    f"no person found in {n} frames",
                    given=f"threshold {self.pose_threshold:g}",
                    hint="lower the threshold or check the video",
                )
            return (
                f"tracked {len(ids)} people over {n} frames: objects {sorted(ids.values())} "
                "(person clicks (o) select one; s masks it)"
            )

        with self._lock:
            self._check_idle("track people")
            return self._start_task("tracking people", work, finish)

    def pick_person(self, x: float, y: float) -> int | TaskJob:
        """Select the person at video pixel ``(x, y)`` on this frame, or detect and track them from here.

        With poses stored on this frame, the person whose box holds the click and whose nose
        or mid-hip is nearest becomes the current object at once. Otherwise the video is
        tracked in a worker thread from this frame with that person selected, and they become
        an object (or update the person object they already are).

        Returns:
            The person's object id, or the :class:`~.jobs.TaskJob` whose ``result()`` is that id.
        """
        with self._lock:
            self._check_idle("pick a person")
            f = self.frame
            hit = nearest_person(self.session.project.poses(f), x, y)
            if hit is not None:
                self.current_object = hit.person_id
                self._say(f"person {hit.person_id} selected on frame {f} (s masks them; o or Esc: point clicks)")
                return hit.person_id
            self.canvas.show_marker(x, y, positive=True)

            def missed() -> PromptError:
                return PromptError(
                    f"no person near the click on frame {f}",
                    given=(round(x), round(y)),
                    hint="click a person's head or body, or lower the pose threshold",
                )

            def nobody(frame: int, poses: list[PersonPose]) -> None:
                if frame == f and nearest_person(poses, x, y) is None:
                    raise missed()

            def work(job: TaskJob) -> int:
                nobody(f, self._detect_with_run_up(job, f))  # fail fast, before the whole video is tracked
                tracks = self._track(job, nobody, select=(float(x), float(y)), frame=f)
                chosen = nearest_person(tracks[f], x, y)
                if chosen is None:  # the tracker selected somebody else
                    raise missed()
                return store_tracks(self.session.project, tracks)[chosen.person_id].obj_id

            def finish(oid: int) -> str:
                self.current_object = oid
                frames = self.session.project.pose_frames(oid)
                return f"person {oid} tracked from frame {f}: a pose on {len(frames)} frames (s masks them)"

            return self._start_task("tracking the person", work, finish)

    def segment_person(self, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Prompt the segmenter with a person's landmarks on this frame (default: the current object).

        Returns:
            ``{obj_id: mask}`` of every object on this frame.
        """
        with self._lock:
            self._check_idle("segment a person")
            oid = self.current_object if obj_id is None else int(obj_id)
            f = self.frame
            if oid is None:
                raise PromptError("no person selected", hint="track people, or click a person in person mode (o)")
            if all(p.person_id != oid for p in self.session.project.poses(f)):
                raise PromptError(
                    f"object {oid} has no pose on frame {f}",
                    given=oid,
                    hint="go to a frame where its skeleton is shown, or click the person in person mode (o)",
                )
            masks = segment_people(self.session, f, [oid])
            self._draw(masks)
            self._refresh_timeline()
            area = int(masks[oid].sum()) if oid in masks else 0
            self._say(f"person {oid}: mask of {area} px from its landmarks on frame {f} (propagate with f / b / p)")
            return masks

    def seed_region(
        self, x0: float, y0: float, x1: float, y1: float, direction: Literal["forward", "backward", "both"] = "forward"
    ) -> TaskJob:
        """Every person whose box meets the rectangle becomes an object prompted from its landmarks; then all
        of them are propagated together from this frame (:func:`annotator_widgets.people.seed_region`).

        People stored on this frame keep their ids; MediaPipe also runs in video mode over a few
        frames up to this one (it finds more people so than on one image), and the people it
        finds there that are not stored become new objects. Seeding (one undo step) runs in a
        worker thread, then the propagation (:attr:`job`) with its progress and Cancel.

        Returns:
            The seeding :class:`~.jobs.TaskJob`; its ``result()`` is the seeded objects.
        """
        box = Box.from_corners(x0, y0, x1, y1)
        with self._lock:
            self._check_idle("seed a region")
            f = self.frame

            def work(job: TaskJob) -> list[Any]:
                project = self.session.project
                stored = project.poses(f)
                new = new_people(self._detect_with_run_up(job, f), stored)
                with project.group(f"seed people in a region on frame {f}"):
                    seeded = seed_region(self.session, f, box, propagate=False) if stored else []
                    if new:
                        seeded += seed_region(self.session, f, box, propagate=False, poses=new)
                return seeded

            def finish(seeded: list[Any]) -> None:
                if not seeded:
                    raise PromptError(
                        f"no person meets the region on frame {f}",
                        given=tuple(round(v) for v in box.xyxy),
                        hint="drag over a person, or lower the pose threshold",
                    )
                self.propagate(direction)
                self._say(
                    f"seeded {len(seeded)} people {[o.obj_id for o in seeded]} on frame {f}; propagating "
                    f"{direction} together… (Esc or Cancel to stop)"
                )

            return self._start_task("seeding the region", work, finish)

    def _detect_with_run_up(self, job: TaskJob, frame: int) -> list[PersonPose]:
        from ..backends.pose import timestamp_ms

        video = self.session.video
        first = max(0, frame - _RUN_UP)
        est = self.make_pose_estimator("video")
        try:
            poses: list[PersonPose] = []
            for i in range(first, frame + 1):
                job.check()
                poses = est.detect(video.frame(i), timestamp_ms(i, video.fps))
                job.report(i - first + 1, frame - first + 1, f"finding people {i - first + 1}/{frame - first + 1}")
            return [replace(p, frame=frame) for p in poses]
        finally:
            est.close()

    # ------------------------------------------------------------------ the worker
    def _start_task(self, what: str, work: Callable[[TaskJob], Any], finish: Callable[[Any], str | None]) -> TaskJob:
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
                self.busy = False
                self.propagation_bar.running(False)
                message = None
                if error is None:
                    try:
                        message = finish(result)
                    except Exception as exc:  # noqa: BLE001 - shown in the status line
                        error = exc
                self._refresh_all()
                if isinstance(error, JobCancelled):
                    self._say(f"{what} cancelled: nothing was stored")
                elif error is not None:
                    self.show_error(f"{what} failed: {error}")
                elif message:
                    self._say(f"{message} ({time.perf_counter() - started:.1f} s)")

        job = TaskJob(what, work, progress, done)
        self._task = job
        self._busy_what = what
        self.busy = True
        self.propagation_bar.running(True)
        self.propagation_bar.set_progress(0, 1, "starting…")
        self._say(f"{what}… (Esc or Cancel to stop)")
        return job.start()

    @property
    def task(self) -> TaskJob | None:
        """The running or last people job (tracking, picking or seeding)."""
        return self._task
