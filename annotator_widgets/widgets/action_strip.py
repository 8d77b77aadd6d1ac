"""The action strip: one row per person under the timeline, a bar per action segment, clicked to pick one.

It shares the timeline's x axis (the same label column and frames-to-pixels scale), so a
bar sits under the frames it covers. A bar is coloured like its object and outlined in
white when selected; the strip's cursor follows the current frame.

Example:
    >>> from annotator_widgets.types import ActionSegment
    >>> layout = StripLayout(num_frames=100, width=330)
    >>> rows = layout.rows({4: ActionSegment(10, 20, "holds", 1, 3), 5: ActionSegment(50, 60, "holds", 2, 3)})
    >>> rows, layout.bar(rows, 4, ActionSegment(10, 20, "holds", 1, 3))
    ([1, 2], (60.0, 3.0, 30.0, 10.0))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..types import ActionSegment, ObjectInfo
from ._deps import ipycanvas, ipywidgets
from .canvas import drawing, redraw_on_reconnect

__all__ = ["ActionStrip", "StripLayout"]


@dataclass(frozen=True)
class StripLayout:
    """Where a segment's bar lies (the timeline's x axis; a row per person)."""

    num_frames: int
    width: int
    label_w: int = 30
    row_h: int = 10
    gap: int = 3

    def x_of(self, frame: float) -> float:
        """Left edge of ``frame`` in canvas pixels."""
        return self.label_w + frame * (self.width - self.label_w) / max(1, self.num_frames)

    def rows(self, segments: Mapping[int, ActionSegment]) -> list[int | None]:
        """The people with segments, in id order (None: segments without a person, last)."""
        people = {s.person_id for s in segments.values()}
        return sorted(p for p in people if p is not None) + ([None] if None in people else [])

    def height(self, rows: int) -> int:
        """The strip's height for ``rows`` rows."""
        return self.gap + max(1, rows) * (self.row_h + self.gap)

    def bar(self, rows: Sequence[int | None], action_id: int, seg: ActionSegment) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` of a segment's bar."""
        y = self.gap + rows.index(seg.person_id) * (self.row_h + self.gap)
        x0, x1 = self.x_of(seg.start), self.x_of(seg.stop)
        return x0, float(y), max(2.0, x1 - x0), float(self.row_h)


class ActionStrip:
    """The strip widget (an ipycanvas ``Canvas``); ``on_pick(action_id)`` runs when a bar is clicked."""

    def __init__(self, num_frames: int, width: int, on_pick: Callable[[int], None]) -> None:
        self.layout = StripLayout(max(1, int(num_frames)), int(width))
        self.segments: dict[int, ActionSegment] = {}
        self.rows: list[int | None] = []
        self.colors: dict[int, tuple[int, int, int]] = {}
        self.selected: int | None = None
        self.cursor = 0
        self._on_pick = on_pick
        self.widget = ipycanvas.Canvas(width=self.layout.width, height=self.layout.height(1))
        self.widget.layout = ipywidgets.Layout(width=f"{self.layout.width}px", max_width="100%", height="auto")
        self.widget.add_class("aw-action-strip")
        self.widget.on_mouse_down(self._down)
        redraw_on_reconnect(self.widget, self.draw)

    def update(
        self, segments: Mapping[int, ActionSegment], objects: Sequence[ObjectInfo], selected: int | None
    ) -> None:
        """Show these segments (by id), coloured like their objects, ``selected`` outlined."""
        self.segments = dict(segments)
        self.rows = self.layout.rows(self.segments)
        self.colors = {o.obj_id: o.color for o in objects}
        self.selected = selected
        self.draw()

    def set_cursor(self, frame: int) -> None:
        """Move the current-frame cursor."""
        self.cursor = int(frame)
        self.draw()

    def segment_at(self, x: float, y: float) -> int | None:
        """The id of the segment whose bar is under canvas ``(x, y)`` (the shortest one if bars overlap)."""
        hits = []
        for aid, seg in self.segments.items():
            bx, by, bw, bh = self.layout.bar(self.rows, aid, seg)
            if bx - 1 <= x <= bx + bw + 1 and by <= y <= by + bh:
                hits.append((seg.stop - seg.start, aid))
        return min(hits)[1] if hits else None

    def _down(self, x: float, y: float) -> None:
        aid = self.segment_at(x, y)
        if aid is not None:
            self._on_pick(aid)

    def draw(self) -> None:
        """Draw the rows, bars and cursor."""
        lay, c = self.layout, self.widget
        h = lay.height(len(self.rows))
        with drawing():
            if c.height != h:
                c.height = h
            c.clear()
            c.fill_style = "#1e1e1e"
            c.fill_rect(0, 0, lay.width, h)
            c.font = "9px sans-serif"
            if not self.segments:
                c.fill_style = "#888"
                c.fill_text("no action segments: Find interactions", lay.label_w + 4, lay.gap + lay.row_h - 2)
            for i, person in enumerate(self.rows):
                ty = lay.gap + i * (lay.row_h + lay.gap)
                c.fill_style = "rgb({}, {}, {})".format(*self.colors.get(person or 0, (200, 200, 200)))
                c.fill_text("?" if person is None else str(person), 3, ty + lay.row_h - 1)
            for aid, seg in self.segments.items():
                x, y, w, bh = lay.bar(self.rows, aid, seg)
                c.fill_style = "rgb({}, {}, {})".format(*self.colors.get(seg.obj_id or 0, (200, 200, 200)))
                c.fill_rect(x, y, w, bh)
                if aid == self.selected:
                    c.stroke_style = "#ffffff"
                    c.line_width = 2
                    c.stroke_rect(x, y, w, bh)
            c.fill_style = "#ffffff"
            span = (lay.width - lay.label_w) / lay.num_frames
            c.fill_rect(lay.x_of(self.cursor) + span / 2 - 1, 0, 2, h)

    def close(self) -> None:
        """Close the canvas widget."""
        self.widget.close()
