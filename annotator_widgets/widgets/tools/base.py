"""What a tool of the annotator is: one small class that owns its buttons, traits, events and keys.

A tool turns what the user does on the video (a click, a drag, a key) into session
calls. The annotator (the *host*) composes its tools from a list, shows each tool's
bar, lets one tool be the active one (the picker in the toolbar, or the tool's own
key), and routes events: a click or a drag goes to the active tool, and to the first
tool (the base tool, ``points``) when the active one does not handle it; a key goes
to the annotator's own shortcuts, then to the active tool, then to the others.

A tool uses only the host's public API (:class:`ToolHost`): the session, the current
frame and object, the status line, the lock, jobs. Writing one is one file plus one
registration (kind ``"tool"`` in :mod:`annotator_widgets.registry`, or an entry point
``annotator_widgets.tool``)::

    class StampTool(Tool):
        name = "stamp"
        tooltip = "a click stamps a box"
        shortcuts = (Shortcut(("x",), "toggle", "stamp clicks on / off"),)

        def on_click(self, x, y, *, button=0, shift=False):
            self.host.session.add_box(self.host.frame, self.host.ensure_object(), (x - 8, y - 8, x + 8, y + 8))
            self.host.refresh("stamped")
            return True

    registry.register("tool", "stamp", StampTool)
    VideoAnnotator(session, tools=["points", "stamp"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import traitlets

from ...errors import BackendError
from ..keys import Shortcut

if TYPE_CHECKING:
    from ...session import AnnotationSession
    from ...view import FrameView
    from ..canvas import FrameCanvas
    from ..jobs import PropagationJob, TaskJob
    from ..stats import Stats
    from ..timeline import Timeline

__all__ = ["Tool", "ToolHost"]


class ToolHost(Protocol):
    """The annotator as its tools see it (the public API of :class:`~annotator_widgets.widgets.VideoAnnotator`)."""

    session: AnnotationSession
    canvas: FrameCanvas
    timeline: Timeline
    stats: Stats
    frame: int
    current_object: int | None
    busy: bool
    playing: bool
    tool: str

    @property
    def lock(self) -> threading.RLock:
        """Held around every change to widget state (re-entrant)."""
        ...

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools by name; the first is the base tool."""
        ...

    def say(self, message: str) -> None:
        """Show a message in the status line (clearing an error)."""
        ...

    def show_error(self, message: str) -> None:
        """Show an error in the status line."""
        ...

    def guard(self, fn: Any, what: str) -> Any:
        """Wrap a callback so its errors go to the status line."""
        ...

    def check_idle(self, what: str) -> None:
        """Raise if a propagation or a task is running."""
        ...

    def ensure_object(self) -> int:
        """The current object's id (a new object if there is none)."""
        ...

    def refresh(self, message: str | None = None, *, masks: dict[int, np.ndarray] | None = None) -> None:
        """Re-read the objects, the timeline and the frame from the session (``masks`` drawn instead of the stored)."""
        ...

    def run_task(self, what: str, work: Callable[[TaskJob], Any], finish: Callable[[Any], str | None]) -> TaskJob:
        """Run ``work(job)`` in a worker thread with progress, Cancel and Esc; ``finish(result)`` runs after it."""
        ...

    def show_streamed(self, result: Any) -> None:
        """From a task's worker: show a frame it streamed (a ``FrameResult``) as a propagation shows its frames."""
        ...

    def propagate(self, direction: Any = "forward") -> PropagationJob:
        """Propagate every prompted object from the current frame in a worker thread."""
        ...

    def observe(self, handler: Any, names: Any = ...) -> None:
        """traitlets' observe on the host's traits (``frame``, ``busy``, ``tool``, ...)."""
        ...


class Tool(traitlets.HasTraits):
    """Base class of the annotator's tools (subclass it; override what the tool handles).

    Class attributes:
        name: The tool's name (the picker shows it; ``host.tool`` holds the active one's).
        tooltip: The picker's tooltip.
        hint: The status line's text when the tool becomes active.
        cursor: CSS cursor over the video while the tool is active.
        shortcuts: Keys -> methods of the tool (help and README included).
        mouse_help: ``(gesture, meaning)`` pairs for the help panel.

    Attributes:
        widget: The tool's bar (built by :meth:`build` when attached), or None.
    """

    name: ClassVar[str] = ""
    tooltip: ClassVar[str] = ""
    hint: ClassVar[str] = ""
    cursor: ClassVar[str] = "crosshair"
    shortcuts: ClassVar[tuple[Shortcut, ...]] = ()
    mouse_help: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._host: ToolHost | None = None
        self.widget: Any = None

    # ------------------------------------------------------------------ life
    @property
    def host(self) -> ToolHost:
        """The annotator this tool belongs to."""
        if self._host is None:
            raise BackendError(f"the {self.name or type(self).__name__} tool is not part of an annotator yet")
        return self._host

    @property
    def attached(self) -> bool:
        """True once the tool belongs to an annotator."""
        return self._host is not None

    def attach(self, host: ToolHost) -> None:
        """Join an annotator: remember it and build the tool's bar (:meth:`build`)."""
        if self._host is not None and self._host is not host:
            raise BackendError(
                f"the {self.name} tool already belongs to an annotator",
                hint="give every annotator its own tool instances (or pass tool names)",
            )
        self._host = host
        self.widget = self.build()

    def build(self) -> Any:
        """Make the tool's widgets and wire them to the host; returns its bar or None."""
        return None

    def close(self) -> None:
        """Close the tool's widgets."""
        stack = [self.widget] if self.widget is not None else []
        while stack:
            w = stack.pop()
            stack.extend(getattr(w, "children", ()))
            w.close()
        self.widget = None

    # ------------------------------------------------------------------ events (True = handled)
    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        """A click at video pixel ``(x, y)`` (``button`` 0 left, 2 right; ``shift`` held)."""
        return False

    def on_drag(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """A finished drag from ``(x0, y0)`` to ``(x1, y1)``, video pixels."""
        return False

    def on_key(self, key: str) -> bool:
        """A key (as :func:`~annotator_widgets.widgets.keys.key_name` names it): calls the bound method."""
        action = self.action_for(key)
        if action is None:
            return False
        getattr(self, action)()
        return True

    def action_for(self, key: str) -> str | None:
        """The method one of :attr:`shortcuts` binds to ``key``, or None."""
        return next((s.action for s in self.shortcuts if s.matches(key)), None)

    #: True for a tool that draws its own picture of the frame while active (:meth:`picture`)
    draws_picture: bool = False

    def picture(self, view: FrameView, rgb: np.ndarray) -> np.ndarray | None:
        """While this tool is the active one: its own picture of the frame (video size), drawn instead of the
        annotated frame (e.g. an effect preview), or None for the usual drawing."""
        return None

    def on_refresh(self) -> None:
        """The annotator re-read the session (after an edit, an undo, a job): update what the tool shows."""

    def drag_color(self) -> tuple[int, int, int] | None:
        """Colour of the rubber band while dragging with this tool active (None: the current object's)."""
        return None

    def activate(self) -> None:
        """The tool became the active one."""
        if self.hint:
            self.host.say(self.hint)

    def deactivate(self) -> None:
        """Another tool became the active one."""

    # ------------------------------------------------------------------ helpers
    def toggle(self) -> None:
        """Make this tool the active one, or go back to the base tool if it already is."""
        base = next(iter(self.host.tools))
        self.host.tool = base if self.host.tool == self.name else self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
