"""Lazy cut scanning: time to the first propagated frame, and frames the cut scan decodes; prints one JSON object.

A 3,000-frame 640x360 single-shot file (a generated 300-frame clip played forward and back, MJPG) with one click
on frame 1,500, then ``propagate("forward", 1500, 1600)`` with the classic segmenter, in a fresh project each
round: the full scan (what main did: every frame decoded before the plan; run here by handing the session the
full scan's cuts, as tests/test_lazy_cuts.py does) against the lazy path (the span, then a chunk at a time).
Rounds are paired (full, lazy, full, lazy, ...); timings are medians; the machine may be shared, so compare the
ratio and the decoded-frame counts (exact) rather than the seconds.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets import session as session_module
from annotator_widgets.cuts import video_cuts
from annotator_widgets.data import synthetic_clip

N, SIZE, CLICK, STOP = 3000, (640, 360), 1500, 1600


def _clip(folder: Path) -> tuple[Path, np.ndarray]:
    clip = synthetic_clip(300, SIZE, 1, seed=0)
    path = folder / "long.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    order = [t if (k // 300) % 2 == 0 else 299 - t for k in range(N) for t in [k % 300]]
    for t in order:
        out.write(cv2.cvtColor(clip.frames[t], cv2.COLOR_RGB2BGR))
    out.release()
    return path, clip.masks[1][order[CLICK]]


def _round(path: Path, truth: np.ndarray, folder: Path, lazy: bool) -> dict[str, float]:
    video = open_video(path, cache_mb=64)
    with AnnotationSession(video, folder / f"{time.perf_counter_ns()}.awp", segmenter="classic") as session:
        obj = session.add_object()
        y, x = np.argwhere(truth).mean(axis=0)
        session.add_points(CLICK, obj.obj_id, [(x, y)])
        if not lazy:  # main's path: the plan gets every cut (a full scan), nothing is looked up on the way

            def full(scanner, frames, *_):  # type: ignore[no-untyped-def]
                return video_cuts(session.project, session.video)

            session_module.span_cuts, saved = full, session_module.span_cuts
            session._cut_scan.cut_ahead = None  # type: ignore[assignment,method-assign]
        t = time.perf_counter()
        run = session.propagate("forward", CLICK, STOP)
        first = next(run)
        t_first = time.perf_counter() - t
        frames = [first.frame] + [r.frame for r in run]
        t_all = time.perf_counter() - t
        if not lazy:
            session_module.span_cuts = saved
        assert frames == list(range(CLICK, STOP)), frames[:3]
        return {"first_s": t_first, "all_s": t_all, "decoded": session._cut_scan.decoded if lazy else N}


def main(rounds: int = 3) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, truth = _clip(folder)
        got: dict[str, list[dict[str, float]]] = {"full": [], "lazy": []}
        for _ in range(rounds):
            for name in got:
                got[name].append(_round(path, truth, folder, name == "lazy"))
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in got.items()}
    return {
        "clip": f"{N} frames {SIZE[0]}x{SIZE[1]} MJPG, single shot; propagate forward {CLICK}..{STOP - 1}",
        "full_scan": {k: round(v, 3) for k, v in med["full"].items()},
        "lazy": {k: round(v, 3) for k, v in med["lazy"].items()},
        "first_frame_speedup": round(med["full"]["first_s"] / med["lazy"]["first_s"], 1),
        "paired_first_frame_ratios": [
            round(f["first_s"] / z["first_s"], 1) for f, z in zip(got["full"], got["lazy"], strict=True)
        ],
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
