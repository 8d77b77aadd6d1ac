"""The video annotator: canvas, timeline, controls and tools wired to an :class:`AnnotationSession`.

The annotator owns the frame, the current object, navigation, playback, undo,
propagation and the status line; its *tools* (:mod:`.tools`: points, person,
region by default) own what clicks, drags and their keys do. It draws what the
session's :class:`~annotator_widgets.view.FrameView` and timeline say, and never
reads the project itself.

Threading: browser events arrive on the kernel's shell thread; propagation, tasks
and playback run in worker threads (:mod:`.jobs`). Every change to widget state or
the canvas goes through one re-entrant lock per annotator (:attr:`VideoAnnotator.lock`,
and one lock around the process-wide ipycanvas batch), so updates from any thread are
serialised. Every callback is wrapped: an exception becomes a red status line, never a
dead widget or a lost kernel. Public methods raise as usual when called from code.

Example:
    >>> from annotator_widgets.widgets import VideoAnnotator
    >>> from annotator_widgets.data import synthetic_clip
    >>> clip = synthetic_clip(num_frames=4, size=(96, 64), num_objects=1)
    >>> ann = VideoAnnotator.from_video(clip.frames, segmenter="classic")
    >>> y, x = np.argwhere(clip.masks[1][0]).mean(axis=0)
    >>> sorted(ann.click(x, y))
    [1]
    >>> [(p.obj_id, len(p.points)) for p in ann.session.prompts(0)], list(ann.tools)
    ([(1, 1)], ['points', 'person', 'region', 'text', 'captions', 'effects', 'export', 'actions'])
    >>> ann.close()
"""

from __future__ import annotations

import functools
import html
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import traitlets

from ..errors import AnnotatorError, BackendError, PromptError
from ..render import Renderer
from ..session import AnnotationSession
from ..view import ObjectTimeline
from ._deps import enable_colab, ipyevents
from ._deps import ipywidgets as ipw
from .actions import AnnotatorActions
from .canvas import FrameCanvas, Mode
from .controls import Navigation, ObjectPanel, PropagationBar, Toolbar
from .geometry import Geometry
from .jobs import Player, PropagationJob, TaskJob
from .keys import key_name
from .landing import Preparer
from .pointer import Pointer
from .readahead import ReadAhead
from .running import JobActions
from .shortcuts import action_for, help_text
from .stats import Stats
from .timeline import Timeline
from .tools import Tool, make_tools

