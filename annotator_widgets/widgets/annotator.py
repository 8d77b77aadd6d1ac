"""The video annotator: canvas, timeline and controls wired to an :class:`AnnotationSession`.

Threading: browser events arrive on the kernel's shell thread; propagation and
playback run in worker threads (:mod:`.jobs`). Every change to widget state or the
canvas goes through one re-entrant lock per annotator (and one lock around the
process-wide ipycanvas batch), so updates from any thread are serialised.
Every callback is wrapped: an exception becomes a red status line, never a dead
widget or a lost kernel. Public methods raise as usual when called from code.

Example:
    >>> from annotator_widgets.widgets import VideoAnnotator
    >>> from annotator_widgets.data import synthetic_clip
    >>> clip = synthetic_clip(num_frames=4, size=(96, 64), num_objects=1)
    >>> ann = VideoAnnotator.from_video(clip.frames, segmenter="classic")
    >>> y, x = np.argwhere(clip.masks[1][0]).mean(axis=0)
    >>> sorted(ann.click(x, y))
    [1]
    >>> [(p.obj_id, len(p.points)) for p in ann.session.prompts(0)]
    [(1, 1)]
    >>> ann.close()
"""

from __future__ import annotations

import functools
import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import numpy as np
import traitlets

from ..errors import AnnotatorError, BackendError, PromptError
from ..render import Renderer
from ..session import AnnotationSession, FrameResult
from ..types import Box
from ._deps import enable_colab, ipyevents
from ._deps import ipywidgets as ipw
from .actions import AnnotatorActions
from .canvas import FrameCanvas, Geometry, Mode, drawing
from .controls import Navigation, ObjectPanel, PropagationBar, Toolbar
from .jobs import Player, PropagationJob, TaskJob
from .people import REGION_COLOR, PeopleActions, PeopleBar
from .shortcuts import action_for
from .stats import Stats
from .timeline import Timeline, TimelineRow, timeline_rows

