"""The classic segmenter's click at 1280x720, without a browser; prints one JSON object.

Every figure is ``ClassicSegmenter.set_prompt`` alone (the segmenter's part of a click; the widget's
``segment_ms`` adds the session's bookkeeping around it), timed with ``time.perf_counter`` (``*_cpu_p50_ms``: the
same clicks' CPU time, every thread of the process, which the machine's load disturbs less):

- ``widget_click_*``: the clicks of ``bench_widget.py``'s classic figure (synthetic 1280x720 clip, seed 2,
  three objects, one positive click per new object at each object's centre, then 18 px further right).
- ``synth_*``: one positive click at each object's centre, a box, and a click plus a negative click, on
  frame 1 of five synthetic 1280x720 clips (seeds 0-4, three objects each): ``synth_click_miou`` /
  ``synth_box_miou`` / ``synth_negative_miou`` are the mean IoU against the clips' ground truth.
- ``real_*``: positive clicks on a 4x3 grid of points on real frames: five frames of ``bigbuckbunny.mp4``
  (1280x720) and five of ``bikes.mp4`` (640x272, resized to 1280x544). There is no ground truth;
  ``--save FILE`` keeps the masks and ``--compare FILE`` reports the mean IoU against masks saved
  earlier (``real_agreement_miou``: how far a change moved the results, ``real_agreement_min``).

- ``video_click_*``: three positive clicks on each of five frames of ``bigbuckbunny.mp4`` read from the
  file (H.264, random access), each click on a new reader, so a ``cold`` click decodes its frame first.

``prepared`` clicks land on a frame :meth:`ClassicSegmenter.prepare` computed ahead (untimed), as the
widget does when the user lands on a frame; ``cold`` clicks on a segmenter without the cache. Each
figure is the p50 / p90 over its clicks; the machine's load adds noise, so compare figures of one run.

Usage::

    python benchmarks/bench_classic_click.py [--repeat 3] [--save masks.npz | --compare masks.npz] [--profile]
        [--only widget|synth|real|video ...]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import cProfile
import json
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator

import cv2
import numpy as np

from annotator_widgets import open_video
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import sample_video, synthetic_clip
from annotator_widgets.rle import mask_iou
from annotator_widgets.types import Box, Point, Prompt


def _centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    i = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    return float(xs[i]), float(ys[i])


def _pct(values: list[float], q: int) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


WALL: dict[str, list[float]] = defaultdict(list)  # ms per click, by figure
CPU: dict[str, list[float]] = defaultdict(list)  # the same clicks' CPU time (every thread of the process)


def _timed(seg: ClassicSegmenter, prompt: Prompt, key: str) -> np.ndarray:
    t0, c0 = time.perf_counter(), time.process_time()
    out = seg.set_prompt(prompt)[prompt.obj_id].mask
    WALL[key].append((time.perf_counter() - t0) * 1000)
    CPU[key].append((time.process_time() - c0) * 1000)
    return out


def _segmenters(frames: np.ndarray, frame: int) -> Iterator[tuple[str, ClassicSegmenter]]:
    prepared = ClassicSegmenter()
    prepared.start(open_video(frames))
    prepared.prepare(frame)
    cold = ClassicSegmenter(prepared_frames=0)
    cold.start(open_video(frames))
    yield "prepared", prepared
    yield "cold", cold


def widget_clicks(repeat: int, ious: list[float]) -> None:
    clip = synthetic_clip(num_frames=6, size=(1280, 720), num_objects=3, seed=2)
    centres = [_centre(clip.masks[obj][0]) for obj in (1, 2, 3)]
    for _ in range(repeat):
        for kind, seg in _segmenters(clip.frames, 0):
            for k in range(9):
                obj = k % 3 + 1
                x, y = centres[k % 3][0] + 18 * (k // 3), centres[k % 3][1]
                mask = _timed(seg, Prompt(0, 100 + k, points=(Point(x, y, 1),)), f"widget_click_{kind}")
                if kind == "prepared":
                    ious.append(mask_iou(mask, clip.masks[obj][0]))


def synthetic(repeat: int, ious: dict[str, list[float]]) -> None:
    for seed in range(5):
        clip = synthetic_clip(num_frames=3, size=(1280, 720), num_objects=3, seed=seed)
        for r in range(repeat):
            for kind, seg in _segmenters(clip.frames, 1):
                for obj in sorted(clip.masks):
                    truth = clip.masks[obj][1]
                    cx, cy = _centre(truth)
                    prompts = {
                        "click": Prompt(1, obj, points=(Point(cx, cy, 1),)),
                        "box": Prompt(1, obj + 10, box=Box(*clip.boxes[obj][1])),
                        "negative": Prompt(1, obj + 20, points=(Point(cx, cy, 1), Point(cx + 40, cy - 60, 0))),
                    }
                    for name, prompt in prompts.items():
                        mask = _timed(seg, prompt, f"synth_{name}_{kind}")
                        if r == 0 and kind == "prepared":
                            ious[name].append(mask_iou(mask, truth))


def _real_frames() -> list[tuple[str, np.ndarray]]:
    out = []
    for name, picks in (("bigbuckbunny", (10, 35, 60, 85, 110)), ("bikes", (20, 70, 120, 170, 220))):
        video = open_video(sample_video(name))
        for f in picks:
            img = np.asarray(video.frame(f))
            if name == "bikes":
                img = cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
            out.append((f"{name}:{f}", np.ascontiguousarray(img)))
    return out


def real(repeat: int, masks: dict[str, np.ndarray]) -> None:
    for key, img in _real_frames():
        h, w = img.shape[:2]
        frames = img[None]
        for r in range(repeat):
            for kind, seg in _segmenters(frames, 0):
                for j, fy in enumerate((0.3, 0.5, 0.7)):
                    for i, fx in enumerate((0.2, 0.4, 0.6, 0.8)):
                        prompt = Prompt(0, 1 + 4 * j + i, points=(Point(fx * w, fy * h, 1),))
                        mask = _timed(seg, prompt, f"real_click_{kind}")
                        if r == 0 and kind == "prepared":
                            masks[f"{key}:{i}:{j}"] = mask


def video_file(repeat: int) -> None:
    """Clicks on frames of ``bigbuckbunny.mp4`` read from the file, each on a new reader and segmenter."""
    path = sample_video("bigbuckbunny")
    for _ in range(repeat):
        for f in (12, 47, 80, 101, 125):
            for i, fx in enumerate((0.3, 0.5, 0.7)):
                for kind in ("cold", "prepared"):
                    seg = ClassicSegmenter(prepared_frames=0 if kind == "cold" else 2)
                    seg.start(open_video(path))  # no frame decoded yet: a cold click decodes its frame first
                    if kind == "prepared":
                        seg.prepare(f)  # untimed, as when the user lands on the frame
                    _timed(seg, Prompt(f, 1 + i, points=(Point(fx * 1280, 400.0, 1),)), f"video_click_{kind}")
                    seg.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds over every click")
    ap.add_argument("--save", type=_Path, help="keep the real frames' masks in this .npz")
    ap.add_argument("--compare", type=_Path, help="IoU of the real frames' masks against this .npz")
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile of the whole run")
    ap.add_argument("--only", choices=["widget", "synth", "real", "video"], action="append")
    args = ap.parse_args(argv)
    only = set(args.only or ["widget", "synth", "real", "video"])
    widget_iou: list[float] = []
    ious: dict[str, list[float]] = {"click": [], "box": [], "negative": []}
    masks: dict[str, np.ndarray] = {}
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    if "widget" in only:
        widget_clicks(args.repeat, widget_iou)
    if "synth" in only:
        synthetic(args.repeat, ious)
    if "real" in only:
        real(args.repeat, masks)
    if "video" in only:
        video_file(args.repeat)
    if prof:
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    out: dict[str, float | int] = {}
    for name, values in WALL.items():
        out[f"{name}_p50_ms"] = _pct(values, 50)
        out[f"{name}_p90_ms"] = _pct(values, 90)
        out[f"{name}_cpu_p50_ms"] = _pct(CPU[name], 50)
    if widget_iou:
        out["widget_click_miou"] = round(statistics.mean(widget_iou), 4)
    for name, values in ious.items():
        if values:
            out[f"synth_{name}_miou"] = round(statistics.mean(values), 4)
            out[f"synth_{name}_min_iou"] = round(min(values), 4)
    if masks and args.save:
        np.savez_compressed(args.save, **masks)
    if masks and args.compare:
        old = np.load(args.compare)
        agree = [mask_iou(masks[k], old[k]) for k in masks if k in old]
        out["real_agreement_miou"] = round(statistics.mean(agree), 4)
        out["real_agreement_min"] = round(min(agree), 4)
        out["real_identical"] = sum(int(np.array_equal(masks[k], old[k])) for k in masks if k in old)
        out["real_compared"] = len(agree)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
