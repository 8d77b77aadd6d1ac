"""Independent readers for the export tests: Datumaro, run in its own virtualenv.

Datumaro needs ``opencv-python-headless<5``, which would replace this project's
``opencv-contrib-python`` 5.x in the main virtualenv (two cv2 providers overwrite each other), so
it lives in ``<venv>-readers`` (``make readers``) and runs in a subprocess. This file is both:

* the driver, run by the readers' Python: ``python readers.py FORMAT PATH`` loads the dataset with
  ``datumaro.Dataset.import_from(PATH, FORMAT)`` and prints JSON of what it read (items with their
  ids, subsets and frame attributes, the image's per-channel mean when its file was found (BGR, as
  Datumaro reads it); per annotation its type, label name, id, group, attributes,
  box, polygon points, and masks as area plus a COCO RLE string);
* the test side: :func:`datumaro_read` runs the driver and returns that JSON. A missing readers
  virtualenv is a test failure that says how to make it, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def readers_python() -> Path:
    """The readers virtualenv's Python: ``$AW_READERS_PYTHON``, else ``<this venv>-readers/bin/python``."""
    env = os.environ.get("AW_READERS_PYTHON")
    if env:
        return Path(env)
    return Path(sys.prefix + "-readers") / "bin" / "python"


def datumaro_read(path: str | os.PathLike[str], fmt: str, timeout: float = 300) -> dict[str, Any]:
    """What Datumaro reads at ``path`` as format ``fmt`` (runs the driver in the readers virtualenv)."""
    import pytest

    python = readers_python()
    if not python.exists():
        pytest.fail(
            f"the independent readers' virtualenv is missing ({python}): run `make readers` "
            "(it creates <venv>-readers with datumaro and pycocotools), or set AW_READERS_PYTHON"
        )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(
        [str(python), str(HERE), fmt, str(path)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        pytest.fail(f"Datumaro could not read {path} as {fmt}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------- driver


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _annotation(ann: Any, labels: list[str]) -> dict[str, Any]:
    import numpy as np
    from datumaro.components.annotation import AnnotationType
    from pycocotools import mask as coco_mask

    rec: dict[str, Any] = {
        "type": ann.type.name,
        "label": labels[ann.label] if getattr(ann, "label", None) is not None else None,
        "id": ann.id,
        "group": ann.group,
        "attributes": _plain(dict(ann.attributes)),
    }
    if ann.type == AnnotationType.bbox:
        rec["bbox"] = [float(v) for v in ann.get_bbox()]
    elif ann.type in (AnnotationType.polygon, AnnotationType.points, AnnotationType.polyline):
        rec["points"] = [float(v) for v in ann.points]
        if ann.type == AnnotationType.points:
            rec["visibility"] = [int(v) for v in ann.visibility]
    elif ann.type == AnnotationType.mask:
        mask = np.asarray(ann.image).astype(bool)
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        rec["area"] = int(mask.sum())
        rec["size"] = list(mask.shape)
        rec["rle"] = rle["counts"].decode("ascii")
    return rec


def main(argv: list[str]) -> int:
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    fmt, path = argv[1], argv[2]
    dataset = Dataset.import_from(path, fmt)
    cats = dataset.categories().get(AnnotationType.label)
    labels = [c.name for c in cats.items] if cats is not None else []
    items = []
    for item in dataset:
        size = image_mean = None
        if item.media is not None and getattr(item.media, "size", None):
            size = list(item.media.size)
        if item.media is not None and getattr(item.media, "has_data", False):  # the image file was found: read it
            image_mean = [float(v) for v in item.media.data.reshape(-1, item.media.data.shape[-1]).mean(axis=0)]
        items.append(
            {
                "id": str(item.id),
                "subset": item.subset,
                "attributes": _plain(dict(item.attributes)),
                "size": size,
                "image_mean": image_mean,
                "annotations": [_annotation(a, labels) for a in item.annotations],
            }
        )
    items.sort(key=lambda it: (it["subset"] or "", it["id"]))
    json.dump({"format": fmt, "labels": labels, "items": items}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
