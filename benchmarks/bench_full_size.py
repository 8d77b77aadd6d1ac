"""SAM 2.1 at its real size through the session against the raw predictor; prints one JSON object.

The released SAM 2.1 configs (``sam2.1_hiera_t`` / ``s`` / ``b+`` / ``l`` from the sam2 package) with
random weights: the real models' compute at 1024 px, not their masks (the object-score and mask biases
are shifted so masks are not empty, as for the micro model of ``tests/support/models.py``). The
checkpoint is saved as ``{"model": state_dict}`` and loaded by both sides through their own real
loading code: ``Sam2Segmenter(checkpoint=..., config=...)`` and sam2's ``build_sam2_video_predictor``.
Made for a GPU (``--device cuda``: bf16 on compute capability 8+, as the segmenter's default; ``--dtype``
to choose); on the CPU it runs too (slowly: seconds per frame for the tiny config on this 2-core machine).

- ``raw_ms_per_frame`` / ``session_ms_per_frame``: propagation of three objects over ``--frames`` frames of a
  640x360 clip, after two warm-up frames: the raw predictor (``init_state`` on a JPEG folder, excluded:
  it loads every frame up front; then ``propagate_in_video``) against ``AnnotationSession.propagate``
  (frames decoded lazily from the MP4, masks encoded and committed by the writer thread).
  ``overhead_ratio_median``: the median over paired rounds (order alternating) of session / raw;
  ``overhead_ratio_best``: best of each (a second figure).
- ``click_ms``: ``session.add_points`` on a frame already encoded (a second click on the same object: the
  decoder and the stored mask), median of ``--clicks``; ``raw_click_ms``: ``add_new_points_or_box`` for the
  same click on the raw predictor's state.
- ``first_click_ms``: the first click on a frame not seen yet (image encoder included), session only.

    python benchmarks/bench_full_size.py --model sam2.1_hiera_t --device cuda [--frames 120] [--rounds 5]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support
sys.path.insert(0, str(_Path(__file__).resolve().parent))  # bench_session beside this script

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_session

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.backends._optional import require
from tests.support.models import MicroSam2, micro_sam2_raw_predictor

CONFIGS = ("sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l")


def build(model: str, folder: Path, seed: int = 0) -> MicroSam2:
    """The package's config for ``model`` copied into ``folder`` and a random ``{"model": state_dict}`` checkpoint."""
    torch = require("torch")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from annotator_widgets.backends._sam2_build import _package_config_path

    src = _package_config_path(f"configs/sam2.1/{model}.yaml")
    if src is None:
        raise SystemExit(f"the sam2 package has no config {model!r}; one of {CONFIGS}")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{model.replace('+', 'p')}.yaml"
    config.write_text(Path(src).read_text())
    cfg = OmegaConf.load(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = instantiate(cfg.model, _recursive_=True)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state["sam_mask_decoder.pred_obj_score_head.layers.2.bias"] += 0.5  # objects present
    for i in range(net.sam_mask_decoder.num_mask_tokens):
        state[f"sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.2.bias"] += 0.12  # masks of some size
    checkpoint = folder / f"{config.stem}.pt"
    torch.save({"model": state}, checkpoint)
    return MicroSam2(checkpoint=checkpoint, config=config)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        require("torch").cuda.synchronize()


DTYPE = "auto"  # --dtype: both sides compute in it


def _dtype(device: str) -> Any:
    from annotator_widgets.backends._sam2_build import resolve_device, resolve_dtype

    return resolve_dtype(DTYPE, resolve_device(device))


def raw_seconds_per_frame(files: MicroSam2, folder: Path, frames: int, device: str) -> tuple[float, float]:
    """The raw predictor: seconds per propagated frame, and the seconds of one more click on the start frame."""
    torch = require("torch")
    predictor = micro_sam2_raw_predictor(files, device=device)
    dt = _dtype(device)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    with torch.inference_mode(), torch.autocast(kind, dtype=dt, enabled=dt != torch.float32):
        state = predictor.init_state(str(folder))
        prompts = bench_session._prompts()
        for p in prompts:
            coords, labels = p.point_arrays()
            predictor.add_new_points_or_box(state, p.frame, p.obj_id, points=coords, labels=labels)
        count, t0 = 0, 0.0
        for _ in predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=frames):
            _sync(device)
            count += 1
            if count == 3:
                t0 = time.perf_counter()
        per_frame = (time.perf_counter() - t0) / (count - 3)
        p = prompts[0]
        coords, labels = p.point_arrays()
        _sync(device)
        t = time.perf_counter()
        predictor.add_new_points_or_box(state, 0, p.obj_id, points=coords + 2, labels=labels, clear_old_points=False)
        _sync(device)
        click = time.perf_counter() - t
    del predictor, state
    return per_frame, click