__all__ = ["VideoAnnotator"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: the annotators from_video made, by resolved project path (a cell run again replaces its annotator)
_BY_PROJECT: weakref.WeakValueDictionary[Path, VideoAnnotator] = weakref.WeakValueDictionary()


class VideoAnnotator(AnnotatorActions, JobActions, ipw.VBox):  # type: ignore[name-defined]
    """Annotate a video in Jupyter: click for points, drag for boxes, propagate, review on the timeline.

    Tools (:mod:`.tools`) decide what a click, a drag and their keys do: the base tool
    ``points`` adds points and boxes; in ``person`` mode a click selects (or tracks) the
    person under it; in ``region`` mode a drag seeds every person meeting the rectangle.

    Args:
        session: The session to drive (its project receives every prompt and mask).
        tools: The tools, as ``"tool"`` registry names, Tool classes or instances (default
            ``("points", "person", "region")``; ``points`` is always there, first).
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
    opacity = traitlets.Float(0.5, help="mask fill opacity 0..1")
    playing = traitlets.Bool(False, help="kernel-side playback running")
    busy = traitlets.Bool(False, help="a propagation or a task (tracking people, seeding) is running")
    status = traitlets.Unicode("", help="the status line")
    error = traitlets.Unicode("", help="the last error shown, '' after a success")
    tool = traitlets.Unicode("points", help="the active tool: what a plain click or drag on the video does")

    def __init__(
        self,
        session: AnnotationSession,
        *,
        tools: Sequence[Any] | None = None,
        max_display_side: int = 960,
        low_score: float = 0.5,
        fps: float | None = None,
        mode: Mode = "composite",
        jpeg_quality: int = 75,
        renderer: Renderer | None = None,
        **kwargs: Any,
    ) -> None:
        enable_colab()
        parts = make_tools(tools)
        for t in parts:
            if t.attached:
                raise BackendError(
                    f"the {t.name} tool already belongs to an annotator",
                    hint="give every annotator its own tool instances (or pass tool names)",
                )
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
        self._tools = {t.name: t for t in parts}
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
        self._finishing = False
        self._quiet_frame = False
        self._last_ui = 0.0
        self._last_timeline = 0.0
        self._task_follow = False  # the canvas follows the frames a task streams (until the user navigates)
        self._shown_revision: object = None  # the session's revision the display was last read at (catch_up)
        self._masks_opacity = 0.5
        self._nav_synced_at = float("-inf")
        #: updates that may wait in the browser during playback and propagation before frames are dropped
        self.max_in_flight = 2
        #: updates in flight during playback; None: sized from the measured round trip (``play_window()``)
        self.play_in_flight: int | None = None
        #: while playing, the browser answers every n-th frame; None: one less than the window (``ack_every()``)
        self.play_ack_every: int | None = None
        self._syncing_slider = False
        self._rows: list[ObjectTimeline] = []
        self._loop = False
        self._played_early_by = 0  # playback showed a frame read ahead this many frames before its time
        self._play_steps: deque[int] = deque(maxlen=4)  # the playback loop's latest steps (frames)
        self._own_session = False
        #: prepares the frame the user lands on in a background worker. The segmenters prepare its next
        #: neighbour themselves, within a small cache (2 frames by default): asking here for neighbours too, or
        #: skipping frames prepared a while ago, would have the landed frame evicted or not prepared again
        self.preparer = Preparer(session, self.num_frames, neighbours=0, remember=1)
        #: decodes the next frames during playback, beside the loop
        self.read_ahead = ReadAhead(self._read_ahead_frame)
        self._ahead_video: Any = None  # the read-ahead's own decoder (video files), opened on first use
        self._build(mode, jpeg_quality, low_score)
        self._wire()
        self.opacity = self._renderer_base.opacity
        self._warm_up()
        self.refresh(
            f"{self.num_frames} frames, {session.video.width}x{session.video.height}: click an object to start"
        )
        self.preparer.land(self.frame)

    @classmethod
    def from_video(cls, video: Any, project: Any = None, segmenter: Any = "auto", **kwargs: Any) -> VideoAnnotator:
        """Open ``video`` in a new :class:`AnnotationSession` and annotate it.

        Running it again on the same project path in the same kernel (a notebook cell run twice) closes the
        annotator the earlier run made, which holds the project's write lock; its work is all stored.

        Args:
            video: Anything :func:`~annotator_widgets.open_video` accepts.
            project: A Project, a path, or None for a temporary project.
            segmenter: A segmenter instance or name (``"auto"``, ``"classic"``, ...).
            **kwargs: Passed to the constructor.
        """
        key = Path(project).expanduser().resolve() if isinstance(project, (str, os.PathLike)) else None
        earlier = _BY_PROJECT.get(key) if key is not None else None
        if earlier is not None and earlier._own_session:
            # the cell was run again: the earlier annotator holds the project's write lock (every change it made
            # is stored), so it goes, and the new one shows the same work; else the run failed with a ProjectError
            log.info("closing the earlier annotator of %s (made by from_video in this kernel)", key)
            earlier.close()
        session = AnnotationSession(video, project=project, segmenter=segmenter)
        try:
            ann = cls(session, **kwargs)
        except BaseException:
            session.close()
            raise
        ann._own_session = True
        if key is not None:
            _BY_PROJECT[key] = ann
        return ann

    def _warm_up(self) -> None:
        """Load the overlay code paths (supervision's labels) now rather than on the first click."""
        img = np.zeros((16, 16, 3), np.uint8)
        mask = np.zeros((16, 16), bool)
        mask[4:12, 4:12] = True
        self._renderer.annotate(img, {1: mask})

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools by name, in order; the first (``points``) is the base tool."""
        return MappingProxyType(self._tools)

    @property
    def lock(self) -> threading.RLock:
        """The re-entrant lock held around every change to the widget's state (tools take it too)."""
        return self._lock

    # ------------------------------------------------------------------ layout
    def _build(self, mode: Mode, jpeg_quality: int, low_score: float) -> None:
        tools = list(self._tools.values())
        cursors = {t.name: t.cursor for t in tools}
        self.canvas = FrameCanvas(self.geometry, self.stats, mode=mode, jpeg_quality=jpeg_quality, cursors=cursors)
        self.timeline = Timeline(self.num_frames, self.geometry.display_size[0], low_score=low_score)
        self.objects_panel = ObjectPanel()
        self.toolbar = Toolbar([(t.name, t.tooltip) for t in tools], help_text(tools), help_text(tools, html=True))
        self.propagation_bar = PropagationBar()
        self.navigation = Navigation(self.num_frames)
        self.status_line = ipw.HTML("", layout=ipw.Layout(min_height="1.6em"))
        self.status_line.add_class("aw-status")
        self.stage = ipw.VBox(
            [self.canvas.surface, self.timeline.widget, self.navigation.widget, self.canvas.style],
            layout=ipw.Layout(width=f"{self.geometry.display_size[0] + 4}px", max_width="100%"),
        )
        for t in tools:
            t.attach(self)
        self.children = [
            self.toolbar.widget,
            self.toolbar.help_panel,
            ipw.HBox([self.stage, self.objects_panel.widget]),
            self.propagation_bar.widget,
            # right under the video and the progress: below the tools' bars (8 of them by default) it was
            # ~700 px under the canvas, out of view when the video is in view, and errors went unseen
            self.status_line,
            *[t.widget for t in tools if t.widget is not None],
        ]
        self.add_class("aw-annotator")
        # mouse input (ipyevents on the surface): ``ann.mouse_events._dom_handlers(event)`` feeds an event
        self.pointer = Pointer(self)
        self.mouse_events, self.mouse_move_events = self.pointer.events, self.pointer.move_events
        # keys while the pointer is over the stage (not the object panel, whose text fields need typing)
        self.key_events = ipyevents.Event(
            source=self.stage,
            watched_events=["keydown"],
            ignore_modifier_key_events=True,
            prevent_default_action=True,
        )

    def _wire(self) -> None:
        # frame -> slider by hand (throttled while playing: every slider update is a message); slider -> frame
        self.navigation.slider.observe(self.guard(self._on_slider, "seeking"), names=["value"])
        traitlets.link((self, "opacity"), (self.toolbar.opacity, "value"))
        traitlets.link((self, "playing"), (self.navigation.play, "value"))
        traitlets.link((self, "tool"), (self.toolbar.tool, "value"))
        self.observe(self.guard(self._on_frame, "showing the frame"), names=["frame"])
        self.observe(self.guard(self._on_opacity, "changing opacity"), names=["opacity"])
        self.observe(self.guard(self._on_playing, "playing"), names=["playing"])
        self.observe(self.guard(self._on_current, "selecting the object"), names=["current_object"])
        self.observe(self.guard(self._on_tool, "changing the tool"), names=["tool"])
        self.observe(self._on_status, names=["status", "error"])
        self.observe(self.guard(self._on_busy, "preparing the frame"), names=["busy"])
        self.mouse_events.on_dom_event(self.guard(self._on_mouse, "handling the click"))
        self.mouse_move_events.on_dom_event(self.guard(self.pointer.handle, "handling the drag"))
        self.key_events.on_dom_event(self.guard(self._on_key, "handling the key"))
        self.canvas.on_client_ready(self.guard(self.redraw, "redrawing after a reconnect"))
        self.timeline.on_seek(self.guard(self.seek, "seeking"))
        self._player = Player(
            self.guard(self._play_step, "playing"),
            self.num_frames,
            self._wait_for_client,
            self.guard(self.pause, "stopping"),
        )
        self.canvas.surface.add_class(f"aw-tool-{self.tool}")
        tb, pb, nav, op = self.toolbar, self.propagation_bar, self.navigation, self.objects_panel
        buttons: list[tuple[Any, Callable[[], Any], str]] = [
            (tb.undo, self.undo, "undo"),
            (tb.redo, self.redo, "redo"),
            (pb.forward, self.propagate_forward, "propagating"),
            (pb.backward, self.propagate_backward, "propagating"),
            (pb.both, self.propagate_both, "propagating"),
            (pb.cancel, self.cancel, "cancelling"),
            (nav.prev, self.prev_frame, "navigating"),
            (nav.next, self.next_frame, "navigating"),
            (nav.prev_prompted, self.prev_prompted, "navigating"),
            (nav.next_prompted, self.next_prompted, "navigating"),
        ]
        for widget, action, what in buttons:
            widget.on_click(self.guard(lambda _b, _a=action: _a(), what))

        def add(name: str, category: str) -> None:
            self.add_object(name, category)

        def rename(name: str, category: str) -> None:
            if self.current_object is None:
                raise PromptError("no current object to rename", hint="pick one in the list (or press 1..9) first")
            self.rename_object(self.current_object, name, category)

        op.on_add = self.guard(add, "adding the object")
        op.on_rename = self.guard(rename, "renaming the object")
        op.on_select = self.guard(self.select_object, "selecting the object")
        op.on_hide = self.guard(self.hide_object, "hiding the object")
        op.on_remove = self.guard(self.remove_object, "removing the object")
        op.on_color = self.guard(self.set_color, "changing the colour")

    # ------------------------------------------------------------------ errors and status
    def guard(self, fn: F, what: str) -> F:
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

    def say(self, message: str) -> None:
        """Show a message in the status line (clearing the last error)."""
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
        view = self.session.view(f, low_score=self.low_score)
        tool = self._tools[self.tool]
        if masks is None and tool.draws_picture:  # e.g. the effect preview: the tool's own picture of the frame
            picture = tool.picture(view, self.session.video.frame(f))
            if picture is not None:
                return self.canvas.show_image(f, picture)
        # decoded only if the display-size frame is not cached (read ahead during playback)
        return self.canvas.show(view, lambda: self.session.video.frame(f), self._renderer, masks=masks)

    def _refresh_timeline(self) -> None:
        self._rows = self.session.timeline()
        self.timeline.update(self._rows)

    def refresh(self, message: str | None = None, *, masks: dict[int, np.ndarray] | None = None) -> None:
        """Read everything again from the session: objects, timeline and the frame (``masks`` drawn if given)."""
        with self._lock:
            revision = self.session.revision  # read first: a write made meanwhile is seen next time
            objects = self.session.objects
            ids = [o.obj_id for o in objects]
            if self.current_object not in ids:
                self.current_object = ids[-1] if ids else None
            self.objects_panel.refresh(objects, self.current_object)
            self._rows = self.session.timeline()
            self._draw(masks)
            self.timeline.update(self._rows)
            self.timeline.set_cursor(self.frame)
            for tool in self._tools.values():
                tool.on_refresh()
            self._shown_revision = revision
            if message is not None:
                self.say(message)

    def _on_mouse(self, event: dict[str, Any]) -> None:
        if event.get("type") == "mouseenter":
            self.catch_up()
        else:
            self.pointer.handle(event)

    def catch_up(self) -> bool:
        """Refresh if the project changed since this annotator last read it (another annotator on the session,
        or code in a cell); called when the pointer enters the video. Returns whether it refreshed."""
        with self._lock:
            if self.busy or self.playing or self.session.busy:
                return False
            if self.session.revision == self._shown_revision:
                return False
            self.refresh()
            return True

    # ------------------------------------------------------------------ observers
    @traitlets.validate("frame")
    def _valid_frame(self, proposal: dict[str, Any]) -> int:
        return min(max(int(proposal["value"]), 0), self.num_frames - 1)

    @traitlets.validate("tool")
    def _valid_tool(self, proposal: dict[str, Any]) -> str:
        name = str(proposal["value"])
        if name not in self._tools:
            raise PromptError("unknown click tool", given=name, hint=f"use one of {list(self._tools)}")
        return name

    def _on_tool(self, change: dict[str, Any]) -> None:
        with self._lock:
            surface = self.canvas.surface
            surface.remove_class(f"aw-tool-{change['old']}")
            surface.add_class(f"aw-tool-{change['new']}")
            self._tools[change["old"]].deactivate()
            self._tools[change["new"]].activate()

    def _on_current(self, change: dict[str, Any]) -> None:
        with self._lock:
            self.objects_panel.refresh(self.session.objects, change["new"])

    # ------------------------------------------------------------------ keys
    @property
    def dragging(self) -> bool:
        """True while a box is being dragged on the canvas (its rubber band is shown)."""
        return self.pointer.dragging

    def _on_key(self, event: dict[str, Any]) -> None:
        key = str(event.get("key", ""))
        self.press(
            key, shift=bool(event.get("shiftKey")), ctrl=bool(event.get("ctrlKey")), meta=bool(event.get("metaKey"))
        )

    def press(self, key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str | None:
        """Act on a key as the keyboard shortcuts do (see the ``?`` button); returns the action's name.

        The annotator's own keys come first, then the active tool's, then the other tools'
        (a tool's action is named ``"<tool>.<method>"``).
        """
        action = action_for(key, shift=shift, ctrl=ctrl, meta=meta)
        if action == "select_nth":
            self.select_nth(int(key))
            return action
        if action is not None:
            getattr(self, action)()
            return action
        name = key_name(key, shift=shift, ctrl=ctrl, meta=meta)
        active = self._tools[self.tool]
        for tool in [active, *(t for t in self._tools.values() if t is not active)]:
            if tool.on_key(name):
                return f"{tool.name}.{tool.action_for(name) or name}"
        return None

    # ------------------------------------------------------------------ prompting (the base tool's verbs)
    def click(self, x: float, y: float, label: int | None = None) -> dict[int, np.ndarray]:
        """Add a point at video pixel ``(x, y)`` for the current object (the points tool's click).

        Args:
            x: Column in video pixels.
            y: Row in video pixels.
            label: 1 positive, 0 negative; default: the points tool's toggle.

        Returns:
            ``{obj_id: mask}`` of every object on this frame (full video resolution).
        """
        return self._tools["points"].click(x, y, label)  # type: ignore[attr-defined]

    def drag_box(self, x0: float, y0: float, x1: float, y1: float) -> dict[int, np.ndarray]:
        """Prompt the current object with the box between two corners (the points tool's drag)."""
        return self._tools["points"].drag_box(x0, y0, x1, y1)  # type: ignore[attr-defined]

    def current_color(self) -> tuple[int, int, int]:
        """The current object's colour (white without one): a drag's rubber band."""
        oid = self.current_object
        info = next((o for o in self.session.objects if o.obj_id == oid), None) if oid is not None else None
        return info.color if info is not None else (255, 255, 255)

    def ensure_object(self) -> int:
        """The current object's id; a new object (made current) when there is none."""
        oid = self.current_object
        if oid is not None and any(o.obj_id == oid for o in self.session.objects):
            return oid
        return self.add_object().obj_id

    def check_idle(self, what: str) -> None:
        """Raise :class:`~annotator_widgets.errors.BackendError` saying what runs, if a job runs."""
        if self.busy and not self._finishing:
            raise BackendError(
                f"cannot {what} while {self._busy_what}",
                given=self._job if self._busy_what == "propagating" else self._task,
                hint="wait until it finishes or press Cancel (Esc)",
            )

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop workers, close every widget; closes the session if this annotator created it."""
        if not hasattr(self, "_player"):  # construction failed half-way (also reached from __del__)
            super().close()
            return
        self._player.stop(wait=True)
        self.read_ahead.close()
        if self._ahead_video is not None:
            self._ahead_video.close()
        self.preparer.close()
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
        for tool in self._tools.values():
            tool.close()
        # close every descendant: a live box that refers to a closed widget breaks restoring the
        # notebook's widgets after a page reload
        stack = list(self.children)
        while stack:
            w = stack.pop()
            stack.extend(getattr(w, "children", ()))
            w.close()
        super().close()
        for key, ann in list(_BY_PROJECT.items()):
            if ann is self:
                _BY_PROJECT.pop(key, None)
        if self._own_session:
            self.session.close()

    def __repr__(self) -> str:
        return (
            f"VideoAnnotator(frames={self.num_frames}, display={self.geometry.display_size}, "
            f"frame={self.frame}, tool={self.tool!r}, objects={[o.obj_id for o in self.session.objects]})"
        )
