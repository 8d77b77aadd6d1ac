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

import errno
import os

__all__ = [
    "AnnotatorError",
    "BackendError",
    "CheckpointError",
    "MissingDependencyError",
    "NotFoundError",
    "ProjectError",
    "PromptError",
    "SessionBusyError",
    "VideoError",
    "file_error",
    "out_of_memory",
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


class SessionBusyError(BackendError):
    """The session (or widget) is running a job (a propagation, a tracking run) and cannot take this call now.

    Example:
        >>> str(SessionBusyError.running("propagating"))
        "the session is busy (given: 'propagating'). Fix: call cancel() or wait until it finishes"
    """

    @classmethod
    def running(cls, what: str = "a job is running") -> SessionBusyError:
        """The one message for a call that arrives while ``what`` runs."""
        return cls("the session is busy", given=what, hint="call cancel() or wait until it finishes")


class NotFoundError(PromptError):
    """A model looked and found nothing (no detection for a phrase, no frame passing a threshold).

    The message says what was asked and the best score seen, so the user can lower a threshold or rephrase.
    """


class MissingDependencyError(AnnotatorError, ImportError):
    """An optional dependency is missing; the message names the pip extra."""


class CheckpointError(AnnotatorError):
    """A model checkpoint is missing, corrupt, or cannot be fetched."""


def file_error(
    exc: OSError, what: str, where: str | os.PathLike[str], cls: type[AnnotatorError] = AnnotatorError
) -> AnnotatorError:
    """An error for a filesystem failure while writing ``what`` at ``where``, with the fix for its cause.

    Example:
        >>> print(file_error(OSError(errno.ENOSPC, "No space left on device"), "COCO export", "out.json"))
        cannot write the COCO export (given: 'out.json'). Fix: the disk is full: free some space or write somewhere else
    """
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "the destination is read-only: choose a folder you can write to, or fix its permissions"
    elif isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        hint = "a file stands where a folder is needed on that path: choose another path or move the file away"
    elif isinstance(exc, IsADirectoryError) or exc.errno == errno.EISDIR:
        hint = "a folder stands where the file should go: choose a file path, or remove that folder"
    elif exc.errno == errno.ENOSPC:
        hint = "the disk is full: free some space or write somewhere else"
    else:
        hint = f"the system said: {exc.strerror or exc}"
    return cls(f"cannot write the {what}", given=str(where), hint=hint)


OOM_HINT = (
    "use a smaller model (e.g. sam2:tiny, or 'classic' with no GPU), a lower resolution (resize the video), "
    "or offload (device='cpu', or the model's offload options); the session is still usable: try again"
)


def out_of_memory(exc: BaseException, what: str = "the model") -> BackendError | None:
    """A :class:`BackendError` saying what to do when ``exc`` (or what caused it) is an out-of-memory error.

    Recognises ``torch.OutOfMemoryError`` (and ``torch.cuda.OutOfMemoryError``) by name, so this module
    needs no torch, and Python's own :class:`MemoryError`. Returns None for any other error.

    Example:
        >>> out_of_memory(ValueError("x")) is None
        True
        >>> print(out_of_memory(MemoryError("no room")).message)
        out of memory while running the model
    """
    seen: BaseException | None = exc
    for _ in range(6):  # the error, what it was raised from, and so on
        if seen is None:
            return None
        if isinstance(seen, MemoryError) or type(seen).__name__ == "OutOfMemoryError":
            detail = str(seen).strip().splitlines()[0][:200] if str(seen).strip() else type(seen).__name__
            return BackendError(f"out of memory while running {what}", given=detail, hint=OOM_HINT)
        seen = seen.__cause__ or seen.__context__
    return None
