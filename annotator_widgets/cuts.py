"""Shot cuts: where a video jumps from one camera shot to the next, so that propagation can stop there.

A mask carried across a cut lands on whatever is at the same place in the next shot (the pavement where a
face was). :class:`CutDetector` finds cuts the way PySceneDetect's adaptive content detector does, on small
frames and in one streaming pass (memory flat in the video's length):

* each frame is shrunk to ``width`` pixels wide and turned into HSV histograms (hue, saturation, value; ``bins``
  each, normalised), which are blind to where things are, so a fast-moving object or a panning camera barely
  changes them;
* the score of frame ``i`` is the histogram distance to frame ``i - 1`` (half the L1 distance, averaged over the
  three channels: 0 same colours, 1 nothing in common);
* frame ``i`` starts a new shot when its score is at least ``threshold`` *and* at least ``ratio`` times the mean
  score of the ``window`` frames on each side (an adaptive threshold: a fade or a long fast pan changes every
  frame about as much as its neighbours, a cut changes one frame far more), and at least ``min_shot`` frames
  after the previous cut (a flash is not two cuts).

:func:`video_cuts` runs it once per project and keeps the result in the project's metadata (``META_KEY``,
JSON; rerun when the detector's settings or the frame count differ); :class:`~.cutscan.CutScanner` gives the same
cuts interval by interval (what a propagation uses: it scans only what it reaches). :func:`shot_bounds` gives the
shot a frame belongs to.

Example:
    >>> import numpy as np
    >>> red, blue = np.zeros((10, 32, 32, 3), np.uint8), np.zeros((10, 32, 32, 3), np.uint8)
    >>> red[..., 0], blue[..., 2] = 200, 200
    >>> CutDetector().detect(np.concatenate([red, blue]))
    [10]
    >>> shot_bounds([10], 3, 20), shot_bounds([10], 15, 20)
    ((0, 10), (10, 20))
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .errors import AnnotatorError, VideoError

if TYPE_CHECKING:
    from .project import Project
    from .video import VideoSource

__all__ = ["META_KEY", "CutDetector", "shot_bounds", "video_cuts"]

log = logging.getLogger(__name__)

META_KEY = "cuts"  # {"frames": N, "detector": {...settings}, "cuts": [first frame of each new shot, ...]}


@dataclass(frozen=True)
class CutDetector:
    """Finds shot cuts in a stream of RGB frames (see the module docstring for the method).

    Args:
        width: Frames are shrunk to this width (pixels) before anything else.
        bins: Histogram bins per HSV channel.
        threshold: The least histogram distance (0..1) from the previous frame that can be a cut.
        ratio: How many times its neighbours' mean distance a cut's distance must be.
        window: Neighbours on each side of a frame for that mean.
        min_shot: The fewest frames a shot may have (a second cut sooner is ignored).
    """

    width: int = 96
    bins: int = 32
    threshold: float = 0.2
    ratio: float = 3.0
    window: int = 3
    min_shot: int = 8

    def __post_init__(self) -> None:
        checks = {
            "width": self.width >= 8,
            "bins": 2 <= self.bins <= 256,
            "threshold": 0 < self.threshold <= 1,
            "ratio": self.ratio >= 1,
            "window": self.window >= 1,
            "min_shot": self.min_shot >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise AnnotatorError(
                    f"CutDetector.{name} is out of range",
                    given=getattr(self, name),
                    hint="width >= 8, bins in 2..256, threshold in (0, 1], ratio >= 1, window >= 1, min_shot >= 1",
                )

    def settings(self) -> dict[str, Any]:
        """The settings as a plain dict (what the project's cache is keyed on)."""
        return dataclasses.asdict(self)

    def _histogram(self, frame: np.ndarray) -> np.ndarray:
        arr = np.asarray(frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise VideoError("cut detection needs RGB uint8 frames (H, W, 3)", given=(arr.shape, str(arr.dtype)))
        h, w = arr.shape[:2]
        if w > self.width:
            arr = cv2.resize(arr, (self.width, max(1, round(h * self.width / w))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2HSV)
        hists = [cv2.calcHist([hsv], [c], None, [self.bins], [0, 180 if c == 0 else 256]).ravel() for c in range(3)]
        out = np.concatenate(hists)
        return out / max(1.0, float(hsv.shape[0] * hsv.shape[1]))

    def scores(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        """The distance of each frame to the one before it (0.0 for the first frame), streaming."""
        prev: np.ndarray | None = None
        for frame in frames:
            hist = self._histogram(frame)
            yield 0.0 if prev is None else float(np.abs(hist - prev).sum()) / 6.0
            prev = hist

    def detect(self, frames: Iterable[np.ndarray]) -> list[int]:
        """The first frame of every shot after the first, ascending (``[]``: one shot)."""
        return list(self.iter_cuts(self.scores(frames)))

    def iter_cuts(self, scores: Iterable[float]) -> Iterator[int]:
        """Cuts from a stream of :meth:`scores`, each yielded ``window`` frames after it (memory: ``2 window + 1``)."""
        w = self.window
        buf: collections.deque[tuple[int, float]] = collections.deque(maxlen=2 * w + 1)
        last = -self.min_shot
        n = 0

        def judge(pos: int) -> int | None:
            nonlocal last
            frame, score = buf[pos]
            if frame == 0 or score < self.threshold or frame - last < self.min_shot:
                return None
            around = [s for i, (f, s) in enumerate(buf) if i != pos and f > 0]
            mean = sum(around) / len(around) if around else 0.0
            if score < self.ratio * mean:
                return None
            last = frame
            return frame

        for n, score in enumerate(scores):
            buf.append((n, score))
            if len(buf) > w:  # the frame w back now has its w later neighbours
                cut = judge(len(buf) - 1 - w)
                if cut is not None:
                    yield cut
        for pos in range(max(0, len(buf) - w), len(buf)):  # the last frames: fewer later neighbours
            cut = judge(pos)
            if cut is not None:
                yield cut


def shot_bounds(cuts: Sequence[int], frame: int, num_frames: int) -> tuple[int, int]:
    """The shot holding ``frame``: ``(first, stop)`` with ``stop`` excluded, given ascending ``cuts``."""
    i = bisect.bisect_right(cuts, frame)
    return (cuts[i - 1] if i else 0, cuts[i] if i < len(cuts) else num_frames)


def video_cuts(project: Project, video: VideoSource, detector: CutDetector | None = None) -> list[int]:
    """The video's cuts, detected once and kept in the project (read back while the settings and length match)."""
    detector = detector or CutDetector()
    want = {"frames": len(video), "detector": detector.settings()}
    raw = project.get_meta(META_KEY)
    if raw is not None:
        try:
            got = json.loads(raw)
            if {k: got.get(k) for k in want} == want:
                return [int(c) for c in got["cuts"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("the project's stored cuts are unreadable; detecting them again")
    fork = getattr(video, "fork", None)
    reader = fork() if fork is not None else video  # its own decoder: the session's position and cache stay
    try:
        cuts = detector.detect(frame for _, frame in reader.frames())
    finally:
        if reader is not video:
            reader.close()
    project.set_meta(META_KEY, json.dumps({**want, "cuts": cuts}))
    log.info("%s: %d shot cut(s) at %s", getattr(video, "name", "video"), len(cuts), cuts)
    return cuts
