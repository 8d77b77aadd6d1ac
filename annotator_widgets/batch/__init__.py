"""Batches of videos: one project and one set of exports per video, resumable, locally or on Ray.

* :func:`run_batch` - plan against the manifest, run the jobs, record the results.
* :class:`Settings` / :data:`STEPS` / :func:`run_video` - the pipeline run on each video (:mod:`.pipeline`).
* :class:`Manifest` - the SQLite record of every video (:mod:`.manifest`).
* executors: ``"local"`` (default) and ``"ray"`` (:mod:`.executors`).

The command line is ``annotator-widgets batch`` (:mod:`annotator_widgets.cli_batch`).
"""

from __future__ import annotations

from .manifest import Manifest, VideoRecord
from .pipeline import STEPS, Settings, Step, VideoResult, add_step, run_video
from .runner import BatchReport, expand_inputs, run_batch

__all__ = [
    "STEPS",
    "BatchReport",
    "Manifest",
    "Settings",
    "Step",
    "VideoRecord",
    "VideoResult",
    "add_step",
    "expand_inputs",
    "run_batch",
    "run_video",
]
