"""Per-frame label images: one PNG per annotated frame, pixel value = object id (0 = background).

Images are 8-bit when every object id is below 256, else 16-bit. Where masks overlap, the higher
object id wins (deterministic). :func:`~annotator_widgets.export.davis.import_indexed_png` reads
them back (importer ``davis``, alias ``png``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import AnnotatorError
from ._common import project_of
from ._io import atomic_folder
from .base import ExportFormat
from .davis import iter_label_images

__all__ = ["FORMAT", "save_masks_png"]


def save_masks_png(
    project: Any, folder: str | os.PathLike[str], *, pattern: str = "{:06d}.png", overwrite: bool = False
) -> list[Path]:
    """Write a label PNG for every frame that has masks, atomically; returns the written paths."""
    project = project_of(project)
    final = Path(folder)
    ids = [o.obj_id for o in project.objects()]
    dtype = np.uint8 if not ids or max(ids) < 256 else np.uint16
    names: list[str] = []
    with atomic_folder(final, "png", overwrite=overwrite) as tmp:
        for frame, label in iter_label_images(project, dtype=dtype):
            ok, buf = cv2.imencode(".png", label)
            if not ok:
                raise AnnotatorError("OpenCV could not encode a label image", given=(frame, label.shape))
            name = pattern.format(frame)
            (tmp / name).write_bytes(bytes(buf))
            names.append(name)
    return [final / n for n in names]


#: the registry entry (``registry.lookup("exporter", "png")``)
FORMAT = ExportFormat("png", "one label PNG per frame, pixel value = object id", "folder", save_masks_png)
