"""A bounded per-frame cache of prepared work, shared by the segmenters' ``prepare(frame)``.

A segmenter's click path splits into the part that depends only on the frame (SAM2's image
features, the classic segmenter's colour space and gradients) and the part that depends on the
prompt. ``prepare(frame)`` computes the first part ahead, usually in a worker thread while the user
looks at the frame; the click then finds it here. Work for one frame is computed once even when a
click asks for it while a worker is still computing it (the click waits for that result).

Example:
    >>> cache = FrameCache(2)
    >>> cache.get(3, lambda: "features of 3")
    'features of 3'
    >>> cache.lookup(3), cache.lookup(4)
    ('features of 3', None)
    >>> _ = cache.get(4, lambda: "4"), cache.get(5, lambda: "5")
    >>> sorted(cache.frames())  # the least recently used frame went first
    [4, 5]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["FrameCache", "neighbour"]

T = TypeVar("T")


class FrameCache(Generic[T]):
    """Least-recently-used ``frame -> value`` with at most ``size`` values (0 disables it)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._values: OrderedDict[int, T] = OrderedDict()
        self._pending: dict[int, Future[T]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def lookup(self, frame: int) -> T | None:
        """The value of ``frame`` if it is cached (waiting for it when it is being computed), else None."""
        with self._lock:
            if frame in self._values:
                self._values.move_to_end(frame)
                self.hits += 1
                return self._values[frame]
            pending = self._pending.get(frame)
        if pending is None:
            return None
        try:
            value = pending.result()
        except Exception:  # noqa: BLE001 - the worker failed: the caller computes it itself and sees the error
            return None
        with self._lock:
            self.hits += 1
        return value

    def get(self, frame: int, compute: Callable[[], T]) -> T:
        """The value of ``frame``, computed by ``compute()`` in this thread when it is not cached yet."""
        found = self.lookup(frame)
        if found is not None:
            return found
        with self._lock:
            generation = self._generation
            mine = frame not in self._pending
            fut: Future[T] = self._pending.setdefault(frame, Future())
            self.misses += mine
        if not mine:
            return fut.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(frame, None)
            fut.set_exception(exc)
            raise
        with self._lock:
            self._pending.pop(frame, None)
            if self.size and generation == self._generation:
                self._values[frame] = value
                self._values.move_to_end(frame)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        fut.set_result(value)
        return value

    def frames(self) -> list[int]:
        """Frames cached now, least recently used first."""
        with self._lock:
            return list(self._values)

    def clear(self) -> None:
        """Drop every value (work in flight finishes but is not kept by a later lookup)."""
        with self._lock:
            self._values.clear()
            self._generation += 1


def neighbour(frame: int, last: int | None, num_frames: int) -> int | None:
    """The frame after ``frame`` in the direction the user moved from ``last`` (forward by default)."""
    step = -1 if last is not None and frame < last else 1
    nxt = frame + step
    return nxt if 0 <= nxt < num_frames else None
