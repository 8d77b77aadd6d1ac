"""Grounder overhead: our pre/post-processing around the model, per image; prints one JSON object.

For each grounder family, on the tiny random models of ``tests/support/vlm.py`` (stand-ins: the
real models are not downloadable here), one 640x360 image and two or three phrases:

- ``model_ms``: the raw model call on prepared inputs (``model(**inputs)``; for Florence-2
  ``model.generate`` with the same arguments ``detect`` uses);
- ``processor_ms``: the transformers processor turning image and text into inputs;
- ``detect_ms``: ``Grounder.detect`` end to end (checks, processor, model, decoding, selection);
- ``ours_ms`` = detect - model - processor: what this package adds (decoding, NMS, records);
- ``ours_share`` = ours / model (goal <= 0.10) and ``pre_post_share`` = (detect - model) / model.

Medians of paired rounds, one thread, float32 on the CPU.

    python benchmarks/bench_grounders.py [rounds]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import json
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets import registry
from tests.support.vlm import BUILDERS

#: the tiny Grounding DINOs read at most 32 (character-level) tokens
PHRASES = {
    "detr": ["person", "cup"],
    "rt-detr": ["person", "cup"],
    "grounding-dino": ["a cat", "a dog"],
    "mm-grounding-dino": ["a cat", "a dog"],
}
WORDS = ["a person", "the blue bottle", "a red dress"]


def _inputs(g, name: str, image: np.ndarray, phrases: list[str]):
    """What detect() feeds the model, prepared the same way."""
    if name in ("owlv2", "owlvit"):
        return g.processor(text=[phrases], images=image, truncation=True, return_tensors="pt")
    if name in ("grounding-dino", "mm-grounding-dino"):
        return g.processor(images=image, text=". ".join(p.lower() for p in phrases) + ".", return_tensors="pt")
    if name == "florence2":
        return g.processor(text=g._prompts(phrases), images=[image], padding=True, return_tensors="pt")
    return g.processor(images=image, return_tensors="pt")


def _bench(name: str, folder: str, image: np.ndarray, rounds: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    extra = {"max_new_tokens": 20, "num_beams": 1} if name == "florence2" else {}
    g = registry.resolve("grounder", f"{name}:{folder}", device="cpu", dtype="float32", **extra)
    phrases = PHRASES.get(name, WORDS)
    model_s, proc_s, detect_s = [], [], []
    for _ in range(rounds + 2):
        t0 = time.perf_counter()
        inputs = _inputs(g, name, image, phrases)
        t1 = time.perf_counter()
        with torch.inference_mode():
            if name == "florence2":
                g.model.generate(
                    **inputs, max_new_tokens=20, num_beams=1, do_sample=False, output_scores=True,
                    return_dict_in_generate=True,
                )  # fmt: skip
            else:
                g.model(**inputs)
        t2 = time.perf_counter()
        g.detect(image, phrases)
        t3 = time.perf_counter()
        proc_s.append(t1 - t0)
        model_s.append(t2 - t1)
        detect_s.append(t3 - t2)
    model, proc, detect = (float(np.median(v[2:]) * 1000) for v in (model_s, proc_s, detect_s))
    ours = detect - model - proc
    g.close()
    return {
        "model_ms": round(model, 2),
        "processor_ms": round(proc, 2),
        "detect_ms": round(detect, 2),
        "ours_ms": round(ours, 2),
        "ours_share": round(ours / model, 3),
        "pre_post_share": round((detect - model) / model, 3),
    }


def main(rounds: int = 20) -> dict[str, object]:
    image = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    out: dict[str, object] = {"image": "640x360", "rounds": rounds, "models": "tiny random stand-ins"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in BUILDERS.items():
            folder = str(build(os.path.join(tmp, name)))
            out[name] = _bench(name, folder, image, rounds)
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20), indent=1))
