"""The timeline strip under the canvas: per object, where masks are, where prompts are, where tracking drifted.

One row per object (an :class:`~annotator_widgets.view.ObjectTimeline` from
``session.timeline()``): its colour where it has a mask; dimmed with a red underline
where the mask's score is below ``low_score`` (drift: click there next); dark red where
the mask is empty (lost); a white tick where the object was prompted; for people, a
light band along the top of the row where their pose was found; and a cursor at the
current frame. Clicking or dragging along the strip seeks. A score curve (e.g. where a
phrase was looked for, :meth:`Timeline.set_curve`) is drawn as a thin strip of bars under
the rows: one bar per scored frame, as tall as its score, yellow where it passes the
threshold (a red line).

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import ObjectInfo
    >>> row = ObjectTimeline(ObjectInfo(1, "cup", color=(230, 159, 0)),
    ...                      np.array([np.nan, 0.9, 0.2, -1], np.float32), np.array([False, True, False, False]))
    >>> [(start, stop, state) for start, stop, state in _runs(row.states(low_score=0.5))]
    [(1, 2, 1), (2, 3, 2), (3, 4, 3)]
    >>> [(x, h, passes) for x, _, _, h, passes in curve_bars({0: 0.25, 2: 1.0}, 0.5, 4, 70, 30, 8)]
    [(30.0, 2.0, False), (50.0, 8.0, True)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..view import LOST, LOW, NONE, ObjectTimeline
from ._deps import ipycanvas, ipywidgets
from .canvas import drawing, redraw_on_reconnect

__all__ = ["Timeline", "curve_bars"]

log = logging.getLogger(__name__)

_LOW_MARK = (235, 30, 30)
_LOST_COLOR = (110, 20, 20)
_BACKGROUND = "#2b2b2b"
_CURVE_PASS = (255, 214, 0)
_CURVE_BELOW = (150, 150, 150)


def curve_bars(
    curve: Mapping[int, float], threshold: float | None, num_frames: int, width: int, left: int, height: int
) -> list[tuple[float, float, float, float, bool]]:
    """``(x, y, w, h, passes)`` of a score curve's bars in a strip ``height`` tall (``y`` from the strip's top).

    One bar per scored frame, at the frame's place along ``left..width``, as tall as its score
    (clipped to 0..1, at least one pixel); ``passes``: the score reaches ``threshold``.
    """
    span = (width - left) / max(1, num_frames)
    out = []
    for f, score in sorted(curve.items()):
        s = min(max(float(score), 0.0), 1.0)
        h = max(1.0, s * height)
        passes = threshold is not None and float(score) >= threshold
        out.append((left + f * span, height - h, max(1.0, span), h, passes))
    return out


def _runs(states: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, stop, state)`` of each run of equal, non-zero states."""
    if states.size == 0:
        return []
    edges = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [states.size]])
    return [(int(a), int(b), int(states[a])) for a, b in zip(starts, stops, strict=True) if states[a] != NONE]


