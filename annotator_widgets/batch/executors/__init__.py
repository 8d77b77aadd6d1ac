"""Executors run a batch's jobs and yield one :class:`~annotator_widgets.batch.pipeline.VideoResult` per video.

* ``local`` (:mod:`.local`): one video after another in this process (the default).
* ``ray`` (:mod:`.ray`): sharded by video over long-lived Ray actors that load the segmenter once.

An executor is ``run(jobs, settings, *, on_start, progress, cancel, **options) -> Iterator[VideoResult]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXECUTORS", "Job"]

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One video to run: its key (folder name), the input file, and its output folder."""

    key: str
    video: str
    out_dir: str

    @property
    def out_path(self) -> Path:
        """The output folder as a Path."""
        return Path(self.out_dir)
