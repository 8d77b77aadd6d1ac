"""Synthetic clips for backend tests: a few moving textured shapes on a textured background.

Small, deterministic and dependency-free (numpy + Pillow). Other test modules may
import this; keep the API small and stable:

* :func:`synthetic_clip` -> :class:`Clip` (frames plus each shape's centre and box per frame),
* :func:`write_jpeg_folder` -> a folder of ``00000.jpg ...`` frames as Meta's ``sam2`` expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Clip", "synthetic_clip", "write_jpeg_folder"]


@dataclass(frozen=True, eq=False)
class Clip:
    """A synthetic clip.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames.
        centers: ``(T, K, 2)`` float32 centre ``(x, y)`` of each of the K shapes per frame.
        boxes: ``(T, K, 4)`` float32 ``(x0, y0, x1, y1)`` of each shape per frame.
    """

    frames: np.ndarray
    centers: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def center(self, frame: int, k: int) -> tuple[float, float]:
        """Centre of shape ``k`` on ``frame``."""
        x, y = self.centers[frame, k]
        return float(x), float(y)

    def box(self, frame: int, k: int) -> tuple[float, float, float, float]:
        """Box of shape ``k`` on ``frame``."""
        x0, y0, x1, y1 = self.boxes[frame, k]
        return float(x0), float(y0), float(x1), float(y1)


def synthetic_clip(
    num_frames: int = 24, *, width: int = 128, height: int = 96, num_objects: int = 3, seed: int = 0
) -> Clip:
    """Shapes (ellipses and rectangles) with their own texture moving on a textured background.

    Args:
        num_frames: Number of frames T.
        width: Frame width in pixels.
        height: Frame height in pixels.
        num_objects: Number of moving shapes K.
        seed: Random seed; equal arguments give identical clips.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bg = (
        96 + 40 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None] + rng.normal(0, 10, (height, width, 3))
    ).astype(np.float32)
    radius = rng.uniform(0.10, 0.18, (num_objects, 2)) * np.array([width, height], np.float32)
    start = rng.uniform(0.25, 0.75, (num_objects, 2)) * np.array([width, height], np.float32)
    velocity = rng.uniform(-1.2, 1.2, (num_objects, 2)).astype(np.float32)
    colours = rng.uniform(40, 255, (num_objects, 3)).astype(np.float32)
    textures = [rng.normal(0, 18, (height, width, 3)).astype(np.float32) for _ in range(num_objects)]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    centers = np.empty((num_frames, num_objects, 2), np.float32)
    boxes = np.empty((num_frames, num_objects, 4), np.float32)
    lo = radius + 1
    hi = np.array([width, height], np.float32) - radius - 1
    for t in range(num_frames):
        img = bg + 6 * np.sin(t / 3.0)
        for k in range(num_objects):
            # bounce inside the frame: a triangle wave of the unconstrained path
            span = hi[k] - lo[k]
            pos = np.abs(((start[k] - lo[k] + velocity[k] * t) % (2 * span)) - span)
            c = lo[k] + span - pos
            rx, ry = radius[k]
            if k % 2 == 0:
                inside = ((xx - c[0]) / rx) ** 2 + ((yy - c[1]) / ry) ** 2 <= 1.0
            else:
                inside = (np.abs(xx - c[0]) <= rx) & (np.abs(yy - c[1]) <= ry)
            img = np.where(inside[..., None], colours[k] + textures[k], img)
            centers[t, k] = c
            boxes[t, k] = (c[0] - rx, c[1] - ry, c[0] + rx, c[1] + ry)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return Clip(frames=frames, centers=centers, boxes=boxes)


def write_jpeg_folder(frames: np.ndarray, folder: str | Path, *, quality: int = 95) -> Path:
    """Write frames as ``00000.jpg, 00001.jpg, ...`` (integer names, as ``sam2.init_state`` needs).

    Returns:
        The folder.
    """
    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame, np.uint8)).save(out / f"{i:05d}.jpg", quality=quality)
    return out
