"""Shot cuts found piece by piece, as a propagation reaches the frames, with exactly the cuts of a full scan.

:func:`~.cuts.video_cuts` decodes a whole video before its first propagation; :class:`CutScanner` decodes only
the intervals asked for (:meth:`~CutScanner.ensure`, :meth:`~CutScanner.cut_ahead`) and keeps what it scanned in
the project's metadata (``META_KEY``: the scanned intervals and the cuts in them), so a reopened project does not
scan them again. A full scan's ``"cuts"`` entry (:data:`.cuts.META_KEY`) is read as "everything scanned", and a
scanner that has covered the whole video writes one.

Why a piece gives the full scan's cuts: :meth:`.cuts.CutDetector.iter_cuts` accepts frame ``f`` when it is a
*candidate* (its score passes the threshold and the ratio to the mean of the ``window`` scores on each side: only
frames ``f - window - 1 .. f + window`` are needed) and it is at least ``min_shot`` frames after the previous
*accepted* cut. That last rule chains, so a piece is scanned from further back until its start is known: the
start of the video, frames already scanned, or ``min_shot - 1`` frames without a candidate (no cut was accepted
there, whatever came before, so the next candidate is).

Example:
    >>> import numpy as np
    >>> from annotator_widgets.cuts import CutDetector
    >>> frames = np.zeros((40, 32, 32, 3), np.uint8)
    >>> frames[20:, ..., 2] = 200
    >>> scanner = CutScanner(frames, CutDetector(), chunk=8)
    >>> scanner.ensure(0, 10), scanner.decoded
    ([], 13)
    >>> scanner.cut_ahead(18, reverse=False), scanner.cut_ahead(20, reverse=True)
    (None, 20)
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .cuts import META_KEY as FULL_KEY
from .cuts import CutDetector
from .errors import AnnotatorError, ProjectError

if TYPE_CHECKING:
    from .project import Project

__all__ = ["META_KEY", "CutScanner", "span_cuts"]

log = logging.getLogger(__name__)

META_KEY = "cut_scan"  # {"frames": N, "detector": {...}, "scanned": [[a, b], ...], "cuts": [...]}


class CutScanner:
    """The cuts of one video, scanned on demand, interval by interval (see the module docstring).

    Args:
        video: The frames: a :class:`~.video.VideoSource` (forked, when it can be, so the caller's decoder keeps its
            position) or an array / sequence of RGB frames.
        detector: The detector whose cuts to give.
        project: Where the scanned intervals are kept (None: in memory only).
        chunk: Frames scanned at a time past the scanned region (:meth:`cut_ahead`).
    """

    def __init__(self, video: Any, detector: CutDetector, project: Project | None = None, *, chunk: int = 64) -> None:
        if chunk < 1:
            raise AnnotatorError("CutScanner.chunk must be at least 1", given=chunk, hint="e.g. 64")
        self.video, self.detector, self.project, self.chunk = video, detector, project, int(chunk)
        self.num_frames = len(video)
        self.scanned: list[list[int]] = []  # disjoint [a, b) intervals, ascending
        self.cuts: list[int] = []  # the cuts inside them, ascending
        self.decoded = 0  # frames decoded so far (a measure of the work done)
        self._reader: Any = None
        self._hists: dict[int, np.ndarray] = {}  # recent histograms (the context shared by adjoining pieces)
        self._lock = threading.RLock()
        self.load()

    # ------------------------------------------------------------------ state
    def _want(self) -> dict[str, Any]:
        return {"frames": self.num_frames, "detector": self.detector.settings()}

    def load(self) -> None:
        """Merge in what the project holds: a full scan's cuts, or the intervals scanned before."""
        if self.project is None:
            return
        want = self._want()
        for key in (FULL_KEY, META_KEY):
            raw = self.project.get_meta(key)
            if raw is None:
                continue
            try:
                got = json.loads(raw)
                if {k: got.get(k) for k in want} != want:
                    continue
                spans = [[0, self.num_frames]] if key == FULL_KEY else [[int(a), int(b)] for a, b in got["scanned"]]
                cuts = [int(c) for c in got["cuts"]]
            except (ValueError, TypeError, KeyError, AttributeError):
                log.warning("the project's stored %r is unreadable; scanning again", key)
                continue
            with self._lock:
                for a, b in spans:
                    self._add(a, b, [c for c in cuts if a <= c < b])
            if key == FULL_KEY:
                return

    def save(self) -> None:
        """Keep the scanned intervals in the project (and a full scan's entry once the whole video is scanned)."""
        if self.project is None:
            return
        with self._lock:
            data = {**self._want(), "scanned": [list(s) for s in self.scanned], "cuts": list(self.cuts)}
            full = self.scanned == [[0, self.num_frames]]
        try:
            self.project.set_meta(META_KEY, json.dumps(data))
            if full and self.project.get_meta(FULL_KEY) is None:
                self.project.set_meta(FULL_KEY, json.dumps({**self._want(), "cuts": data["cuts"]}))
        except ProjectError as exc:  # closed under a propagation that was left unfinished: scanned again next time
            log.info("the scanned cut intervals were not kept: %s", exc)

    def close(self) -> None:
        """Release the scanner's own decoder."""
        reader, self._reader = self._reader, None
        if reader is not None and reader is not self.video:
            reader.close()

    def _add(self, a: int, b: int, cuts: Sequence[int]) -> None:
        for c in cuts:
            i = bisect.bisect_left(self.cuts, c)
            if i == len(self.cuts) or self.cuts[i] != c:
                self.cuts.insert(i, c)
        spans = sorted([*self.scanned, [a, b]])
        merged: list[list[int]] = []
        for s in spans:
            if merged and s[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], s[1])
            else:
                merged.append(list(s))
        self.scanned = merged

    def _covered(self, a: int, b: int) -> bool:
        """Whether every frame of ``[a, b)`` is scanned."""
        a, b = max(0, a), min(self.num_frames, b)
        if a >= b:
            return True
        i = bisect.bisect_right([s[0] for s in self.scanned], a) - 1
        return i >= 0 and self.scanned[i][1] >= b

    def _gaps(self, a: int, b: int) -> list[tuple[int, int]]:
        out, pos = [], a
        for s, e in self.scanned:
            if e <= pos or s >= b:
                continue
            if s > pos:
                out.append((pos, s))
            pos = max(pos, e)
        if pos < b:
            out.append((pos, b))
        return out

    # ------------------------------------------------------------------ queries
    def ensure(self, start: int, stop: int) -> list[int]:
        """Scan ``[start, stop)`` (clipped to the video) where it is not scanned yet; its cuts, ascending."""
        start, stop = max(0, int(start)), min(self.num_frames, int(stop))
        with self._lock:
            for a, b in self._gaps(start, stop):
                self._add(a, b, self._scan(a, b))
            return [c for c in self.cuts if start <= c < stop]

    def ensure_in_steps(
        self, start: int, stop: int, step: int, cancel: threading.Event | None = None, progress: Any = None
    ) -> list[int]:
        """:meth:`ensure`, the frames not scanned yet ``step`` at a time (the same cuts as at once), counted in
        ``progress`` between steps (``stage`` ``"cuts"``, ``scan_done`` of ``scan_total``) and stopped by a set
        ``cancel`` (then the cuts found so far in ``[start, stop)``)."""
        start, stop = max(0, int(start)), min(self.num_frames, int(stop))
        with self._lock:
            gaps = self._gaps(start, stop)
        if progress is not None:
            progress.stage, progress.scan_done, progress.scan_total = "cuts", 0, sum(b - a for a, b in gaps)
        try:
            for a, b in gaps:
                for c in range(a, b, max(1, int(step))):
                    if cancel is not None and cancel.is_set():
                        with self._lock:
                            return [f for f in self.cuts if start <= f < stop]
                    self.ensure(c, min(b, c + step))
                    if progress is not None:
                        progress.scan_done += min(b, c + step) - c
            return self.ensure(start, stop)
        finally:
            if progress is not None:
                progress.stage = ""

    def all(self) -> list[int]:
        """Every cut of the video: what is not scanned yet is scanned (what a propagation scanned is not decoded
        again), and the whole video is then kept as scanned in the project (a full scan's entry included)."""
        cuts = self.ensure(0, self.num_frames)
        self.save()
        return cuts

    def cut_ahead(self, frame: int, reverse: bool) -> int | None:
        """The cut a pass at ``frame`` must stop at: ``frame + 1`` going forward, ``frame`` itself going backward
        (the first frame of its shot), when that frame is a cut; else None."""
        nxt = frame if reverse else frame + 1
        if not 0 < nxt < self.num_frames:
            return None
        with self._lock:
            if not self._covered(nxt, nxt + 1):
                a, b = (nxt - self.chunk + 1, nxt + 1) if reverse else (nxt, nxt + self.chunk)
                self.ensure(a, b)
            i = bisect.bisect_left(self.cuts, nxt)
            return nxt if i < len(self.cuts) and self.cuts[i] == nxt else None

    # ------------------------------------------------------------------ scanning
    def _frame(self, index: int) -> np.ndarray:
        if self._reader is None:
            fork = getattr(self.video, "fork", None)
            self._reader = fork() if fork is not None else self.video
        self.decoded += 1
        return np.asarray(self._reader[index])

    def _hist(self, index: int) -> np.ndarray:
        hist = self._hists.get(index)
        if hist is None:
            hist = self._hists[index] = self.detector._histogram(self._frame(index))
            if len(self._hists) > 4 * (self.chunk + self.detector.window + 2):
                for k in sorted(self._hists, key=lambda k: abs(k - index))[len(self._hists) // 2 :]:
                    del self._hists[k]
        return hist

    def _score(self, index: int) -> float:
        if index == 0:
            return 0.0
        return float(np.abs(self._hist(index) - self._hist(index - 1)).sum()) / 6.0

    def _window(self, f: int) -> range:
        """The frames whose scores iter_cuts averages around ``f`` (with ``f``): ``window`` each side, clipped; near
        the video's end, its last ``2 window + 1`` frames (what its buffer holds then)."""
        n, w = self.num_frames, self.detector.window
        if f + w <= n - 1:
            return range(max(1, f - w), f + w + 1)
        return range(max(1, n - 1 - 2 * w), n)

    def _candidates(self, a: int, b: int) -> list[int]:
        """The frames of ``[a, b)`` that pass the threshold and the ratio (what iter_cuts checks besides min_shot)."""
        det = self.detector
        scores: dict[int, float] = {}

        def score(f: int) -> float:
            if f not in scores:
                scores[f] = self._score(f)
            return scores[f]

        for f in range(max(1, a - det.window - 1), min(self.num_frames, b + det.window)):
            score(f)  # in frame order: the decoder reads on, and the context is read once
        out = []
        for f in range(max(1, a), b):
            if score(f) < det.threshold:
                continue
            around = [score(g) for g in self._window(f) if g != f]
            mean = sum(around) / len(around) if around else 0.0
            if score(f) >= det.ratio * mean:
                out.append(f)
        return out

    def _scan(self, a: int, b: int) -> list[int]:
        """The full scan's cuts in ``[a, b)``."""
        m = self.detector.min_shot
        if a == 0 or self._covered(a - m + 1, a):  # the last accepted cut before a is known
            known = [c for c in self.cuts if a - m < c < a]
            return self._greedy(self._candidates(a, b), a, known[-1] if known else a - m, b)
        back = m
        while True:
            s = max(0, a - back)
            cands = set(self._candidates(s, b))
            last = -m if s == 0 else None  # None: not known yet
            run, out = 0, []
            for f in range(s, b):
                if last is None and run >= m - 1:  # no candidate in the m - 1 frames before f: no cut there
                    last = f - m
                if last is None and f >= a:
                    break
                if f in cands:
                    run = 0
                    if last is not None and f - last >= m:
                        last = f
                        if f >= a:
                            out.append(f)
                else:
                    run += 1
            if last is not None:
                return out
            back *= 2

    def _greedy(self, cands: list[int], a: int, last: int, b: int) -> list[int]:
        out = []
        for f in cands:
            if a <= f < b and f - last >= self.detector.min_shot:
                out.append(f)
                last = f
        return out


def span_cuts(
    scanner: CutScanner | None,
    frames: Sequence[int],
    cancel: threading.Event | None = None,
    progress: Any = None,
    *,
    step: int = 256,
) -> list[int]:
    """Scan from the earliest to the latest of ``frames`` (a pass's start and the prompted frames); the cuts between.

    Those are all the cuts a propagation's plan needs: past them no shot holds a prompt, so only the passes that
    run out of the span go on, and they stop at the first cut they meet (:meth:`CutScanner.cut_ahead`).

    The frames not scanned yet are scanned ``step`` at a time (the same cuts as at once); between steps
    ``progress`` (a :class:`~.propagation.Progress`) counts them (``stage`` ``"cuts"``, ``scan_done`` of
    ``scan_total``) and a set ``cancel`` stops the scan: the cuts found so far are returned (the propagation
    that asked then stops before its first frame). No scanner (a propagation that crosses cuts): no cuts.
    """
    if scanner is None:
        return []
    scanner.load()  # what another scan (a full one: session.cuts()) kept since
    return scanner.ensure_in_steps(min(frames), max(frames) + 1, step, cancel, progress)
