"""Batch throughput: local vs Ray executors, Ray's per-video overhead, and frames recomputed on resume.

Clips: ``--videos`` generated clips (annotator_widgets.data.synthetic_clip, ``--frames`` frames at ``--size``,
two objects, box prompts on frame 0), the classic segmenter, COCO export. These are short stand-in clips chosen
so the run takes a minute on a laptop; real videos spend far longer per video, so the overhead's share shrinks.

* ``local_videos_per_min``: the local executor (sequential, one process) over all clips.
* ``ray_videos_per_min``: the same batch on a local Ray (``--ray-cpus`` CPUs, one CPU actor each), including
  Ray's start-up and shutdown, as a user's call pays them.
* ``ray_overhead_s_per_video``: what Ray adds per video (scheduling, result transfer): the marginal cost, from
  a run with ``--more`` more videos minus the run with ``--videos``, of (Ray wall time x actors - the videos'
  own run times measured inside the actors), per added video.
* ``ray_fixed_s``: what every Ray batch pays once, whatever its length (the cluster's start-up and shutdown,
  actor processes starting and loading the model), in actor-seconds.
* ``resume_recomputed_frames``: a batch cancelled mid-video (between frames) and run again: frames the segmenter
  computed that were already saved (0 is the goal).

Prints one JSON object. Usage: ``python benchmarks/bench_batch.py [--videos 4 --frames 40 --ray-cpus 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

from annotator_widgets.batch import Settings, run_batch
from annotator_widgets.data import synthetic_clip, write_video


def _clips(folder: Path, n: int, frames: int, size: tuple[int, int], first: int = 0) -> list[Path]:
    videos = []
    for i in range(first, first + n):
        clip = synthetic_clip(num_frames=frames, size=size, num_objects=2, seed=100 + i)
        videos.append(write_video(clip.frames, folder / f"clip{i}.mp4"))
        prompts = [{"frame": 0, "obj_id": o, "box": [float(v) for v in clip.boxes[o][0]]} for o in (1, 2)]
        (folder / f"clip{i}.json").write_text(json.dumps(prompts))
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, nargs=2, default=(160, 120))
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--more", type=int, default=8, help="added videos of the marginal-overhead run (0: none)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray half (ray_* figures are null)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    folder = Path(tempfile.mkdtemp(prefix="bench_batch-"))
    videos = _clips(folder, args.videos, args.frames, tuple(args.size))
    settings = Settings(segmenter="classic", prompts=str(folder / "{stem}.json"), formats=("coco",))

    t0 = time.perf_counter()
    local = run_batch(videos, folder / "local", settings)
    local_s = time.perf_counter() - t0
    assert local.ok, [r.error for r in local.failed]

    ray_per_min = overhead = fixed = ray_error = None
    if not args.no_ray:
        more = videos + _clips(folder, args.more, args.frames, tuple(args.size), len(videos)) if args.more else videos
        runs = {}
        try:
            for name, batch in (("few", videos), ("many", more)):
                t0 = time.perf_counter()
                remote = run_batch(
                    batch, folder / f"ray-{name}", settings, executor="ray", init_options={"num_cpus": args.ray_cpus}
                )
                assert remote.ok, [r.error for r in remote.failed]
                actors = min(args.ray_cpus, len(batch))
                runs[name] = (len(batch), time.perf_counter() - t0, sum(r.seconds for r in remote.results), actors)
        except Exception as exc:  # noqa: BLE001 (Ray could not start, e.g. its agents time out on a loaded machine)
            ray_error = f"{type(exc).__name__}: {exc}"
        else:
            n, ray_s, inside, actors = runs["few"]
            ray_per_min = round(n / ray_s * 60, 2)
            if args.more:  # the marginal cost of a video: the many-video run minus the few-video run
                n2, ray2, inside2, actors2 = runs["many"]
                overhead = round(((ray2 * actors2 - inside2) - (ray_s * actors - inside)) / (n2 - n), 3)
                fixed = round(ray_s * actors - inside - overhead * n, 3)

    # resume: cancel the first video after a third of its frames, then run again
    cancel = threading.Event()
    target = args.frames // 3

    def stop_early(event: dict) -> None:
        if event.get("event") == "frame" and event.get("done", 0) >= target:
            cancel.set()

    run_batch(videos[:1], folder / "resume", settings, progress=stop_early, cancel=cancel)
    resumed = run_batch(videos[:1], folder / "resume", settings)
    recomputed = sum(r.frames_recomputed for r in resumed.results)

    print(
        json.dumps(
            {
                "local_videos_per_min": round(len(videos) / local_s * 60, 2),
                "ray_videos_per_min": ray_per_min,
                "ray_overhead_s_per_video": overhead,
                "ray_fixed_s": fixed,
                "ray_error": ray_error,
                "resume_recomputed_frames": recomputed,
                "resume_computed_frames": sum(r.frames_computed for r in resumed.results),
                "clips": f"{args.videos} generated clips x {args.frames} frames at {args.size[0]}x{args.size[1]}, "
                "2 objects, classic segmenter, COCO export (stand-in clips, not real footage)",
                "ray_cpus": args.ray_cpus,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
