"""Face and hand model speed at 640x360; prints one JSON object.

All figures are ms per frame, the median over three rounds of each round's median per-frame time:

- ``face_ms_per_frame`` / ``face_tiles0_ms_per_frame``: the ``mediapipe-face`` grounder
  (BlazeFace short range from the mediapipe wheel) on the two-person crossing clip, with the
  default ``min_face=16`` (whole frame + 8 tiles of 286 px + 45 of 128 px; before: ``tiles=1``,
  whole frame + three 360-px tiles) and with the whole frame only (``tiles=0``).
- ``hand_video_ms_per_frame`` / ``hand_image_ms_per_frame``: the hand landmarker (bundle built
  from the wheel) on ``zidane.jpg`` resized to 640x360 and panned 2 px per frame (one hand in
  view), in video and image mode; ``hand_video_no_hand_ms_per_frame`` on the crossing clip
  (no hand the palm detector finds, so it runs on every frame).
- ``hand_in_two_boxes_ms_per_frame``: ``detect_in_boxes`` with two 80-px boxes.
- ``pose_video_ms_per_frame``: the pose landmarker (num_poses=1) on the crossing clip in the
  same run, to compare with the pose figures measured elsewhere.

    python benchmarks/bench_faces_hands.py
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import json
import os
import time
from collections.abc import Callable, Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from annotator_widgets.backends.faces import MediaPipeFaceDetector
from annotator_widgets.backends.hands import MediaPipeHandEstimator
from annotator_widgets.backends.pose import MediaPipePoseEstimator
from annotator_widgets.types import Box
from tests.support.hand_photos import hand_photo
from tests.support.people import crossing_clip, pose_bundle


def _ms(fn: Callable[[np.ndarray], object], frames: Sequence[np.ndarray], rounds: int = 3) -> float:
    fn(frames[0])  # warm-up
    medians = []
    for _ in range(rounds):
        times = []
        for f in frames:
            t0 = time.perf_counter()
            fn(f)
            times.append(time.perf_counter() - t0)
        medians.append(float(np.median(times)))
    return round(1000 * float(np.median(medians)), 2)


def main() -> dict[str, object]:
    clip = list(crossing_clip(num_frames=40, seed=0).frames)
    zidane = cv2.resize(hand_photo("zidane"), (640, 360), interpolation=cv2.INTER_AREA)
    panned = [np.ascontiguousarray(np.roll(zidane, 2 * k, axis=1)) for k in range(40)]
    out: dict[str, object] = {"size": "640x360", "load_average_1min": round(os.getloadavg()[0], 2)}
    with MediaPipeFaceDetector() as det:
        out["face_ms_per_frame"] = _ms(det.detect_faces, clip)
    with MediaPipeFaceDetector(tiles=0) as det:
        out["face_tiles0_ms_per_frame"] = _ms(det.detect_faces, clip)
    ts = iter(range(0, 10**9, 40))
    for key, mode, frames in (
        ("hand_video_ms_per_frame", "video", panned),
        ("hand_image_ms_per_frame", "image", panned),
        ("hand_video_no_hand_ms_per_frame", "video", clip),
    ):
        with MediaPipeHandEstimator(running_mode="video" if mode == "video" else "image") as est:

            def detect(f: np.ndarray, est: MediaPipeHandEstimator = est) -> object:
                return est.detect(f, next(ts))

            out[key] = _ms(detect, frames)
    boxes = [Box(100, 100, 180, 180), Box(300, 100, 380, 180)]
    with MediaPipeHandEstimator(running_mode="image") as est:
        out["hand_in_two_boxes_ms_per_frame"] = _ms(lambda f: est.detect_in_boxes(f, boxes), panned)
    with MediaPipePoseEstimator(pose_bundle(), num_poses=1) as pose:
        out["pose_video_ms_per_frame"] = _ms(lambda f: pose.detect(f, next(ts)), clip)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
