"""COCO for video: instance masks (RLE), pose keypoints, tracks and action segments.

The layout follows COCO with the video fields of TAO / YouTube-VIS:

* ``videos``: one record (``id`` 1, ``name``, ``width``, ``height``, ``length``, ``fps``).
* ``images``: every frame that carries something, ``id`` = frame + 1, with ``video_id`` and
  ``frame_index`` (0-based).
* ``annotations``: one per mask with ``segmentation`` as COCO RLE, ``bbox`` (x, y, w, h) and ``area``
  from the mask, ``score``, and ``video_id``, ``frame_index``, ``track_id`` (the object's id, never
  renumbered). Where the project has poses, one more annotation per pose in COCO's keypoint format:
  ``keypoints`` as ``[x, y, v] * 33`` (MediaPipe's BlazePose landmarks), ``v`` = 2 labelled and
  visible (visibility >= ``visible_threshold``), 1 labelled but not visible, 0 outside the frame
  (x = y = 0), ``num_keypoints`` = landmarks with ``v > 0``, and ``track_id`` = the person's id.
* ``categories``: the object categories in sorted order (id = index + 1); with poses, the ``person``
  category carries ``keypoints`` (landmark names) and ``skeleton`` (1-based pairs) from
  :mod:`annotator_widgets.landmarks`.
* ``tracks``: every object (``id``, ``name``, ``category_id``, ``video_id``).
* ``actions``: video-level action segments: ``start_frame`` is included and ``stop_frame`` excluded
  (Python's range, like every frame range here), ``start_s`` / ``stop_s`` = frame / fps,
  ``person_id`` / ``object_id``, ``label``, ``description``, ``score``.
* ``captions`` (only when passed): the hook for the store's captions, one record per caption.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 3, "width": 8, "height": 6})
    >>> mug = p.add_object(name="mug", category="cup")
    >>> m = np.zeros((6, 8), bool); m[1:3, 2:5] = True
    >>> _ = p.put_mask(1, mug.obj_id, m)
    >>> data = to_coco(p)
    >>> a = data["annotations"][0]
    >>> a["bbox"], a["track_id"], a["frame_index"], data["categories"][0]["name"]
    ([2, 1, 3, 2], 1, 1, 'cup')
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .. import landmarks
from ..types import Caption
from ._common import category_of, project_of
from ._io import write_text
from .base import ExportFormat
from .coco_import import load_coco

__all__ = ["FORMAT", "KEYPOINT_NAMES", "load_coco", "save_coco", "to_coco"]

#: the 33 BlazePose landmark names in index order (from :mod:`annotator_widgets.landmarks`)
KEYPOINT_NAMES: list[str] = [
    name
    for _, name in sorted(
        (v, k.lower())
        for k, v in vars(landmarks).items()
        if k.isupper() and isinstance(v, int) and not k.startswith("HAND_")
    )
]

CONVENTIONS = (
    "frame_index counts from 0; image id = frame_index + 1; track_id = the project's object id; "
    "actions: start_frame included, stop_frame excluded; seconds = frame / fps"
)


def _keypoints(pose: Any, width: int, height: int, threshold: float) -> tuple[list[float], int, list[float]]:
    """``(flat [x, y, v] * N, labelled count, bbox)`` of one pose."""
    lm = np.asarray(pose.landmarks, np.float64)
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < width) & (lm[:, 1] >= 0) & (lm[:, 1] < height)
    v = np.where(inside, np.where(lm[:, 2] >= threshold, 2, 1), 0)
    xy = np.where(inside[:, None], np.round(lm[:, :2], 2), 0.0)
    flat: list[float] = []
    for (x, y), flag in zip(xy.tolist(), v.tolist(), strict=True):
        flat += [x, y, int(flag)]
    labelled = xy[v > 0]
    if len(labelled):
        x0, y0 = labelled.min(axis=0)
        x1, y1 = labelled.max(axis=0)
        bbox = [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]
    else:
        bbox = [0.0, 0.0, 0.0, 0.0]
    return flat, int((v > 0).sum()), bbox


def to_coco(
    project: Any,
    *,
    frame_name: str = "frame_{:06d}.jpg",
    include_empty: bool = False,
    masks: bool = True,
    keypoints: bool = True,
    visible_threshold: float = 0.5,
    captions: Iterable[Caption] | None = None,
) -> dict[str, Any]:
    """The project as a COCO dict (see the module notes for every field).

    Args:
        project: A Project (or a session: its project is used).
        frame_name: Pattern for ``images[].file_name`` (formatted with the frame index).
        include_empty: Also export empty masks (object absent on that frame).
        masks: Export the masks (``False`` with ``keypoints=True`` gives a COCO person-keypoints file,
            the layout readers of ``person_keypoints_*.json`` expect: every annotation has keypoints).
        keypoints: Export the poses as keypoint annotations.
        visible_threshold: Landmark visibility from which a keypoint is ``v = 2`` (visible).
        captions: Caption records to add as ``captions`` (the hook for the store's captions; none by
            default).
    """
    project = project_of(project)
    w, h = project.size
    fps = float(project.video_info.get("fps") or 0.0)
    objects = {o.obj_id: o for o in project.objects()}
    names = sorted({category_of(o) for o in objects.values()}) if masks else []
    has_poses = keypoints and bool(project.pose_frames())
    if has_poses and "person" not in names:
        names = sorted([*names, "person"])
    cat_ids = {n: i + 1 for i, n in enumerate(names)}
    frames: set[int] = set()
    anns: list[dict[str, Any]] = []

    def common(frame: int, track: int | None) -> dict[str, Any]:
        frames.add(frame)
        return {"id": len(anns) + 1, "image_id": frame + 1, "video_id": 1, "frame_index": frame, "track_id": track}

    for ann in project.iter_annotations() if masks else ():
        if ann.rle.is_empty and not include_empty:
            continue
        obj = objects[ann.obj_id]
        x0, y0, x1, y1 = ann.rle.bbox or (0, 0, 0, 0)
        rec = common(ann.frame, ann.obj_id)
        rec.update(
            category_id=cat_ids[category_of(obj)],
            segmentation=ann.rle.to_coco(),
            area=ann.rle.area,
            bbox=[x0, y0, x1 - x0, y1 - y0],
            iscrowd=0,
            attributes={"track_id": ann.obj_id, "name": obj.name, "source": ann.source.value},
        )
        if ann.score is not None:  # ground truth has no score; readers reject a null one
            rec["score"] = ann.score
        anns.append(rec)
    for pose in project.iter_poses() if has_poses else ():
        flat, count, bbox = _keypoints(pose, w, h, visible_threshold)
        rec = common(pose.frame, pose.person_id)
        rec.update(
            category_id=cat_ids["person"],
            keypoints=flat,
            num_keypoints=count,
            bbox=bbox,
            area=round(bbox[2] * bbox[3], 2),
            iscrowd=0,
            score=round(float(pose.score), 4),
            attributes={"track_id": pose.person_id},
        )
        anns.append(rec)
    caption_recs: list[dict[str, Any]] = []
    for cap in captions or ():
        frames.add(cap.frame)
        caption_recs.append(
            {
                "id": len(caption_recs) + 1,
                "video_id": 1,
                "image_id": cap.frame + 1,
                "frame_index": cap.frame,
                "track_id": cap.obj_id or None,
                "caption": cap.text,
                "model": cap.model,
                "prompt": cap.prompt,
                "edited": cap.edited,
            }
        )
    categories: list[dict[str, Any]] = []
    for n in names:
        cat: dict[str, Any] = {"id": cat_ids[n], "name": n, "supercategory": ""}
        if n == "person" and has_poses:
            cat["keypoints"] = KEYPOINT_NAMES
            cat["skeleton"] = [[a + 1, b + 1] for a, b in landmarks.POSE_CONNECTIONS]
        categories.append(cat)
    video = {k: project.video_info.get(k) for k in ("name", "frames", "width", "height", "fps")}
    out: dict[str, Any] = {
        "info": {"description": "annotator_widgets export", "video": video, "conventions": CONVENTIONS},
        "videos": [{"id": 1, "name": video["name"], "width": w, "height": h, "length": project.num_frames, "fps": fps}],
        "images": [
            {
                "id": f + 1,
                "file_name": frame_name.format(f),
                "width": w,
                "height": h,
                "video_id": 1,
                "frame_index": f,
            }
            for f in sorted(frames)
        ],
        "annotations": anns,
        "categories": categories,
        "tracks": [
            {"id": o.obj_id, "name": o.name, "category_id": cat_ids.get(category_of(o)), "video_id": 1}
            for o in objects.values()
        ],
        "actions": [
            {
                "id": aid,
                "video_id": 1,
                "label": seg.label,
                "description": seg.description,
                "person_id": seg.person_id,
                "object_id": seg.obj_id,
                "start_frame": seg.start,
                "stop_frame": seg.stop,
                "start_s": round(seg.start / fps, 6) if fps else None,
                "stop_s": round(seg.stop / fps, 6) if fps else None,
                "score": seg.score,
            }
            for aid, seg in project.actions().items()
        ],
    }
    if caption_recs:
        out["captions"] = caption_recs
    return out


def save_coco(project: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`to_coco` as JSON, atomically; returns the path. Options as :func:`to_coco`."""
    return write_text(path, json.dumps(to_coco(project, **kwargs), indent=1, sort_keys=True) + "\n", "COCO export")


def _save(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return [save_coco(project, out, **options)]


#: the registry entry (``registry.lookup("exporter", "coco")``)
FORMAT = ExportFormat(
    "coco", "COCO JSON: RLE masks, keypoints, track ids, videos and action segments", "file", _save, ".json"
)
