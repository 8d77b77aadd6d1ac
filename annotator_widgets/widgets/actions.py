"""The annotator's own verbs: objects, undo, navigation and playback.

Each is a public method of :class:`~annotator_widgets.widgets.VideoAnnotator` (this is
its mixin); the buttons and keyboard shortcuts call the same methods. What clicks and
drags do belongs to the tools (:mod:`.tools`); propagation and tasks are in :mod:`.running`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BackendError, PromptError
from ..render import Renderer
from ..types import ObjectInfo
from ..view import LOW, ObjectTimeline
from .canvas import drawing

if TYPE_CHECKING:
    from ..session import AnnotationSession
    from .canvas import FrameCanvas
    from .controls import Navigation, ObjectPanel
    from .jobs import Player, PropagationJob
    from .landing import Preparer
    from .readahead import ReadAhead
    from .stats import Stats
    from .timeline import Timeline

__all__ = ["NAV_SYNC_S", "PLAY_VIEWS_AHEAD", "PLAY_WINDOW_LEAST", "PLAY_WINDOW_MAX", "AnnotatorActions"]

#: the most updates in flight during playback (each one more is a frame shown that much later)
PLAY_WINDOW_MAX = 8

#: the fewest updates allowed in flight during playback: a sized window swings with the shortest round trip, and
#: one of 2 would make the browser answer every frame (each answer costs the page and the kernel messages)
PLAY_WINDOW_LEAST = 4

#: the read-ahead reads the records of frames in blocks of this many (the block of the frame it decodes, one query
#: per kind of record for all of them); the views are kept until the project changes, so the next frames of the
#: block find theirs there
PLAY_VIEWS_AHEAD = 16

#: while playing, the slider, frame label and timeline cursor follow at most once per this many seconds
NAV_SYNC_S = 0.25

_now = time.perf_counter  # the clock of that throttle (tests freeze it)


class AnnotatorActions:
    """Objects, editing, navigation and playback verbs, and the observers of those traits (mixed into
    ``VideoAnnotator``)."""

    if TYPE_CHECKING:  # provided by VideoAnnotator
        session: AnnotationSession
        canvas: FrameCanvas
        objects_panel: ObjectPanel
        frame: int
        current_object: int | None
        opacity: float
        playing: bool
        num_frames: int
        fps: float
        low_score: float
        max_in_flight: int
        play_in_flight: int | None
        play_ack_every: int | None
        _lock: threading.RLock
        _loop: bool
        _played_early_by: int
        _play_steps: deque[int]
        busy: bool
        stats: Stats
        navigation: Navigation
        timeline: Timeline
        _masks_opacity: float
        _player: Player
        preparer: Preparer
        read_ahead: ReadAhead
        _ahead_video: Any
        _job: PropagationJob | None
        _busy_what: str
        _quiet_frame: bool
        _task_follow: bool
        _nav_synced_at: float
        _syncing_slider: bool
        _renderer: Renderer
        _renderer_base: Renderer

        def _draw(self, masks: dict[int, np.ndarray] | None = None, frame: int | None = None) -> int: ...

        def refresh(self, message: str | None = None, *, masks: dict[int, np.ndarray] | None = None) -> None: ...
        def say(self, message: str) -> None: ...
        def check_idle(self, what: str) -> None: ...
        def ensure_object(self) -> int: ...

    # ------------------------------------------------------------------ objects
    def add_object(self, name: str = "", category: str = "") -> ObjectInfo:
        """Create an object (fresh id) and make it the current one."""
        with self._lock:
            info = self.session.add_object(name=name or "", category=category or "")
            self.objects_panel.name.value = ""
            self.current_object = info.obj_id
            self.refresh(f"new object {info.label}: click it in the video")
            return info

    def rename_object(self, obj_id: int, name: str | None = None, category: str | None = None) -> ObjectInfo:
        """Give an object a new name and / or class (None or "" keeps that one): one undo step.

        Raises:
            PromptError: Neither a name nor a class given.
        """
        changes = {k: v for k, v in (("name", name), ("category", category)) if v}
        if not changes:
            raise PromptError(
                "nothing to rename with", given=f"object {obj_id}", hint="type a name and / or a class, then Rename"
            )
        with self._lock:
            info = self.session.update_object(obj_id, **changes)
            self.objects_panel.name.value = ""
            self.objects_panel.category.value = ""
            self.refresh(f"object {obj_id} is now {info.label!r} (class {info.category or 'none'}; z to undo)")
            return info

    def select_object(self, obj_id: int) -> None:
        """Make ``obj_id`` the current object."""
        with self._lock:
            info = self.session.object(obj_id)
            self.current_object = info.obj_id
            self.say(f"current object: {info.label}")

    def select_nth(self, n: int) -> None:
        """Make the n-th object (1-based, in id order) the current one."""
        objects = self.session.objects
        if not 1 <= n <= len(objects):
            raise PromptError(f"there are {len(objects)} objects", given=n, hint="press 1..9 for an existing one")
        self.select_object(objects[n - 1].obj_id)

    def new_object(self) -> ObjectInfo:
        """Create an unnamed object and make it current (the ``n`` key)."""
        return self.add_object()

    def hide_object(self, obj_id: int, hidden: bool = True) -> None:
        """Hide (or show) an object's masks and points."""
        with self._lock:
            self.session.update_object(obj_id, hidden=bool(hidden))
            self.refresh(f"object {obj_id} {'hidden' if hidden else 'shown'}")

    def toggle_hidden(self) -> None:
        """Hide or show the current object."""
        oid = self.ensure_object()
        self.hide_object(oid, not self.session.object(oid).hidden)

    def set_color(self, obj_id: int, color: tuple[int, int, int] | str) -> None:
        """Change an object's colour: ``(r, g, b)``, ``"#rrggbb"`` or a CSS colour name."""
        if isinstance(color, str):
            from PIL import ImageColor

            try:
                color = ImageColor.getrgb(color)[:3]
            except ValueError:
                raise PromptError("not a colour", given=color, hint="use '#rrggbb' or a name like 'orange'") from None
        rgb = tuple(int(v) for v in color)
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise PromptError("a colour is three values 0..255", given=color)
        with self._lock:
            self.session.update_object(obj_id, color=rgb)
            self.refresh(f"object {obj_id} recoloured")

    def remove_object(self, obj_id: int) -> None:
        """Delete an object with its prompts and masks (undoable)."""
        with self._lock:
            self.check_idle("remove an object")
            self.session.remove_object(obj_id)
            if self.current_object == obj_id:
                self.current_object = None
            self.refresh(f"removed object {obj_id} (z to undo)")

    # ------------------------------------------------------------------ editing
    def undo(self) -> str | None:
        """Undo the latest step; returns its label."""
        with self._lock:
            self.check_idle("undo")
            label = self.session.undo()
            self.refresh(f"undone: {label}" if label else "nothing to undo")
            return label

    def redo(self) -> str | None:
        """Redo the latest undone step; returns its label."""
        with self._lock:
            self.check_idle("redo")
            label = self.session.redo()
            self.refresh(f"redone: {label}" if label else "nothing to redo")
            return label

    def toggle_masks(self) -> None:
        """Masks off (opacity 0) or back on."""
        if self.opacity > 0:
            self._masks_opacity = self.opacity
            self.opacity = 0.0
        else:
            self.opacity = self._masks_opacity or 0.5

    # ------------------------------------------------------------------ navigation
    def seek(self, frame: int) -> None:
        """Show frame ``frame`` (clamped to the video); stops playback, as stepping through frames does."""
        if self.playing:
            self.pause()
        self.frame = min(max(int(frame), 0), self.num_frames - 1)

    def next_frame(self) -> None:
        """One frame forward."""
        self.seek(self.frame + 1)

    def prev_frame(self) -> None:
        """One frame back."""
        self.seek(self.frame - 1)

    def forward_10(self) -> None:
        """Ten frames forward."""
        self.seek(self.frame + 10)

    def back_10(self) -> None:
        """Ten frames back."""
        self.seek(self.frame - 10)

    def first_frame(self) -> None:
        """The first frame."""
        self.seek(0)

    def last_frame(self) -> None:
        """The last frame."""
        self.seek(self.num_frames - 1)

    def _jump(self, frames: list[int], forward: bool, what: str) -> None:
        cands = [f for f in frames if (f > self.frame if forward else f < self.frame)]
        if not cands:
            self.say(f"no {'later' if forward else 'earlier'} {what}")
            return
        self.seek(min(cands) if forward else max(cands))

    def next_prompted(self) -> None:
        """The next frame that holds prompts."""
        self._jump(self.session.prompt_frames(), True, "frame with prompts")

    def prev_prompted(self) -> None:
        """The previous frame that holds prompts."""
        self._jump(self.session.prompt_frames(), False, "frame with prompts")

    def next_low_confidence(self) -> None:
        """The next frame where some object's mask is empty or scored below ``low_score``."""
        low: set[int] = set()
        for row in self.timeline_rows:
            low.update(np.flatnonzero(row.states(self.low_score) >= LOW).tolist())
        self._jump(sorted(low), True, "low-confidence frame")

    @property
    def timeline_rows(self) -> list[ObjectTimeline]:
        """What the timeline shows, fresh from the session."""
        return self.session.timeline()

    # ------------------------------------------------------------------ playback
    def play(self, fps: float | None = None, *, loop: bool = False) -> None:
        """Play from the current frame in a kernel-side loop (frames are dropped, not queued, if the browser lags)."""
        if fps is not None:
            if fps <= 0:
                raise PromptError("fps must be positive", given=fps)
            self.fps = float(fps)
        self._loop = bool(loop)
        self.playing = True

    def pause(self) -> None:
        """Stop playing."""
        self.playing = False

    def toggle_play(self) -> None:
        """Play or pause."""
        if self.playing:
            self.pause()
        else:
            self.play()

    def play_window(self) -> int:
        """Updates that may wait in the browser during playback: ``play_in_flight`` if set, else sized from the
        measured round trip for the playback rate (:meth:`~.flow.AckChannel.window`), at least ``max_in_flight``
        and :data:`PLAY_WINDOW_LEAST` (room for answers every few frames: :meth:`ack_every`)."""
        if self.play_in_flight is not None:
            return max(1, int(self.play_in_flight))
        least = max(1, int(self.max_in_flight), PLAY_WINDOW_LEAST)
        return self.canvas.flow.window(self.fps, least=least, most=max(least, PLAY_WINDOW_MAX))

    def ack_every(self, window: int) -> int:
        """While playing, the browser answers every n-th frame only (:attr:`.flow.AckChannel.every`):
        ``play_ack_every`` if set, else one less than the window (1 for a window of 2), so that a frame that asked
        for an answer is always in flight when the loop waits; never more than the window (the loop would wait on
        frames that asked for nothing). Each answer costs the browser an encode and a message, and the kernel a
        decode and a busy/idle pair of status messages back to the page."""
        window = max(1, int(window))
        if self.play_ack_every is not None:
            return min(window, max(1, int(self.play_ack_every)))
        return max(1, window - 1)

    def _wait_for_client(self) -> bool:
        window = self.play_window()
        with self._lock:  # not after playback stopped: _on_playing restored answers to every batch
            if self.playing:
                self.canvas.flow.every = self.ack_every(window)
        return self.canvas.wait_for_client(max_in_flight=window, timeout=0.5)

    def _play_step(self, frame: int) -> None:
        n = self.num_frames
        previous = self.frame
        step = frame - previous if 0 < frame - previous <= n // 4 else 1
        canvas = self.canvas
        if not canvas.has_frame(frame) and previous < frame < n - 1:
            # the loop lags: a frame read ahead since the one shown is as good as this one (drop, don't wait;
            # the last frame, where playback stops, is always shown)
            ready = next((f for f in range(frame - 1, previous, -1) if canvas.has_frame(f)), None)
            if ready is not None:
                frame = ready
                self.stats.count("play_substituted")
        position = getattr(self._ahead_video, "position", None)  # where the read-ahead's file decoder is
        early_by, self._played_early_by = self._played_early_by, 0
        if not canvas.has_frame(frame) and position is not None and frame < position:
            # the decoder is past this frame (it guessed a longer step than the loop took) and nothing was read in
            # between: going back would decode again from the previous keyframe (in a clip with one keyframe, from
            # the start). Show the frame it read next if it is at most one step early; if the frame shown is
            # early already, keep it (a loop that wrapped around is further back: it goes back to the start).
            later = range(frame + 1, min(position, frame + step + 1))
            early = next((f for f in later if canvas.has_frame(f)), None)
            if previous < frame and early is not None:
                self.stats.count("play_early")
                self._played_early_by = early - frame
                frame = early
            elif frame < previous <= frame + early_by and canvas.has_frame(previous):
                self.stats.count("play_early")
                self._played_early_by = previous - frame
                frame = previous
        # read ahead where the loop lands next. A video decoder cannot go back without a seek (a decode from the
        # previous keyframe), so the stride is one less than the loop's: the worker lands at or before the
        # loop's next frame, and frames in between are skipped by the decoder without being converted or resized
        # the shortest of the latest steps: after a long wait (a late acknowledgement) the loop jumps, then walks
        # again; guesses at the jump's stride would put the decoder far past the next frames
        self._play_steps.append(step)
        stride = max(1, min(self._play_steps) - 1)
        ahead = [frame + stride * k for k in (1, 2, 3)]
        ahead = [f % n for f in ahead] if self._loop else [f for f in ahead if f < n]
        position = getattr(self._ahead_video, "position", None)
        if position is not None:
            # likewise a guess never sends the read-ahead's decoder back: a frame behind it is decoded again from the
            # previous keyframe (in a clip with one keyframe, from the start). The loop, lagging or jumping, lands
            # on a frame read ahead in between (substituted above) or asks for the one it needs below.
            ahead = [f for f in ahead if f >= position]
        if canvas.has_frame(frame):
            self.read_ahead.want(ahead)
        else:
            # the worker is the one decoder while playing: hand this frame to it (first in line; usually it is
            # being decoded already) and wait for it rather than decoding it a second time beside it
            self.read_ahead.want([frame, *ahead])
            if not self.read_ahead.wait_for(frame, timeout=5.0) and not canvas.has_frame(frame):
                self.stats.count("play_ahead_missed")  # the loop decodes it itself
        # one drawing batch for the frame and whatever follows it (timeline cursor, tools' frame observers): one
        # message and one browser recomposite per frame, all covered by the frame's acknowledgement
        with self._lock, drawing():
            self.frame = frame

    def _read_ahead_frame(self, frame: int) -> None:
        self._read_ahead_picture(frame)
        # the records of this frame's block of frames in one read (the session keeps the views until the project
        # changes: drawing this frame, the tools' observers and the block's next frames find them there). Blocks,
        # not the next frames: frames read ahead one after another would each read one more frame
        first = frame - frame % PLAY_VIEWS_AHEAD
        block = range(first, min(first + PLAY_VIEWS_AHEAD, self.num_frames))
        view = self.session.views(block, low_score=self.low_score)[frame]
        # the frame's stored masks at display size too (cached by content: an edit meanwhile is a new mask)
        for annotation in view.annotations.values():
            self.canvas.display_mask(annotation)

    def _read_ahead_picture(self, frame: int) -> None:
        if self.canvas.has_frame(frame):
            return
        video = self.session.video
        if getattr(video, "kind", "") == "file" and hasattr(video, "fork"):
            # a decoder of its own: sharing the session's would move its position under the playback loop
            if self._ahead_video is None:
                self._ahead_video = video.fork()
            rgb = self._ahead_video.frame(frame)
        else:
            rgb = video.frame(frame)
        self.canvas.display_frame(frame, rgb)

    def _sync_navigation(self, force: bool = False) -> None:
        """Move the slider, the frame label and the timeline cursor (at most 4 times a second while playing:
        each is a message or a canvas update in the browser; when playback stops they show the frame shown)."""
        now = _now()
        if self.playing and not force and now - self._nav_synced_at < NAV_SYNC_S:
            return
        self._nav_synced_at = now
        self.stats.count("nav_syncs")
        nav = self.navigation
        if self.timeline.cursor != self.frame:  # (unchanged slider and label values send nothing either)
            self.timeline.set_cursor(self.frame)
        self._syncing_slider = True
        try:
            nav.slider.value = self.frame
        finally:
            self._syncing_slider = False
        nav.label.value = f"{self.frame} / {self.num_frames - 1}"

    def _on_slider(self, change: dict[str, Any]) -> None:
        if not self._syncing_slider:
            self.seek(int(change["new"]))

    def _on_playing(self, change: dict[str, Any]) -> None:
        if change["new"]:
            if self.busy:
                self.playing = False
                raise BackendError(f"cannot play while {self._busy_what}", hint="wait for it or press Cancel")
            first = 0 if self.frame >= self.num_frames - 1 else self.frame
            self._play_steps.clear()
            # start decoding (and open the read-ahead's decoder) while the loop waits for its first frame's time
            self.read_ahead.want([f for f in range(first + 1, first + 4) if f < self.num_frames])
            self._player.start(first, self.fps, loop=self._loop)
        else:
            self._player.stop()
            with self._lock:
                # a frame the loop draws from now on asks for its answer; the last one drawn without asks now
                self.canvas.flow.every = 1
                self.canvas.flow.flush()
                self._sync_navigation(force=True)
            self._landed()
            p = self._player
            if p.shown:
                self.stats.add("play_fps", p.shown / max(time.perf_counter() - p.started, 1e-6))
                self.stats.count("play_dropped", p.dropped)

    def _on_frame(self, change: dict[str, Any]) -> None:
        with self._lock:
            job = self._job
            with drawing():  # the frame and the timeline cursor in one message
                if not self._quiet_frame:
                    if job is not None and not job.done:
                        job.follow = False  # the user navigates: stop following the propagation
                    self._task_follow = False  # ... or the frames a task streams
                    t0 = time.perf_counter()
                    self._draw()
                    self.stats.add("frame_ms", (time.perf_counter() - t0) * 1000)
                self._sync_navigation()
            if not self._quiet_frame and not self.playing:
                self._landed()

    def _landed(self) -> None:
        """The user stays on this frame: prepare it (and what comes next) unless a job uses the segmenter."""
        if not self.busy and not self.playing:
            self.preparer.land(self.frame)

    def _on_busy(self, change: dict[str, Any]) -> None:
        if not change["new"]:  # a propagation or a task ended: the frame shown is where the user is
            self._landed()

    def _on_opacity(self, change: dict[str, Any]) -> None:
        value = float(change["new"])
        if not 0.0 <= value <= 1.0:
            raise PromptError("opacity must be in 0..1", given=value)
        with self._lock:
            self._renderer = self._renderer_base.replace(opacity=value)
            self._draw()
