"""Empty results are said: the session's record of prompts and propagated frames that found (almost) nothing.

A segmenter may return an empty mask (the object left the view, a box over plain background,
only negative clicks). The session never passes that on silently: each one becomes a
:class:`~annotator_widgets.types.MaskWarning` stored with the mask in the project
(``project.warnings(frame)``, drawn by the widget, removed when that mask is replaced), joins
``session.warnings`` (a bounded, newest-last record), ``session.progress.empty`` counts them during a
propagation, and a ``logging`` warning names it.

Example:
    >>> import numpy as np
    >>> near_empty(np.zeros((48, 64), bool)), near_empty(np.ones((48, 64), bool))
    (True, False)
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

import numpy as np

from .types import MaskWarning

__all__ = ["MAX_WARNINGS", "empty_warning", "min_area", "near_empty"]

log = logging.getLogger(__name__)

MAX_WARNINGS = 10_000  # the session keeps this many of the newest warnings (memory stays bounded)
NEAR_EMPTY_SHARE = 1e-4  # a mask under this share of the frame (and under 4 pixels at least) counts as empty


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

    warnings: deque[MaskWarning]

    @property
    def progress(self) -> _Counts: ...


def new_record() -> deque[MaskWarning]:
    """The session's bounded warning record."""
    return deque(maxlen=MAX_WARNINGS)


def empty_warning(frame: int, obj_id: int, area: int, *, propagated: bool = False) -> MaskWarning:
    """The warning stored for object ``obj_id``'s (near-)empty mask of ``area`` pixels on ``frame``."""
    if propagated:
        return MaskWarning(
            frame,
            obj_id,
            "empty_propagated",
            f"object {obj_id} has an empty mask on frame {frame} ({area} pixels): it left the view or was lost; "
            "add a prompt on this frame if it is still there",
        )
    return MaskWarning(
        frame,
        obj_id,
        "empty_prompt",
        f"the prompt for object {obj_id} on frame {frame} gave an empty mask ({area} pixels): "
        "add a positive click on the object or draw a tighter box",
    )


def _record_empty(session: _Reporter, warning: MaskWarning) -> None:
    """Say it: the one place an empty result is reported to the session's record and the log (a propagation
    logs the first empty frame of each object at WARNING and the rest at DEBUG, so a long run where an object
    left the view does not flood the log). The project stores the same warning with the mask."""
    first = True
    if warning.kind == "empty_propagated":
        first = warning.obj_id not in session.progress.empty_objects
        session.progress.empty += 1
        session.progress.empty_objects.add(warning.obj_id)
    session.warnings.append(warning)
    log.log(logging.WARNING if first else logging.DEBUG, warning.message)
