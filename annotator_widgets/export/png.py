"""Per-frame label images: one PNG per frame, pixel value = object id (0 = background)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .base import ExportFormat

__all__ = ["FORMAT", "save_masks_png"]


def save_masks_png(project: Any, folder: str | os.PathLike[str], *, pattern: str = "{:06d}.png") -> list[Path]:
    """Write a label PNG for every frame that has masks; returns the written paths.

    Images are 8-bit when every object id is below 256, else 16-bit. Where
    masks overlap, the higher object id wins (deterministic).
    """
    project = getattr(project, "project", project)
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    w, h = project.size
    ids = [o.obj_id for o in project.objects()]
    dtype = np.uint8 if not ids or max(ids) < 256 else np.uint16
    written = []
    for frame in project.mask_frames():
        label = np.zeros((h, w), dtype)
        for oid, ann in sorted(project.annotations(frame).items()):
            label[ann.mask] = oid
        path = out_dir / pattern.format(frame)
        cv2.imwrite(str(path), label)
        written.append(path)
    return written


#: the registry entry (``registry.lookup("exporter", "png")``)
FORMAT = ExportFormat("png", "one label PNG per frame, pixel value = object id", "folder", save_masks_png)
