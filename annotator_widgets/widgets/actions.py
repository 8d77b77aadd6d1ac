"""The annotator's verbs besides prompting: objects, editing, navigation and playback.

Each is a public method of :class:`~annotator_widgets.widgets.VideoAnnotator` (this is
its mixin); the buttons and keyboard shortcuts call the same methods.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from ..errors import PromptError
from ..types import ObjectInfo
from .timeline import LOW, TimelineRow, timeline_rows

if TYPE_CHECKING:
    from ..session import AnnotationSession
    from .canvas import FrameCanvas
    from .controls import ObjectPanel

__all__ = ["AnnotatorActions"]


class AnnotatorActions:
    """Objects, editing, navigation and playback verbs (mixed into ``VideoAnnotator``)."""

    if TYPE_CHECKING:  # provided by VideoAnnotator
        session: AnnotationSession
        canvas: FrameCanvas
        objects_panel: ObjectPanel
        frame: int
        current_object: int | None
        point_label: int
        opacity: float
        playing: bool
        num_frames: int
        fps: float
        low_score: float
        max_in_flight: int
        _lock: threading.RLock
        _loop: bool
        _masks_opacity: float

        def _refresh_all(self, message: str | None = None) -> None: ...
        def _say(self, message: str) -> None: ...
        def _check_idle(self, what: str) -> None: ...
        def _ensure_object(self) -> int: ...

    # ------------------------------------------------------------------ objects
    def add_object(self, name: str = "", category: str = "") -> ObjectInfo:
        """Create an object (fresh id) and make it the current one."""
        with self._lock:
            info = self.session.add_object(name=name or "", category=category or "")
            self.objects_panel.name.value = ""
            self.current_object = info.obj_id
            self._refresh_all(f"new object {info.label}: click it in the video")
            return info

    def select_object(self, obj_id: int) -> None:
        """Make ``obj_id`` the current object."""
        with self._lock:
            info = self.session.project.object(obj_id)
            self.current_object = info.obj_id
            self._say(f"current object: {info.label}")

    def select_nth(self, n: int) -> None:
        """Make the n-th object (1-based, in id order) the current one."""
        objects = self.session.project.objects()
        if not 1 <= n <= len(objects):
            raise PromptError(f"there are {len(objects)} objects", given=n, hint="press 1..9 for an existing one")
        self.select_object(objects[n - 1].obj_id)

    def new_object(self) -> ObjectInfo:
        """Create an unnamed object and make it current (the ``n`` key)."""
        return self.add_object()

    def hide_object(self, obj_id: int, hidden: bool = True) -> None:
        """Hide (or show) an object's masks and points."""
        with self._lock:
            self.session.project.update_object(obj_id, hidden=bool(hidden))
            self._refresh_all(f"object {obj_id} {'hidden' if hidden else 'shown'}")

    def toggle_hidden(self) -> None:
        """Hide or show the current object."""
        oid = self._ensure_object()
        self.hide_object(oid, not self.session.project.object(oid).hidden)

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
            self.session.project.update_object(obj_id, color=rgb)
            self._refresh_all(f"object {obj_id} recoloured")

    def remove_object(self, obj_id: int) -> None:
        """Delete an object with its prompts and masks (undoable)."""
        with self._lock:
            self._check_idle("remove an object")
            self.session.remove_object(obj_id)
            if self.current_object == obj_id:
                self.current_object = None
            self._refresh_all(f"removed object {obj_id} (z to undo)")

    # ------------------------------------------------------------------ editing
    def undo(self) -> str | None:
        """Undo the latest step; returns its label."""
        with self._lock:
            self._check_idle("undo")
            label = self.session.undo()
            self._refresh_all(f"undone: {label}" if label else "nothing to undo")
            return label

    def redo(self) -> str | None:
        """Redo the latest undone step; returns its label."""
        with self._lock:
            self._check_idle("redo")
            label = self.session.redo()
            self._refresh_all(f"redone: {label}" if label else "nothing to redo")
            return label

    def clear_frame(self, obj_id: int | None = None) -> None:
        """Delete prompts and masks on the current frame (of one object, or of all when None)."""
        with self._lock:
            self._check_idle("clear the frame")
            self.session.clear_frame(self.frame, obj_id)
            who = f"object {obj_id}" if obj_id is not None else "every object"
            self._refresh_all(f"cleared {who} on frame {self.frame}")

    def clear_object_on_frame(self) -> None:
        """Clear the current object's prompts and mask on this frame (the ``c`` key)."""
        if self.current_object is None:
            raise PromptError("no object selected", hint="pick one in the object panel")
        self.clear_frame(self.current_object)

    def clear_all_on_frame(self) -> None:
        """Clear every object's prompts and masks on this frame (``C``)."""
        self.clear_frame(None)

    def toggle_label(self) -> None:
        """Switch plain clicks between positive and negative."""
        self.point_label = 1 - self.point_label
        self._say("clicks add " + ("positive" if self.point_label == 1 else "negative") + " points")

    def positive_mode(self) -> None:
        """Plain clicks add positive points."""
        self.point_label = 1
        self._say("clicks add positive points")

    def negative_mode(self) -> None:
        """Plain clicks add negative points."""
        self.point_label = 0
        self._say("clicks add negative points")

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
            self._say(f"no {'later' if forward else 'earlier'} {what}")
            return
        self.seek(min(cands) if forward else max(cands))

    def next_prompted(self) -> None:
        """The next frame that holds prompts."""
        self._jump(self.session.project.prompt_frames(), True, "frame with prompts")

    def prev_prompted(self) -> None:
        """The previous frame that holds prompts."""
        self._jump(self.session.project.prompt_frames(), False, "frame with prompts")

    def next_low_confidence(self) -> None:
        """The next frame where some object's mask is empty or scored below ``low_score``."""
        low: set[int] = set()
        for row in self.timeline_rows:
            low.update(np.flatnonzero(row.states(self.low_score) >= LOW).tolist())
        self._jump(sorted(low), True, "low-confidence frame")

    @property
    def timeline_rows(self) -> list[TimelineRow]:
        """What the timeline shows, fresh from the project."""
        return timeline_rows(self.session.project)

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

    def _wait_for_client(self) -> bool:
        return self.canvas.wait_for_client(max_in_flight=self.max_in_flight, timeout=0.5)

    def _play_step(self, frame: int) -> None:
        with self._lock:
            self.frame = frame
