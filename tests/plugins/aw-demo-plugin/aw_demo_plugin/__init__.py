"""A deterministic disc segmenter and an invert effect, registered through entry points.

``DemoDiscSegmenter`` implements annotator_widgets' ``VideoSegmenter`` protocol with known
answers: an object's mask is the union of discs of ``radius`` pixels around its positive points
minus discs around its negative points (or its box, filled); propagation copies each object's
mask to every frame with score 0.75. ``invert`` is an effect: it inverts the pixels inside the
mask, blended with the original by ``strength``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.errors import BackendError

__all__ = ["DemoDiscSegmenter", "disc_mask", "invert"]

#: the score every propagated mask gets (prompted masks get 1.0)
PROPAGATED_SCORE = 0.75


def disc_mask(size: tuple[int, int], prompt: Any, radius: int) -> np.ndarray:
    """The mask ``DemoDiscSegmenter`` gives a prompt on a ``size = (width, height)`` video."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    if prompt.box is not None:
        b = prompt.box
        mask[int(b.y0) : int(np.ceil(b.y1)), int(b.x0) : int(np.ceil(b.x1))] = True
    for p in prompt.points:
        disc = (xx - p.x) ** 2 + (yy - p.y) ** 2 <= radius**2
        mask = mask | disc if p.positive else mask & ~disc
    return mask


class DemoDiscSegmenter:
    """Discs around the clicked points, copied to every frame.

    Args:
        radius: Disc radius in pixels; ``"demo-disc:20"`` passes ``"20"``.
    """

    name = "demo-disc"

    def __init__(self, radius: int | str = 10) -> None:
        try:
            self.radius = int(radius)
        except ValueError as exc:
            raise BackendError("the demo-disc radius must be an integer", given=radius) from exc
        if self.radius < 1:
            raise BackendError("the demo-disc radius must be at least 1", given=radius)
        self._masks: dict[int, np.ndarray] = {}
        self._size = (0, 0)
        self._n = 0

    def start(self, video: Any) -> None:
        self._size = video.size
        self._n = len(video)

    def set_prompt(self, prompt: Any) -> dict[int, ObjectMask]:
        self._masks[prompt.obj_id] = disc_mask(self._size, prompt, self.radius)
        return {oid: ObjectMask(m, 1.0) for oid, m in self._masks.items()}

    def remove_object(self, obj_id: int) -> None:
        self._masks.pop(obj_id, None)

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        last = 0 if reverse else self._n - 1
        count = abs(last - start) if max_frames is None else min(max_frames, abs(last - start))
        step = -1 if reverse else 1
        for k in range(count + 1):
            frame = start + step * k
            yield SegmenterFrame(frame, {oid: ObjectMask(m, PROPAGATED_SCORE) for oid, m in self._masks.items()})

    def reset(self) -> None:
        self._masks.clear()

    def close(self) -> None:
        self._masks.clear()


def invert(frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float) -> np.ndarray:
    """Invert the pixels inside the mask, blended with the original by ``strength`` (1: fully inverted)."""
    inside = frame_rgb[mask_bool].astype(np.float32)
    frame_rgb[mask_bool] = np.rint((1.0 - strength) * inside + strength * (255.0 - inside)).astype(np.uint8)
    return frame_rgb
