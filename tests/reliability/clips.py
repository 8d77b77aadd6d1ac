"""Generated clips for the reliability tests: a noise-textured object on a noise-textured background."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, eq=False)
class NoiseClip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    truth: np.ndarray  # (T, H, W) bool: the object
    background_box: tuple[int, int, int, int]  # a box over plain background on frame 0

    def box(self, t: int) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(self.truth[t])
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def noise_clip(num_frames: int = 8, size: tuple[int, int] = (160, 120), seed: int = 0) -> NoiseClip:
    """A star-like object textured with per-pixel random noise (reddish) sliding over full-range noise.

    Its shape is far from the ellipse inscribed in its box, so a fallback to that ellipse scores badly
    against the truth.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    side = 56
    tex = rng.integers((120, 0, 60), (256, 140, 200), (side, side, 3)).astype(np.uint8)
    ang = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    rad = np.where(np.arange(10) % 2 == 0, 27, 13)
    pts = np.stack([side / 2 + rad * np.cos(ang), side / 2 + rad * np.sin(ang)], 1).astype(np.int32)
    shape = np.zeros((side, side), np.uint8)
    cv2.fillPoly(shape, [pts], 1)
    alpha = shape.astype(bool)
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    truth = np.zeros((num_frames, h, w), bool)
    for t in range(num_frames):
        x0, y0 = 20 + 4 * t, 20 + 2 * t
        f = bg.copy()
        sl = (slice(y0, y0 + side), slice(x0, x0 + side))
        f[sl][alpha] = tex[alpha]
        frames[t] = f
        truth[t][sl] = alpha
    return NoiseClip(frames, truth, (w - 45, h - 30, w - 5, h - 4))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))
