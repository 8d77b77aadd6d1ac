"""What several export formats share: class tables, frame names, and frames streamed from the video."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import AnnotatorError

__all__ = [
    "category_of",
    "class_table",
    "encode_image",
    "iter_frames",
    "project_of",
    "video_name",
]


def project_of(obj: Any) -> Any:
    """The project itself, or a session's project."""
    return getattr(obj, "project", obj)


def category_of(obj: Any) -> str:
    """An object's class name: its category, or ``"object"`` when it has none."""
    return str(obj.category or "object")


def class_table(project: Any) -> tuple[list[str], dict[int, int]]:
    """``(class names sorted, {object id: 0-based class index})``: the one deterministic class order."""
    objects = project.objects()
    names = sorted({category_of(o) for o in objects})
    index = {n: i for i, n in enumerate(names)}
    return names, {o.obj_id: index[category_of(o)] for o in objects}


def video_name(project: Any) -> str:
    """A file-name-safe name of the project's video (its file stem, else ``"video"``)."""
    raw = project.video_info.get("name") or project.video_info.get("path") or "video"
    stem = Path(str(raw)).stem or "video"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    return safe or "video"


def encode_image(rgb: np.ndarray, ext: str) -> bytes:
    """An RGB frame as JPEG (quality 95) or PNG bytes; deterministic for the same pixels."""
    ext = ext.lower().lstrip(".")
    if ext not in ("jpg", "jpeg", "png"):
        raise AnnotatorError("frames can be written as jpg or png", given=ext, hint='pass image_format="jpg" or "png"')
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ("jpg", "jpeg") else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode("." + ext, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise AnnotatorError("OpenCV could not encode a frame", given=(rgb.shape, ext))
    return bytes(buf)


def iter_frames(project: Any, frames: Iterable[int], video: Any = None) -> Iterator[tuple[int, np.ndarray]]:
    """Stream ``(index, RGB frame)`` for ``frames`` (sorted) from ``video`` or the project's video file.

    Only one decoded frame is held at a time.

    Raises:
        AnnotatorError: No video given and the project does not know its file, or the video's size
            differs from the project's.
    """
    from ..video import open_video

    src = video if video is not None else project.video_info.get("path")
    if src is None or (isinstance(src, str | os.PathLike) and not Path(src).exists()):
        raise AnnotatorError(
            "writing images needs the project's video, and its file is not known or not found",
            given=src,
            hint="pass video=<path or VideoSource> to the export (--video PATH on the command line), or images=False",
        )
    source = open_video(src)
    if tuple(source.size) != tuple(project.size):
        raise AnnotatorError(
            "the video's frame size differs from the project's",
            given=f"{source.size[0]}x{source.size[1]}",
            hint=f"pass the project's own video ({project.size[0]}x{project.size[1]})",
        )
    try:
        for index in sorted(frames):
            yield index, source.frame(index)
    finally:
        if source is not src:  # opened here from a path
            source.close()
