"""Mouse input on the video: presses, drags and releases turned into the tools' clicks and drags.

ipycanvas reports neither buttons nor modifiers, so the events come from ipyevents on
the box around the canvas (the canvas itself ignores the pointer). Moves are watched
only while the left button is down, so hovering sends no messages. A press that moves
farther than a few CSS pixels is a drag (its rubber band follows the pointer), else a
click. Clicks and drags go to the active tool, and to the base tool when the active one
does not handle them (:mod:`.tools.base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ._deps import ipyevents

if TYPE_CHECKING:
    from .canvas import FrameCanvas
    from .geometry import Geometry
    from .tools import Tool

__all__ = ["Pointer", "PointerHost"]

#: a press that moves farther than this (CSS pixels) is a drag, not a click
DRAG_CSS_PX = 5


class PointerHost(Protocol):
    """What the pointer needs of the annotator."""

    canvas: FrameCanvas
    geometry: Geometry
    tool: str

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools by name; the first is the base tool."""
        ...

    def current_color(self) -> tuple[int, int, int]:
        """The colour of a drag's rubber band when the tool has none."""
        ...


class Pointer:
    """The mouse on one annotator's video surface.

    Attributes:
        events: ipyevents for presses, releases, entering and leaving the surface (the annotator catches up
            with changes made elsewhere when the pointer enters).
        move_events: ipyevents for moves (watched only during a press).
    """

    def __init__(self, host: PointerHost) -> None:
        self.host = host
        self.events = ipyevents.Event(
            source=host.canvas.surface,
            watched_events=["mousedown", "mouseup", "mouseleave", "mouseenter", "contextmenu"],
            prevent_default_action=True,
        )
        self.move_events = ipyevents.Event(
            source=host.canvas.surface, watched_events=[], throttle_or_debounce="throttle", wait=40
        )
        self._press: dict[str, Any] | None = None

    @property
    def dragging(self) -> bool:
        """True while a drag is in progress (its rubber band is shown)."""
        p = self._press
        return bool(p is not None and p["drag"])

    @property
    def pressed(self) -> bool:
        """True while a button is down on the surface."""
        return self._press is not None

    def drop(self) -> None:
        """Forget the press in progress and remove its rubber band."""
        self._press = None
        self.host.canvas.clear_interaction()

    def dispatch(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Hand ``on_click`` / ``on_drag`` to the active tool, then to the base tool if it is not handled."""
        tools = self.host.tools
        active = tools[self.host.tool]
        if not getattr(active, event)(*args, **kwargs):
            base = next(iter(tools.values()))
            if base is not active:
                getattr(base, event)(*args, **kwargs)

    def handle(self, event: dict[str, Any]) -> None:
        """One ipyevents mouse event (positions in CSS pixels relative to the displayed canvas)."""
        host = self.host
        kind = event.get("type")
        rx, ry = float(event.get("relativeX", 0)), float(event.get("relativeY", 0))
        rw = float(event.get("boundingRectWidth", 0) or 0)
        dw, dh = host.geometry.display_size
        # the canvas keeps its aspect ratio (height: auto): scale both axes by the width, which the box
        # around it shares exactly (its height may differ by a line box)
        x, y = host.geometry.css_to_video(rx, ry, rw, rw * dh / dw if rw > 0 else 0)
        if kind == "mousedown":
            button = int(event.get("button", 0))
            if button == 0:
                self.move_events.watched_events = ["mousemove"]
            shift = bool(event.get("shiftKey"))
            self._press = {"x": x, "y": y, "rx": rx, "ry": ry, "button": button, "shift": shift, "drag": False}
        elif kind == "mousemove":
            p = self._press
            if p is None or p["button"] != 0:
                return
            if p["drag"] or max(abs(rx - p["rx"]), abs(ry - p["ry"])) > DRAG_CSS_PX:
                p["drag"] = True
                color = host.tools[host.tool].drag_color() or host.current_color()
                host.canvas.show_box((p["x"], p["y"], x, y), color)
        elif kind == "mouseup":
            p, self._press = self._press, None
            self.move_events.watched_events = []
            if p is None:
                return
            moved = max(abs(rx - p["rx"]), abs(ry - p["ry"])) > DRAG_CSS_PX
            if p["button"] == 0 and (p["drag"] or moved):
                self.dispatch("on_drag", p["x"], p["y"], x, y)
            else:
                self.dispatch("on_click", p["x"], p["y"], button=p["button"], shift=p["shift"])
        elif kind == "mouseleave":
            p, self._press = self._press, None
            self.move_events.watched_events = []
            if p is not None and p["drag"]:
                host.canvas.clear_interaction()
