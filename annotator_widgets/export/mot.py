"""MOT Challenge boxes and MOTS masks, in the MOTChallenge sequence layout.

::

    <out>/seqinfo.ini       name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    <out>/gt/gt.txt         the annotations (below)
    <out>/gt/labels.txt     class names, one per line: class id k is line k (1-based)
    <out>/img1/000001.jpg   only with images=True: the frames, 1-based names

* **MOT** ``gt.txt``: ``frame,id,x,y,w,h,conf,class,visibility`` per object and frame, frames
  counted from 1 (``first_frame``), ``id`` = the object's id, ``x, y, w, h`` the tight box around
  the mask in pixels (0-based column and row of its top-left pixel, as Datumaro and py-motmetrics
  read them), ``conf`` 1 (a ground-truth row that counts), ``visibility`` 1 (the project does not
  know how much of an object is hidden).
* **MOTS** ``gt.txt``: ``frame id class_id img_height img_width rle`` with the mask as a COCO RLE
  string, frames counted from 1 (MOTSChallenge; KITTI MOTS counts from 0: pass ``first_frame=0``).
  MOTS forbids overlapping masks, so where masks overlap the higher object id keeps the pixel (the
  rule of the label PNGs). ``id`` is the object's id; the benchmarks' ``class * 1000 + n`` scheme is
  not imposed.

Rows are ordered by frame, then id; empty masks are left out.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 2, "width": 10, "height": 5})
    >>> m = np.zeros((5, 10), bool); m[1:4, 2:7] = True
    >>> _ = p.put_mask(1, p.add_object(category="cup", obj_id=3).obj_id, m)
    >>> to_mot(p)
    ['2,3,2,1,5,3,1,1,1']
    >>> to_mots(p)[0].split()[:5]
    ['2', '3', '1', '5', '10']
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..rle import RLE
from ._common import class_table, encode_image, iter_frames, project_of, video_name
from ._io import atomic_folder
from .base import ExportFormat

__all__ = ["MOT", "MOTS", "iter_mot", "iter_mots", "save_mot", "save_mots", "seqinfo", "to_mot", "to_mots"]


def iter_mot(project: Any, *, first_frame: int = 1) -> Iterator[str]:
    """MOT ``gt.txt`` rows, streamed in frame order."""
    project = project_of(project)
    _, cls = class_table(project)
    for ann in project.iter_annotations():
        bb = ann.rle.bbox
        if bb is None:
            continue
        x0, y0, x1, y1 = bb
        yield f"{ann.frame + first_frame},{ann.obj_id},{x0},{y0},{x1 - x0},{y1 - y0},1,{cls[ann.obj_id] + 1},1"


def to_mot(project: Any, *, first_frame: int = 1) -> list[str]:
    """All MOT rows (see :func:`iter_mot`)."""
    return list(iter_mot(project, first_frame=first_frame))


def iter_mots(project: Any, *, first_frame: int = 1) -> Iterator[str]:
    """MOTS rows, streamed in frame order; overlaps go to the higher object id."""
    project = project_of(project)
    _, cls = class_table(project)
    w, h = project.size
    for frame, group in itertools.groupby(project.iter_annotations(), key=lambda a: a.frame):
        rles = _disjoint({a.obj_id: a.rle for a in group if not a.rle.is_empty}, (h, w))
        for oid in sorted(rles):
            if not rles[oid].is_empty:
                yield f"{frame + first_frame} {oid} {cls[oid] + 1} {h} {w} {rles[oid].counts}"


def _disjoint(rles: dict[int, RLE], size: tuple[int, int]) -> dict[int, RLE]:
    """The masks without overlaps: where masks overlap, the higher object id keeps the pixel."""
    boxes = {oid: rle.bbox for oid, rle in rles.items()}

    def meet(a: Any, b: Any) -> bool:
        return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])

    if not any(meet(boxes[a], boxes[b]) for a, b in itertools.combinations(sorted(rles), 2)):
        return rles  # boxes apart: nothing can overlap, nothing to decode
    taken = np.zeros(size, bool)
    out = {}
    for oid in sorted(rles, reverse=True):
        mask = rles[oid].to_mask() & ~taken
        taken |= mask
        out[oid] = RLE.from_mask(mask)
    return out


def to_mots(project: Any, *, first_frame: int = 1) -> list[str]:
    """All MOTS rows (see :func:`iter_mots`)."""
    return list(iter_mots(project, first_frame=first_frame))


def seqinfo(project: Any, image_ext: str = ".jpg") -> str:
    """The ``seqinfo.ini`` text of the project's video (frame rate rounded to an integer, as MOT writes it)."""
    project = project_of(project)
    w, h = project.size
    fps = round(float(project.video_info.get("fps") or 30.0))
    return (
        f"[Sequence]\nname={video_name(project)}\nimDir=img1\nframeRate={fps}\nseqLength={project.num_frames}\n"
        f"imWidth={w}\nimHeight={h}\nimExt={image_ext}\n"
    )


