"""The exception family raised by annotator_widgets.

Every error says three things: what failed, what was given, and how to fix it.
Catch :class:`AnnotatorError` to handle all of them.

Example:
    >>> from annotator_widgets.errors import VideoError
    >>> err = VideoError("cannot open video", given="missing.mp4", hint="check the path")
    >>> str(err)
    "cannot open video (given: 'missing.mp4'). Fix: check the path"
"""

from __future__ import annotations

__all__ = [
    "AnnotatorError",
    "BackendError",
    "CheckpointError",
    "MissingDependencyError",
    "ProjectError",
    "PromptError",
    "VideoError",
]

_UNSET = object()


class AnnotatorError(Exception):
    """Base class of every error this package raises on purpose.

    Args:
        message: What failed, in a short sentence.
        given: The offending value (shown with ``repr``), if there is one.
        hint: How to fix it.
    """

    def __init__(self, message: str, *, given: object = _UNSET, hint: str | None = None) -> None:
        self.message = message
        self.given = None if given is _UNSET else given
        self.hint = hint
        text = message
        if given is not _UNSET:
            text += f" (given: {given!r})"
        if hint:
            text += f". Fix: {hint}"
        super().__init__(text)


class VideoError(AnnotatorError, ValueError):
    """A video, frame folder or frame array cannot be opened or read."""


class PromptError(AnnotatorError, ValueError):
    """A point, box, mask or text prompt is invalid for this video or object."""


class ProjectError(AnnotatorError):
    """The project store cannot be created, opened, locked or changed."""


class BackendError(AnnotatorError, RuntimeError):
    """A model backend failed or was configured wrongly."""


class MissingDependencyError(AnnotatorError, ImportError):
    """An optional dependency is missing; the message names the pip extra."""


class CheckpointError(AnnotatorError):
    """A model checkpoint is missing, corrupt, or cannot be fetched."""
