"""Read a COCO file (ours or another tool's) back into a project; a COCO dataset folder reads its instances file.

Masks come from RLE (compressed or not) or polygon segmentations (rasterised with the pixel-centre
rule of :mod:`.polygons`; a list of polygons is their union, as in pycocotools). Objects are
created per ``track_id`` (kept as the object id where it is free) with names from ``tracks``;
annotations without a track id become one object each. Action segments come back too. Keypoint
annotations are not imported (the project's poses come from the pose model): they are counted in
the report's notes.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> from annotator_widgets.export import to_coco
    >>> video = {"frames": 3, "width": 8, "height": 6}
    >>> src = Project.create(os.path.join(tempfile.mkdtemp(), "a.awp"), video)
    >>> m = np.zeros((6, 8), bool); m[1:3, 2:5] = True
    >>> _ = src.put_mask(1, src.add_object(name="mug", obj_id=7).obj_id, m)
    >>> dst = Project.create(os.path.join(tempfile.mkdtemp(), "b.awp"), video)
    >>> report = import_coco(dst, to_coco(src))
    >>> report.objects, report.remapped, bool((dst.annotation(1, 7).mask == m).all())
    ({7: 7}, {}, True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import ActionSegment
from ._common import project_of
from ._importing import Pending, check_frame, check_frame_count, check_size, commit
from .base import Importer, ImportReport
from .polygons import polygon_to_mask

__all__ = ["IMPORTER", "import_coco", "load_coco"]


def _instances_file(folder: Path) -> Path:
    """The one ``annotations/instances_<subset>.json`` of a COCO dataset folder (``coco-dataset``, CVAT, Datumaro)."""
    found = sorted((folder / "annotations").glob("instances_*.json")) or sorted(folder.glob("instances_*.json"))
    if len(found) != 1:
        raise AnnotatorError(
            "a COCO dataset folder must hold one annotations/instances_<subset>.json"
            + (f", it holds {len(found)}" if found else ", it holds none"),
            given=str(folder),
            hint="pass the COCO JSON file itself" + (f", e.g. {found[0]}" if found else ""),
        )
    return found[0]


def _read(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    if Path(source).is_dir():
        source = _instances_file(Path(source))
    try:
        data = json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise AnnotatorError("cannot read the COCO file", given=str(source), hint=str(exc)) from exc
    if not isinstance(data, dict):
        raise AnnotatorError("not a COCO file", given=str(source)[:200], hint="expected a JSON object")
    return data


def _mask(seg: Any, h: int, w: int, where: str) -> RLE:
    if isinstance(seg, dict):
        rle = RLE.from_coco(seg)
        if rle.size != (h, w):
            raise AnnotatorError(
                "COCO mask size differs from the project's video",
                given=f"{rle.size[1]}x{rle.size[0]} in {where}",
                hint=f"expected {w}x{h}: import into a project made for the same video",
            )
        return rle
    if isinstance(seg, list) and seg and all(isinstance(p, list) for p in seg):
        mask = np.zeros((h, w), bool)
        for poly in seg:
            mask |= polygon_to_mask(np.asarray(poly, np.float64), (h, w))
        return RLE.from_mask(mask)
    raise AnnotatorError(
        "a COCO segmentation must be an RLE dict or a list of polygons", given=f"{type(seg).__name__} in {where}"
    )


def import_coco(
    project: Any, source: str | os.PathLike[str] | dict[str, Any], *, video_id: int | None = None
) -> ImportReport:
    """Import a COCO file's masks, tracks and action segments (one undo step, nothing written on error).

    Args:
        project: The project (or a session) to import into.
        source: A COCO JSON file, the parsed dict, or a COCO dataset folder (the ``coco-dataset`` export's,
            CVAT's or Datumaro's: its ``annotations/instances_<subset>.json`` is read).
        video_id: Which video of a multi-video file to import (default: the only one).

    Raises:
        AnnotatorError: Not COCO, a mask or image of another size, a frame or frame count the
            project's video does not have, or a segmentation that is neither RLE nor polygons.
    """
    project = project_of(project)
    data = _read(source)
    where = str(source)[:200] if not isinstance(source, dict) else "the COCO dict"
    try:
        images = {im["id"]: im for im in data["images"]}
        cats = {c["id"]: c for c in data.get("categories", [])}
        annotations = list(data["annotations"])
    except (KeyError, TypeError) as exc:
        raise AnnotatorError("not a COCO file", given=where, hint="expected images, annotations") from exc
    videos = data.get("videos") or []
    if video_id is None and len(videos) > 1:
        raise AnnotatorError(
            "the COCO file holds several videos", given=[v.get("id") for v in videos], hint="pass video_id="
        )
    video = next((v for v in videos if video_id is None or v.get("id") == video_id), None)
    if video is not None:
        if "width" in video and "height" in video:
            check_size(project, video["width"], video["height"], where)
        if video.get("length") is not None:
            check_frame_count(project, video["length"], where)
        video_id = video.get("id")
    w, h = project.size
    pending = Pending()
    tracks = {t["id"]: t for t in data.get("tracks", []) if video_id is None or t.get("video_id", video_id) == video_id}
    for tid, t in sorted(tracks.items()):
        pending.object(int(tid), t.get("name", ""), cats.get(t.get("category_id"), {}).get("name", ""))
    skipped_keypoints = 0
    for i, a in enumerate(annotations):
        im = images.get(a.get("image_id"))
        if im is None:
            raise AnnotatorError("a COCO annotation refers to an unknown image", given=a.get("image_id"), hint=where)
        if video_id is not None and im.get("video_id", video_id) != video_id:
            continue
        if "width" in im and "height" in im:
            check_size(project, im["width"], im["height"], where)
        frame = check_frame(project, int(im.get("frame_index", im["id"] - 1)), where)
        seg = a.get("segmentation")
        if not seg:
            skipped_keypoints += "keypoints" in a
            continue
        rle = _mask(seg, h, w, f"annotation {a.get('id', i)}")
        track = a.get("track_id", (a.get("attributes") or {}).get("track_id"))
        src = int(track) if track is not None else -(i + 1)  # no track id: an object of its own
        name = (a.get("attributes") or {}).get("name", "")
        pending.object(src, name, cats.get(a.get("category_id"), {}).get("name", ""))
        pending.masks.append((frame, src, rle, a.get("score")))
    for act in data.get("actions", []):
        if video_id is not None and act.get("video_id", video_id) != video_id:
            continue
        start = check_frame(project, int(act["start_frame"]), where)
        stop = int(act["stop_frame"])
        if stop > project.num_frames:
            check_frame(project, stop - 1, where)
        pending.actions.append(
            ActionSegment(
                start,
                stop,
                str(act.get("label", "")),
                act.get("person_id"),
                act.get("object_id"),
                str(act.get("description", "")),
                act.get("score"),
            )
        )
    if skipped_keypoints:
        pending.notes.append(f"{skipped_keypoints} keypoint annotations not imported (poses come from the pose model)")
    return commit(project, pending, "import COCO")


def load_coco(project: Any, path: str | os.PathLike[str] | dict[str, Any]) -> dict[int, int]:
    """Import a COCO file (see :func:`import_coco`); returns ``{COCO track id: project object id}``."""
    return import_coco(project, path).objects


def _load(project: Any, source: str | os.PathLike[str], **options: Any) -> ImportReport:
    return import_coco(project, source, **options)


#: the registry entry (``registry.lookup("importer", "coco")``)
IMPORTER = Importer("coco", "COCO JSON: RLE or polygon masks, track ids, action segments", _load)
