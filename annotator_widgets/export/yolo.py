"""YOLO detection and segmentation datasets in the Ultralytics layout.

::

    <out>/data.yaml                      path, train, val, names (class index -> category)
    <out>/labels/<split>/<name>.txt      one line per object: class and box, or class and polygon
    <out>/tracks/<split>/<name>.txt      the object (track) id of each label line, same order
    <out>/images/<split>/<name>.jpg      only with images=True: the frames, streamed from the video

``<name>`` is ``frame_{index:06d}`` (0-based). Every frame that has a mask row gets a label file
(an empty one when all its masks are empty: a frame known to be empty is a negative example);
frames never annotated get none. Class ids are the sorted categories (objects without a category
are ``object``), lines are in object-id order, numbers have ``decimals`` (6) decimals, normalised
by the frame size.

* detection lines: ``class cx cy w h``, the tight box around the mask;
* segmentation lines: ``class x1 y1 x2 y2 ...``: the mask's exact pixel-edge outline with holes and
  parts bridged into one polygon (see :mod:`.polygons`). Polygon tolerance: ``tolerance=0`` (the
  default) is exact (importing gives the mask back pixel for pixel; six decimals move a vertex by
  less than 0.001 px at 1920 px); ``tolerance=t`` simplifies each ring by up to ``t`` pixels.

YOLO has no field for track ids, so they go to ``tracks/`` (ignored by Ultralytics, supervision and
Datumaro), which lets :func:`import_yolo` restore them. ``data.yaml``'s ``path`` is the absolute
dataset folder by default, because Ultralytics resolves a relative ``path`` against its own
datasets folder; pass ``yaml_path`` to write something else (it is the only line that depends on
where the dataset is written). All frames go to one split (``split="train"``; ``val`` names the
same images): choose your own validation frames.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 2, "width": 10, "height": 5})
    >>> m = np.zeros((5, 10), bool); m[1:4, 2:7] = True
    >>> _ = p.put_mask(0, p.add_object(category="cup").obj_id, m)
    >>> [f.lines for f in iter_yolo(p, task="detect")]
    [['0 0.450000 0.500000 0.500000 0.600000']]
    >>> [f.lines for f in iter_yolo(p, task="segment", decimals=2)]
    [['0 0.20 0.20 0.70 0.20 0.70 0.80 0.20 0.80']]
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import AnnotatorError
from ._common import class_table, encode_image, iter_frames, project_of
from ._io import atomic_folder
from .base import ExportFormat
from .polygons import format_points, mask_to_polygon

__all__ = ["DETECT", "SEGMENT", "YoloFrame", "data_yaml", "iter_yolo", "save_yolo", "to_yolo"]

Task = Literal["detect", "segment"]


@dataclass(frozen=True)
class YoloFrame:
    """The labels of one frame: file stem, label lines and the track id of each line."""

    frame: int
    name: str
    lines: list[str]
    track_ids: list[int]


def _check_task(task: str) -> None:
    if task not in ("detect", "segment"):
        raise AnnotatorError("unknown YOLO task", given=task, hint='use task="detect" or task="segment"')


def iter_yolo(
    project: Any,
    *,
    task: Task = "segment",
    tolerance: float = 0.0,
    decimals: int = 6,
    frame_name: str = "frame_{:06d}",
) -> Iterator[YoloFrame]:
    """The label lines of every annotated frame, streamed in frame order (one frame's masks in memory).

    Args:
        project: A Project (or a session).
        task: ``"detect"`` (boxes) or ``"segment"`` (polygons).
        tolerance: Polygon simplification in pixels; 0 keeps the exact outline.
        decimals: Decimals of the normalised coordinates.
        frame_name: File stem pattern, formatted with the frame index.
    """
    _check_task(task)
    project = project_of(project)
    w, h = project.size
    _, cls = class_table(project)
    for frame, group in itertools.groupby(project.iter_annotations(), key=lambda a: a.frame):
        lines, ids = [], []
        for ann in group:
            bb = ann.rle.bbox
            if bb is None:
                continue
            if task == "detect":
                x0, y0, x1, y1 = bb
                values = np.array([(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h])
            else:
                values = mask_to_polygon(ann.rle, tolerance) / (w, h)
            lines.append(f"{cls[ann.obj_id]} {format_points(values, decimals)}")
            ids.append(ann.obj_id)
        yield YoloFrame(frame, frame_name.format(frame), lines, ids)


def to_yolo(project: Any, **options: Any) -> dict[str, Any]:
    """``{"names": [...], "frames": [YoloFrame, ...]}`` (everything in memory; see :func:`iter_yolo`)."""
    names, _ = class_table(project_of(project))
    return {"names": names, "frames": list(iter_yolo(project, **options))}


def data_yaml(names: list[str], path: str, split: str = "train") -> str:
    """The ``data.yaml`` text: ``path``, ``train``, ``val`` and ``names`` (strings JSON-quoted, valid YAML)."""
    lines = [
        "# YOLO dataset written by annotator_widgets (Ultralytics layout)",
        f"path: {json.dumps(path)}",
        f"train: {json.dumps('images/' + split)}",
        f"val: {json.dumps('images/' + split)}",
        "names:",
        *(f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"


def save_yolo(
    project: Any,
    out: str | os.PathLike[str],
    *,
    task: Task = "segment",
    images: bool = False,
    image_format: str = "jpg",
    video: Any = None,
    split: str = "train",
    tolerance: float = 0.0,
    decimals: int = 6,
    yaml_path: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a YOLO dataset folder atomically; returns the files written (final paths).

    Args:
        project: A Project (or a session).
        out: The dataset folder (replaced if an earlier export wrote it).
        task: ``"detect"`` or ``"segment"``.
        images: Also write the annotated frames, streamed from ``video`` or the project's video file.
        image_format: ``"jpg"`` or ``"png"``.
        video: A path or VideoSource for the frames (default: the project's video file).
        split: The split folder name.
        tolerance: Polygon simplification in pixels (0 = exact).
        decimals: Decimals of the normalised coordinates.
        yaml_path: ``path`` written to data.yaml (default: the absolute dataset folder).
        overwrite: Replace ``out`` even if it holds files no export wrote.
    """
    _check_task(task)
    project = project_of(project)
    final = Path(out)
    names, _ = class_table(project)
    written: list[str] = []
    with atomic_folder(final, "yolo-seg" if task == "segment" else "yolo", overwrite=overwrite) as tmp:
        labels, tracks = tmp / "labels" / split, tmp / "tracks" / split
        labels.mkdir(parents=True)
        tracks.mkdir(parents=True)
        stems: dict[int, str] = {}
        for item in iter_yolo(project, task=task, tolerance=tolerance, decimals=decimals):
            (labels / f"{item.name}.txt").write_text("".join(line + "\n" for line in item.lines))
            (tracks / f"{item.name}.txt").write_text("".join(f"{i}\n" for i in item.track_ids))
            written += [f"labels/{split}/{item.name}.txt", f"tracks/{split}/{item.name}.txt"]
            stems[item.frame] = item.name
        if images:
            folder = tmp / "images" / split
            folder.mkdir(parents=True)
            ext = image_format.lower().lstrip(".")
            for index, rgb in iter_frames(project, stems, video):
                (folder / f"{stems[index]}.{ext}").write_bytes(encode_image(rgb, ext))
                written.append(f"images/{split}/{stems[index]}.{ext}")
        yml = yaml_path if yaml_path is not None else str(final.resolve())
        (tmp / "data.yaml").write_text(data_yaml(names, yml, split))
        written.append("data.yaml")
    return [final / p for p in written]


def _detect(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return save_yolo(project, out, task="detect", **options)


def _segment(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return save_yolo(project, out, task="segment", **options)


#: registry entries (``registry.lookup("exporter", "yolo")`` / ``"yolo-seg"``)
DETECT = ExportFormat(
    "yolo", "YOLO detection (Ultralytics layout): boxes, track ids beside", "folder", _detect, writes_images=True
)
SEGMENT = ExportFormat(
    "yolo-seg",
    "YOLO segmentation (Ultralytics layout): exact polygons, holes bridged",
    "folder",
    _segment,
    writes_images=True,
)
