"""Overlays: masks in stable per-object colours, prompt points, boxes and labels, pose skeletons, captions.

:class:`Renderer` draws on a copy of a frame. Settings go to ``__init__``, data to
:meth:`Renderer.annotate` (supervision's convention); boxes and labels use supervision's
annotators, masks are blended only inside each mask's box so a 1080p frame with three
masks takes a few milliseconds.

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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from ..errors import AnnotatorError, PromptError
from ..landmarks import POSE_CONNECTIONS
from ..types import ObjectInfo, PersonPose, Prompt, color_for
from ._masks import MaskInput, as_mask, mask_box

__all__ = ["POSE_CONNECTIONS", "Renderer"]

_POSITIVE = (40, 200, 60)
_NEGATIVE = (230, 40, 40)


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
            mask = as_mask(m)
            if mask.shape != img.shape[:2]:
                raise AnnotatorError("mask and frame differ in size", given=(mask.shape, img.shape[:2]))
            bb = mask_box(mask)
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
