"""COCO instance segmentation (RLE masks) for video frames, keeping object ids.

Every annotated frame becomes an ``image``; every mask an ``annotation`` with
``segmentation`` as COCO RLE, ``bbox`` (x, y, w, h) derived from the mask,
``area``, ``score`` and the object's global id in ``track_id`` (also in
``attributes``), so a round trip keeps who-is-who.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 3, "width": 8, "height": 6})
    >>> mug = p.add_object(name="mug", category="cup")
    >>> m = np.zeros((6, 8), bool); m[1:3, 2:5] = True
    >>> _ = p.put_mask(1, mug.obj_id, m)
    >>> data = to_coco(p)
    >>> data["annotations"][0]["bbox"], data["annotations"][0]["track_id"], data["categories"][0]["name"]
    ([2, 1, 3, 2], 1, 'cup')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import Annotation, Source
from .base import ExportFormat

__all__ = ["FORMAT", "load_coco", "save_coco", "to_coco"]


def _category(obj: Any) -> str:
    return obj.category or "object"


def to_coco(project: Any, *, frame_name: str = "frame_{:06d}.jpg", include_empty: bool = False) -> dict[str, Any]:
    """The project's masks as a COCO dict.

    Args:
        project: A Project (or a session: its project is used).
        frame_name: Pattern for ``images[].file_name`` (formatted with the frame index).
        include_empty: Also export empty masks (object absent on that frame).
    """
    project = getattr(project, "project", project)
    w, h = project.size
    objects = {o.obj_id: o for o in project.objects()}
    names = sorted({_category(o) for o in objects.values()})
    cat_ids = {n: i + 1 for i, n in enumerate(names)}
    images: dict[int, dict[str, Any]] = {}
    anns = []
    for ann in project.iter_annotations():
        if ann.rle.is_empty and not include_empty:
            continue
        obj = objects[ann.obj_id]
        images.setdefault(
            ann.frame,
            {
                "id": ann.frame + 1,
                "file_name": frame_name.format(ann.frame),
                "width": w,
                "height": h,
                "frame_index": ann.frame,
            },
        )
        x0, y0, x1, y1 = ann.rle.bbox or (0, 0, 0, 0)
        anns.append(
            {
                "id": len(anns) + 1,
                "image_id": ann.frame + 1,
                "category_id": cat_ids[_category(obj)],
                "segmentation": ann.rle.to_coco(),
                "area": ann.rle.area,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "iscrowd": 0,
                "track_id": ann.obj_id,
                "score": ann.score,
                "attributes": {"track_id": ann.obj_id, "name": obj.name, "source": ann.source.value},
            }
        )
    video = {k: project.video_info.get(k) for k in ("name", "frames", "width", "height", "fps")}
    return {
        "info": {"description": "annotator_widgets export", "video": video},
        "images": [images[k] for k in sorted(images)],
        "annotations": anns,
        "categories": [{"id": cat_ids[n], "name": n, "supercategory": ""} for n in names],
        "tracks": [{"id": o.obj_id, "name": o.name, "category_id": cat_ids[_category(o)]} for o in objects.values()],
    }


def save_coco(project: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`to_coco` as JSON; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(to_coco(project, **kwargs), indent=1, sort_keys=True))
    return p


def load_coco(project: Any, path: str | os.PathLike[str] | dict[str, Any]) -> dict[int, int]:
    """Import a COCO file's masks into a project as ``imported`` annotations (one undo step).

    Objects are created per ``track_id`` (or per annotation when absent). Returns
    ``{coco track id: project object id}``.
    """
    project = getattr(project, "project", project)
    data = path if isinstance(path, dict) else json.loads(Path(path).read_text())
    try:
        images = {im["id"]: im for im in data["images"]}
        cats = {c["id"]: c["name"] for c in data.get("categories", [])}
        annotations = data["annotations"]
    except (KeyError, TypeError) as exc:
        raise AnnotatorError("not a COCO file", given=str(path)[:200], hint="expected images, annotations") from exc
    w, h = project.size
    mapping: dict[int, int] = {}
    names = {t["id"]: t.get("name", "") for t in data.get("tracks", [])}
    out = []
    with project.transaction("import COCO"):
        for i, a in enumerate(annotations):
            im = images[a["image_id"]]
            frame = int(im.get("frame_index", a["image_id"] - 1))
            seg = a.get("segmentation")
            if not isinstance(seg, dict):
                raise AnnotatorError(
                    "only RLE segmentations can be imported",
                    given=type(seg).__name__,
                    hint="convert polygons to RLE with pycocotools first",
                )
            rle = RLE.from_coco(seg)
            if rle.size != (h, w):
                raise AnnotatorError(
                    "COCO mask size differs from the project's video", given=rle.size, hint=f"expected ({h}, {w})"
                )
            key = int(a.get("track_id", a.get("attributes", {}).get("track_id", -(i + 1))))
            if key not in mapping:
                obj = project.add_object(name=names.get(key, ""), category=cats.get(a.get("category_id"), ""))
                mapping[key] = obj.obj_id
            out.append(Annotation(frame, mapping[key], rle, a.get("score"), Source.IMPORTED))
        project.put_annotations(out, label="import COCO")
    return mapping


def _save(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return [save_coco(project, out, **options)]


#: the registry entry (``registry.lookup("exporter", "coco")``)
FORMAT = ExportFormat("coco", "COCO instance segmentation JSON (RLE masks, track ids)", "file", _save, ".json")
