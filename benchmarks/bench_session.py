"""Session figures on the micro SAM2 model (random weights, real code paths); prints one JSON object.

- overhead_ratio_median: per-frame propagation time through AnnotationSession (lazy frames from our VideoSource,
  masks encoded and committed to the project by the writer thread) divided by the raw sam2 predictor's
  (init_state on a JPEG folder + propagate_in_video) on the same frames with the same prompts.
  Rounds are paired (raw and session back to back, the order alternating between rounds so drift in
  machine load cancels); ``overhead_ratio_median`` is the MEDIAN of the per-round ratios session/raw;
  ``overhead_ratio_best`` (best run of each: noise only ever adds time) is a secondary figure.
- rss_200_mb / rss_2000_mb / rss_ratio: peak RSS of one session propagating a 2,000-frame 640x360 video,
  read after 200 and after 2,000 frames (raw init_state would hold every frame: ~12.6 MB per frame at 1024 px).
- classic_miou: the OpenCV segmenter's mean IoU against ground truth on the default synthetic clip.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

from annotator_widgets import AnnotationSession, Point, Prompt, open_video
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import synthetic_clip
from annotator_widgets.metrics import evaluate_propagation
from tests.support.models import build_micro_sam2, time_raw_predictor

W, H = 640, 360


def _scene(rng: np.random.Generator) -> np.ndarray:
    small = rng.integers(40, 200, (H // 16, W // 16, 3), dtype=np.uint8)
    bg = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    return cv2.add(bg, rng.integers(0, 25, (H, W, 3), dtype=np.uint8))


def _centers(i: int) -> list[tuple[int, int]]:
    t = i / 30.0
    return [
        (int(W / 2 + 200 * np.sin(t * (0.7 + 0.2 * k) + k)), int(H / 2 + 100 * np.cos(t * (0.5 + 0.1 * k) + 2 * k)))
        for k in range(3)
    ]


def _frames(n: int):
    rng = np.random.default_rng(0)
    bg = _scene(rng)
    colors = [(220, 60, 40), (40, 180, 70), (60, 80, 220)]
    for i in range(n):
        img = bg.copy()
        for (cx, cy), col in zip(_centers(i), colors, strict=True):
            cv2.ellipse(img, (cx, cy), (45, 32), (i * 3) % 180, 0, 360, col, -1)
            cv2.ellipse(img, (cx, cy), (20, 12), (i * 3) % 180, 0, 360, (250, 250, 250), 3)
        yield img


def _prompts() -> list[Prompt]:
    return [Prompt(0, k + 1, points=(Point(cx, cy),)) for k, (cx, cy) in enumerate(_centers(0))]


def _write_jpegs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(_frames(n)):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return folder


def _write_video(path: Path, n: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H))
    for img in _frames(n):
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _session_seconds_per_frame(micro, folder: Path, frames: int, tmp: Path, run: int) -> float:
    with AnnotationSession(open_video(folder), tmp / f"overhead{run}.awp", micro.segmenter()) as session:
        for p in _prompts():
            session.add_points(p.frame, p.obj_id, [(pt.x, pt.y) for pt in p.points])
        stream = session.propagate("forward", start=0, stop=frames + 1)
        for _ in range(3):  # the same warm-up as the raw run (2 frames after the start frame)
            next(stream)
        t = time.perf_counter()
        n = sum(1 for _ in stream)
        return (time.perf_counter() - t) / n


def overhead(micro, tmp: Path, frames: int = 120, rounds: int = 7) -> dict[str, float]:
    folder = _write_jpegs(tmp / "jpegs", frames + 1)
    raw, ours = [], []
    for r in range(rounds):
        if r % 2 == 0:
            raw.append(time_raw_predictor(micro, folder, _prompts(), frames))
            ours.append(_session_seconds_per_frame(micro, folder, frames, tmp, r))
        else:
            ours.append(_session_seconds_per_frame(micro, folder, frames, tmp, r))
            raw.append(time_raw_predictor(micro, folder, _prompts(), frames))
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    return {
        "raw_ms_per_frame": round(statistics.median(raw) * 1000, 2),
        "session_ms_per_frame": round(statistics.median(ours) * 1000, 2),
        "overhead_ratio_median": round(statistics.median(ratios), 3),
        "overhead_ratio_best": round(min(ours) / min(raw), 3),
        "raw_ms_per_round": [round(v * 1000, 1) for v in raw],
        "session_ms_per_round": [round(v * 1000, 1) for v in ours],
        "rounds": rounds,
    }


def memory(micro, tmp: Path, frames: int = 2000) -> dict[str, float]:
    path = _write_video(tmp / "long.avi", frames)
    proc = psutil.Process()
    peak = rss_200 = 0
    with AnnotationSession(path, tmp / "long.awp", micro.segmenter()) as session:
        for p in _prompts():
            session.add_points(p.frame, p.obj_id, [(pt.x, pt.y) for pt in p.points])
        for step in session.propagate():
            peak = max(peak, proc.memory_info().rss)
            if step.frame == 199:
                rss_200 = peak
        saved = len(session.project.mask_frames())
    return {
        "rss_200_mb": round(rss_200 / 2**20, 1),
        "rss_2000_mb": round(peak / 2**20, 1),
        "rss_ratio": round(peak / rss_200, 3),
        "frames_saved": saved,
    }


def classic_quality() -> dict[str, float]:
    res = evaluate_propagation(ClassicSegmenter(), synthetic_clip(), "points")
    box = evaluate_propagation(ClassicSegmenter(), synthetic_clip(), "box")
    return {
        "classic_miou": round(res["miou"], 4),
        "classic_miou_box": round(box["miou"], 4),
        "classic_ms_per_frame": round(res["propagate_ms_per_frame"], 1),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="paired rounds of the overhead figure")
    ap.add_argument("--skip-memory", action="store_true", help="leave out the 2,000-frame RSS run (the slow part)")
    ap.add_argument(
        "--only",
        choices=["overhead", "memory", "classic"],
        help="one part alone (memory: RSS is not a timing, so it can run while the machine is busy)",
    )
    args = ap.parse_args(argv)
    parts = [args.only] if args.only else ["overhead", *([] if args.skip_memory else ["memory"]), "classic"]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        micro = build_micro_sam2(tmp / "micro")
        out: dict[str, float] = {}
        if "overhead" in parts:
            out.update(overhead(micro, tmp, rounds=args.rounds))
        if "memory" in parts:
            out.update(memory(micro, tmp))
        if "classic" in parts:
            out.update(classic_quality())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