def _save(
    project: Any,
    out: str | os.PathLike[str],
    rows: Iterator[str],
    fmt: str,
    *,
    images: bool,
    image_format: str,
    video: Any,
    first_frame: int,
    overwrite: bool,
) -> list[Path]:
    project = project_of(project)
    final = Path(out)
    names, _ = class_table(project)
    ext = "." + image_format.lower().lstrip(".")
    written = ["seqinfo.ini", "gt/gt.txt", "gt/labels.txt"]
    with atomic_folder(final, fmt, overwrite=overwrite) as tmp:
        (tmp / "gt").mkdir()
        (tmp / "seqinfo.ini").write_text(seqinfo(project, ext))
        (tmp / "gt" / "labels.txt").write_text("".join(n + "\n" for n in names))
        with open(tmp / "gt" / "gt.txt", "w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                fh.write(row + "\n")
        if images:
            (tmp / "img1").mkdir()
            for index, rgb in iter_frames(project, project.mask_frames(), video):
                name = f"img1/{index + first_frame:06d}{ext}"
                (tmp / name).write_bytes(encode_image(rgb, ext))
                written.append(name)
    return [final / p for p in written]


def save_mot(
    project: Any,
    out: str | os.PathLike[str],
    *,
    images: bool = False,
    image_format: str = "jpg",
    video: Any = None,
    first_frame: int = 1,
    overwrite: bool = False,
) -> list[Path]:
    """Write a MOT Challenge sequence folder (``gt/gt.txt`` boxes) atomically; returns the files written."""
    rows = iter_mot(project, first_frame=first_frame)
    return _save(
        project,
        out,
        rows,
        "mot",
        images=images,
        image_format=image_format,
        video=video,
        first_frame=first_frame,
        overwrite=overwrite,
    )


def save_mots(
    project: Any,
    out: str | os.PathLike[str],
    *,
    images: bool = False,
    image_format: str = "jpg",
    video: Any = None,
    first_frame: int = 1,
    overwrite: bool = False,
) -> list[Path]:
    """Write a MOTS sequence folder (``gt/gt.txt`` RLE masks) atomically; returns the files written."""
    rows = iter_mots(project, first_frame=first_frame)
    return _save(
        project,
        out,
        rows,
        "mots",
        images=images,
        image_format=image_format,
        video=video,
        first_frame=first_frame,
        overwrite=overwrite,
    )


#: registry entries (``registry.lookup("exporter", "mot")`` / ``"mots"``)
MOT = ExportFormat(
    "mot", "MOT Challenge gt.txt boxes with track ids (1-based frames)", "folder", save_mot, writes_images=True
)
MOTS = ExportFormat(
    "mots", "MOTS gt.txt: COCO RLE masks with track ids (1-based frames)", "folder", save_mots, writes_images=True
)