def session_seconds_per_frame(
    files: MicroSam2, video: Path, frames: int, device: str, tmp: Path, run: int, clicks: int
) -> tuple[float, float, list[float]]:
    """The session: seconds per propagated frame, the first click on a new frame, and ``clicks`` more clicks."""
    from annotator_widgets.backends.sam2_meta import Sam2Segmenter

    segmenter = Sam2Segmenter(
        files.config.stem, checkpoint=files.checkpoint, config=files.config, device=device, dtype=_dtype(device)
    )
    with AnnotationSession(open_video(video), tmp / f"full{run}.awp", segmenter) as session:
        prompts = bench_session._prompts()
        firsts = []
        for p in prompts:  # all on frame 0: the first click encodes it
            _sync(device)
            t = time.perf_counter()
            session.add_points(p.frame, p.obj_id, [(pt.x, pt.y) for pt in p.points])
            _sync(device)
            firsts.append(time.perf_counter() - t)
        first = firsts[0]
        stream = session.propagate("forward", start=0, stop=frames + 1)
        for _ in range(3):
            next(stream)
        t = time.perf_counter()
        n = sum(1 for _ in stream)
        _sync(device)
        per_frame = (time.perf_counter() - t) / n
        more = []
        p = prompts[0]
        for k in range(clicks):
            x, y = p.points[0].x + 2 * (k % 3), p.points[0].y
            _sync(device)
            t = time.perf_counter()
            session.add_points(0, p.obj_id, [(x, y)])
            _sync(device)
            more.append(time.perf_counter() - t)
    segmenter.close()
    return per_frame, first, more


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=CONFIGS, default="sam2.1_hiera_t")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu (default: %(default)s)")
    ap.add_argument("--frames", type=int, default=120, help="frames propagated per round (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds (default: %(default)s)")
    ap.add_argument("--clicks", type=int, default=7, help="clicks timed per session round (default: %(default)s)")
    ap.add_argument("--dtype", default="auto", help="auto (the segmenter's default), float32, bfloat16, float16")
    args = ap.parse_args(argv)
    global DTYPE
    DTYPE = args.dtype
    torch = require("torch")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: pass --device cpu (slow) or run it on a GPU machine")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = build(args.model, tmp / "model")
        jpegs = bench_session._write_jpegs(tmp / "jpegs", args.frames + 1)
        video = bench_session._write_video(tmp / "clip.avi", args.frames + 1)
        raw, ours, raw_clicks, clicks, firsts = [], [], [], [], []
        for r in range(args.rounds):
            order = ("raw", "session") if r % 2 == 0 else ("session", "raw")
            for side in order:
                if side == "raw":
                    per, click = raw_seconds_per_frame(files, jpegs, args.frames, args.device)
                    raw.append(per)
                    raw_clicks.append(click)
                else:
                    per, first, more = session_seconds_per_frame(
                        files, video, args.frames, args.device, tmp, r, args.clicks
                    )
                    ours.append(per)
                    firsts.append(first)
                    clicks += more
    med = statistics.median
    out = {
        "model": f"{args.model} (random weights: the real model's compute, labelled as such)",
        "device": str(torch.cuda.get_device_name(0)) if args.device.startswith("cuda") else "cpu",
        "dtype": str(_dtype(args.device)),
        "frames": args.frames,
        "raw_ms_per_frame": round(1000 * med(raw), 2),
        "session_ms_per_frame": round(1000 * med(ours), 2),
        "overhead_ratio_median": round(med(o / r for o, r in zip(ours, raw, strict=True)), 3),
        "overhead_ratio_best": round(min(ours) / min(raw), 3),
        "click_ms": round(1000 * med(clicks), 1),
        "raw_click_ms": round(1000 * med(raw_clicks), 1),
        "first_click_ms": round(1000 * med(firsts), 1),
        "rounds": args.rounds,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
