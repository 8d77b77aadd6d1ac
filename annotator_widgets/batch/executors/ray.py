"""The Ray executor: the same batch sharded by video over long-lived actors that load the segmenter once.

One actor per GPU (``num_gpus=1``) when the cluster has GPUs, else one CPU actor per CPU (at most one per
video). Each actor resolves the segmenter when it starts and runs whole videos with it (a SAM2 state is per
video), writing the project and the exports into the video's folder under the batch's output folder: that
folder must be reachable by every node at the same path (an NFS / SMB mount, a cluster file system). Only the
driver writes the manifest, as results come back.

``address=None`` starts a local Ray for the call (and shuts it down after); ``"auto"`` or ``"ray://host:10001"``
joins an existing cluster (``ray start --head`` ...). Install with ``pip install 'annotator-widgets[batch]'``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..pipeline import Settings, VideoResult, run_video
from . import Job

__all__ = ["VideoWorker", "run"]

log = logging.getLogger(__name__)


class VideoWorker:
    """The actor's class: holds one loaded segmenter and runs whole videos with it."""

    def __init__(self, settings_json: str) -> None:
        from ... import registry

        self.settings = Settings.from_json(settings_json)
        self.segmenter = registry.resolve("segmenter", self.settings.segmenter)
        self.videos = 0

    def run(self, job: Job) -> VideoResult:
        """Run one video; its failure is its result."""
        self.videos += 1
        return run_video(job.video, job.out_dir, self.settings, key=job.key, segmenter=self.segmenter)

    def info(self) -> dict[str, Any]:
        """Where the actor runs and how many videos it has run (the model was loaded once)."""
        return {"pid": os.getpid(), "videos": self.videos}


#: Ray's message when its node did not register in its fixed 30 s (a loaded machine, a slow disk)
_STARTUP_TIMEOUT = "timed out during startup"


def _init(ray: Any, address: str | None, opts: dict[str, Any]) -> None:
    """``ray.init``; a local Ray whose node missed Ray's fixed 30 s start-up deadline is started once more, and a
    cluster that cannot be started or joined is a :class:`~annotator_widgets.errors.BackendError` that says what to
    do instead of Ray's traceback."""
    from ...errors import BackendError

    for attempt in (1, 2):
        try:
            ray.init(address=address, **opts)
            return
        except Exception as exc:  # Ray raises bare Exception / ConnectionError / RuntimeError here
            ray.shutdown()  # (whatever it had started)
            if address is None and _STARTUP_TIMEOUT in str(exc) and attempt == 1:
                log.warning("ray: the local node missed Ray's 30 s start-up deadline (a loaded machine?); again")
                continue
            where = "a local Ray" if address is None else f"the Ray cluster at {address!r}"
            raise BackendError(
                f"could not start {where}" if address is None else f"could not join {where}",
                given=f"{type(exc).__name__}: {exc}",
                hint="run the batch with --executor local (one process, the same results), or start a cluster "
                "with `ray start --head` and pass --ray-address auto"
                if address is None
                else "check the address and that `ray status` there answers, or run with --executor local",
            ) from exc


def run(
    jobs: Sequence[Job],
    settings: Settings,
    *,
    on_start: Callable[[Job], None],
    progress: Callable[[dict[str, Any]], None],
    cancel: threading.Event,
    address: str | None = None,
    num_actors: int | None = None,
    init_options: dict[str, Any] | None = None,
) -> Iterator[VideoResult]:
    """Run the jobs on Ray actors; results come back as videos finish (in any order).

    Args:
        jobs: The videos.
        settings: What to do (sent to each actor once).
        on_start: Called when a video is handed to an actor.
        progress: Receives per-video events (frames are not streamed back from actors).
        cancel: No new video is started once set (running ones finish).
        address: An existing cluster (``"auto"``, ``"ray://..."``), or None for a local Ray started here.
        num_actors: Actors to start (default: one per GPU, else one per CPU, at most one per video).
        init_options: More ``ray.init`` keyword arguments (``num_cpus``, ``runtime_env``...).
    """
    from ...backends._optional import require

    ray = require("ray", "batch", purpose="the Ray executor")
    if not jobs:
        return
    started = False
    if not ray.is_initialized():
        opts = {"include_dashboard": False, "log_to_driver": False, **(init_options or {})}
        _init(ray, address, opts)
        started = True
    actors: list[Any] = []
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        per_actor = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        n = num_actors or (gpus if gpus else max(1, int(resources.get("CPU", 1))))
        n = max(1, min(n, len(jobs)))
        log.info("ray: %d actor(s) with %s each", n, per_actor)
        actor_cls = ray.remote(**per_actor)(VideoWorker)
        actors = [actor_cls.remote(settings.to_json()) for _ in range(n)]
        idle = list(actors)
        pending: dict[Any, tuple[Any, Job]] = {}
        queue = list(jobs)
        while queue or pending:
            while idle and queue and not cancel.is_set():
                job, actor = queue.pop(0), idle.pop()
                on_start(job)
                progress({"event": "step", "video": job.key, "step": "ray"})
                pending[actor.run.remote(job)] = (actor, job)
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            actor, job = pending.pop(ready[0])
            idle.append(actor)
            try:
                yield ray.get(ready[0])
            except Exception as exc:  # the actor died (or could not load the model): this video failed
                log.warning("ray: video %s failed in its actor", job.key, exc_info=True)
                yield VideoResult(job.key, "failed", error=f"ray: {type(exc).__name__}: {exc}")
                idle.remove(actor)
                if not idle and not pending:
                    actor = actor_cls.remote(settings.to_json())
                    actors.append(actor)
                    idle.append(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
