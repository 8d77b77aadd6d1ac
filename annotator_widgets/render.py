"""Overlays, privacy effects and video writing.

:class:`Renderer` draws masks (stable per-object colours), prompt points
(positive green, negative red, each with its object id), boxes derived from
masks, labels, pose skeletons and captions on a copy of a frame. Settings go to
``__init__``, data to :meth:`Renderer.annotate` (supervision's convention);
boxes and labels use supervision's annotators, masks are blended only inside
each mask's box so a 1080p frame with three masks takes a few milliseconds.

:func:`apply_effect` blurs, pixelates, fills, outlines or dims masked regions;
:func:`render_video` streams a whole annotated (or anonymised) video to MP4
from the project, without holding more than one frame in memory.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.render import Renderer
    >>> frame = np.zeros((40, 60, 3), np.uint8)
    >>> mask = np.zeros((40, 60), bool); mask[10:20, 10:30] = True
    >>> out = Renderer(opacity=1.0, labels=False, outline=False).annotate(frame, {1: mask})
    >>> tuple(int(v) for v in out[15, 20]), tuple(int(v) for v in out[0, 0])
    ((230, 159, 0), (0, 0, 0))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from .errors import AnnotatorError, PromptError
from .rle import RLE
from .types import Annotation, ObjectInfo, PersonPose, Prompt, color_for

__all__ = ["EFFECTS", "POSE_CONNECTIONS", "Renderer", "apply_effect", "render_video", "write_video"]

log = logging.getLogger(__name__)

#: MediaPipe's 33-landmark pose topology (pairs of landmark indices).
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)  # fmt: skip

EFFECTS = ("blur", "pixelate", "solid", "outline", "dim")
Effect = Literal["blur", "pixelate", "solid", "outline", "dim"]
MaskInput = np.ndarray | RLE | Annotation

_POSITIVE = (40, 200, 60)
_NEGATIVE = (230, 40, 40)


def _as_mask(m: MaskInput) -> np.ndarray:
    if isinstance(m, Annotation):
        return m.mask
    if isinstance(m, RLE):
        return m.to_mask()
    return np.asarray(m, bool)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


class Renderer:
    """Draws annotations on frames.

    Args:
        opacity: Mask fill opacity, 0..1.
        outline: Draw each mask's contour in its colour.
        boxes: Draw the box derived from each mask.
        labels: Draw ``"id name"`` labels at the top-left of each mask.
        points: Draw prompt points.
        point_radius: Radius of prompt markers in pixels.
        skeleton: Draw pose skeletons.
        min_visibility: Landmarks below this visibility are not drawn.
    """

    def __init__(
        self,
        *,
        opacity: float = 0.5,
        outline: bool = True,
        boxes: bool = False,
        labels: bool = True,
        points: bool = True,
        point_radius: int = 6,
        skeleton: bool = True,
        min_visibility: float = 0.5,
    ) -> None:
        if not 0.0 <= opacity <= 1.0:
            raise PromptError("opacity must be in 0..1", given=opacity)
        self.opacity = float(opacity)
        self.outline = outline
        self.boxes = boxes
        self.labels = labels
        self.points = points
        self.point_radius = int(point_radius)
        self.skeleton = skeleton
        self.min_visibility = float(min_visibility)

    def replace(self, **changes: Any) -> Renderer:
        """A copy with some settings changed, e.g. ``renderer.replace(opacity=1.0)``."""
        settings = {
            "opacity": self.opacity,
            "outline": self.outline,
            "boxes": self.boxes,
            "labels": self.labels,
            "points": self.points,
            "point_radius": self.point_radius,
            "skeleton": self.skeleton,
            "min_visibility": self.min_visibility,
        }
        unknown = set(changes) - set(settings)
        if unknown:
            raise PromptError("unknown Renderer setting", given=sorted(unknown), hint=f"use {sorted(settings)}")
        return Renderer(**{**settings, **changes})

    def annotate(
        self,
        frame: np.ndarray,
        masks: Mapping[int, MaskInput] | None = None,
        *,
        objects: Iterable[ObjectInfo] | Mapping[int, ObjectInfo] | None = None,
        prompts: Sequence[Prompt] = (),
        poses: Sequence[PersonPose] = (),
        caption: str | None = None,
    ) -> np.ndarray:
        """Return a copy of an RGB ``frame`` with everything drawn on it.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            masks: ``{obj_id: mask}`` (bool arrays, RLEs or Annotations).
            objects: ObjectInfo records for colours, names and visibility.
            prompts: Prompts whose points and boxes to draw.
            poses: Poses to draw as skeletons in their person's colour.
            caption: Text drawn in a band at the top.
        """
        img = np.array(frame, dtype=np.uint8, copy=True)
        if img.ndim != 3 or img.shape[2] != 3:
            raise AnnotatorError("frame must be (H, W, 3) RGB", given=getattr(frame, "shape", None))
        info = self._objects(objects)
        hidden = {oid for oid, o in info.items() if o.hidden}
        boxes: list[tuple[int, tuple[int, int, int, int]]] = []
        for oid, m in (masks or {}).items():
            if oid in hidden:
                continue
            mask = _as_mask(m)
            if mask.shape != img.shape[:2]:
                raise AnnotatorError("mask and frame differ in size", given=(mask.shape, img.shape[:2]))
            bb = _bbox(mask)
            if bb is None:
                continue
            self._blend(img, mask, bb, self._color(oid, info))
            boxes.append((oid, bb))
        if boxes and (self.boxes or self.labels):
            self._boxes_and_labels(img, boxes, info)
        if self.skeleton:
            for pose in poses:
                if pose.person_id not in hidden:
                    self.draw_pose(img, pose, self._color(pose.person_id, info))
        if self.points:
            for prompt in prompts:
                if prompt.obj_id not in hidden:
                    self._draw_prompt(img, prompt, self._color(prompt.obj_id, info))
        if caption:
            self._caption(img, caption)
        return img

    @staticmethod
    def _objects(objects: Iterable[ObjectInfo] | Mapping[int, ObjectInfo] | None) -> dict[int, ObjectInfo]:
        if objects is None:
            return {}
        if isinstance(objects, Mapping):
            return dict(objects)
        return {o.obj_id: o for o in objects}

    @staticmethod
    def _color(oid: int, info: Mapping[int, ObjectInfo]) -> tuple[int, int, int]:
        o = info.get(oid)
        return o.color if o is not None else color_for(oid)

    def _blend(
        self, img: np.ndarray, mask: np.ndarray, bb: tuple[int, int, int, int], color: tuple[int, int, int]
    ) -> None:
        x0, y0, x1, y1 = bb
        roi = img[y0:y1, x0:x1]
        sub = mask[y0:y1, x0:x1]
        if self.opacity > 0:
            fill = np.empty_like(roi)
            fill[:] = color
            blended = cv2.addWeighted(roi, 1.0 - self.opacity, fill, self.opacity, 0.0)
            np.copyto(roi, blended, where=sub[..., None])
        if self.outline:
            contours, _ = cv2.findContours(sub.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            thickness = max(1, round(max(img.shape[:2]) / 500))
            cv2.drawContours(roi, contours, -1, color, thickness, lineType=cv2.LINE_AA)

    def _boxes_and_labels(
        self, img: np.ndarray, boxes: list[tuple[int, tuple[int, int, int, int]]], info: Mapping[int, ObjectInfo]
    ) -> None:
        import supervision as sv

        xyxy = np.array([bb for _, bb in boxes], np.float32)
        ids = [oid for oid, _ in boxes]
        # supervision draws in BGR order; our frames are RGB, so hand it reversed colours
        palette = sv.ColorPalette([sv.Color(*self._color(oid, info)[::-1]) for oid in ids])
        det = sv.Detections(xyxy=xyxy, class_id=np.arange(len(ids)))
        scale = max(img.shape[:2]) / 720
        if self.boxes:
            sv.BoxAnnotator(color=palette, thickness=max(1, round(2 * scale))).annotate(img, det)
        if self.labels:
            names = [info[oid].label if oid in info else str(oid) for oid in ids]
            sv.LabelAnnotator(
                color=palette,
                text_scale=max(0.35, 0.5 * scale),
                text_thickness=1,
                text_padding=max(2, round(4 * scale)),
                text_position=sv.Position.TOP_LEFT,
            ).annotate(img, det, labels=names)

    def _draw_prompt(self, img: np.ndarray, prompt: Prompt, color: tuple[int, int, int]) -> None:
        r = self.point_radius
        if prompt.box is not None:
            b = prompt.box
            cv2.rectangle(img, (round(b.x0), round(b.y0)), (round(b.x1), round(b.y1)), color, 2, cv2.LINE_AA)
        for p in prompt.points:
            c = (round(p.x), round(p.y))
            fill = _POSITIVE if p.positive else _NEGATIVE
            cv2.circle(img, c, r + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(img, c, r, fill, -1, cv2.LINE_AA)
            if not p.positive:
                cv2.line(img, (c[0] - r // 2, c[1]), (c[0] + r // 2, c[1]), (255, 255, 255), 2, cv2.LINE_AA)
            for ink, thickness in (((255, 255, 255), 3), (color, 1)):  # the id, outlined so it reads anywhere
                cv2.putText(
                    img,
                    str(prompt.obj_id),
                    (c[0] + r + 2, c[1] - r),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, r / 14),
                    ink,
                    thickness,
                    cv2.LINE_AA,
                )

    def draw_pose(self, img: np.ndarray, pose: PersonPose, color: tuple[int, int, int]) -> np.ndarray:
        """Draw one skeleton in place (landmarks under ``min_visibility`` are skipped)."""
        lm = pose.landmarks
        vis = lm[:, 2] >= self.min_visibility
        thickness = max(1, round(max(img.shape[:2]) / 400))
        for a, b in POSE_CONNECTIONS:
            if a < len(lm) and b < len(lm) and vis[a] and vis[b]:
                cv2.line(
                    img,
                    (round(lm[a, 0]), round(lm[a, 1])),
                    (round(lm[b, 0]), round(lm[b, 1])),
                    color,
                    thickness + 1,
                    cv2.LINE_AA,
                )
        for x, y, v in lm:
            if v >= self.min_visibility:
                cv2.circle(img, (round(x), round(y)), thickness + 2, (255, 255, 255), -1, cv2.LINE_AA)
                cv2.circle(img, (round(x), round(y)), thickness + 1, color, -1, cv2.LINE_AA)
        return img

    @staticmethod
    def _caption(img: np.ndarray, text: str) -> None:
        scale = max(0.45, img.shape[1] / 1400)
        (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        band = th + base + 10
        img[:band] = (img[:band].astype(np.uint16) * 2 // 5).astype(np.uint8)
        cv2.putText(img, text, (8, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def apply_effect(
    frame: np.ndarray,
    mask: MaskInput,
    effect: Effect = "blur",
    intensity: float = 0.5,
    color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Return a copy of ``frame`` with an effect applied inside (or, for ``dim``, outside) ``mask``.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        mask: The region (e.g. the union of every tracked face or person).
        effect: ``blur`` (Gaussian), ``pixelate``, ``solid`` fill, ``outline`` only,
            or ``dim`` (darken everything *outside* the mask).
        intensity: 0..1; blur radius / pixel block size / dimming strength scale with it.
        color: Fill colour for ``solid`` and line colour for ``outline``.
    """
    if effect not in EFFECTS:
        raise PromptError("unknown effect", given=effect, hint=f"use one of {EFFECTS}")
    if not 0.0 <= intensity <= 1.0:
        raise PromptError("intensity must be in 0..1", given=intensity)
    m = _as_mask(mask)
    out = np.array(frame, dtype=np.uint8, copy=True)
    bb = _bbox(m)
    if effect == "dim":
        dimmed = cv2.convertScaleAbs(out, alpha=1.0 - 0.85 * intensity)
        np.copyto(dimmed, out, where=m[..., None])
        return dimmed
    if bb is None:
        return out
    h, w = out.shape[:2]
    if effect == "outline":
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color, max(1, round(1 + 6 * intensity)), cv2.LINE_AA)
        return out
    if effect == "solid":
        out[m] = color
        return out
    # blur and pixelate work on the mask's box plus a margin, so the cost follows the region, not the frame
    x0, y0, x1, y1 = bb
    side = max(x1 - x0, y1 - y0)
    pad = max(4, int(side * 0.1))
    x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    roi = out[y0:y1, x0:x1]
    sub = m[y0:y1, x0:x1]
    if effect == "blur":
        k = int(3 + intensity * max(8, side) * 0.5) | 1
        rh, rw = roi.shape[:2]
        step = max(1, k // 15)  # blur a downscaled copy: same look, cost independent of the radius
        small = cv2.resize(roi, (max(1, rw // step), max(1, rh // step)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, ((k // step) | 1, (k // step) | 1), 0)
        changed = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_LINEAR)
    else:
        block = max(2, int(2 + intensity * max(4, side) / 8))
        rh, rw = roi.shape[:2]
        small = cv2.resize(roi, (max(1, rw // block), max(1, rh // block)), interpolation=cv2.INTER_AREA)
        changed = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
    np.copyto(roi, changed, where=sub[..., None])
    return out


class _Writer:
    """MP4 writer: H.264 through PyAV when it is available (plays in browsers), else OpenCV's mp4v."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str) -> None:
        self.path = path
        self._av: Any = None
        self._cv: Any = None
        w, h = size
        if codec in ("auto", "h264"):
            try:
                import av

                container = av.open(str(path), mode="w")
                stream = container.add_stream("libx264", rate=round(fps) if float(fps).is_integer() else fps)
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "20", "preset": "veryfast"}
                self._av = (container, stream, av)
            except Exception as exc:
                if codec == "h264":
                    raise AnnotatorError("cannot write H.264 with PyAV", given=str(path), hint=str(exc)) from exc
                log.info("PyAV H.264 unavailable (%s); writing mp4v with OpenCV", exc)
        if self._av is None:
            self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if not self._cv.isOpened():
                raise AnnotatorError("cannot open a video writer", given=str(path), hint="check the folder exists")

    def write(self, rgb: np.ndarray) -> None:
        if self._av is not None:
            container, stream, av = self._av
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        else:
            self._cv.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._av is not None:
            container, stream, _ = self._av
            for packet in stream.encode():
                container.mux(packet)
            container.close()
        elif self._cv is not None:
            self._cv.release()


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Write RGB frames to an MP4 file, streaming; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    writer: _Writer | None = None
    try:
        for f in frames:
            if writer is None:
                writer = _Writer(p, fps, (f.shape[1], f.shape[0]), codec)
            writer.write(f)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise AnnotatorError("no frames to write", given=str(p))
    return p


def render_video(
    project: Any,
    video: Any,
    path: str | os.PathLike[str],
    *,
    renderer: Renderer | None = None,
    effect: Effect | None = None,
    intensity: float = 0.6,
    obj_ids: Iterable[int] | None = None,
    start: int = 0,
    stop: int | None = None,
    show_progress: bool = False,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Render a project's annotations over its video to an MP4, one frame in memory at a time.

    With ``effect`` set (e.g. ``"blur"``), the chosen objects are anonymised
    instead of drawn: tracking is done once, effects re-render from stored masks.

    Args:
        project: A :class:`~annotator_widgets.project.Project` (or a session: its project is used).
        video: The project's video (anything :func:`~annotator_widgets.open_video` accepts).
        path: Output ``.mp4``.
        renderer: Overlay settings (ignored when ``effect`` is set).
        effect: One of :data:`EFFECTS` to anonymise instead of drawing overlays.
        intensity: Effect strength 0..1.
        obj_ids: Objects to draw or anonymise (default: all visible).
        start: First frame.
        stop: Frame after the last (default: the end).
        show_progress: tqdm progress bar.
        codec: ``"auto"`` (H.264 if PyAV can, else mp4v), ``"h264"`` or ``"mp4v"``.
    """
    from tqdm.auto import tqdm

    from .video import open_video

    project = getattr(project, "project", project)
    vid = open_video(video)
    stop = len(vid) if stop is None else min(stop, len(vid))
    renderer = renderer or Renderer()
    objects = {o.obj_id: o for o in project.objects()}
    chosen = set(objects) if obj_ids is None else set(obj_ids)

    def frames() -> Iterable[np.ndarray]:
        for i in tqdm(range(start, stop), desc="render", unit="frame", disable=not show_progress):
            anns = {oid: a for oid, a in project.annotations(i).items() if oid in chosen}
            frame = vid.frame(i)
            if effect is not None:
                if anns:
                    union = np.zeros(frame.shape[:2], bool)
                    for a in anns.values():
                        union |= a.mask
                    yield apply_effect(frame, union, effect, intensity)
                else:
                    yield (
                        apply_effect(frame, np.zeros(frame.shape[:2], bool), effect, intensity)
                        if effect == "dim"
                        else np.array(frame)
                    )
            else:
                yield renderer.annotate(
                    frame, anns, objects=objects, prompts=project.prompts(frame=i), poses=project.poses(i)
                )

    return write_video(path, frames(), vid.fps, codec=codec)
