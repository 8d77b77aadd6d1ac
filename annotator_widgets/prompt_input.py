"""Prompt input as users give it (tuples, arrays, :class:`Point` objects, boxes) checked against the frame size.

Example:
    >>> parse_points([(10, 20)], None, (64, 48))
    (Point(x=10.0, y=20.0, label=1),)
    >>> parse_box((-5, 0, 30, 100), (64, 48))
    Box(x0=0.0, y0=0.0, x1=30.0, y1=48.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import PromptError
from .types import Box, Point

__all__ = ["PointsLike", "parse_box", "parse_points"]

#: what the prompting verbs accept as points
PointsLike = Sequence[Point] | Sequence[Sequence[float]] | np.ndarray


_POINTS_HINT = "pass [(x, y), ...] in video pixels, or an (N, 2) array"


def _labels(labels: Iterable[Any]) -> list[int]:
    """Point labels as ints; anything but 0 and 1 (a fraction, a word) is refused, never rounded."""
    out = []
    for v in np.atleast_1d(np.asarray(labels, dtype=object)).ravel():
        if not isinstance(v, int | float | np.number | np.bool_) or v not in (0, 1):  # 1.0 passes, 0.5 does not
            raise PromptError(
                "point labels must be 1 (positive) or 0 (negative)",
                given=v,
                hint="label clicks on the object 1 and clicks on the background 0",
            )
        out.append(int(v))
    return out


def _box_of(box: Sequence[Any]) -> Box:
    """A box from ``(x0, y0, x1, y1)``: four numbers, ``x1 > x0`` and ``y1 > y0`` (checked by :class:`Box`)."""
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4:
        raise PromptError("a box is four numbers (x0, y0, x1, y1)", given=box, hint="pass corners in video pixels")
    return Box(*values)


def parse_points(points: PointsLike, labels: Iterable[int] | None, size: tuple[int, int]) -> tuple[Point, ...]:
    """Points in any accepted form as :class:`Point` tuples, checked to lie inside a ``size`` (w, h) frame.

    Raises:
        PromptError: No points, labels of another length, a point that is not (x, y) or lies outside.
    """
    w, h = size
    if isinstance(points, Point):
        points = [points]
    arr_in = list(points) if not isinstance(points, np.ndarray) else points
    if isinstance(arr_in, np.ndarray) and arr_in.ndim == 1 and arr_in.size == 2:
        arr_in = arr_in[None]
    elif (
        not isinstance(arr_in, np.ndarray)
        and len(arr_in) == 2
        and all(isinstance(v, int | float | np.number) for v in arr_in)
    ):
        arr_in = [arr_in]  # a single (x, y)
    if len(arr_in) == 0:
        raise PromptError("no points given", given=points, hint="pass [(x, y), ...] in video pixels")
    labs = None if labels is None else _labels(labels)
    if labs is not None and len(labs) != len(arr_in):
        raise PromptError(
            "points and labels differ in length", given=(len(arr_in), len(labs)), hint="give one label per point"
        )
    out = []
    for i, p in enumerate(arr_in):
        if isinstance(p, Point):
            pt = p if labs is None else Point(p.x, p.y, labs[i])
        else:
            try:
                xy = np.asarray(p, dtype=float).ravel()
            except (TypeError, ValueError):
                xy = np.empty(0)
            if xy.size != 2:
                raise PromptError("each point must be two numbers (x, y)", given=p, hint=_POINTS_HINT)
            pt = Point(xy[0], xy[1], 1 if labs is None else labs[i])
        if not (0 <= pt.x < w and 0 <= pt.y < h):
            raise PromptError(
                f"point lies outside the {w}x{h} frame",
                given=(pt.x, pt.y),
                hint="coordinates are video pixels: 0 <= x < width, 0 <= y < height",
            )
        out.append(pt)
    return tuple(out)


def parse_box(box: Box | Sequence[float], size: tuple[int, int]) -> Box:
    """A :class:`Box` or ``(x0, y0, x1, y1)`` clipped to a ``size`` (w, h) frame.

    Raises:
        PromptError: The box lies outside the frame.
    """
    w, h = size
    b = box if isinstance(box, Box) else _box_of(box)
    clipped = b.clip(w, h)
    if clipped is None:
        raise PromptError(
            f"box lies outside the {w}x{h} frame", given=b.xyxy, hint="boxes are (x0, y0, x1, y1) in video pixels"
        )
    return clipped
