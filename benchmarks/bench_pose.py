"""Pose detection and identity tracking figures; prints one JSON object.

- ``detect_ms_per_frame``: MediaPipe pose landmarker (video mode, num_poses=2) on the
  640x360 two-person crossing clip, ms per frame (median of the per-frame times).
- ``track_overhead_ratio``: our tracker (torso colours + Hungarian assignment) per
  frame, as a fraction of the detection time, measured in the same run (goal <= 0.10).
- ``id_switches``: identity switches against the clip's ground truth (MOT IDSW);
  ``id_switches_seeds`` on five variants of the clip (seeds 0-4), and
  ``id_switches_slow_crossing`` on a 120-frame version where they overlap twice as long.

Uses the pose bundle built from the mediapipe wheel on PyPI (the official full
model when it is in the checkpoint cache).

    python benchmarks/bench_pose.py
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets.backends.pose import MediaPipePoseEstimator, timestamp_ms
from annotator_widgets.data import CrossingClip
from annotator_widgets.metrics import count_id_switches
from annotator_widgets.pose_tracking import PersonTracker
from tests.support.people import crossing_clip, pose_bundle


def _run(clip: CrossingClip, model: Path) -> dict[str, object]:
    detect_s, track_s, feature_s = [], [], []
    tracker = PersonTracker()
    tracked = []
    with MediaPipePoseEstimator(model, num_poses=2, min_pose_detection_confidence=0.3) as est:
        for i, frame in enumerate(clip.frames):
            t0 = time.perf_counter()
            poses = est.detect(frame, timestamp_ms(i, clip.fps))
            t1 = time.perf_counter()
            dets = tracker.describe([replace(p, frame=i) for p in poses], frame)
            t2 = time.perf_counter()
            tracked.append(tracker.assign(dets, i) if i else tracker.start_detections(dets, "all", frame=0))
            t3 = time.perf_counter()
            detect_s.append(t1 - t0)
            feature_s.append(t2 - t1)
            track_s.append(t3 - t1)
    detect_ms = float(np.median(detect_s) * 1000)
    track_ms = float(np.median(track_s) * 1000)
    return {
        "detect_ms_per_frame": round(detect_ms, 2),
        "track_ms_per_frame": round(track_ms, 3),
        "track_overhead_ratio": round(track_ms / detect_ms, 4),
        "features_ms_per_frame": round(float(np.median(feature_s) * 1000), 3),
        "id_switches": count_id_switches(tracked, clip),
        "people_tracked": len({p.person_id for f in tracked for p in f}),
        "frames_with_2_people": sum(len(f) == 2 for f in tracked),
    }


def main(repeats: int = 3, seeds: int = 5) -> dict[str, object]:
    """Timings on the default crossing clip (best of ``repeats``), switches on ``seeds`` variants."""
    model = pose_bundle()
    clip = crossing_clip(num_frames=60, size=(640, 360), seed=0)
    runs = [_run(clip, model) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["detect_ms_per_frame"])  # type: ignore[arg-type, return-value]
    switches = [best["id_switches"]] + [_run(crossing_clip(60, seed=s), model)["id_switches"] for s in range(1, seeds)]
    slow = _run(crossing_clip(120, seed=0), model)
    return {
        **best,
        "id_switches_seeds": switches,
        "id_switches_slow_crossing": slow["id_switches"],
        "frames": clip.num_frames,
        "size": list(clip.size),
        "model": model.name,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
