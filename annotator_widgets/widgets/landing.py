"""Precompute while the user looks: prepare the frame the user lands on, in a background worker.

When the user lands on a frame (navigation, a pause, the end of a propagation), the
annotator asks :class:`Preparer` to have the session prepare it (``session.prepare(frame)``:
the segmenter's per-frame work, e.g. SAM2's image features), so that a click there runs
only the prompt-dependent part. Only the latest landing counts: frames passed on the way
are dropped before they start (a prepare already running finishes). After the frame
itself, its neighbours in the direction of travel are prepared too. Frames prepared
recently are not prepared again.

Example:
    >>> calls = []
    >>> class Session:
    ...     def prepare(self, frame):
    ...         calls.append(frame)
    >>> p = Preparer(Session(), num_frames=10, neighbours=1)
    >>> p.land(3); p.land(4); p.wait_idle(5)
    True
    >>> calls[-2:]  # 4 then its neighbour forward (3 too, unless 4 arrived before the worker started on it)
    [4, 5]
    >>> p.close()
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import SessionBusyError
from .latest import LatestWorker

__all__ = ["Preparer"]

log = logging.getLogger(__name__)


def _prepare(session: Any, frame: int) -> bool:
    """``session.prepare(frame)``: the segmenter precomputes what a click on ``frame`` needs (False: it cannot)."""
    return session.prepare(frame) is not False


class Preparer:
    """One worker thread that prepares the landed-on frame, then its neighbours in the direction of travel.

    Args:
        session: The session (its ``prepare(frame)`` does the work).
        num_frames: Length of the video.
        neighbours: Frames prepared after the landed-on one, in the direction of travel.
        remember: Frames remembered as prepared (not prepared again).
        prepare: ``prepare(session, frame)`` (default: the session's ``prepare``); one that returns False
            prepared nothing, and the frame is not remembered as prepared.
    """

    def __init__(
        self,
        session: Any,
        num_frames: int,
        *,
        neighbours: int = 2,
        remember: int = 8,
        prepare: Callable[[Any, int], bool | None] = _prepare,
    ) -> None:
        self.session = session
        self.num_frames = int(num_frames)
        self.neighbours = max(0, int(neighbours))
        self._prepare = prepare
        self._lock = threading.Lock()
        self._last: int | None = None
        self._done: OrderedDict[int, None] = OrderedDict()
        self._remember = max(1, int(remember))
        self.prepared: list[int] = []  # frames prepared, in order (the most recent 256)
        self._worker = LatestWorker(self._one, name="prepare")

    def land(self, frame: int) -> None:
        """The user landed on ``frame``: prepare it next, then its neighbours; drop every older request."""
        f = min(max(int(frame), 0), self.num_frames - 1)
        with self._lock:
            step = 1 if self._last is None or f >= self._last else -1
            self._last = f
        ahead = [f + step * k for k in range(1, self.neighbours + 1)]
        self._worker.want(g for g in [f, *ahead] if 0 <= g < self.num_frames)

    def forget(self) -> None:
        """Forget which frames were prepared (e.g. after the segmenter was reset) and drop pending requests."""
        with self._lock:
            self._done.clear()
        self._worker.drop()

    def _one(self, frame: int) -> None:
        """In the worker: prepare ``frame`` unless it was prepared recently."""
        with self._lock:
            if frame in self._done:
                self._done.move_to_end(frame)
                return
        try:
            done = self._prepare(self.session, frame)
        except SessionBusyError as exc:  # a click or a job holds the session: the frame is prepared by it
            log.debug("preparing frame %d skipped: %s", frame, exc)
            return
        except Exception:  # a failed prepare costs speed only; the click computes what it needs
            log.exception("preparing frame %d failed", frame)
            return
        if done is False:  # nothing was prepared (e.g. a segmenter without prepare): nothing to remember
            return
        with self._lock:
            self._done[frame] = None
            while len(self._done) > self._remember:
                self._done.popitem(last=False)
            self.prepared.append(frame)
            del self.prepared[:-256]

    @property
    def idle(self) -> bool:
        """True when nothing is being prepared or waiting to be."""
        return self._worker.idle

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is being prepared or waiting to be; False on timeout."""
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        """Drop pending requests and stop the worker (a prepare already running finishes first)."""
        self._worker.close()
