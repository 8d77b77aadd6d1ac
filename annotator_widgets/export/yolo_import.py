"""Read a YOLO dataset (Ultralytics layout) back into a project.

Polygon lines become masks (rasterised with the pixel-centre rule, so an exact export comes back
pixel for pixel); five-value lines (``class cx cy w h``) become box prompts. The frame of a label
file is the last number in its name (``frame_000012.txt`` -> 12). Track ids come from ``tracks/``
(written by :func:`~annotator_widgets.export.yolo.save_yolo`) and are kept where free; without it,
every label line is an object of its own. Images, where present, must have the project's size.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> from annotator_widgets.export.yolo import save_yolo
    >>> video = {"frames": 2, "width": 10, "height": 5}
    >>> src = Project.create(os.path.join(tempfile.mkdtemp(), "a.awp"), video)
    >>> m = np.zeros((5, 10), bool); m[1:4, 2:7] = True; m[2, 4] = False
    >>> _ = src.put_mask(1, src.add_object(category="cup", obj_id=4).obj_id, m)
    >>> out = os.path.join(tempfile.mkdtemp(), "yolo")
    >>> _ = save_yolo(src, out)
    >>> dst = Project.create(os.path.join(tempfile.mkdtemp(), "b.awp"), video)
    >>> report = import_yolo(dst, out)
    >>> report.objects, bool((dst.annotation(1, 4).mask == m).all()), dst.object(4).category
    ({4: 4}, True, 'cup')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import Box
from ._common import project_of
from ._importing import Pending, check_frame, check_size, commit
from .base import Importer, ImportReport
from .polygons import polygon_to_mask

__all__ = ["IMPORTER", "import_yolo"]

_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _names(yaml_file: Path) -> list[str]:
    import yaml  # PyYAML: a dependency of supervision

    try:
        data = yaml.safe_load(yaml_file.read_text())
        names = data["names"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise AnnotatorError("cannot read class names from data.yaml", given=str(yaml_file), hint=str(exc)) from exc
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names, key=int)]
    if isinstance(names, list):
        return [str(n) for n in names]
    raise AnnotatorError("data.yaml names must be a list or a mapping", given=type(names).__name__)


def _frame_of(path: Path) -> int:
    found = re.findall(r"\d+", path.stem)
    if not found:
        raise AnnotatorError(
            "cannot tell the frame of a label file from its name",
            given=str(path),
            hint="name label files after their frame, e.g. frame_000012.txt",
        )
    return int(found[-1])


def _image_size(labels_root: Path, label: Path) -> tuple[int, int] | None:
    from PIL import Image

    rel = label.relative_to(labels_root).with_suffix("")
    for ext in _IMAGE_EXT:
        image = labels_root.parent / "images" / rel.with_suffix(ext)
        if image.is_file():
            with Image.open(image) as im:
                return int(im.size[0]), int(im.size[1])
    return None


def import_yolo(project: Any, source: str | os.PathLike[str]) -> ImportReport:
    """Import a YOLO dataset folder (or its data.yaml): masks from polygons, box prompts from boxes.

    One undo step; nothing is written when a file is malformed, an image has another size, or a
    frame is beyond the project's video.
    """
    project = project_of(project)
    root = Path(source)
    yaml_file = root if root.is_file() else root / "data.yaml"
    root = yaml_file.parent
    if not yaml_file.is_file():
        raise AnnotatorError("no data.yaml in the YOLO folder", given=str(root), hint="pass the dataset folder")
    names = _names(yaml_file)
    labels_root = root / "labels"
    files = sorted(labels_root.rglob("*.txt"))
    if not files:
        raise AnnotatorError("the YOLO folder has no label files", given=str(labels_root))
    w, h = project.size
    pending = Pending()
    for label in files:
        where = str(label)
        size = _image_size(labels_root, label)
        if size is not None:
            check_size(project, size[0], size[1], where)
        frame = check_frame(project, _frame_of(label), where)
        lines = [ln.split() for ln in label.read_text().splitlines() if ln.strip()]
        track_file = root / "tracks" / label.relative_to(labels_root)
        ids: list[int | None] = [None] * len(lines)
        if track_file.is_file():
            ids = [int(t) for t in track_file.read_text().split()]
            if len(ids) != len(lines):
                raise AnnotatorError(
                    "the track id file and the label file differ in length", given=(str(track_file), len(ids))
                )
        for k, (tokens, tid) in enumerate(zip(lines, ids, strict=True)):
            try:
                cls, values = int(float(tokens[0])), np.asarray(tokens[1:], np.float64)
            except (ValueError, IndexError) as exc:
                raise AnnotatorError("a YOLO label line is not numbers", given=f"{where}:{k + 1}") from exc
            if not 0 <= cls < len(names):
                raise AnnotatorError("a YOLO class id is not in data.yaml's names", given=f"{where}:{k + 1}: {cls}")
            src = tid if tid is not None else -(len(pending.masks) + len(pending.boxes) + 1)
            pending.object(src, "", names[cls])
            if values.size == 4:
                cx, cy, bw, bh = values * (w, h, w, h)
                box = Box(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2).clip(w, h)
                if box is None:
                    pending.notes.append(f"{where}:{k + 1}: a box outside the frame was skipped")
                    continue
                pending.boxes.append((frame, src, box))
            elif values.size >= 6 and values.size % 2 == 0:
                mask = polygon_to_mask(values.reshape(-1, 2) * (w, h), (h, w))
                pending.masks.append((frame, src, RLE.from_mask(mask), None))
            else:
                raise AnnotatorError(
                    "a YOLO line must hold a box (4 values) or a polygon (3 or more x, y pairs)",
                    given=f"{where}:{k + 1}: {values.size} values",
                )
    return commit(project, pending, "import YOLO")


def _load(project: Any, source: str | os.PathLike[str], **options: Any) -> ImportReport:
    return import_yolo(project, source, **options)


#: the registry entry (``registry.lookup("importer", "yolo")``)
IMPORTER = Importer("yolo", "YOLO (Ultralytics layout): polygons as masks, boxes as box prompts", _load)
