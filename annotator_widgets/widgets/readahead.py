"""Decode ahead during playback: the next frames, decoded and shrunk to display size in a worker thread.

Decoding (FFmpeg) and resizing (OpenCV) release the GIL, so on two cores they run beside
the playback loop's overlay, JPEG encode and send instead of before them. The worker
fills the canvas' display-size frame cache (bounded); only the latest request counts
(playback that jumped ahead drops the frames it skipped). During playback the worker is
the only decoder: a frame the loop needs that is being (or about to be) read ahead is
waited for (:meth:`ReadAhead.wait_for`), never decoded a second time beside it.

Example:
    >>> loaded = []
    >>> ahead = ReadAhead(loaded.append)
    >>> ahead.want([3, 4, 5]); ahead.wait_idle(5)
    True
    >>> loaded
    [3, 4, 5]
    >>> ahead.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

__all__ = ["ReadAhead"]

log = logging.getLogger(__name__)


class ReadAhead:
    """One worker thread that loads the frames last asked for, in order.

    Args:
        load: Loads one frame (called in the worker thread; must be thread safe).
    """

    def __init__(self, load: Callable[[int], object]) -> None:
        self._load = load
        self._cv = threading.Condition()
        self._wanted: list[int] = []
        self._loading: int | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="annotator-readahead", daemon=True)
        self._thread.start()

    def want(self, frames: Iterable[int]) -> None:
        """Load these frames next, in this order (replaces what was asked before and not started)."""
        with self._cv:
            self._wanted = [int(f) for f in frames]
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._wanted:
                    self._cv.wait()
                if self._closed:
                    return
                frame = self._wanted.pop(0)
                self._busy = True
                self._loading = frame
            try:
                self._load(frame)
            except Exception as exc:  # noqa: BLE001 - the playback loop decodes it itself and reports errors
                log.debug("reading frame %d ahead failed: %s", frame, exc)
            finally:
                with self._cv:
                    self._busy = False
                    self._loading = None
                    self._cv.notify_all()

    def wait_for(self, frame: int, timeout: float | None = None) -> bool:
        """Block while ``frame`` is loading or waiting to be; False if it was never asked for (or on timeout).

        True means the worker has finished with it (loaded, or failed: the caller then loads it itself).
        """
        frame = int(frame)
        with self._cv:
            if self._loading != frame and frame not in self._wanted:
                return False
            return self._cv.wait_for(
                lambda: self._closed or (self._loading != frame and frame not in self._wanted), timeout
            )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is loading or waiting to be; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._closed or (not self._busy and not self._wanted), timeout)

    def close(self) -> None:
        """Drop what is pending and stop the worker."""
        with self._cv:
            self._closed = True
            self._wanted = []
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
