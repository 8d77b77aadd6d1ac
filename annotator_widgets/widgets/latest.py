"""One worker thread that works through the items last asked for: the read-ahead's and the preparer's loop.

A new request replaces every item still waiting (an item already being worked on finishes):
playback that jumped ahead, or a user who moved on to another frame, drops what it passed.
Callers can wait for one item or for the worker to be idle.

Example:
    >>> done = []
    >>> worker = LatestWorker(done.append, name="example")
    >>> worker.want([3, 4, 5]); worker.wait_idle(5)
    True
    >>> done
    [3, 4, 5]
    >>> worker.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

__all__ = ["LatestWorker"]

log = logging.getLogger(__name__)


class LatestWorker:
    """Works through the items last asked for, in order, on one daemon thread.

    Args:
        work: Called with each item in the worker thread. An exception is logged (debug) and the
            worker carries on: a read-ahead or a preparation that fails costs speed only.
        name: The thread's name (``annotator-<name>``).
    """

    def __init__(self, work: Callable[[int], object], *, name: str) -> None:
        self._work = work
        self._cv = threading.Condition()
        self._wanted: list[int] = []
        self._current: int | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"annotator-{name}", daemon=True)
        self._thread.start()

    def want(self, items: Iterable[int]) -> None:
        """Work on these items next, in this order (replaces what was asked before and not started)."""
        with self._cv:
            self._wanted = [int(i) for i in items]
            self._cv.notify_all()

    def drop(self) -> None:
        """Drop the items waiting (the one being worked on finishes)."""
        with self._cv:
            self._wanted = []
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._wanted:
                    self._cv.wait()
                if self._closed:
                    return
                item = self._current = self._wanted.pop(0)
            try:
                self._work(item)
            except Exception as exc:  # noqa: BLE001 - costs speed only: the caller does the work itself
                log.debug("%s: item %d failed: %s", self._thread.name, item, exc)
            finally:
                with self._cv:
                    self._current = None
                    self._cv.notify_all()

    @property
    def idle(self) -> bool:
        """True when nothing is being worked on or waiting to be."""
        with self._cv:
            return self._current is None and not self._wanted

    def wait_for(self, item: int, timeout: float | None = None) -> bool:
        """Block while ``item`` is being worked on or waiting to be; False if it was never asked for (or on timeout).

        True means the worker has finished with it (done, or failed: the caller then does it itself).
        """
        item = int(item)
        with self._cv:
            if self._current != item and item not in self._wanted:
                return False
            return self._cv.wait_for(
                lambda: self._closed or (self._current != item and item not in self._wanted), timeout
            )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is being worked on or waiting to be; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._closed or (self._current is None and not self._wanted), timeout)

    def close(self) -> None:
        """Drop what is waiting and stop the worker (an item being worked on finishes first)."""
        with self._cv:
            self._closed = True
            self._wanted = []
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
