"""Empty results are said: the session's record of prompts and propagated frames that found (almost) nothing.

A segmenter may return an empty mask (the object left the view, a box over plain background,
only negative clicks). The session never passes that on silently: each one becomes a
:class:`ResultWarning` in ``session.warnings`` (a bounded, newest-last record the widget shows),
``session.progress.empty`` counts them during a propagation, and a ``logging`` warning names it.

Example:
    >>> import numpy as np
    >>> near_empty(np.zeros((48, 64), bool)), near_empty(np.ones((48, 64), bool))
    (True, False)
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["MAX_WARNINGS", "ResultWarning", "min_area", "near_empty"]

log = logging.getLogger(__name__)

MAX_WARNINGS = 10_000  # the session keeps this many of the newest warnings (memory stays bounded)
NEAR_EMPTY_SHARE = 1e-4  # a mask under this share of the frame (and under 4 pixels at least) counts as empty


@dataclass(frozen=True)
class ResultWarning:
    """A result that found (almost) nothing.

    Attributes:
        frame: Frame index.
        obj_id: The object.
        kind: ``"empty_prompt"`` (a prompt's mask) or ``"empty_propagated"`` (a propagated frame).
        message: What happened and what to do, in one sentence.
    """

    frame: int
    obj_id: int
    kind: str
    message: str


def min_area(height: int, width: int) -> int:
    """The smallest mask area (pixels) that does not count as empty on a ``width`` x ``height`` frame."""
    return max(4, int(np.ceil(NEAR_EMPTY_SHARE * height * width)))


def near_empty(mask: np.ndarray) -> bool:
    """Whether ``mask`` (H, W) is empty or nearly so (fewer than :func:`min_area` pixels)."""
    return int(np.count_nonzero(mask)) < min_area(*mask.shape[:2])


class _Counts(Protocol):
    empty: int
    empty_objects: set[int]


class _Reporter(Protocol):
    """What :func:`_record_empty` needs of the session (a protocol: this module must not import the session)."""

    warnings: deque[ResultWarning]

    @property
    def progress(self) -> _Counts: ...


def new_record() -> deque[ResultWarning]:
    """The session's bounded warning record."""
    return deque(maxlen=MAX_WARNINGS)


def _record_empty(session: _Reporter, frame: int, obj_id: int, area: int, *, propagated: bool = False) -> None:
    """Say that object ``obj_id`` got a (near-)empty mask of ``area`` pixels on ``frame``.

    The one place an empty result is reported: it joins ``session.warnings`` and is logged (a
    propagation logs the first empty frame of each object at WARNING and the rest at DEBUG, so a
    long run where an object left the view does not flood the log).
    """
    if propagated:
        kind = "empty_propagated"
        message = (
            f"object {obj_id} has an empty mask on frame {frame} ({area} pixels): it left the view or was lost; "
            "add a prompt on this frame if it is still there"
        )
        first = obj_id not in session.progress.empty_objects
        session.progress.empty += 1
        session.progress.empty_objects.add(obj_id)
    else:
        kind = "empty_prompt"
        message = (
            f"the prompt for object {obj_id} on frame {frame} gave an empty mask ({area} pixels): "
            "add a positive click on the object or draw a tighter box"
        )
        first = True
    session.warnings.append(ResultWarning(frame, obj_id, kind, message))
    log.log(logging.WARNING if first else logging.DEBUG, message)
