"""Run a batch: plan against the manifest (skip, resume, redo), hand the jobs to an executor, record results.

Layout of the output folder::

    OUT/manifest.sqlite        one row per video (see :mod:`.manifest`)
    OUT/<video stem>/project.awp
    OUT/<video stem>/<format>[.suffix]   one per --format (coco.json, yolo/, mot.txt...)

A video whose row is ``done`` with the same input (size + mtime, else sha256) and settings digest, and whose
outputs exist, is skipped. One whose input or settings changed is redone from scratch (its folder emptied).
Any other (``pending``, ``running`` after a kill, ``failed``) runs again and resumes from its project.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AnnotatorError
from .executors import EXECUTORS, Job
from .manifest import Manifest
from .pipeline import Settings, VideoResult

__all__ = ["BatchReport", "expand_inputs", "run_batch"]

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.sqlite"


@dataclass
class BatchReport:
    """The outcome of :func:`run_batch`: per-video results of this run and the videos skipped as done."""

    manifest: Path
    results: list[VideoResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[VideoResult]:
        """The videos that failed in this run."""
        return [r for r in self.results if r.status != "done"]

    @property
    def ok(self) -> bool:
        """True when no video failed."""
        return not self.failed


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files and glob patterns -> the sorted, de-duplicated list of absolute paths (a pattern matching nothing is
    an error; Ray workers run in other folders, so paths are made absolute).

    A path that does not exist and has no wildcard is kept: it is reported as a failed video, not dropped.
    """
    found: dict[str, Path] = {}
    for item in inputs:
        text = str(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise AnnotatorError("no video matches the pattern", given=text, hint="check the glob (quote it)")
            for m in matches:
                found.setdefault(os.path.abspath(m), Path(os.path.abspath(m)))
        else:
            found.setdefault(os.path.abspath(text), Path(os.path.abspath(text)))
    if not found:
        raise AnnotatorError("no videos given", given=list(inputs), hint="pass video files or glob patterns")
    return [found[k] for k in sorted(found)]


def _keys(videos: Sequence[Path]) -> list[str]:
    """Folder names: the stem, with a short hash of the absolute path where two stems collide."""
    stems = [v.stem for v in videos]
    return [
        s if stems.count(s) == 1 else f"{s}-{hashlib.sha256(os.path.abspath(v).encode()).hexdigest()[:8]}"
        for s, v in zip(stems, videos, strict=True)
    ]


def run_batch(
    videos: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    executor: str = "local",
    progress: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
    ray_address: str | None = None,
    **executor_options: Any,
) -> BatchReport:
    """Annotate many videos: one project and one set of exports per video, under a resumable manifest.

    Args:
        videos: Files and glob patterns.
        out: The output folder (for Ray: a path every node reaches).
        settings: What to do (default :class:`Settings`).
        executor: ``"local"`` (sequential) or ``"ray"``.
        progress: Receives event dicts: ``{"event": "video", "video", "status", "files", "folder", ...}`` per
            video (``files``: how many it wrote under ``folder``; their list is in the manifest), and
            ``"step"``, ``"frame"``, ``"export"`` events while one runs.
        cancel: Stop between frames (local) or between videos (Ray) when set; a re-run resumes.
        ray_address: An existing Ray cluster (``"auto"``); None starts a local one.
        executor_options: More options for the executor (Ray: ``num_actors``, ``init_options``).

    Returns:
        A :class:`BatchReport`; failures are in it (and in the manifest), never raised.

    Example:
        >>> import tempfile, pathlib
        >>> from annotator_widgets.data import synthetic_clip, write_video
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> clip = synthetic_clip(num_frames=4, size=(96, 64), num_objects=1)
        >>> video = write_video(clip.frames, folder / "clip.mp4")
        >>> prompts = folder / "prompts.json"
        >>> _ = prompts.write_text('[{"frame": 0, "obj_id": 1, "box": %s}]' % [float(v) for v in clip.boxes[1][0]])
        >>> settings = Settings(segmenter="classic", prompts=str(prompts), formats=("coco",))
        >>> report = run_batch([video], folder / "out", settings)
        >>> [(r.key, r.status, r.outputs) for r in report.results]
        [('clip', 'done', ['clip/coco.json'])]
        >>> run_batch([video], folder / "out", settings).skipped
        ['clip']
    """
    settings = settings or Settings()
    if executor not in EXECUTORS:
        raise AnnotatorError("unknown executor", given=executor, hint=f"use one of {', '.join(EXECUTORS)}")
    out_dir = Path(out).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    emit = progress or (lambda event: None)
    cancel = cancel or threading.Event()
    paths = expand_inputs(videos)
    report = BatchReport(out_dir / MANIFEST_NAME)
    with Manifest(report.manifest) as manifest:
        jobs = []
        for path, key in zip(paths, _keys(paths), strict=True):
            job = Job(key, str(path), str(out_dir / key))
            digest = settings.digest(path)
            try:
                ident = manifest.identify(path)
            except OSError as exc:
                manifest.upsert(key, str(path), None, digest, status="failed")
                manifest.finish(key, status="failed", error=f"cannot read the video: {exc}")
                report.results.append(VideoResult(key, "failed", error=f"cannot read the video: {exc}"))
                emit({"event": "video", "video": key, "status": "failed", "error": str(exc)})
                continue
            row = manifest.get(key)
            same = row is not None and (row.sha256, row.settings_hash, row.path) == (ident.sha256, digest, str(path))
            if same and row is not None and row.status == "done" and all((out_dir / o).exists() for o in row.outputs):
                report.skipped.append(key)
                emit({"event": "video", "video": key, "status": "skipped"})
                continue
            if not same:
                if row is not None:
                    log.info("%s: input or settings changed: redoing it", key)
                shutil.rmtree(job.out_path, ignore_errors=True)
                manifest.upsert(key, str(path), ident, digest)
            jobs.append(job)
        results = _executor(executor)(
            jobs,
            settings,
            on_start=lambda job: manifest.start(job.key),
            progress=emit,
            cancel=cancel,
            **({"address": ray_address, **executor_options} if executor == "ray" else executor_options),
        )
        for result in results:
            manifest.finish(
                result.key,
                status=result.status,
                outputs=result.outputs,
                error=result.error,
                seconds=result.seconds,
                frames_computed=result.frames_computed,
                frames_recomputed=result.frames_recomputed,
            )
            report.results.append(result)
            emit({"event": "video", "video": result.key, **_public(result, out_dir / result.key)})
    return report


def _public(result: VideoResult, folder: Path) -> dict[str, Any]:
    """A video's event: how many files it wrote and where (the list of them is in the manifest and the
    report's :class:`VideoResult`; a YOLO export with frames alone is hundreds of paths)."""
    return {
        "status": result.status,
        "files": len(result.outputs),
        "folder": str(folder),
        "error": result.error,
        "seconds": result.seconds,
        "frames_computed": result.frames_computed,
        "frames_recomputed": result.frames_recomputed,
    }


def _executor(name: str) -> Callable[..., Iterable[VideoResult]]:
    if name == "ray":
        from .executors import ray as ray_executor

        return ray_executor.run
    from .executors import local

    return local.run
