"""What a privacy-blur user gets: ``annotator-widgets auto --text faces`` + a blurred render, on moving pasted faces.

A 50-frame clip (the street shot of ``bikes.mp4``, frames 137-186, 640x272, real camera motion) gets
four real faces pasted as busts (``tests/support/face_paste.py``) that move across it: 40 px
(astronaut, whole clip), 24 px (Grace Hopper, whole clip), 30 px (carphone, *enters* at frame 23,
between two key frames) and 18 px (astronaut, whole clip). The real CLI runs on it
(``annotator-widgets auto clip.mp4 --text faces`` with the segmenter given, default ``classic``),
then :func:`~annotator_widgets.render.render_video` writes the blurred MP4 from the project, as a
user would. Per face and frame where it is in view:

* ``masked``: at least 90 % of the middle of its face square (the central 60 %: eyes, nose, mouth)
  lies inside the union of the stored masks;
* ``blurred``: in the rendered MP4, that middle lost at least 60 % of its detail (variance of the
  Laplacian, against the same square of the input clip as decoded from its MP4).

``blurred_fraction`` is the share of (face, frame) pairs blurred; per face too. Prints JSON.

    python benchmarks/bench_faces_blur.py [--segmenter classic] [--every 10] [--threshold S]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from annotator_widgets.data import write_video
from tests.support.face_paste import MOVERS, moving_faces

FRAMES = range(137, 187)


def _middle(box: Sequence[float]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    m = 0.2 * (x1 - x0)
    return round(x0 + m), round(y0 + m), round(x1 - m), round(y1 - m)


def _detail(img: np.ndarray, box: Sequence[float]) -> float:
    x0, y0, x1, y1 = (round(v) for v in box)
    patch = cv2.cvtColor(np.ascontiguousarray(img[max(0, y0) : y1, max(0, x0) : x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(patch, cv2.CV_64F).var())


def _read(path: _Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(bgr[..., ::-1])
    cap.release()
    return np.stack(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segmenter", default="classic")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--keep", help="keep the run's files in this folder")
    ap.add_argument("--evaluate", action="store_true", help="only score the run kept in --keep")
    args = ap.parse_args(argv)
    from annotator_widgets.project import Project
    from annotator_widgets.render import render_video
    from annotator_widgets.video import open_video

    frames, truth = moving_faces(FRAMES)
    work = _Path(args.keep or tempfile.mkdtemp(prefix="bench_faces_blur_"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4" if args.evaluate else write_video(frames, work / "clip.mp4", fps=25)
    cmd = [sys.executable, "-m", "annotator_widgets", "auto", str(clip), "--text", "faces", "--out", str(work / "run")]
    cmd += ["--segmenter", args.segmenter, "--redetect-every", str(args.every), "--quiet"]
    if args.threshold is not None:
        cmd += ["--threshold", str(args.threshold)]
    t0 = time.perf_counter()
    if not args.evaluate:
        env = {**os.environ, "PYTHONPATH": str(_Path(__file__).resolve().parents[1])}
        subprocess.run(cmd, check=True, env=env)
    seconds = time.perf_counter() - t0
    project = Project.open(work / "run" / "clip" / "project.awp", readonly=True)
    video = open_video(clip)
    render_video(project, video, work / "blurred.mp4", effect="blur", strength=0.8)
    blurred, plain = _read(work / "blurred.mp4"), _read(clip)
    per_face = []
    for j, (name, size, first, _, _) in enumerate(MOVERS):
        masked, hidden = [], []
        for f, box in enumerate(truth[j]):
            if box is None:
                continue
            anns = project.annotations(f)
            union = np.zeros(frames.shape[1:3], bool)
            for ann in anns.values():
                union |= ann.rle.to_mask().astype(bool)
            x0, y0, x1, y1 = mid = _middle(box)
            masked.append(bool(union[max(0, y0) : y1, max(0, x0) : x1].mean() >= 0.9))
            hidden.append(_detail(blurred[f], mid) <= 0.4 * _detail(plain[f], mid))
        per_face.append(
            {
                "face": f"{name} {size}px" + (f" from frame {first}" if first else ""),
                "frames": len(hidden),
                "masked_fraction": round(float(np.mean(masked)), 3),
                "blurred_fraction": round(float(np.mean(hidden)), 3),
                "first_blurred_frame": next((first + k for k, h in enumerate(hidden) if h), None),
            }
        )
    objects = len(list(project.objects()))
    project.close()
    pairs = sum(p["frames"] for p in per_face)
    return {
        "clip": f"bikes.mp4 frames {FRAMES.start}-{FRAMES.stop - 1}, 640x272, {len(MOVERS)} moving pasted faces",
        "segmenter": args.segmenter,
        "redetect_every": args.every,
        "threshold": args.threshold,
        "objects": objects,
        "blurred_fraction": round(sum(p["blurred_fraction"] * p["frames"] for p in per_face) / pairs, 3),
        "masked_fraction": round(sum(p["masked_fraction"] * p["frames"] for p in per_face) / pairs, 3),
        "faces": per_face,
        "auto_seconds": round(seconds, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
