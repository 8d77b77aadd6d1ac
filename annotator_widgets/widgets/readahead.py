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

from collections.abc import Callable

from .latest import LatestWorker

__all__ = ["ReadAhead"]


class ReadAhead(LatestWorker):
    """One worker thread that loads the frames last asked for, in order (:class:`~.latest.LatestWorker`).

    Args:
        load: Loads one frame (called in the worker thread; must be thread safe). A load that
            fails is logged (debug): the playback loop decodes the frame itself and reports errors.
    """

    def __init__(self, load: Callable[[int], object]) -> None:
        super().__init__(load, name="readahead")
