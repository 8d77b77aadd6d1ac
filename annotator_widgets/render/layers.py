"""Optional layers drawn over a rendered frame: centroid trails (fading), object labels and captions.

:class:`Trails` keeps at most ``length`` centroids per object (memory bounded however long the video),
fed frame by frame while a video streams, or filled from the project's stored masks for one frame
(:meth:`Trails.fill`, what a preview needs). Centroids of stored masks come straight from the RLE runs,
without decoding the mask.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.render.layers import Trails
    >>> trails = Trails(length=3)
    >>> for f in range(5):
    ...     m = np.zeros((40, 60), bool); m[10:20, 5 + 8 * f : 15 + 8 * f] = True
    ...     trails.update(f, {1: m})
    >>> [(f, round(x), round(y)) for f, x, y in trails.points(1)]
    [(2, 26, 14), (3, 34, 14), (4, 42, 14)]
    >>> out = trails.draw(np.zeros((40, 60, 3), np.uint8), {1: (255, 0, 0)})
    >>> int(out[14, 30, 0]) > 0, int(out[14, 40, 0]) > int(out[14, 28, 0]), int(out[30, 5, 0])
    (True, True, 0)
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from ..errors import PromptError
from ..rle import RLE
from ..types import Annotation
from ._masks import MaskInput, as_mask, mask_box

__all__ = ["Trails", "centroid"]


def centroid(mask: MaskInput) -> tuple[float, float] | None:
    """``(x, y)`` centroid of a mask (bool array, RLE or Annotation), or None when it is empty.

    An RLE's centroid is computed from its runs (no full-frame decode).
    """
    if isinstance(mask, Annotation):
        mask = mask.rle
    if isinstance(mask, RLE):
        h = mask.size[0]
        cnts = mask.counts_array
        ends = np.cumsum(cnts)
        lengths = cnts[1::2]
        total = int(lengths.sum())
        if total == 0:
            return None
        starts = (ends - cnts)[1::2]
        # every foreground pixel's column-major index: each run's start repeated, plus 0..length-1 within the run
        offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        idx = np.repeat(starts, lengths) + offsets
        return float((idx // h).mean()), float((idx % h).mean())
    m = as_mask(mask)
    bb = mask_box(m)
    if bb is None:
        return None
    x0, y0, x1, y1 = bb
    mom = cv2.moments(m[y0:y1, x0:x1].view(np.uint8), binaryImage=True)
    return x0 + mom["m10"] / mom["m00"], y0 + mom["m01"] / mom["m00"]


class Trails:
    """Centroid trails over the last ``length`` frames, fading with age.

    Args:
        length: Frames a trail reaches back (the oldest point is dropped as a new one arrives).
        thickness: Line width in pixels (default: from the frame size).
    """

    def __init__(self, length: int = 30, *, thickness: int | None = None) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise PromptError("a trail's length is a whole number of frames, 1 or more", given=length)
        self.length = length
        self.thickness = thickness
        self._points: dict[int, deque[tuple[int, float, float]]] = {}

    def points(self, obj_id: int) -> list[tuple[int, float, float]]:
        """``(frame, x, y)`` of one object's trail, oldest first."""
        return list(self._points.get(obj_id, ()))

    def update(self, frame: int, masks: Mapping[int, MaskInput]) -> None:
        """Add the centroids of one frame's masks; forget points older than ``length`` frames."""
        for oid, m in masks.items():
            c = centroid(m)
            if c is not None:
                trail = self._points.setdefault(oid, deque(maxlen=self.length))
                if trail and trail[-1][0] >= frame:  # a jump back in time (a seek) starts the trail again
                    trail.clear()
                trail.append((frame, c[0], c[1]))
        for oid in list(self._points):
            trail = self._points[oid]
            while trail and trail[0][0] <= frame - self.length:
                trail.popleft()
            if not trail:
                del self._points[oid]

    def fill(self, project: Any, frame: int, obj_ids: set[int] | None = None) -> Trails:
        """Reset the trails to the stored masks of the ``length`` frames up to ``frame`` (for one preview frame)."""
        self._points.clear()
        start = max(0, frame - self.length + 1)
        for ann in project.iter_annotations(start=start, stop=frame + 1):
            if obj_ids is None or ann.obj_id in obj_ids:
                self.update(ann.frame, {ann.obj_id: ann.rle})
        return self

    def draw(self, img: np.ndarray, colors: Mapping[int, tuple[int, int, int]]) -> np.ndarray:
        """Draw every trail in place (newest segment opaque, older ones fading); returns ``img``."""
        lines = [(oid, list(t)) for oid, t in self._points.items() if len(t) >= 2]
        if not lines:
            return img
        thickness = self.thickness or max(2, round(max(img.shape[:2]) / 300))
        xs = [p[1] for _, t in lines for p in t]
        ys = [p[2] for _, t in lines for p in t]
        h, w = img.shape[:2]
        pad = thickness + 2
        x0, y0 = max(0, int(min(xs)) - pad), max(0, int(min(ys)) - pad)
        x1, y1 = min(w, int(max(xs)) + pad + 1), min(h, int(max(ys)) + pad + 1)
        if x1 <= x0 or y1 <= y0:
            return img
        ink = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        for oid, trail in lines:
            color = tuple(int(c) for c in colors.get(oid, (255, 255, 255)))
            newest = trail[-1][0]
            for (_, ax, ay), (f, bx, by) in itertools.pairwise(trail):
                a = (round(ax) - x0, round(ay) - y0)
                b = (round(bx) - x0, round(by) - y0)
                cv2.line(ink, a, b, color, thickness, cv2.LINE_AA)
                cv2.line(alpha, a, b, 1.0 - (newest - f) / self.length, thickness, cv2.LINE_AA)
        roi = img[y0:y1, x0:x1]
        a3 = alpha[..., None]
        roi[:] = np.clip(roi * (1.0 - a3) + ink * a3 + 0.5, 0, 255).astype(np.uint8)
        return img
