"""Export figures: seconds to write a project of 1,000 frames x 3 objects at 1080p; prints one JSON object.

The project is on disk (SQLite, WAL) and every exporter streams it (one frame's masks in memory):

- coco_export_s: COCO JSON (RLE masks, tracks).
- yolo_export_s: YOLO segmentation labels (exact pixel-edge polygons, holes bridged), no images.
- cvat_export_s: CVAT for video 1.1 XML (one polygon per object and frame).
- png_export_s: 8-bit label PNGs, one per frame.
- build_s: writing the masks into the project (not an export; for scale).
- peak_rss_mb: the process's peak resident memory after all exports.

Masks are generated cheaply (moving ellipses, one with a hole), encoded to RLE and stored with
``put_annotations`` in one transaction per 100 frames. ``--frames/--width/--height`` shrink it for a
quick check.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

import cv2
import numpy as np

from annotator_widgets import Project
from annotator_widgets.export.coco import save_coco
from annotator_widgets.export.cvat import save_cvat
from annotator_widgets.export.png import save_masks_png
from annotator_widgets.export.yolo import save_yolo
from annotator_widgets.rle import RLE
from annotator_widgets.types import Annotation, Source


def build(path: Path, frames: int, width: int, height: int, objects: int) -> Project:
    project = Project.create(path, {"frames": frames, "width": width, "height": height, "fps": 30.0})
    ids = [
        project.add_object(name=f"thing {k}", category=("cup", "person", "ring")[k % 3]).obj_id for k in range(objects)
    ]
    canvas = np.zeros((height, width), np.uint8)
    batch: list[Annotation] = []
    for f in range(frames):
        for k, oid in enumerate(ids):
            canvas[:] = 0
            t = f / 40.0 + 2.1 * k
            cx = int(width * (0.5 + 0.35 * np.sin(t)))
            cy = int(height * (0.5 + 0.3 * np.cos(1.3 * t)))
            axes = (int(width * 0.09), int(height * 0.12))
            cv2.ellipse(canvas, (cx, cy), axes, (f * 2 + 40 * k) % 180, 0, 360, 1, -1)
            if k == 2:  # a ring: a hole in the middle
                cv2.ellipse(canvas, (cx, cy), (axes[0] // 3, axes[1] // 3), 0, 0, 360, 0, -1)
            batch.append(Annotation(f, oid, RLE.from_mask(canvas), 0.9, Source.PROPAGATED))
        if len(batch) >= 100 * objects or f == frames - 1:
            project.put_annotations(batch, label="bench masks")
            batch = []
    return project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--objects", type=int, default=3)
    args = ap.parse_args()
    out: dict[str, float | int] = {"frames": args.frames, "width": args.width, "height": args.height}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        project = build(root / "bench.awp", args.frames, args.width, args.height, args.objects)
        out["build_s"] = round(time.perf_counter() - t0, 3)
        runs = {
            "coco_export_s": lambda: save_coco(project, root / "coco.json"),
            "yolo_export_s": lambda: save_yolo(project, root / "yolo", yaml_path="."),
            "cvat_export_s": lambda: save_cvat(project, root / "cvat.xml"),
            "png_export_s": lambda: save_masks_png(project, root / "png"),
        }
        for key, run in runs.items():
            t0 = time.perf_counter()
            run()
            out[key] = round(time.perf_counter() - t0, 3)
        project.close()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
