"""DAVIS-style indexed PNG masks, per-object binary PNGs, and reading indexed PNGs back.

* ``davis``: ``<out>/Annotations/<video>/<frame:05d>.png``, palette ("P" mode) PNGs whose pixel
  value is the object id (0 = background) with the DAVIS palette (the PASCAL VOC colour map: 1 is
  dark red, 2 dark green, ...), one per annotated frame (``all_frames=True``: every frame of the
  video). Where masks overlap the higher object id keeps the pixel. Ids must fit in 8 bits (1..255):
  the ``png`` format writes 16-bit label images for larger ids. ``images=True`` adds
  ``JPEGImages/<video>/<frame:05d>.jpg``.
* ``binary-png``: ``<out>/<obj_id>/<frame:05d>.png``, one black-and-white (0 / 255) PNG per object
  and frame it has a mask on.
* :func:`import_indexed_png` reads DAVIS folders, the ``png`` format's 8/16-bit label images, or any
  folder of indexed PNGs named after their frame: every non-zero value is an object id.

Example:
    >>> import os, tempfile, numpy as np
    >>> from PIL import Image
    >>> from annotator_widgets import Project
    >>> video = {"frames": 2, "width": 6, "height": 4, "name": "cat.mp4"}
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), video)
    >>> m = np.zeros((4, 6), bool); m[1:3, 2:5] = True
    >>> _ = p.put_mask(1, p.add_object(obj_id=2).obj_id, m)
    >>> paths = save_davis(p, os.path.join(tempfile.mkdtemp(), "davis"))
    >>> paths[0].relative_to(paths[0].parents[2]).as_posix()
    'Annotations/cat/00001.png'
    >>> im = Image.open(paths[0]); im.mode, np.unique(np.asarray(im)).tolist(), im.getpalette()[6:9]
    ('P', [0, 2], [0, 128, 0])
"""

from __future__ import annotations

import io
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE
from ._common import encode_image, iter_frames, project_of, video_name
from ._importing import Pending, check_frame, check_size, commit
from .base import ExportFormat, Importer, ImportReport

__all__ = [
    "BINARY",
    "DAVIS",
    "IMPORTER",
    "davis_palette",
    "import_indexed_png",
    "iter_label_images",
    "save_binary_png",
    "save_davis",
]


def davis_palette() -> list[int]:
    """The DAVIS palette (PASCAL VOC colour map) as 768 ints ``r, g, b, r, g, b, ...``."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, rgb = i, [0, 0, 0]
        for bit in range(8):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << (7 - bit)
            c >>= 3
        pal[i] = rgb
    return [int(v) for v in pal.ravel()]


def iter_label_images(
    project: Any, *, all_frames: bool = False, dtype: Any = np.uint8
) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame, label image)`` for every annotated frame (or every frame), the higher id on top."""
    project = project_of(project)
    w, h = project.size
    groups = itertools.groupby(project.iter_annotations(), key=lambda a: a.frame)
    pending = next(groups, None)
    frames = range(project.num_frames) if all_frames else project.mask_frames()
    for frame in frames:
        label = np.zeros((h, w), dtype)
        if pending is not None and pending[0] == frame:
            for ann in sorted(pending[1], key=lambda a: a.obj_id):
                if not ann.rle.is_empty:
                    label[ann.mask] = ann.obj_id
            pending = next(groups, None)
        yield frame, label


