"""Find by text and describe: speed and our overhead around the models; prints one JSON object.

All models are the tiny random ones of ``tests/support/vlm_text.py`` (labelled ``tiny``: stand-ins,
real weights are not downloadable here), so absolute times say little about real models; the
overhead shares say how much this package adds around them.

- ``clip_ms_per_candidate``: ``ClipScorer.embed_images`` on 32 masked 224 px crops, per crop
  (processor + image tower); ``clip_model_ms_per_candidate`` the image tower alone.
- ``scan_frames_per_s``: :func:`find_text` coarse-to-fine (``every=10``) on a 300-frame generated
  320x240 clip, tiny CLIP, the clip's true masks as the candidates (2 per frame; the segmenter's
  grid is not timed here), threshold 1.0 so nothing passes (the worst case: all 31 coarse frames
  scored; random weights cannot be made to find a given frame), cold embedding cache; ``find_text``'s default
  ``batch=8``: the crops of 8 frames go to the model in one ``embed_images`` call (16 crops), which makes the
  model's own time per crop smaller too;
  ``scan_warm_frames_per_s`` the same query again (embeddings from the project's cache).
- ``scan_overhead_share``: (scan - model calls) / model calls on the cold scan: frames, crops,
  dedupe, hashing, cache reads and writes, scoring - what the workflow adds to the model. The model's
  calls are ``embed_images`` (its processor and image tower) and every text-tower call (the phrase and
  CLIP's "no match" prompts, recomputed in each cold scan). ``scan_ours_us_per_crop`` and
  ``scan_model_us_per_crop``: the same two times per crop embedded (2 per frame), in microseconds.
- ``*_share_cpu``: the same share from the process's CPU time instead of the wall clock: steadier when
  the machine is shared (the wall-clock share then swings with whatever else runs).
- ``clip_b32_*``, ``scan_b32_*``: the same with a CLIP the size of ViT-B/32 (224 px crops) with random weights:
  the real model's compute, so the share of our work around a real-size model (the tiny tower takes under a
  millisecond per crop, less than cutting the crop itself).
- ``caption_ms``: :func:`describe` per frame (tiny BLIP, batch 8, 16 frames of one object);
  ``caption_overhead_share`` = (describe - captioner.describe) / captioner.describe (and ``_cpu``);
  ``caption_base_*``: the same with a BLIP the size of blip-image-captioning-base (ViT-B/16 at 384 px, BERT-base
  decoder) with random weights, 4 frames, 2 rounds: the share of our work around a real-size captioner.

Medians of ``rounds`` rounds, one thread, float32 on the CPU.

    python benchmarks/bench_retrieval.py [rounds]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.backends.captioners_blip import BlipCaptioner
from annotator_widgets.backends.scorers import ClipScorer
from annotator_widgets.crops import masked_crops
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import NotFoundError
from annotator_widgets.workflows.describe import describe
from annotator_widgets.workflows.find import find_text
from tests.support.vlm_text import build_base_blip, build_base_clip, build_tiny_blip, build_tiny_clip

SCANNED = len(range(300)[::10]) + 1  # the coarse pass, and the last frame


class _Timed:
    """Wraps a callable and adds up the seconds spent in it: wall clock, and CPU of the whole process."""

    def __init__(self, fn):
        self.fn, self.seconds, self.cpu, self.items = fn, 0.0, 0.0, 0

    def __call__(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return self.fn(*a, **k)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu += time.process_time() - c
            self.items += len(a[0]) if a and isinstance(a[0], list) else 0


class _Clock:
    """Wall and process CPU seconds of a block."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds, self.cpu = time.perf_counter() - self.t, time.process_time() - self.c


def _clip_per_candidate(scorer: ClipScorer, frame: np.ndarray, masks: list[np.ndarray]) -> tuple[float, float]:
    crops = masked_crops(frame, masks * 16, size=224)
    model = _Timed(scorer._model.get_image_features)
    scorer._model.get_image_features = model
    t = time.perf_counter()
    scorer.embed_images(crops)
    total = time.perf_counter() - t
    del scorer._model.get_image_features
    return 1000 * total / len(crops), 1000 * model.seconds / len(crops)


def _scan(session: AnnotationSession, scorer: ClipScorer, truth: dict) -> _Clock:
    """The worst case: threshold 1.0, nothing passes, every coarse frame is scored."""
    with _Clock() as clock:
        try:
            find_text(session, "red shoes", every=10, threshold=1.0, scorer=scorer, candidates=truth)
        except NotFoundError:
            pass
    return clock


