"""A two-person crossing clip made of real portrait cut-outs, with ground truth, and helpers to score trackers.

:func:`crossing_clip` cuts the busts out of two real photographs that ship with
PyPI packages - scikit-image's ``astronaut`` (Eileen Collins) and matplotlib's
``grace_hopper.jpg`` - and moves them across a real, person-free background
(scikit-image's ``coffee`` photo) so that they walk towards each other, overlap
(the astronaut passes in front and hides Grace Hopper's face for a few frames)
and end on swapped sides. Ground truth per frame: each person's face centre and
face width in video pixels, the cut-out's box and its visible silhouette.

:func:`count_id_switches` scores tracked poses against that ground truth the way
MOT benchmarks count identity switches. :func:`pose_bundle` returns the pose
model the tests use (built from the PyPI wheel once, then cached).

Example:
    >>> from tests.support.people import crossing_clip
    >>> clip = crossing_clip(num_frames=12, seed=0)
    >>> clip.frames.shape
    (12, 360, 640, 3)
    >>> sorted(clip.tracks), clip.tracks[1].shape
    ([1, 2], (12, 2))
    >>> bool(clip.tracks[1][0, 0] < clip.tracks[2][0, 0] and clip.tracks[1][-1, 0] > clip.tracks[2][-1, 0])
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from annotator_widgets.data import CrossingClip

if TYPE_CHECKING:
    pass

__all__ = [
    "NAMES",
    "CrossingClip",
    "crossing_clip",
    "portrait",
    "pose_bundle",
]

#: person id -> source photo
NAMES = {1: "astronaut", 2: "grace_hopper"}
# Face boxes (x, y, w, h) in the source photos, found with scikit-image's LBP frontal-face cascade
# (skimage.data.lbp_frontal_face_cascade_filename()), an independent detector.
_FACES = {"astronaut": (175, 70, 93, 93), "grace_hopper": (169, 125, 196, 196)}


def portrait(name: str) -> np.ndarray:
    """One of the two bundled portrait photos as RGB ``uint8``: ``"astronaut"`` or ``"grace_hopper"``."""
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            data = np.frombuffer(fh.read(), np.uint8)
        return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    raise ValueError(f"unknown portrait {name!r}; use 'astronaut' or 'grace_hopper'")


def face_box(name: str) -> tuple[int, int, int, int]:
    """The face box ``(x0, y0, x1, y1)`` in the source photo (from an independent face detector)."""
    x, y, w, h = _FACES[name]
    return x, y, x + w, y + h


def _cutout(name: str, face_px: float) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """A bust cut-out scaled so the face is ``face_px`` wide: (rgb, alpha 0..1, face centre in it)."""
    img = portrait(name)
    x0, y0, x1, y1 = face_box(name)
    fw, cx, cy = x1 - x0, (x0 + x1) / 2, (y0 + y1) / 2
    h, w = img.shape[:2]
    # bust silhouette: head ellipse + shoulders ellipse, feathered
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (round(cx), round(cy - 0.05 * fw)), (round(0.62 * fw), round(0.85 * fw)), 0, 0, 360, 1.0, -1)
    cv2.ellipse(alpha, (round(cx), round(cy + 2.1 * fw)), (round(1.9 * fw), round(1.45 * fw)), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (round(cx - 0.35 * fw), round(cy)), (round(cx + 0.35 * fw), round(cy + 1.2 * fw)), 1.0, -1)
    cx0, cy0 = max(0, round(cx - 2.0 * fw)), max(0, round(cy - 1.0 * fw))
    cx1, cy1 = min(w, round(cx + 2.0 * fw)), min(h, round(cy + 3.2 * fw))
    img, alpha = img[cy0:cy1, cx0:cx1], alpha[cy0:cy1, cx0:cx1]
    s = face_px / fw
    size = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.8, 0.04 * face_px))
    return img, alpha, ((cx - cx0) * s, (cy - cy0) * s)


def _background(size: tuple[int, int]) -> np.ndarray:
    import skimage.data

    w, h = size
    bg = skimage.data.coffee()  # 400x600, no people
    bh, bw = bg.shape[:2]
    ch = min(bh, round(bw * h / w))
    bg = bg[(bh - ch) // 2 : (bh - ch) // 2 + ch]
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_AREA)


def crossing_clip(
    num_frames: int = 60, size: tuple[int, int] = (640, 360), seed: int = 0, face_px: float | None = None
) -> CrossingClip:
    """Two real people (bust cut-outs) walking past each other over a real background.

    Person 1 (the astronaut) starts on the left and walks right, in front; person 2
    (Grace Hopper) starts on the right and walks left, behind. Half-way they overlap
    and person 2's face is hidden for a few frames; at the end they have swapped sides.

    Args:
        num_frames: Length of the clip (at least 8).
        size: ``(width, height)``.
        seed: Varies speeds, bobbing and sensor noise, deterministically.
        face_px: Face width in pixels (default: 0.14 of the frame height; MediaPipe follows busts
            this size side by side in video mode, larger ones make its tracking regions merge).

    Returns:
        The frames and the ground truth.
    """
    if num_frames < 8:
        raise ValueError(f"num_frames must be >= 8, got {num_frames}")
    w, h = size
    rng = np.random.default_rng(seed)
    face_px = float(face_px or 0.14 * h)
    bg = _background(size).astype(np.float32)
    t = np.linspace(0.0, 1.0, num_frames)
    cut = {pid: _cutout(name, face_px) for pid, name in NAMES.items()}
    # face-centre x: person 1 left -> right, person 2 right -> left; crossing near the middle
    margin = 1.7 * face_px
    ease = {1: t ** (1.0 + rng.uniform(-0.15, 0.15)), 2: t ** (1.0 + rng.uniform(-0.15, 0.15))}
    xs = {1: margin + (w - 2 * margin) * ease[1], 2: (w - margin) - (w - 2 * margin) * ease[2]}
    phase = rng.uniform(0, 2 * np.pi, 2)
    ys = {pid: 0.36 * h + 0.03 * h * np.sin(2 * np.pi * 1.5 * t + phase[pid - 1]) for pid in NAMES}
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    masks = {pid: np.zeros((num_frames, h, w), bool) for pid in NAMES}
    boxes = {pid: np.zeros((num_frames, 4), np.float32) for pid in NAMES}
    tracks = {pid: np.stack([xs[pid], ys[pid]], axis=1).astype(np.float32) for pid in NAMES}
    visible = {pid: np.ones(num_frames, np.float32) for pid in NAMES}
    for f in range(num_frames):
        canvas = bg.copy()
        alphas = {}
        for pid in (2, 1):  # back to front
            img, alpha, (fx, fy) = cut[pid]
            ox, oy = round(xs[pid][f] - fx), round(ys[pid][f] - fy)
            full = np.zeros((h, w), np.float32)
            X0, Y0 = max(0, ox), max(0, oy)
            X1, Y1 = min(w, ox + img.shape[1]), min(h, oy + img.shape[0])
            if X1 <= X0 or Y1 <= Y0:
                continue
            a = alpha[Y0 - oy : Y1 - oy, X0 - ox : X1 - ox]
            full[Y0:Y1, X0:X1] = a
            canvas[Y0:Y1, X0:X1] = (
                canvas[Y0:Y1, X0:X1] * (1 - a[..., None]) + img[Y0 - oy : Y1 - oy, X0 - ox : X1 - ox] * a[..., None]
            )
            alphas[pid] = full
            boxes[pid][f] = (X0, Y0, X1, Y1)
        masks[1][f] = alphas[1] > 0.5
        masks[2][f] = (alphas[2] > 0.5) & ~masks[1][f]
        # visible fraction of person 2's face square
        cx, cy, r = tracks[2][f, 0], tracks[2][f, 1], face_px / 2
        fy0, fy1 = max(0, round(cy - r)), min(h, round(cy + r))
        fx0, fx1 = max(0, round(cx - r)), min(w, round(cx + r))
        face = masks[2][f, fy0:fy1, fx0:fx1]
        visible[2][f] = float(face.mean()) if face.size else 0.0
        noise = rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)
        frames[f] = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return CrossingClip(frames, tracks, {pid: face_px for pid in NAMES}, boxes, masks, visible)


def pose_bundle() -> Path:
    """The pose model the tests use: the bundle built from the mediapipe wheel on PyPI.

    Built once into the checkpoint cache (``$ANNOTATOR_WIDGETS_CACHE``); the only
    network access is pip downloading the wheel the first time (``make test``
    builds it before the tests run).

    Raises:
        RuntimeError: The wheel cannot be downloaded or the build fails; the
            message says how to build it by hand.
    """
    from annotator_widgets.checkpoints import fetch
    from annotator_widgets.errors import CheckpointError

    try:
        return fetch("pose_landmarker_full_wheel", progress=False)
    except CheckpointError as exc:
        raise RuntimeError(
            "the pose bundle for the tests cannot be built (it needs the mediapipe==0.10.21 wheel from PyPI once): "
            f"{exc}. Build it with `python -m annotator_widgets.checkpoints fetch pose_landmarker_full_wheel` "
            "where PyPI is reachable, or put the wheel in <cache>/wheels"
        ) from exc
