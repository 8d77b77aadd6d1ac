"""The points tool: clicks add positive or negative points, drags add boxes, for the current object.

It is the annotator's base tool: clicks and drags that the active tool does not
handle (a right-click in person mode, a drag in person mode) come here.

Example:
    >>> PointsTool.name, [s.keys for s in PointsTool.shortcuts][:2]
    ('points', [('t',), ('+', '=')])
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import traitlets

from ...errors import PromptError
from ...types import Box
from .._deps import ipywidgets as ipw
from ..controls import button
from ..keys import Shortcut
from .base import Tool

__all__ = ["PointsBar", "PointsTool"]


class PointsBar:
    """The positive / negative toggle and Clear frame."""

    def __init__(self) -> None:
        self.label = ipw.ToggleButtons(
            options=[("+ positive", 1), ("− negative", 0)],
            value=1,
            tooltips=["clicks add positive points (+, t)", "clicks add negative points (-, t)"],
            style={"button_width": "96px"},
        )
        self.clear = button(
            "Clear frame", icon="eraser", tooltip="clear the current object's prompts on this frame (c)"
        )
        self.widget = ipw.HBox([ipw.Label("Points:"), self.label, self.clear])
        self.widget.add_class("aw-points")


class PointsTool(Tool):
    """Clicks add points (positive or negative, as toggled; right-click or Shift flips it), drags add boxes."""

    name = "points"
    tooltip = "clicks add points, drags add boxes for the current object"
    hint = "clicks add points, drags add boxes"
    cursor = "crosshair"
    shortcuts = (
        Shortcut(("t",), "toggle_label", "toggle positive / negative clicks"),
        Shortcut(("+", "="), "positive_mode", "positive clicks"),
        Shortcut(("-",), "negative_mode", "negative clicks"),
        Shortcut(("c",), "clear_object", "clear the current object's prompts and mask on this frame"),
        Shortcut(("C",), "clear_all", "clear every prompt and mask on this frame"),
    )
    mouse_help = (
        ("click", "add a point (positive or negative, as toggled) for the current object"),
        ("right-click / Shift+click", "add a point with the opposite label (negative by default)"),
        ("drag", "box prompt for the current object"),
    )

    label = traitlets.Int(1, help="label of a plain click: 1 positive, 0 negative")

    @traitlets.validate("label")
    def _valid_label(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] not in (0, 1):
            raise PromptError("a point label is 1 (positive) or 0 (negative)", given=proposal["value"])
        return int(proposal["value"])

    def build(self) -> Any:
        self.bar = PointsBar()
        traitlets.link((self, "label"), (self.bar.label, "value"))
        self.bar.clear.on_click(self.host.guard(lambda _b: self.clear_object(), "clearing the frame"))
        return self.bar.widget

    # ------------------------------------------------------------------ events
    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        if button not in (0, 2):
            return False
        flip = button == 2 or shift
        self.click(x, y, label=1 - self.label if flip else self.label)
        return True

    def on_drag(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        self.drag_box(x0, y0, x1, y1)
        return True

    # ------------------------------------------------------------------ verbs
    def click(self, x: float, y: float, label: int | None = None) -> dict[int, np.ndarray]:
        """Add a point at video pixel ``(x, y)`` for the current object on the current frame.

        Args:
            x: Column in video pixels.
            y: Row in video pixels.
            label: 1 positive, 0 negative; default: the toggle (:attr:`label`).

        Returns:
            ``{obj_id: mask}`` of every object on this frame (full video resolution).
        """
        host = self.host
        label = self.label if label is None else int(label)
        with host.lock:
            host.check_idle("add a point")
            t0 = time.perf_counter()
            oid = host.ensure_object()
            frame = host.frame
            host.canvas.show_marker(x, y, positive=label == 1)  # feedback before the model runs
            try:
                masks = host.session.add_points(frame, oid, [(x, y)], [label])
            except BaseException:
                host.canvas.clear_interaction()
                raise
            t1 = time.perf_counter()
            # drawn from the stored masks (the session stored them): an object the click did not change is
            # shrunk to display size once and then read from the canvas' cache, not again on every click
            host.refresh()
            t2 = time.perf_counter()
            host.stats.add("segment_ms", (t1 - t0) * 1000)
            host.stats.add("click_ms", (t2 - t0) * 1000)
            kind = "positive" if label == 1 else "negative"
            area = int(masks[oid].sum()) if oid in masks else 0
            host.say(
                f"object {oid}: {kind} point at ({x:.0f}, {y:.0f}) on frame {frame}, "
                f"mask {area} px ({(t2 - t0) * 1000:.0f} ms)"
            )
            return masks

    def drag_box(self, x0: float, y0: float, x1: float, y1: float) -> dict[int, np.ndarray]:
        """Prompt the current object with the box between two corners (video pixels, any order)."""
        host = self.host
        with host.lock:
            host.check_idle("add a box")
            t0 = time.perf_counter()
            oid = host.ensure_object()
            box = Box.from_corners(x0, y0, x1, y1)
            try:
                masks = host.session.add_box(host.frame, oid, box)
            except BaseException:
                host.canvas.clear_interaction()
                raise
            host.refresh()  # from the stored masks, as a click
            dt = (time.perf_counter() - t0) * 1000
            host.stats.add("box_ms", dt)
            host.say(
                f"object {oid}: box ({box.x0:.0f}, {box.y0:.0f})-({box.x1:.0f}, {box.y1:.0f}) "
                f"on frame {host.frame} ({dt:.0f} ms)"
            )
            return masks

    def clear(self, obj_id: int | None = None) -> None:
        """Delete prompts and masks on the current frame (of one object, or of all when None)."""
        host = self.host
        with host.lock:
            host.check_idle("clear the frame")
            f = host.frame
            who = f"object {obj_id}" if obj_id is not None else "every object"
            there = {p.obj_id for p in host.session.prompts(f)} | set(host.session.annotations(f))
            if not (there if obj_id is None else obj_id in there):
                # nothing is written then, so "cleared" would have a z after it undo the step before (a propagation)
                host.say(f"nothing to clear: {who} has no prompt or mask on frame {f}")
                return
            host.session.clear_frame(f, obj_id)
            host.refresh(f"cleared {who} on frame {f}")

    def clear_object(self) -> None:
        """Clear the current object's prompts and mask on this frame (the ``c`` key)."""
        if self.host.current_object is None:
            raise PromptError("no object selected", hint="pick one in the object panel")
        self.clear(self.host.current_object)

    def clear_all(self) -> None:
        """Clear every object's prompts and masks on this frame (``C``)."""
        self.clear(None)

    def toggle_label(self) -> None:
        """Switch plain clicks between positive and negative."""
        self.label = 1 - self.label
        self.host.say("clicks add " + ("positive" if self.label == 1 else "negative") + " points")

    def positive_mode(self) -> None:
        """Plain clicks add positive points."""
        self.label = 1
        self.host.say("clicks add positive points")

    def negative_mode(self) -> None:
        """Plain clicks add negative points."""
        self.label = 0
        self.host.say("clicks add negative points")
