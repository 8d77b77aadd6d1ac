"""The local executor: one video after another in this process, reporting every frame."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...errors import AnnotatorError
from ..pipeline import Settings, VideoResult, run_video
from . import Job

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    jobs: Sequence[Job],
    settings: Settings,
    *,
    on_start: Callable[[Job], None],
    progress: Callable[[dict[str, Any]], None],
    cancel: threading.Event,
) -> Iterator[VideoResult]:
    """Run the jobs in order; the segmenter is resolved once and lent to every video."""
    from ... import registry

    segmenter = None
    try:
        for job in jobs:
            if cancel.is_set():
                return
            if segmenter is None:
                try:
                    segmenter = registry.resolve("segmenter", settings.segmenter)
                except Exception as exc:  # a model that does not load fails this video, and is tried again
                    # our errors say what and how to fix (the video's result carries it): no traceback for them
                    clear = isinstance(exc, AnnotatorError)
                    log.warning("loading the segmenter %r failed", settings.segmenter, exc_info=not clear)
                    yield VideoResult(job.key, "failed", error=str(exc))
                    continue
            on_start(job)
            yield run_video(job.video, job.out_dir, settings, progress, cancel, key=job.key, segmenter=segmenter)
    finally:
        if segmenter is not None:
            segmenter.close()
