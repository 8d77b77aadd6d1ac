"""Read CVAT XML 1.1 (for video, or for images) back into a project.

Tracks keep their id as the object id where it is free (CVAT counts tracks from 0, and 0 is never
an object id, so track 0 always gets a fresh id, listed in ``remapped``). The label is the object's
category; the ``name`` attribute, when present, its name. Every shape that is not ``outside``
counts, keyframe or not (CVAT writes the interpolated shapes between keyframes with
``keyframe="0"``): polygons become masks (pixel-centre rule, see :mod:`.polygons`), boxes become
box prompts. CVAT's own ``<mask>`` RLE, polylines, points and cuboids are skipped and counted in the
report's notes. Shapes of ``<image>`` elements (CVAT for images) become one object each.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> from annotator_widgets.export.cvat import to_cvat
    >>> video = {"frames": 3, "width": 8, "height": 6}
    >>> src = Project.create(os.path.join(tempfile.mkdtemp(), "a.awp"), video)
    >>> m = np.zeros((6, 8), bool); m[1:5, 2:7] = True; m[2:4, 3:5] = False  # a ring
    >>> _ = src.put_mask(2, src.add_object(name="tyre", category="wheel", obj_id=9).obj_id, m)
    >>> dst = Project.create(os.path.join(tempfile.mkdtemp(), "b.awp"), video)
    >>> report = import_cvat(dst, to_cvat(src).encode())
    >>> report.objects, dst.object(9).name, bool((dst.annotation(2, 9).mask == m).all())
    ({9: 9}, 'tyre', True)
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import Box
from ._common import project_of
from ._importing import Pending, check_frame, check_frame_count, check_size, commit
from .base import Importer, ImportReport
from .polygons import polygon_to_mask

__all__ = ["IMPORTER", "import_cvat"]

_SKIPPED = ("mask", "polyline", "points", "cuboid", "ellipse", "skeleton")


def _points(text: str, where: str) -> np.ndarray:
    try:
        return np.array([[float(v) for v in pair.split(",")] for pair in text.split(";")], np.float64)
    except ValueError as exc:
        raise AnnotatorError("CVAT points are not x,y;x,y numbers", given=where, hint=text[:60]) from exc


def import_cvat(project: Any, source: str | os.PathLike[str] | bytes) -> ImportReport:
    """Import a CVAT XML 1.1 file: tracks (or image shapes) as objects, polygons as masks, boxes as prompts.

    One undo step; nothing is written when the task's size or frame count differs from the project's
    video, a frame is out of range, or the XML is malformed.
    """
    project = project_of(project)
    stream: Any = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    where = "the CVAT XML" if isinstance(source, bytes) else str(source)
    w, h = project.size
    pending = Pending()
    skipped: Counter[str] = Counter()
    track: dict[str, Any] | None = None
    image_frame: int | None = None
    name_attrs: dict[int, str] = {}
    attrs: dict[str, str] = {}
    loose = 0
    try:
        for event, el in ET.iterparse(stream, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == "track":
                    track = {"id": int(el.get("id", "0")), "label": el.get("label", "")}
                elif tag == "image":
                    image_frame = check_frame(project, int(el.get("id", "0")), where)
                    if el.get("width") and el.get("height"):
                        check_size(project, int(el.get("width", 0)), int(el.get("height", 0)), where)
                elif tag in ("polygon", "box", *_SKIPPED):
                    attrs = {}
                continue
            if tag == "size" and el.text and image_frame is None and track is None:
                check_frame_count(project, int(el.text), where)
            elif tag == "original_size":
                check_size(project, int(el.findtext("width", "0")), int(el.findtext("height", "0")), where)
            elif tag == "attribute" and el.get("name"):
                attrs[el.get("name", "")] = el.text or ""
            elif tag in ("polygon", "box", *_SKIPPED) and (track is not None or image_frame is not None):
                if tag in _SKIPPED:
                    skipped[tag] += 1
                elif el.get("outside") != "1":
                    if track is not None:
                        src, label = track["id"], track["label"]
                        frame = check_frame(project, int(el.get("frame", "0")), where)
                    else:
                        loose += 1
                        src, label, frame = -loose, el.get("label", ""), int(image_frame or 0)
                    pending.object(src, "", label)
                    if attrs.get("name"):
                        name_attrs.setdefault(src, attrs["name"])
                    if tag == "polygon":
                        poly = _points(el.get("points", ""), where)
                        pending.masks.append((frame, src, RLE.from_mask(polygon_to_mask(poly, (h, w))), None))
                    else:
                        x0, y0, x1, y1 = (float(el.get(k, "0")) for k in ("xtl", "ytl", "xbr", "ybr"))
                        box = Box.from_corners(x0, y0, max(x1, x0 + 1e-3), max(y1, y0 + 1e-3)).clip(w, h)
                        if box is not None:
                            pending.boxes.append((frame, src, box))
                el.clear()
            elif tag == "track":
                track = None
                el.clear()
            elif tag == "image":
                image_frame = None
                el.clear()
    except ET.ParseError as exc:
        raise AnnotatorError("not a readable CVAT XML file", given=where, hint=str(exc)) from exc
    for src, name in name_attrs.items():
        pending.objects[src] = (name, pending.objects[src][1])
    if skipped:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))
        pending.notes.append(f"shapes not imported ({kinds}): convert them to polygons in CVAT first")
    if not pending.objects:
        pending.notes.append("the XML holds no polygon or box shapes")
    return commit(project, pending, "import CVAT")


def _load(project: Any, source: str | os.PathLike[str], **options: Any) -> ImportReport:
    return import_cvat(project, source, **options)


#: the registry entry (``registry.lookup("importer", "cvat")``)
IMPORTER = Importer("cvat", "CVAT XML 1.1 (video tracks or image shapes): polygons as masks", _load)
