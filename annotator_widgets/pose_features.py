"""What the person tracker compares between frames: keypoints, boxes, body size and clothing colours.

:func:`describe_people` turns one frame's detected poses into :class:`PersonFeatures`
(computed once per frame); :class:`~annotator_widgets.pose_tracker.PersonTracker`
matches them to the people it knows. NumPy and OpenCV only.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import PersonPose
    >>> lm = np.zeros((33, 3), np.float32)
    >>> lm[:, 0], lm[:, 1], lm[:, 2] = np.linspace(100, 160, 33), np.linspace(50, 250, 33), 1.0
    >>> [f] = describe_people([PersonPose(0, 1, lm)])
    >>> f.box.tolist(), f.points.shape
    ([100.0, 50.0, 161.0, 251.0], (9, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import landmarks as lm_index
from .types import PersonPose

__all__ = ["PersonFeatures", "bhattacharyya", "describe_people", "keypoint_distance", "overlap"]

_KEYPOINTS = list(lm_index.KEYPOINTS)
_NOSE = lm_index.NOSE
_L_SH, _R_SH = lm_index.LEFT_SHOULDER, lm_index.RIGHT_SHOULDER
_L_HIP, _R_HIP = lm_index.LEFT_HIP, lm_index.RIGHT_HIP
_L_EAR, _R_EAR = lm_index.LEFT_EAR, lm_index.RIGHT_EAR


@dataclass(eq=False)
class PersonFeatures:
    """One detected person with the features the tracker compares (computed once per frame).

    Attributes:
        pose: The detected pose.
        points: ``(K, 2)`` head and torso keypoints (:data:`annotator_widgets.landmarks.KEYPOINTS`).
        weights: ``(K,)`` their visibility, 0 where not visible.
        box: ``(4,)`` ``x0, y0, x1, y1`` around the visible landmarks.
        scale: Torso size in pixels.
        torso: ``(4,)`` region whose colours are compared, or None.
        hist: Normalised hue/saturation histogram of that region, or None.
    """

    pose: PersonPose
    points: np.ndarray
    weights: np.ndarray
    box: np.ndarray
    scale: float
    torso: np.ndarray | None = None
    hist: np.ndarray | None = None


def _scale(lm: np.ndarray, vis: float, box: np.ndarray) -> float:
    """Torso size: the largest of shoulder width, shoulder-to-hip length and 2.5x ear distance."""
    sizes = []
    v = lm[:, 2] >= vis

    def dist(a: int, b: int) -> float | None:
        return float(np.hypot(*(lm[a, :2] - lm[b, :2]))) if v[a] and v[b] else None

    for d, k in ((dist(_L_SH, _R_SH), 1.0), (dist(_L_EAR, _R_EAR), 2.5)):
        if d is not None:
            sizes.append(d * k)
    if v[_L_SH] and v[_R_SH] and v[_L_HIP] and v[_R_HIP]:
        sizes.append(float(np.hypot(*((lm[_L_SH, :2] + lm[_R_SH, :2]) / 2 - (lm[_L_HIP, :2] + lm[_R_HIP, :2]) / 2))))
    if not sizes:
        sizes.append(0.3 * float(np.hypot(box[2] - box[0], box[3] - box[1])))
    return max(max(sizes), 4.0)


def _torso_rect(lm: np.ndarray, vis: float, scale: float) -> np.ndarray | None:
    """The region below the shoulders (clothes) ``(x0, y0, x1, y1)``, or None without both shoulders."""
    if lm[_L_SH, 2] < vis or lm[_R_SH, 2] < vis:
        return None
    xs = lm[[_L_SH, _R_SH], 0]
    top = float(lm[[_L_SH, _R_SH], 1].mean())
    bottom = top + 0.8 * scale
    if lm[_L_HIP, 2] >= vis and lm[_R_HIP, 2] >= vis:
        bottom = min(bottom, float(lm[[_L_HIP, _R_HIP], 1].mean()))
    rect = np.array([xs.min() + 0.1 * scale, top + 0.1 * scale, xs.max() - 0.1 * scale, bottom], np.float32)
    return rect if rect[2] - rect[0] >= 4 and rect[3] - rect[1] >= 4 else None


def _torso_hist(frame: np.ndarray, rect: np.ndarray) -> np.ndarray | None:
    """Normalised hue/saturation histogram of a region of the frame, or None when it is (nearly) outside."""
    h, w = frame.shape[:2]
    x0, y0 = int(max(0, rect[0])), int(max(0, rect[1]))
    x1, y1 = int(min(w, rect[2])), int(min(h, rect[3]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = frame[y0:y1, x0:x1]
    step = max(1, max(patch.shape[:2]) // 32)
    patch = np.ascontiguousarray(patch[::step, ::step])
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [12, 4], [0, 180, 0, 256]).ravel()
    total = hist.sum()
    return hist / total if total > 0 else None


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two normalised histograms: 0 same colours, 1 nothing in common."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(a * b))))))


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two ``x0, y0, x1, y1`` boxes over the smaller box's area.

    Example:
        >>> overlap(np.array([0, 0, 10, 10]), np.array([5, 0, 8, 10]))
        1.0
    """
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(ix * iy / small) if small > 0 else 0.0


def keypoint_distance(p: np.ndarray, wp: np.ndarray, q: np.ndarray, wq: np.ndarray) -> float | None:
    """Visibility-weighted mean distance of shared keypoints (None when none are shared)."""
    w = np.minimum(wp, wq)
    total = float(w.sum())
    if total < 0.5:
        return None
    return float((np.hypot(*(p - q).T) * w).sum() / total)


def describe_people(
    poses: Sequence[PersonPose], frame_rgb: np.ndarray | None = None, *, min_visibility: float = 0.5
) -> list[PersonFeatures]:
    """The features of each pose: keypoints, box, scale and (given the frame) torso colours.

    Args:
        poses: One frame's detections.
        frame_rgb: The frame, to compute torso colour histograms (None: no colours).
        min_visibility: Landmarks below it count as not visible.
    """
    out = []
    vis = float(min_visibility)
    for pose in poses:
        lm = pose.landmarks
        full = lm.shape[0] > max(_KEYPOINTS)
        k = lm[_KEYPOINTS] if full else lm
        sel = lm[lm[:, 2] >= vis]
        if len(sel) < 2:
            sel = lm
        box = np.array([sel[:, 0].min(), sel[:, 1].min(), sel[:, 0].max() + 1, sel[:, 1].max() + 1], np.float32)
        weights = np.where(k[:, 2] >= vis, k[:, 2], 0.0).astype(np.float32)
        scale = _scale(lm, vis, box) if full else max(4.0, 0.3 * float(np.hypot(box[2] - box[0], box[3] - box[1])))
        torso = _torso_rect(lm, vis, scale) if full else None
        hist = None if frame_rgb is None or torso is None else _torso_hist(frame_rgb, torso)
        out.append(PersonFeatures(pose, k[:, :2].astype(np.float32), weights, box, scale, torso, hist))
    return out
