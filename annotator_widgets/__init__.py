"""annotator_widgets: Jupyter widgets for human-in-the-loop video annotation.

Importing this package is cheap: it loads no torch, sam2, mediapipe,
transformers or ipycanvas. Heavy pieces load on first use.

Example:
    >>> import numpy as np
    >>> import annotator_widgets as aw
    >>> video = aw.open_video(np.zeros((3, 32, 32, 3), np.uint8))
    >>> len(video)
    3
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AnnotatorError,
    BackendError,
    CheckpointError,
    MissingDependencyError,
    ProjectError,
    PromptError,
    VideoError,
)
from .project import Project
from .rle import RLE
from .types import ActionSegment, Annotation, Box, ObjectInfo, PersonPose, Point, Prompt, Source
from .video import VideoSource, open_video

__version__ = "0.1.0"

__all__ = [
    "RLE",
    "ActionSegment",
    "Annotation",
    "AnnotationSession",
    "AnnotatorError",
    "BackendError",
    "Box",
    "CheckpointError",
    "MissingDependencyError",
    "ObjectInfo",
    "PersonPose",
    "Point",
    "Project",
    "ProjectError",
    "Prompt",
    "PromptError",
    "Source",
    "VideoAnnotator",
    "VideoError",
    "VideoSource",
    "__version__",
    "open_video",
    "simulate_annotator",
    "track_people",
]

# name -> module that defines it, imported on first access
_LAZY = {
    "AnnotationSession": ".session",
    "VideoAnnotator": ".widgets",
    "simulate_annotator": ".simulate",
    "track_people": ".pose_tracking",
}

if TYPE_CHECKING:
    from .pose_tracking import track_people
    from .session import AnnotationSession
    from .simulate import simulate_annotator
    from .widgets import VideoAnnotator


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'annotator_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