__all__ = ["VideoAnnotator"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
Direction = Literal["forward", "backward", "both"]

_DRAG_CSS_PX = 5  # a press that moves farther than this is a box drag, not a click


class VideoAnnotator(AnnotatorActions, PeopleActions, ipw.VBox):
    """Annotate a video in Jupyter: click for points, drag for boxes, propagate, review on the timeline.

    People (:mod:`.people`): *Track people* makes every person an object with its skeleton;
    in person mode a click selects (or tracks) the person under it; in region mode a drag
    seeds every person meeting the rectangle and propagates them together.

    Args:
        session: The session to drive (its project receives every prompt and mask).
        max_display_side: The canvas' longer side in pixels; larger videos are shown
            downscaled (masks are still computed at full resolution).
        low_score: Masks scoring below this are flagged on the timeline.
        fps: Playback rate (default: the video's).
        mode: ``"composite"`` (one JPEG per update, the default: fastest here) or ``"layers"``.
        jpeg_quality: JPEG quality of the frame image.
        renderer: Overlay settings (opacity is taken from the opacity slider).
        **kwargs: Passed to ``ipywidgets.VBox``.
    """

    frame = traitlets.Int(0, help="the frame shown")
    current_object = traitlets.Int(None, allow_none=True, help="the object that clicks and boxes prompt")
    point_label = traitlets.Int(1, help="label of a plain click: 1 positive, 0 negative")
    opacity = traitlets.Float(0.5, help="mask fill opacity 0..1")
    playing = traitlets.Bool(False, help="kernel-side playback running")
    busy = traitlets.Bool(False, help="a propagation or a people job is running")
    status = traitlets.Unicode("", help="the status line")
    error = traitlets.Unicode("", help="the last error shown, '' after a success")

    def __init__(
        self,
        session: AnnotationSession,
        *,
        max_display_side: int = 960,
        low_score: float = 0.5,
        fps: float | None = None,
        mode: Mode = "composite",
        jpeg_quality: int = 75,
        renderer: Renderer | None = None,
        **kwargs: Any,
    ) -> None:
        enable_colab()
        super().__init__(**kwargs)
        if not isinstance(session, AnnotationSession):
            raise PromptError(
                "VideoAnnotator needs an AnnotationSession",
                given=type(session).__name__,
                hint="use VideoAnnotator.from_video(video) to build one",
            )
        if int(max_display_side) < 16:
            raise PromptError("max_display_side must be at least 16 pixels", given=max_display_side)
        self.session = session
        self.num_frames = len(session.video)
        self.fps = float(fps or session.video.fps or 25.0)
        self.low_score = float(low_score)
        self.geometry = Geometry.fit(session.video.size, int(max_display_side))
        self.stats = Stats()
        self._lock = threading.RLock()
        self._renderer_base = renderer or Renderer(opacity=0.5)
        self._renderer = self._renderer_base
        self._job: PropagationJob | None = None
        self._task: TaskJob | None = None
        self._busy_what = "propagating"
        self._quiet_frame = False
        self._press: dict[str, Any] | None = None
        self._last_ui = 0.0
        self._last_timeline = 0.0
        self._masks_opacity = 0.5
        self._nav_synced_at = 0.0
        #: updates that may wait in the browser during playback and propagation before frames are dropped
        self.max_in_flight = 2
        self._syncing_slider = False
        self._rows: list[TimelineRow] = []
        self._loop = False
        self._own_session = False
        self._build(mode, jpeg_quality, low_score)
        self._wire()
        self.opacity = self._renderer_base.opacity
        self._warm_up()
        self._refresh_all(
            f"{self.num_frames} frames, {session.video.width}x{session.video.height}: click an object to start"
        )

    @classmethod
    def from_video(cls, video: Any, project: Any = None, segmenter: Any = "auto", **kwargs: Any) -> VideoAnnotator:
        """Open ``video`` in a new :class:`AnnotationSession` and annotate it.

        Args:
            video: Anything :func:`~annotator_widgets.open_video` accepts.
            project: A Project, a path, or None for a temporary project.
            segmenter: A segmenter instance or name (``"auto"``, ``"classic"``, ...).
            **kwargs: Passed to the constructor.
        """
        session = AnnotationSession(video, project=project, segmenter=segmenter)
        try:
            ann = cls(session, **kwargs)
        except BaseException:
            session.close()
            raise
        ann._own_session = True
        return ann

    def _warm_up(self) -> None:
        """Load the overlay code paths (supervision's labels) now rather than on the first click."""
        img = np.zeros((16, 16, 3), np.uint8)
        mask = np.zeros((16, 16), bool)
        mask[4:12, 4:12] = True
        self._renderer.annotate(img, {1: mask})

    # ------------------------------------------------------------------ layout
    def _build(self, mode: Mode, jpeg_quality: int, low_score: float) -> None:
        self.canvas = FrameCanvas(self.geometry, self.stats, mode=mode, jpeg_quality=jpeg_quality)
        self.timeline = Timeline(self.num_frames, self.geometry.display_size[0], low_score=low_score)
        self.objects_panel = ObjectPanel()
        self.toolbar = Toolbar()
        self.propagation_bar = PropagationBar()
        self.people_bar = PeopleBar()
        self.navigation = Navigation(self.num_frames)
        self.status_line = ipw.HTML("", layout=ipw.Layout(min_height="1.6em"))
        self.status_line.add_class("aw-status")
        self.stage = ipw.VBox(
            [self.canvas.surface, self.timeline.widget, self.navigation.widget, self.canvas.style],
            layout=ipw.Layout(width=f"{self.geometry.display_size[0] + 4}px", max_width="100%"),
        )
        self.children = [
            self.toolbar.widget,
            self.toolbar.help_panel,
            ipw.HBox([self.stage, self.objects_panel.widget]),
            self.propagation_bar.widget,
            self.people_bar.widget,
            self.status_line,
        ]
        self.add_class("aw-annotator")
        # ipycanvas reports neither buttons nor modifiers: mouse input comes from ipyevents
        # (public so that tests and tools can feed events: ``ann.mouse_events._dom_handlers(event)``)
        self.mouse_events = ipyevents.Event(
            source=self.canvas.surface,
            watched_events=["mousedown", "mouseup", "mouseleave", "contextmenu"],
            prevent_default_action=True,
        )
        # moves are watched only while a button is down (a drag): hovering costs no messages
        self.mouse_move_events = ipyevents.Event(
            source=self.canvas.surface, watched_events=[], throttle_or_debounce="throttle", wait=40
        )
        # keys while the pointer is over the stage (not the object panel, whose text fields need typing)
        self.key_events = ipyevents.Event(
            source=self.stage,
            watched_events=["keydown"],
            ignore_modifier_key_events=True,
            prevent_default_action=True,
        )

    def _wire(self) -> None:
        # frame -> slider by hand (throttled while playing: every slider update is a message); slider -> frame
        self.navigation.slider.observe(self._guard(self._on_slider, "seeking"), names=["value"])
        traitlets.link((self, "point_label"), (self.toolbar.label, "value"))
        traitlets.link((self, "opacity"), (self.toolbar.opacity, "value"))
        traitlets.link((self, "playing"), (self.navigation.play, "value"))
        self.observe(self._guard(self._on_frame, "showing the frame"), names=["frame"])
        self.observe(self._guard(self._on_opacity, "changing opacity"), names=["opacity"])
        self.observe(self._guard(self._on_playing, "playing"), names=["playing"])
        self.observe(self._guard(self._on_current, "selecting the object"), names=["current_object"])
        self.observe(self._on_status, names=["status", "error"])
        self.mouse_events.on_dom_event(self._guard(self._on_mouse, "handling the click"))
        self.mouse_move_events.on_dom_event(self._guard(self._on_mouse, "handling the drag"))
        self.key_events.on_dom_event(self._guard(self._on_key, "handling the key"))
        self.canvas.on_client_ready(self._guard(self.redraw, "redrawing after a reconnect"))
        self.timeline.on_seek(self._guard(self.seek, "seeking"))
        self._player = Player(
            self._guard(self._play_step, "playing"),
            self.num_frames,
            self._wait_for_client,
            self._guard(self.pause, "stopping"),
        )
        tb, pb, nav, op = self.toolbar, self.propagation_bar, self.navigation, self.objects_panel
        buttons: list[tuple[Any, Callable[[], Any], str]] = [
            (tb.undo, self.undo, "undo"),
            (tb.redo, self.redo, "redo"),
            (tb.clear, self.clear_object_on_frame, "clearing the frame"),
            (pb.forward, self.propagate_forward, "propagating"),
            (pb.backward, self.propagate_backward, "propagating"),
            (pb.both, self.propagate_both, "propagating"),
            (pb.cancel, self.cancel, "cancelling"),
            (nav.prev, self.prev_frame, "navigating"),
            (nav.next, self.next_frame, "navigating"),
            (nav.prev_prompted, self.prev_prompted, "navigating"),
            (nav.next_prompted, self.next_prompted, "navigating"),
        ]
        for button, action, what in buttons:
            button.on_click(self._guard(lambda _b, _a=action: _a(), what))
        op.on_add = self._guard(lambda name, category: self.add_object(name, category), "adding the object")
        op.on_select = self._guard(self.select_object, "selecting the object")
        op.on_hide = self._guard(self.hide_object, "hiding the object")
        op.on_remove = self._guard(self.remove_object, "removing the object")
        op.on_color = self._guard(self.set_color, "changing the colour")
        self._wire_people()

    # ------------------------------------------------------------------ errors and status
    def _guard(self, fn: F, what: str) -> F:
        """Wrap a callback: errors go to the status line and the log, never up to the kernel."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except AnnotatorError as exc:
                log.info("%s failed: %s", what, exc)
                self.show_error(f"{what} failed: {exc}")
            except Exception as exc:
                log.exception("%s failed", what)
                self.show_error(f"{what} failed with an unexpected {type(exc).__name__}: {exc}")
            return None

        return wrapper  # type: ignore[return-value]

    def show_error(self, message: str) -> None:
        """Show an error in the status line (cleared by the next successful action)."""
        with self._lock:
            self.error = message
            self.status = message

    def _say(self, message: str) -> None:
        with self._lock:
            self.error = ""
            self.status = message

    def _on_status(self, change: dict[str, Any]) -> None:
        text = html.escape(self.status)
        if self.error:
            self.status_line.value = f"<span style='color:#c62828'>⚠ {text}</span>"
        else:
            self.status_line.value = f"<span style='color:#555'>{text}</span>"

    # ------------------------------------------------------------------ drawing
    def redraw(self, masks: dict[int, np.ndarray] | None = None) -> None:
        """Draw the current frame (with ``masks`` instead of the stored ones, if given) and the timeline."""
        with self._lock:
            self._draw(masks)
            self.timeline.update(self._rows)
            self.timeline.set_cursor(self.frame)

    def _draw(self, masks: dict[int, np.ndarray] | None = None, frame: int | None = None) -> int:
        f = self.frame if frame is None else frame
        rgb = self.session.video.frame(f)
        if masks is None:
            masks = self.session.masks(f)
        proj = self.session.project
        return self.canvas.show(
            f,
            rgb,
            masks,
            objects=proj.objects(),
            prompts=proj.prompts(frame=f),
            poses=proj.poses(f),
            renderer=self._renderer,
        )

    def _refresh_timeline(self) -> None:
        self._rows = timeline_rows(self.session.project)
        self.timeline.update(self._rows)

    def _refresh_all(self, message: str | None = None) -> None:
        with self._lock:
            objects = self.session.project.objects()
            ids = [o.obj_id for o in objects]
            if self.current_object not in ids:
                self.current_object = ids[-1] if ids else None
            self.objects_panel.refresh(objects, self.current_object)
            self._rows = timeline_rows(self.session.project)
            self._draw()
            self.timeline.update(self._rows)
            self.timeline.set_cursor(self.frame)
            if message is not None:
                self._say(message)

    # ------------------------------------------------------------------ observers
    @traitlets.validate("frame")
    def _valid_frame(self, proposal: dict[str, Any]) -> int:
        return min(max(int(proposal["value"]), 0), self.num_frames - 1)

    def _on_frame(self, change: dict[str, Any]) -> None:
        with self._lock:
            f = int(change["new"])
            job = self._job
            with drawing():  # the frame and the timeline cursor in one message
                if not self._quiet_frame:
                    if job is not None and not job.done:
                        job.follow = False  # the user navigates: stop following the propagation
                    t0 = time.perf_counter()
                    self._draw()
                    self.stats.add("frame_ms", (time.perf_counter() - t0) * 1000)
                self.timeline.set_cursor(f)
            self._sync_navigation()

    def _sync_navigation(self, force: bool = False) -> None:
        """Move the slider and the frame label (at most 5 times a second while playing)."""
        now = time.perf_counter()
        if self.playing and not force and now - self._nav_synced_at < 0.2:
            return
        self._nav_synced_at = now
        nav = self.navigation
        self._syncing_slider = True
        try:
            nav.slider.value = self.frame
        finally:
            self._syncing_slider = False
        nav.label.value = f"{self.frame} / {self.num_frames - 1}"

    def _on_slider(self, change: dict[str, Any]) -> None:
        if not self._syncing_slider:
            self.seek(int(change["new"]))

    def _on_opacity(self, change: dict[str, Any]) -> None:
        value = float(change["new"])
        if not 0.0 <= value <= 1.0:
            raise PromptError("opacity must be in 0..1", given=value)
        with self._lock:
            self._renderer = self._renderer_base.replace(opacity=value)
            self._draw()

    def _on_current(self, change: dict[str, Any]) -> None:
        with self._lock:
            self.objects_panel.refresh(self.session.project.objects(), change["new"])

    def _on_playing(self, change: dict[str, Any]) -> None:
        if change["new"]:
            if self.busy:
                self.playing = False
                raise BackendError(f"cannot play while {self._busy_what}", hint="wait for it or press Cancel")
            first = 0 if self.frame >= self.num_frames - 1 else self.frame
            self._player.start(first, self.fps, loop=self._loop)
        else:
            self._player.stop()
            self._sync_navigation(force=True)
            p = self._player
            if p.shown:
                self.stats.add("play_fps", p.shown / max(time.perf_counter() - p.started, 1e-6))
                self.stats.count("play_dropped", p.dropped)

    # ------------------------------------------------------------------ mouse and keys
    def _on_mouse(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        rx, ry = float(event.get("relativeX", 0)), float(event.get("relativeY", 0))
        rw = float(event.get("boundingRectWidth", 0) or 0)
        dw, dh = self.geometry.display_size
        # the canvas keeps its aspect ratio (height: auto): scale both axes by the width, which the box
        # around it shares exactly (its height may differ by a line box)
        x, y = self.geometry.css_to_video(rx, ry, rw, rw * dh / dw if rw > 0 else 0)
        if kind == "mousedown":
            button = int(event.get("button", 0))
            if button == 0:
                self.mouse_move_events.watched_events = ["mousemove"]
            self._press = {
                "x": x,
                "y": y,
                "rx": rx,
                "ry": ry,
                "button": button,
                "flip": button == 2 or bool(event.get("shiftKey")),
                "drag": False,
                "t": time.perf_counter(),
            }
        elif kind == "mousemove":
            p = self._press
            if p is None or p["button"] != 0:
                return
            if p["drag"] or max(abs(rx - p["rx"]), abs(ry - p["ry"])) > _DRAG_CSS_PX:
                p["drag"] = True
                color = REGION_COLOR if self.tool == "region" else self._current_color()
                self.canvas.show_box((p["x"], p["y"], x, y), color)
        elif kind == "mouseup":
            p, self._press = self._press, None
            self.mouse_move_events.watched_events = []
            if p is None:
                return
            moved = max(abs(rx - p["rx"]), abs(ry - p["ry"])) > _DRAG_CSS_PX
            if p["button"] == 0 and (p["drag"] or moved):
                if self.tool == "region":
                    self.seed_region(p["x"], p["y"], x, y)
                else:
                    self.drag_box(p["x"], p["y"], x, y)
            elif p["button"] == 0 and not p["flip"] and self.tool != "points":
                if self.tool == "person":
                    self.pick_person(p["x"], p["y"])
                else:
                    self._say("region mode: drag a rectangle over people (r or Esc: back to point clicks)")
            elif p["button"] in (0, 2):
                label = 1 - self.point_label if p["flip"] else self.point_label
                self.click(p["x"], p["y"], label=label)
        elif kind == "mouseleave":
            p, self._press = self._press, None
            self.mouse_move_events.watched_events = []
            if p is not None and p["drag"]:
                self.canvas.clear_interaction()

    @property
    def dragging(self) -> bool:
        """True while a box is being dragged on the canvas (its rubber band is shown)."""
        p = self._press
        return bool(p is not None and p["drag"])

    def _on_key(self, event: dict[str, Any]) -> None:
        key = str(event.get("key", ""))
        self.press(
            key, shift=bool(event.get("shiftKey")), ctrl=bool(event.get("ctrlKey")), meta=bool(event.get("metaKey"))
        )

    def press(self, key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str | None:
        """Act on a key as the keyboard shortcuts do (see the ``?`` button); returns the action's name."""
        action = action_for(key, shift=shift, ctrl=ctrl, meta=meta)
        if action is None:
            return None
        if action == "select_nth":
            self.select_nth(int(key))
        else:
            getattr(self, action)()
        return action

    # ------------------------------------------------------------------ prompting
    def _current_color(self) -> tuple[int, int, int]:
        if self.current_object is not None:
            info = self.session.project.get_object(self.current_object)
            if info is not None:
                return info.color
        return (255, 255, 255)

    def _ensure_object(self) -> int:
        oid = self.current_object
        if oid is not None and self.session.project.get_object(oid) is not None:
            return oid
        return self.add_object().obj_id

    def _check_idle(self, what: str) -> None:
        if self.busy:
            raise BackendError(
                f"cannot {what} while {self._busy_what}",
                given=self._job if self._busy_what == "propagating" else self._task,
                hint="wait until it finishes or press Cancel (Esc)",
            )

    def click(self, x: float, y: float, label: int | None = None) -> dict[int, np.ndarray]:
        """Add a point at video pixel ``(x, y)`` for the current object on the current frame.

        Args:
            x: Column in video pixels.
            y: Row in video pixels.
            label: 1 positive, 0 negative; default: the toggle (:attr:`point_label`).

        Returns:
            ``{obj_id: mask}`` of every object on this frame (full video resolution).
        """
        label = self.point_label if label is None else int(label)
        with self._lock:
            self._check_idle("add a point")
            t0 = time.perf_counter()
            oid = self._ensure_object()
            frame = self.frame
            self.canvas.show_marker(x, y, positive=label == 1)  # feedback before the model runs
            try:
                masks = self.session.add_points(frame, oid, [(x, y)], [label])
            except BaseException:
                self.canvas.clear_interaction()
                raise
            t1 = time.perf_counter()
            self._draw(masks)
            self._refresh_timeline()
            t2 = time.perf_counter()
            self.stats.add("segment_ms", (t1 - t0) * 1000)
            self.stats.add("click_ms", (t2 - t0) * 1000)
            kind = "positive" if label == 1 else "negative"
            area = int(masks[oid].sum()) if oid in masks else 0
            self._say(
                f"object {oid}: {kind} point at ({x:.0f}, {y:.0f}) on frame {frame}, "
                f"mask {area} px ({(t2 - t0) * 1000:.0f} ms)"
            )
            return masks

    def drag_box(self, x0: float, y0: float, x1: float, y1: float) -> dict[int, np.ndarray]:
        """Prompt the current object with the box between two corners (video pixels, any order)."""
        with self._lock:
            self._check_idle("add a box")
            t0 = time.perf_counter()
            oid = self._ensure_object()
            box = Box.from_corners(x0, y0, x1, y1)
            try:
                masks = self.session.add_box(self.frame, oid, box)
            except BaseException:
                self.canvas.clear_interaction()
                raise
            self._draw(masks)
            self._refresh_timeline()
            dt = (time.perf_counter() - t0) * 1000
            self.stats.add("box_ms", dt)
            self._say(
                f"object {oid}: box ({box.x0:.0f}, {box.y0:.0f})-({box.x1:.0f}, {box.y1:.0f}) "
                f"on frame {self.frame} ({dt:.0f} ms)"
            )
            return masks

    # ------------------------------------------------------------------ propagation
    def propagate(self, direction: Direction = "forward") -> PropagationJob:
        """Propagate every prompted object from the current frame in a worker thread.

        The canvas follows the frames as they complete (until you navigate), the progress
        bar and timeline update live, and Cancel (or :meth:`cancel`) stops it.

        Returns:
            A :class:`PropagationJob`: ``wait()``, ``result()``, ``cancel()``, ``progress``.
        """
        with self._lock:
            self._check_idle("start another propagation")
            self.pause()
            job = PropagationJob(self.session, direction, self.frame, self._on_propagated, self._on_propagation_done)
            self._job = job
            self._busy_what = "propagating"
            self.busy = True
            self.propagation_bar.running(True)
            self.propagation_bar.set_progress(0, 1, "starting…")
            self._say(f"propagating {direction} from frame {self.frame}… (Esc or Cancel to stop)")
        return job.start()

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
        """Stop a running propagation after its current frame (frames done so far are kept), or a people job."""
        for job in (self._job, self._task):
            if job is not None and not job.done:
                job.cancel()
                self._say("cancelling…")

    def escape(self) -> None:
        """Cancel a job, stop playing, drop a drag in progress, or go back to point clicks."""
        if self.busy:
            self.cancel()
        elif self.playing:
            self.pause()
        elif self._press is not None:
            self._press = None
            self.canvas.clear_interaction()
        elif self.tool != "points":
            self.tool = "points"

    def _on_propagated(self, result: FrameResult) -> None:
        job = self._job
        with self._lock:
            now = time.perf_counter()
            follow = job is not None and job.follow
            if (follow or result.frame == self.frame) and self.canvas.ready(self.max_in_flight):
                with drawing():  # frame, cursor and slider move together
                    if follow and result.frame != self.frame:
                        self._quiet_frame = True
                        try:
                            self.frame = result.frame
                        finally:
                            self._quiet_frame = False
                    self._draw(dict(result.masks), frame=result.frame)
            else:
                self.stats.count("stream_skipped")
            if now - self._last_ui >= 0.1:
                self._last_ui = now
                prog = self.session.progress
                self.propagation_bar.set_progress(prog.done, prog.total, f"{prog.done}/{prog.total}")
            if now - self._last_timeline >= 0.25:
                self._last_timeline = now
                self._refresh_timeline()

    def _on_propagation_done(self, job: PropagationJob, error: BaseException | None) -> None:
        with self._lock:
            prog = self.session.progress
            self.busy = False
            self.propagation_bar.running(False)
            self.propagation_bar.set_progress(prog.done, prog.total, f"{prog.done}/{prog.total}")
            self._refresh_all()
            what = f"propagated {job.direction} from frame {job.start_frame}: {prog.done}/{prog.total} frames"
            if error is not None:
                self.show_error(f"{what}, then failed: {error}")
            elif job.cancelled and prog.done < prog.total:
                self._say(f"{what} (cancelled; those frames are kept, z undoes them all)")
            else:
                self._say(f"{what} (z undoes it)")

    @property
    def job(self) -> PropagationJob | None:
        """The running or last propagation."""
        return self._job

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop workers, close every widget; closes the session if this annotator created it."""
        self._player.stop(wait=True)
        task = self._task
        if task is not None and not task.done:
            task.cancel()
            task.wait(10)
        job = self._job  # read after the task: seeding a region ends by starting a propagation
        if job is not None and not job.done:
            job.cancel()
            job.wait(10)
        for w in (self.mouse_events, self.mouse_move_events, self.key_events):
            w.close()
        self.canvas.close()
        self.timeline.close()
        # close every descendant: a live box that refers to a closed widget breaks restoring the
        # notebook's widgets after a page reload
        stack = list(self.children)
        while stack:
            w = stack.pop()
            stack.extend(getattr(w, "children", ()))
            w.close()
        super().close()
        if self._own_session:
            self.session.close()

    def __repr__(self) -> str:
        return (
            f"VideoAnnotator(frames={self.num_frames}, display={self.geometry.display_size}, "
            f"frame={self.frame}, objects={[o.obj_id for o in self.session.project.objects()]})"
        )