class Timeline:
    """The strip widget (an ipycanvas ``MultiCanvas``: bars below, cursor above).

    Args:
        num_frames: Frames of the video.
        width: Width in canvas pixels (the video canvas' display width).
        low_score: Masks scoring below this are marked as low confidence.
    """

    LABEL_W = 30
    ROW_H = 10
    POSE_H = 3
    GAP = 3
    CURVE_H = 12

    def __init__(self, num_frames: int, width: int, *, low_score: float = 0.5) -> None:
        self.num_frames = max(1, int(num_frames))
        self.width = int(width)
        self.low_score = float(low_score)
        self.rows: list[ObjectTimeline] = []
        #: the score curve shown under the rows (frame -> score 0..1; empty: no strip) and its threshold
        self.curve: dict[int, float] = {}
        self.curve_threshold: float | None = None
        self._cursor = 0
        self._drawn = False  # the rows in self.rows are on the canvas
        self.widget = ipycanvas.MultiCanvas(2, width=self.width, height=self._height(1))
        self.widget.layout = ipywidgets.Layout(width=f"{self.width}px", max_width="100%", height="auto")
        self.widget.add_class("aw-timeline")
        self._seek: list[Callable[[int], None]] = []
        self._pressed = False
        top = self.widget
        top.on_mouse_down(self._down)
        top.on_mouse_move(self._move)
        top.on_mouse_up(self._up)
        top.on_mouse_out(self._up)
        redraw_on_reconnect(self.widget, self.redraw)

    def _height(self, rows: int) -> int:
        strip = self.CURVE_H + self.GAP if self.curve else 0
        return self.GAP + max(1, rows) * (self.ROW_H + self.GAP) + strip

    # -- seeking --------------------------------------------------------------------------------------
    def frame_at(self, x: float) -> int:
        """The frame under canvas x-coordinate ``x``."""
        span = max(1.0, self.width - self.LABEL_W)
        f = int((float(x) - self.LABEL_W) * self.num_frames / span)
        return min(max(f, 0), self.num_frames - 1)

    def x_of(self, frame: int) -> float:
        """Left edge of ``frame`` in canvas pixels."""
        return self.LABEL_W + frame * (self.width - self.LABEL_W) / self.num_frames

    def on_seek(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(frame)`` when the user clicks or drags along the strip."""
        self._seek.append(callback)

    def _emit(self, x: float) -> None:
        f = self.frame_at(x)
        if f != self._cursor or not self._pressed:
            for cb in self._seek:
                cb(f)

    def _down(self, x: float, y: float) -> None:
        self._emit(x)
        self._pressed = True

    def _move(self, x: float, y: float) -> None:
        if self._pressed:
            self._emit(x)

    def _up(self, x: float, y: float) -> None:
        self._pressed = False

    # -- drawing --------------------------------------------------------------------------------------
    def update(self, rows: Sequence[ObjectTimeline]) -> None:
        """Show new data: only the rows that differ from those shown (at the same place) are drawn again, nothing
        when none does; all of the strip when the number of rows changes (set :attr:`low_score` before this)."""
        old, self.rows = self.rows, list(rows)
        h = self._height(len(rows))
        changed = [i for i, (a, b) in enumerate(zip(old, self.rows, strict=False)) if not _same(a, b)]
        if self._drawn and len(old) == len(self.rows) and old and self.widget.height == h:
            if changed:
                with drawing():
                    for i in changed:
                        self._draw_row(i)
            return
        with drawing():
            if self.widget.height != h:
                self.widget.height = h
            self._draw_rows()
            self._draw_cursor()

    def set_curve(self, curve: Mapping[int, float] | None, threshold: float | None = None) -> None:
        """Show a score curve (``{frame: score 0..1}``) in a strip under the rows; None or ``{}`` hides it."""
        self.curve = {int(f): float(v) for f, v in (curve or {}).items()}
        self.curve_threshold = None if threshold is None else float(threshold)
        self._drawn = False  # the strip's height and curve change: all of it is drawn again
        self.update(self.rows)

    @property
    def cursor(self) -> int:
        """The frame the current-frame cursor marks."""
        return self._cursor

    def set_cursor(self, frame: int) -> None:
        """Move the current-frame cursor."""
        self._cursor = int(frame)
        with drawing():
            self._draw_cursor()

    def redraw(self) -> None:
        """Draw everything again (e.g. after a page reload)."""
        with drawing():
            self._draw_rows()
            self._draw_cursor()

    def _draw_rows(self) -> None:
        c = self.widget[0]
        c.clear()
        c.fill_style = "#1e1e1e"
        c.fill_rect(0, 0, self.width, self.widget.height)
        c.font = "9px sans-serif"
        self._draw_curve(c)
        self._drawn = True
        if not self.rows:
            c.fill_style = "#888"
            c.fill_text("no objects yet: click the video", self.LABEL_W + 4, self.GAP + self.ROW_H - 2)
            return
        rects = [r for i, row in enumerate(self.rows) for r in self._row_rects(i, row)]
        self._fill(c, rects)
        for i, row in enumerate(self.rows):
            self._draw_label(c, i, row)

    def _row_y(self, i: int) -> int:
        return self.GAP + i * (self.ROW_H + self.GAP)

    def _draw_row(self, i: int) -> None:
        """Draw row ``i`` again over its band (what a whole redraw puts there)."""
        c = self.widget[0]
        y = self._row_y(i)
        c.fill_style = "#1e1e1e"  # the band: the row, its prompt ticks (one pixel over and under) and its label
        c.fill_rect(0, y - 1, self.width, self.ROW_H + 2)
        c.font = "9px sans-serif"
        self._fill(c, self._row_rects(i, self.rows[i]))
        self._draw_label(c, i, self.rows[i])

    def _draw_label(self, c: Any, i: int, row: ObjectTimeline) -> None:
        c.fill_style = "rgb({}, {}, {})".format(*row.color)
        c.fill_text(str(row.obj_id), 3, self._row_y(i) + self.ROW_H - 1)

    @staticmethod
    def _fill(c: Any, rects: list[tuple[float, float, float, float, tuple[int, int, int]]]) -> None:
        if rects:
            xs, ys, ws, hs, colors = zip(*rects, strict=True)
            c.fill_styled_rects(
                np.array(xs, float),
                np.array(ys, float),
                np.array(ws, float),
                np.array(hs, float),
                np.array(colors, np.uint8).reshape(-1, 3),
            )

    def _row_rects(self, i: int, row: ObjectTimeline) -> list[tuple[float, float, float, float, tuple[int, int, int]]]:
        """``(x, y, w, h, colour)`` of row ``i``'s rectangles: background, mask runs, drift marks, pose, prompts."""
        span = (self.width - self.LABEL_W) / self.num_frames
        y = float(self._row_y(i))
        dim = 0.4 if row.hidden else 1.0
        out: list[tuple[float, float, float, float, tuple[int, int, int]]] = [
            (float(self.LABEL_W), y, float(self.width - self.LABEL_W), float(self.ROW_H), (43, 43, 43))
        ]
        for start, stop, state in _runs(row.states(self.low_score)):
            base = _LOST_COLOR if state == LOST else row.color
            shade = dim * (0.55 if state == LOW else 1.0)
            x, w = self.LABEL_W + start * span, max(1.0, (stop - start) * span)
            out.append((x, y, w, float(self.ROW_H), tuple(int(v * shade) for v in base)))  # type: ignore[arg-type]
            if state == LOW:  # a red underline: drift, look here
                out.append((x, y + self.ROW_H - 3, w, 3.0, _LOW_MARK))
        if row.posed is not None:  # a light band along the top: the person's pose is found there
            light = tuple(int(dim * (v + 255) / 2) for v in row.color)
            for start, stop, _ in _runs(row.posed.astype(np.int8)):
                out.append(
                    (self.LABEL_W + start * span, y, max(1.0, (stop - start) * span), float(self.POSE_H), light)  # type: ignore[arg-type]
                )
        for f in row.prompt_frames():
            out.append((self.LABEL_W + f * span + span / 2 - 1, y - 1, 2.0, float(self.ROW_H + 2), (255, 255, 255)))
        return out

    def _draw_curve(self, c: Any) -> None:
        if not self.curve:
            return
        top = self.widget.height - self.CURVE_H - self.GAP
        c.fill_style = "#2b2b2b"
        c.fill_rect(self.LABEL_W, top, self.width - self.LABEL_W, self.CURVE_H)
        c.fill_style = "#aaa"
        c.fill_text("score", 1, top + self.CURVE_H - 2)
        bars = curve_bars(self.curve, self.curve_threshold, self.num_frames, self.width, self.LABEL_W, self.CURVE_H)
        if bars:
            c.fill_styled_rects(
                np.array([b[0] for b in bars], float),
                np.array([top + b[1] for b in bars], float),
                np.array([b[2] for b in bars], float),
                np.array([b[3] for b in bars], float),
                np.array([_CURVE_PASS if b[4] else _CURVE_BELOW for b in bars], np.uint8).reshape(-1, 3),
            )
        if self.curve_threshold is not None:
            c.fill_style = "rgb({}, {}, {})".format(*_LOW_MARK)
            y = top + self.CURVE_H - min(max(self.curve_threshold, 0.0), 1.0) * self.CURVE_H
            c.fill_rect(self.LABEL_W, y, self.width - self.LABEL_W, 1)

    def _draw_cursor(self) -> None:
        c = self.widget[1]
        c.clear()
        span = (self.width - self.LABEL_W) / self.num_frames
        c.fill_style = "#ffffff"
        c.fill_rect(self.LABEL_W + self._cursor * span + span / 2 - 1, 0, 2, self.widget.height)

    def close(self) -> None:
        """Close the canvas widget."""
        self.widget.close()

    def __repr__(self) -> str:
        return f"Timeline(frames={self.num_frames}, rows={len(self.rows)})"


def _same(a: ObjectTimeline, b: ObjectTimeline) -> bool:
    """The two rows draw the same (the same row kept by the session, or equal data)."""
    if a is b:
        return True
    if a.info != b.info or (a.posed is None) != (b.posed is None):
        return False
    return (
        np.array_equal(a.score, b.score, equal_nan=True)
        and np.array_equal(a.prompted, b.prompted)
        and (a.posed is None or b.posed is None or np.array_equal(a.posed, b.posed))
    )