def _scans(scorer: ClipScorer, frames: np.ndarray, truth: dict, tmp: Path, rounds: int) -> tuple[list[float], ...]:
    """Per round: ms per candidate (all, model), cold and warm scan frames/s, the scan's overhead share (wall,
    CPU), and our and the model's microseconds per crop embedded on the cold scan."""
    per, per_model, cold, warm, share, share_cpu, ours_us, model_us = [], [], [], [], [], [], [], []
    for r in range(rounds):
        a, b = _clip_per_candidate(scorer, frames[0], truth[0])
        per.append(a)
        per_model.append(b)
        project = tmp / f"p{scorer.dim}-{r}.awp"
        with AnnotationSession(open_video(frames, fps=30.0), project=project, segmenter="classic") as s:
            # the model's own calls: the image path and every text call (the phrase and CLIP's "no match" prompts)
            embed, text = _Timed(scorer.embed_images), _Timed(scorer._embed_texts)
            scorer.embed_images, scorer._embed_texts = embed, text
            scorer._no_match_embedding = None  # computed (by the model) inside each cold scan, not once before
            cold_s = _scan(s, scorer, truth)
            warm_s = _scan(s, scorer, truth)
            del scorer.embed_images, scorer._embed_texts
        model, model_cpu = embed.seconds + text.seconds, embed.cpu + text.cpu
        cold.append(SCANNED / cold_s.seconds)
        warm.append(SCANNED / warm_s.seconds)
        share.append((cold_s.seconds - model) / model)
        share_cpu.append((cold_s.cpu - model_cpu) / model_cpu)
        ours_us.append(1e6 * (cold_s.seconds - model) / embed.items)
        model_us.append(1e6 * model / embed.items)
    scorer.close()
    return per, per_model, cold, warm, share, share_cpu, ours_us, model_us


def _captions(
    captioner: BlipCaptioner, frames: np.ndarray, masks: np.ndarray, tmp: Path, rounds: int, n: int
) -> tuple[list[float], list[float], list[float]]:
    """Per round: describe() ms per frame over ``n`` frames of one object (batch 8), its wall and CPU shares."""
    cap_ms, cap_share, cap_share_cpu = [], [], []
    with AnnotationSession(
        open_video(frames[:n], fps=30.0), project=tmp / f"c{id(captioner)}.awp", segmenter="classic"
    ) as s:
        obj = s.add_object(name="shape")
        with s.project.transaction("setup"):
            for t in range(n):
                s.project.put_mask(t, obj.obj_id, masks[t])
        for _ in range(rounds):
            model = _Timed(captioner.describe)
            captioner.describe = model
            with _Clock() as clock:
                describe(s, range(n), obj.obj_id, captioner=captioner, batch_size=8, overwrite_edited=True)
            del captioner.describe
            cap_ms.append(1000 * clock.seconds / n)
            cap_share.append((clock.seconds - model.seconds) / model.seconds)
            cap_share_cpu.append((clock.cpu - model.cpu) / model.cpu)
    captioner.close()
    return cap_ms, cap_share, cap_share_cpu


def main(rounds: int = 3) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_retrieval-"))
    clip = synthetic_clip(num_frames=300, size=(320, 240), num_objects=2, seed=3)
    frames = clip.frames
    for t in range(300):
        frames[t][clip.masks[2][t]] = (255, 0, 0) if t >= 157 else (0, 0, 255)
    truth = {t: [clip.masks[1][t], clip.masks[2][t]] for t in range(300)}
    per, per_model, cold, warm, share, share_cpu, ours_us, model_us = _scans(
        ClipScorer(build_tiny_clip(tmp / "clip")), frames, truth, tmp, rounds
    )
    base = _scans(ClipScorer(build_base_clip(tmp / "clip-b32")), frames, truth, tmp, max(1, rounds // 2))

    cap_ms, cap_share, cap_share_cpu = _captions(
        BlipCaptioner(build_tiny_blip(tmp / "blip"), max_new_tokens=8), frames, clip.masks[1], tmp, rounds, 16
    )
    base_cap = _captions(
        BlipCaptioner(build_base_blip(tmp / "blip-base"), max_new_tokens=8), frames, clip.masks[1], tmp, 2, 4
    )
    med = statistics.median
    return {
        "models": "tiny random CLIP (32-dim, 32 px) and BLIP (32 px); b32: CLIP the size of ViT-B/32 (224 px) and "
        "caption_base: BLIP the size of blip-image-captioning-base (ViT-B/16, 384 px), both with random weights (the "
        "real models' compute, not their outputs); all stand-ins for real weights",
        "clip_ms_per_candidate": round(med(per), 3),
        "clip_model_ms_per_candidate": round(med(per_model), 3),
        "scan_frames": SCANNED,
        "scan_frames_per_s": round(med(cold), 1),
        "scan_warm_frames_per_s": round(med(warm), 1),
        "scan_overhead_share": round(med(share), 3),
        "scan_overhead_share_cpu": round(med(share_cpu), 3),
        "scan_ours_us_per_crop": round(med(ours_us), 1),
        "scan_model_us_per_crop": round(med(model_us), 1),
        "clip_b32_ms_per_candidate": round(med(base[0]), 3),
        "clip_b32_model_ms_per_candidate": round(med(base[1]), 3),
        "scan_b32_frames_per_s": round(med(base[2]), 1),
        "scan_b32_overhead_share": round(med(base[4]), 3),
        "scan_b32_overhead_share_cpu": round(med(base[5]), 3),
        "caption_ms": round(med(cap_ms), 2),
        "caption_overhead_share": round(med(cap_share), 3),
        "caption_overhead_share_cpu": round(med(cap_share_cpu), 3),
        "caption_base_ms": round(med(base_cap[0]), 1),
        "caption_base_overhead_share": round(med(base_cap[1]), 3),
        "caption_base_overhead_share_cpu": round(med(base_cap[2]), 3),
        "rounds": rounds,
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=3, help="rounds (default: %(default)s)")
    print(json.dumps(main(parser.parse_args().rounds)))
