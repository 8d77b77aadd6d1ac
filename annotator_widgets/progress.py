"""Progress reports and cancellation for long-running work, the same for widgets, scripts and the CLI.

A long-running function takes two optional arguments:

* ``progress``: a callable ``progress(done, total, text)`` called after each step
  (the widget's worker updates its progress bar with it; a script may print);
* ``cancel``: a :class:`threading.Event` or a callable returning True once the work
  should stop. The work stops at its next step and raises :class:`Cancelled`.

:class:`Steps` wraps the two for the code that does the work.

Example:
    >>> import threading
    >>> seen = []
    >>> stop = threading.Event()
    >>> steps = Steps(lambda done, total, text: seen.append((done, total, text)), stop, total=3, text="pose")
    >>> steps.advance()
    >>> stop.set()
    >>> steps.advance()
    Traceback (most recent call last):
    ...
    annotator_widgets.progress.Cancelled: pose was cancelled (given: '2/3 steps done')
    >>> seen
    [(1, 3, 'pose 1/3'), (2, 3, 'pose 2/3')]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Union

from .errors import AnnotatorError

__all__ = ["CancelSignal", "Cancelled", "ProgressCallback", "Steps", "is_cancelled"]

log = logging.getLogger(__name__)

#: ``progress(done, total, text)``: ``done`` of ``total`` steps are finished
ProgressCallback = Callable[[int, int, str], None]
#: a :class:`threading.Event` (set = stop) or a callable returning True to stop
CancelSignal = Union[threading.Event, Callable[[], bool]]  # noqa: UP007 - a runtime alias on Python 3.10


class Cancelled(AnnotatorError):
    """The work was asked to stop (through its ``cancel`` signal) and stopped; what it had not stored is dropped."""


def is_cancelled(cancel: CancelSignal | None) -> bool:
    """True when ``cancel`` (an Event, a callable or None) says stop.

    Example:
        >>> is_cancelled(None), is_cancelled(lambda: True)
        (False, True)
    """
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


class Steps:
    """Reports the steps of one phase of work and stops it when cancelled.

    Args:
        progress: Called as ``progress(done, total, text)`` after each step (errors in it are logged,
            never stop the work).
        cancel: The stop signal, checked before and after each step.
        total: Steps in this phase.
        text: What the phase does; reports read ``"<text> <done>/<total>"``.
    """

    def __init__(
        self, progress: ProgressCallback | None, cancel: CancelSignal | None, *, total: int, text: str
    ) -> None:
        self.progress = progress
        self.cancel = cancel
        self.total = int(total)
        self.text = text
        self.done = 0

    def check(self) -> None:
        """Raise :class:`Cancelled` if the work was asked to stop."""
        if is_cancelled(self.cancel):
            raise Cancelled(f"{self.text} was cancelled", given=f"{self.done}/{self.total} steps done")

    def advance(self, n: int = 1) -> None:
        """``n`` more steps are finished: report them, then stop here if cancelled."""
        self.done += int(n)
        if self.progress is not None:
            try:
                self.progress(self.done, self.total, f"{self.text} {self.done}/{self.total}")
            except Exception:  # a display problem must not stop the work
                log.exception("reporting the progress of %s failed", self.text)
        self.check()
