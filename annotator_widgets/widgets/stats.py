"""Latency and traffic measurements of a widget: named timing series and counters.

Example:
    >>> s = Stats()
    >>> for v in (10.0, 20.0, 30.0):
    ...     s.add("click_ms", v)
    >>> s.count("bytes", 1500)
    >>> summary = s.summary()
    >>> summary["click_ms"]["p50"], summary["bytes"]
    (20.0, 1500)
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

__all__ = ["Stats"]


class Stats:
    """Thread-safe recorder: ``add`` appends to a bounded series, ``count`` increments a counter.

    Args:
        keep: How many recent values each series keeps.
    """

    def __init__(self, keep: int = 1000) -> None:
        self._keep = int(keep)
        self._series: dict[str, deque[float]] = {}
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, name: str, value: float) -> None:
        """Record one value of series ``name`` (e.g. a latency in ms)."""
        with self._lock:
            self._series.setdefault(name, deque(maxlen=self._keep)).append(float(value))

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + int(n)

    def values(self, name: str) -> list[float]:
        """The recorded values of a series (oldest first)."""
        with self._lock:
            return list(self._series.get(name, ()))

    def counter(self, name: str) -> int:
        """The value of a counter (0 if never counted)."""
        with self._lock:
            return self._counters.get(name, 0)

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._series.clear()
            self._counters.clear()

    def summary(self) -> dict[str, Any]:
        """Counters as ints and each series as ``{"n", "mean", "p50", "p90", "max"}``."""
        with self._lock:
            out: dict[str, Any] = dict(self._counters)
            for name, vals in self._series.items():
                if not vals:
                    continue
                arr = np.fromiter(vals, float)
                out[name] = {
                    "n": int(arr.size),
                    "mean": round(float(arr.mean()), 2),
                    "p50": round(float(np.percentile(arr, 50)), 2),
                    "p90": round(float(np.percentile(arr, 90)), 2),
                    "max": round(float(arr.max()), 2),
                }
            return out

    def __repr__(self) -> str:
        return f"Stats({self.summary()!r})"
