"""COCO as a dataset folder: the layout Datumaro, CVAT (COCO 1.0), FiftyOne and COCO-style trainers read.

:mod:`.coco` writes one JSON file; tools that import a COCO *dataset* look for the annotation files
and the frames in a fixed layout around it::

    <out>/annotations/instances_default.json         the masks (RLE), tracks, videos, actions
    <out>/annotations/person_keypoints_default.json  the poses as COCO keypoints (only where the project has poses)
    <out>/images/default/frame_000000.jpg ...        with ``images=True``: every frame the files name

``default`` is the subset (``subset=``). Both files are :func:`~.coco.to_coco` (the masks with
``keypoints=False``, the poses with ``masks=False``: each file holds what its kind of reader expects), and
``images[].file_name`` is the frame's file under ``images/<subset>/``. The folder is written atomically and
replaces only an earlier export (``overwrite=True`` for any other folder). Datumaro imports the folder as
``coco`` (the masks, with the frames) and takes one task per import: the keypoints file is read on its own
(format ``coco_person_keypoints``), as CVAT's "COCO Keypoints 1.0" is a format of its own.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 3, "width": 8, "height": 6})
    >>> mug = p.add_object(name="mug", category="cup")
    >>> _ = p.put_mask(1, mug.obj_id, np.ones((6, 8), bool))
    >>> out = save_coco_dataset(p, os.path.join(tempfile.mkdtemp(), "coco"))
    >>> [path.relative_to(out[0].parents[1]).as_posix() for path in out]
    ['annotations/instances_default.json']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import AnnotatorError
from ._common import encode_image, iter_frames, project_of
from ._io import atomic_folder
from .base import ExportFormat
from .coco import to_coco

__all__ = ["FORMAT", "save_coco_dataset"]


def save_coco_dataset(
    project: Any,
    out: str | os.PathLike[str],
    *,
    images: bool = False,
    image_format: str = "jpg",
    video: Any = None,
    subset: str = "default",
    include_empty: bool = False,
    visible_threshold: float = 0.5,
    overwrite: bool = False,
) -> list[Path]:
    """Write the project as a COCO dataset folder (see the module notes); returns the paths written.

    Args:
        project: A Project (or a session).
        out: The dataset folder (replaced if an earlier export wrote it).
        images: Also write the frames the annotation files name, streamed from ``video`` or the project's video.
        image_format: ``"jpg"`` or ``"png"`` (the files' names in the JSON follow it).
        video: A path or VideoSource for the frames (default: the project's video file).
        subset: The subset name in the file names (``instances_<subset>.json``, ``images/<subset>/``).
        include_empty: Also export empty masks (as :func:`~.coco.to_coco`).
        visible_threshold: Landmark visibility from which a keypoint is visible (as :func:`~.coco.to_coco`).
        overwrite: Replace ``out`` even if it holds files no export wrote.

    Raises:
        AnnotatorError: A bad ``subset`` or ``image_format``, a folder that holds other files, or (with
            ``images``) no video to read the frames from.
    """
    ext = image_format.lower().lstrip(".")
    if ext not in ("jpg", "jpeg", "png"):
        raise AnnotatorError("frames can be written as jpg or png", given=image_format, hint='image_format="jpg"')
    if not subset or not all(c.isalnum() or c in "-_" for c in subset):
        raise AnnotatorError(
            "the subset names files and a folder: letters, digits, '-' and '_' only", given=subset, hint="e.g. 'train'"
        )
    project = project_of(project)
    name = "frame_{:06d}." + ext
    files = {"instances": to_coco(project, frame_name=name, keypoints=False, include_empty=include_empty)}
    if project.pose_frames():
        files["person_keypoints"] = to_coco(project, frame_name=name, masks=False, visible_threshold=visible_threshold)
    written: list[str] = []
    with atomic_folder(out, "coco-dataset", overwrite=overwrite) as tmp:
        (tmp / "annotations").mkdir()
        for kind, data in files.items():
            rel = f"annotations/{kind}_{subset}.json"
            (tmp / rel).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            written.append(rel)
        folder = tmp / "images" / subset
        folder.mkdir(parents=True)  # (Datumaro's reader wants the folder even without frames)
        if images:
            frames = sorted({im["frame_index"] for data in files.values() for im in data["images"]})
            for index, rgb in iter_frames(project, frames, video):
                rel = f"images/{subset}/{name.format(index)}"
                (tmp / rel).write_bytes(encode_image(rgb, ext))
                written.append(rel)
    return [Path(out) / p for p in written]


#: the registry entry (``registry.lookup("exporter", "coco-dataset")``)
FORMAT = ExportFormat(
    "coco-dataset",
    "COCO dataset folder (annotations/ + images/): what Datumaro, CVAT and COCO trainers import",
    "folder",
    save_coco_dataset,
    writes_images=True,
)
