"""Track my action: interaction, hand model and boundary figures; prints one JSON object.

On the generated interaction clip (tests/support/interaction_clip.py: a real person cut-out at
640x360, a ball held on known frames, scripted poses, true masks), 60 frames:

- ``interaction_ms_per_frame``: :func:`~annotator_widgets.workflows.actions.find_interactions`
  end to end (poses and RLE masks read from the project, masks decoded, distances, segments,
  storing), divided by frames x (person, object) pairs (3 pairs); median of three rounds.
- ``measure_ms_per_frame``: :func:`~annotator_widgets.interactions.measure` alone for the ball
  (mask already decoded), median over the frames where the ball is in view.
- ``hand_ms_per_frame``: the MediaPipe hand landmarker (bundle built from the mediapipe wheel)
  as ``find_interactions(hands="mediapipe")`` runs it: ``detect_in_boxes`` around the pose
  wrists on 640x360 frames (one visible wrist here); median per frame.
- ``hand_full_frame_ms_per_frame``: the same model on whole 640x360 frames in video mode.
- ``boundary_error_frames``: the largest |detected - true| of the held interval's start and stop.

    python benchmarks/bench_actions.py                       # the figures
    python benchmarks/bench_actions.py --frames 24 --rounds 1  # a quick check that it runs

``--frames`` shortens the clip (the held interval keeps the same share of it, 8 frames free on each
side, so at least 24 frames); ``--rounds`` is how many ``find_interactions`` runs the median is over.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.backends.hands import MediaPipeHandEstimator
from annotator_widgets.hands import hand_regions
from annotator_widgets.interactions import measure
from annotator_widgets.workflows.actions import find_interactions
from tests.support.interaction_clip import BALL, PERSON, interaction_clip, store


def _median_ms(fn: Callable[[int], object], items: Sequence[int]) -> float:
    fn(items[0])  # warm-up
    times = []
    for i in items:
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times)), 3)


def held(frames: int) -> tuple[int, int]:
    """The held interval for a clip of ``frames``: (22, 40) of 60, scaled, 8 frames free on each side."""
    if frames < 24:
        raise SystemExit(f"--frames must be at least 24 (8 before the hold, 8 in it, 8 after), got {frames}")
    start = min(max(8, round(frames * 22 / 60)), frames - 16)
    return start, max(start + 8, min(frames - 8, round(frames * 40 / 60)))


def main(frames: int = 60, rounds: int = 3) -> dict[str, object]:
    clip = interaction_clip(num_frames=frames, hold=held(frames))
    n = len(clip.frames)
    out: dict[str, object] = {"frames": n, "size": "640x360", "rounds": rounds}
    with tempfile.TemporaryDirectory() as tmp:
        session = AnnotationSession(open_video(clip.frames, fps=clip.fps), project=f"{tmp}/p.awp", segmenter="classic")
        store(session.project, clip)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            find_interactions(session)
            times.append(time.perf_counter() - t0)
        pairs = 3
        out["interaction_ms_per_frame"] = round(1000 * float(np.median(times)) / (n * pairs), 3)
        (seg,) = [s for s in session.project.actions().values() if s.obj_id == BALL and s.person_id == PERSON]
        out["detected"], out["truth"] = [seg.start, seg.stop], list(clip.hold)
        out["boundary_error_frames"] = max(abs(seg.start - clip.hold[0]), abs(seg.stop - clip.hold[1]))
        session.close()
    seen = [f for f in range(n) if clip.masks[BALL][f].any()]  # an empty mask is the cheap path: leave it out
    out["measure_ms_per_frame"] = _median_ms(lambda f: measure(clip.poses[f], BALL, clip.masks[BALL][f]), seen)
    with MediaPipeHandEstimator("hand_landmarker_full_wheel") as est:
        boxes = [list(hand_regions(p).values()) for p in clip.poses]
        out["hand_ms_per_frame"] = _median_ms(
            lambda f: est.detect_in_boxes(clip.frames[f], boxes[f], index=f), range(n)
        )
    with MediaPipeHandEstimator("hand_landmarker_full_wheel") as est:
        out["hand_full_frame_ms_per_frame"] = _median_ms(
            lambda f: est.detect(clip.frames[f], timestamp_ms=40 * f), range(1, n)
        )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames of the generated clip (at least 24)")
    ap.add_argument("--rounds", type=int, default=3, help="find_interactions runs the median is over")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    print(json.dumps(main(args.frames, args.rounds)))