def _png(label: np.ndarray, palette: list[int] | None) -> bytes:
    from PIL import Image

    img = Image.fromarray(label)
    if palette is not None:
        img.putpalette(palette)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def save_davis(
    project: Any,
    out: str | os.PathLike[str],
    *,
    all_frames: bool = False,
    images: bool = False,
    video: Any = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write DAVIS-style palette PNGs (and optionally the frames) atomically; returns the files written."""
    from ._io import atomic_folder

    project = project_of(project)
    big = [o.obj_id for o in project.objects() if o.obj_id > 255]
    if big:
        raise AnnotatorError(
            "DAVIS PNGs hold object ids 1..255 and some ids are larger",
            given=big[:10],
            hint='export the "png" format (16-bit label images) instead',
        )
    final, name, palette = Path(out), video_name(project), davis_palette()
    written: list[str] = []
    with atomic_folder(final, "davis", overwrite=overwrite) as tmp:
        folder = tmp / "Annotations" / name
        folder.mkdir(parents=True)
        for frame, label in iter_label_images(project, all_frames=all_frames):
            (folder / f"{frame:05d}.png").write_bytes(_png(label, palette))
            written.append(f"Annotations/{name}/{frame:05d}.png")
        if images:
            jpegs = tmp / "JPEGImages" / name
            jpegs.mkdir(parents=True)
            frames = range(project.num_frames) if all_frames else project.mask_frames()
            for index, rgb in iter_frames(project, frames, video):
                (jpegs / f"{index:05d}.jpg").write_bytes(encode_image(rgb, "jpg"))
                written.append(f"JPEGImages/{name}/{index:05d}.jpg")
    return [final / p for p in written]


def save_binary_png(project: Any, out: str | os.PathLike[str], *, overwrite: bool = False) -> list[Path]:
    """Write one 0/255 PNG per object and frame, ``<obj_id>/<frame:05d>.png``; returns the files written."""
    from ._io import atomic_folder

    project = project_of(project)
    final = Path(out)
    written: list[str] = []
    with atomic_folder(final, "binary-png", overwrite=overwrite) as tmp:
        for ann in project.iter_annotations():
            folder = tmp / str(ann.obj_id)
            folder.mkdir(exist_ok=True)
            (folder / f"{ann.frame:05d}.png").write_bytes(_png(ann.mask.astype(np.uint8) * 255, None))
            written.append(f"{ann.obj_id}/{ann.frame:05d}.png")
    return [final / p for p in sorted(written)]


def _png_folder(root: Path, video: str | None) -> Path:
    ann = root / "Annotations"
    if not ann.is_dir():
        return root
    videos = sorted(p.name for p in ann.iterdir() if p.is_dir())
    if video is not None:
        return ann / video
    if len(videos) != 1:
        raise AnnotatorError("the DAVIS folder holds several videos", given=videos, hint="pass video=<name>")
    return ann / videos[0]


def import_indexed_png(project: Any, source: str | os.PathLike[str], *, video: str | None = None) -> ImportReport:
    """Import indexed PNG masks (DAVIS palette PNGs or label images): pixel value = object id.

    Args:
        project: The project (or a session).
        source: A DAVIS root (``Annotations/<video>/``), or a folder of PNGs named after their frame.
        video: Which video of a DAVIS root with several.

    Raises:
        AnnotatorError: No PNGs, an image of another size, or a frame the project's video does not have.
    """
    from PIL import Image

    project = project_of(project)
    folder = _png_folder(Path(source), video)
    files = sorted(folder.glob("*.png"))
    if not files:
        raise AnnotatorError("no PNG masks found", given=str(folder), hint="pass a DAVIS root or a folder of PNGs")
    pending = Pending()
    for path in files:
        found = re.findall(r"\d+", path.stem)
        if not found:
            raise AnnotatorError("cannot tell the frame of a PNG from its name", given=str(path))
        frame = check_frame(project, int(found[-1]), path)
        with Image.open(path) as im:
            check_size(project, im.size[0], im.size[1], path)
            if im.mode not in ("P", "L", "I", "I;16", "1"):
                raise AnnotatorError("not an indexed or grey PNG", given=f"{path} ({im.mode})")
            label = np.asarray(im)
        for value in np.unique(label):
            if value:
                pending.object(int(value))
                pending.masks.append((frame, int(value), RLE.from_mask(label == value), None))
    return commit(project, pending, "import PNG masks")


#: registry entries
DAVIS = ExportFormat(
    "davis",
    "DAVIS palette PNGs: Annotations/<video>/<frame>.png, value = id",
    "folder",
    save_davis,
    writes_images=True,
)
BINARY = ExportFormat("binary-png", "one 0/255 PNG per object and frame: <id>/<frame>.png", "folder", save_binary_png)
IMPORTER = Importer("davis", "indexed PNG masks (DAVIS palette or label images): value = object id", import_indexed_png)
