"""Video, canvas and CSS pixels: :class:`Geometry` maps between them and shrinks what is shown.

This is the only module that converts coordinates; everything else speaks video
pixels. The video is shown at most ``max_display_side`` pixels wide or high (masks
are computed at full resolution by the session and only shrunk here for display).

Example:
    >>> g = Geometry.fit((1280, 720), 960)
    >>> g.display_size, g.to_video(480, 270), g.to_canvas(640, 360)
    ((960, 540), (640.0, 360.0), (480.0, 270.0))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Box, PersonPose, Point, Prompt

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry:
    """Video size, display (canvas) size, and the conversions between them.

    Canvas pixel ``i`` covers video pixels ``[i / scale, (i + 1) / scale)``; coordinates
    are continuous, x right and y down, with (0, 0) at the top-left corner.
    """

    video_size: tuple[int, int]
    display_size: tuple[int, int]

    @classmethod
    def fit(cls, video_size: tuple[int, int], max_side: int) -> Geometry:
        """Shrink (never enlarge) a video so that its longer side is at most ``max_side``."""
        w, h = int(video_size[0]), int(video_size[1])
        s = min(1.0, float(max_side) / max(w, h))
        return cls((w, h), (max(1, round(w * s)), max(1, round(h * s))))

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: canvas pixels per video pixel."""
        return self.display_size[0] / self.video_size[0], self.display_size[1] / self.video_size[1]

    def to_video(self, x: float, y: float) -> tuple[float, float]:
        """Canvas pixels -> video pixels, clamped inside the frame and rounded to 0.1 px."""
        sx, sy = self.scale
        w, h = self.video_size
        xv = min(max(float(x) / sx, 0.0), w - 0.1)
        yv = min(max(float(y) / sy, 0.0), h - 0.1)
        return round(xv, 1), round(yv, 1)

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """Video pixels -> canvas pixels."""
        sx, sy = self.scale
        return float(x) * sx, float(y) * sy

    def css_to_video(self, x: float, y: float, css_width: float, css_height: float) -> tuple[float, float]:
        """A position in CSS pixels relative to the displayed canvas (which may be scaled by the page) -> video."""
        dw, dh = self.display_size
        cw = css_width if css_width and css_width > 0 else dw
        ch = css_height if css_height and css_height > 0 else dh
        return self.to_video(float(x) * dw / cw, float(y) * dh / ch)

    def video_to_css(self, x: float, y: float, css_width: float, css_height: float) -> tuple[float, float]:
        """Video pixels -> CSS pixels relative to a canvas displayed ``css_width`` x ``css_height``."""
        xc, yc = self.to_canvas(x, y)
        dw, dh = self.display_size
        return xc * css_width / dw, yc * css_height / dh

    @property
    def _interpolation(self) -> int:
        # INTER_AREA is the right filter for big reductions but slow for fractional ones (4 ms at 720p -> 540p);
        # bilinear looks the same down to half size and takes 0.6 ms
        inv = self.video_size[0] / self.display_size[0]
        if inv < 2 and abs(inv - round(inv)) > 0.01:
            return cv2.INTER_LINEAR
        return cv2.INTER_AREA

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """A video frame at display size."""
        if rgb.shape[1::-1] == self.display_size:
            return np.ascontiguousarray(rgb)
        return cv2.resize(rgb, self.display_size, interpolation=self._interpolation)

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """A full-resolution mask at display size (a display pixel is on when mostly covered)."""
        m = np.asarray(mask)
        if m.shape[1::-1] == self.display_size:
            return m.astype(bool, copy=False)
        m8 = (m.view(np.uint8) if m.dtype == bool else (m > 0).view(np.uint8)) * np.uint8(255)
        if self._interpolation == cv2.INTER_AREA:
            return cv2.resize(m8, self.display_size, interpolation=cv2.INTER_AREA) >= 128
        return cv2.resize(m8, self.display_size, interpolation=cv2.INTER_LINEAR) >= 128

    def pose(self, pose: PersonPose) -> PersonPose:
        """A pose's landmarks in canvas pixels."""
        sx, sy = self.scale
        lm = np.array(pose.landmarks, np.float32, copy=True)
        lm[:, 0] *= sx
        lm[:, 1] *= sy
        return PersonPose(pose.frame, pose.person_id, lm, score=pose.score)

    def prompt(self, prompt: Prompt) -> Prompt | None:
        """A prompt's points and box in canvas pixels (None when it has neither)."""
        if not prompt.points and prompt.box is None:
            return None
        sx, sy = self.scale
        pts = tuple(Point(p.x * sx, p.y * sy, p.label) for p in prompt.points)
        box = None
        if prompt.box is not None:
            b = prompt.box
            box = Box(b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy)
        return Prompt(prompt.frame, prompt.obj_id, pts, box)
