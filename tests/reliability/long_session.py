"""A scripted long session (shared by tests/reliability/test_long_session.py and the reliability benchmark).

Prompts, undos, redos and short propagations in a seeded random order on a long small video with the
classic segmenter. Every undo must revert the step the script expects (its label) and restore exactly the
masks before it, every redo exactly the masks after it (compared as RLE on the frames the step touched); a
propagation that reproduces the stored masks makes no undo step and must change nothing. At the end the
project is closed and reopened: every mask, prompt and object the session held must be there.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotator_widgets import AnnotationSession, Project
from annotator_widgets.backends.classic import ClassicSegmenter

W, H = 64, 48
SQUARES = [((200, 40, 40), 10), ((40, 200, 60), 12), ((50, 70, 220), 9)]  # colour, half side


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def long_video(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames of three squares gliding over a static textured background, and the squares' centres."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(90, 140, (H, W, 3)).astype(np.uint8)
    t = np.arange(n, dtype=np.float64)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (1, len(SQUARES)))
    cx = W / 2 + (W / 2 - 14) * np.sin(t / 37.0 + phase)
    cy = H / 2 + (H / 2 - 12) * np.cos(t / 53.0 + 2 * phase)
    frames = np.repeat(bg[None], n, 0)
    for k, (colour, half) in enumerate(SQUARES):
        for i in range(n):
            x, y = int(cx[i, k]), int(cy[i, k])
            frames[i, max(0, y - half) : y + half, max(0, x - half) : x + half] = colour
    return frames, np.stack([cx, cy], -1)


@dataclass
class LongSessionReport:
    ops: dict[str, int] = field(default_factory=dict)
    rss_mb: dict[int, float] = field(default_factory=dict)  # after this many operations
    peak_rss_mb: float = 0.0
    undo_checked: int = 0
    redo_checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    saved_items: int = 0  # masks, prompts and objects the session held at the end
    lost_on_reopen: int = 0  # of those, missing or different after closing and reopening the project
    file_bytes: int = 0
    payload_bytes: int = 0
    seconds: float = 0.0

    @property
    def rss_ratio(self) -> float:
        first, last = min(self.rss_mb), max(self.rss_mb)
        return self.rss_mb[last] / self.rss_mb[first]


def _digest(session: AnnotationSession, frames: range | list[int]) -> tuple[tuple[int, int, str], ...]:
    out = []
    for f in frames:
        for oid, ann in sorted(session.project.annotations(f).items()):
            out.append((f, oid, ann.rle.counts if isinstance(ann.rle.counts, str) else repr(ann.rle.counts)))
    return tuple(out)


def _everything(project: Project) -> set[tuple[object, ...]]:
    """Every mask (RLE, score, source), prompt row and object the project holds."""
    out: set[tuple[object, ...]] = {
        ("mask", a.frame, a.obj_id, str(a.rle.counts), a.score, str(a.source)) for a in project.iter_annotations()
    }
    out |= {("prompt", *key, row) for key, row in project.prompt_rows().items()}
    out |= {("object", repr(o)) for o in project.objects()}
    return out


def _last_step(session: AnnotationSession) -> int:
    """The group of the latest applied undo step (0 for none)."""
    return max((e.group for e in session.project.history() if e.done), default=0)


def _payload(path: Path) -> int:
    """Bytes of data in every column of every table (what the file must be made of, plus SQLite's overhead)."""
    conn = sqlite3.connect(path)
    try:
        total = 0
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if cols:
                expr = " + ".join(f'COALESCE(LENGTH("{c}"), 0)' for c in cols)
                total += conn.execute(f'SELECT COALESCE(SUM({expr}), 0) FROM "{table}"').fetchone()[0]
        return int(total)
    finally:
        conn.close()


def run_long_session(
    folder: Path, *, n_ops: int = 1000, n_frames: int = 2000, seed: int = 0, checkpoints: tuple[int, ...] = (100,)
) -> LongSessionReport:
    """Run the scripted session; RSS is sampled after each count in ``checkpoints`` and at the end."""
    rng = np.random.default_rng(seed)
    frames, centres = long_video(n_frames, seed)
    report = LongSessionReport()
    path = folder / "long session.awp"
    undo_stack: list[tuple[str, list[int], tuple, tuple]] = []  # (the step's label, frames it touched, before, after)
    redo_stack: list[tuple[str, list[int], tuple, tuple]] = []
    start = time.perf_counter()
    # catch_up=False: a short propagation from one prompt does not first track every other object from its
    # own (possibly far earlier) prompt; the script measures the session, not thousand-frame catch-ups
    with AnnotationSession(frames, project=path, segmenter=ClassicSegmenter(catch_up=False)) as s:
        del frames  # the session's video holds them; nothing else here should
        for _ in SQUARES:
            s.add_object()  # ids 1..3, before any step the script may undo
        for i in range(1, n_ops + 1):
            kind = str(rng.choice(["points", "box", "propagate", "undo", "redo"], p=[0.3, 0.15, 0.15, 0.2, 0.2]))
            if kind == "undo" and undo_stack:
                label, touched, before, after = undo_stack.pop()
                if (got := s.undo()) != label:
                    report.mismatches.append(f"op {i}: undo reverted {got!r}, expected {label!r}")
                report.undo_checked += 1
                if _digest(s, touched) != before:
                    report.mismatches.append(f"op {i}: undo did not restore frames {touched[0]}..{touched[-1]}")
                redo_stack.append((label, touched, before, after))
            elif kind == "redo" and redo_stack:
                label, touched, before, after = redo_stack.pop()
                if (got := s.redo()) != label:
                    report.mismatches.append(f"op {i}: redo re-applied {got!r}, expected {label!r}")
                report.redo_checked += 1
                if _digest(s, touched) != after:
                    report.mismatches.append(f"op {i}: redo did not restore frames {touched[0]}..{touched[-1]}")
                undo_stack.append((label, touched, before, after))
            elif kind in ("points", "box", "propagate"):
                if kind == "propagate" and not s.project.prompt_frames():
                    kind = "points"
                frame = int(rng.integers(0, n_frames))
                k = int(rng.integers(0, len(SQUARES)))
                x, y = centres[frame, k]
                if kind == "propagate":
                    first = int(rng.choice(s.project.prompt_frames()))
                    touched = list(range(first, min(n_frames, first + 12)))
                else:
                    touched = [frame]
                before = _digest(s, touched)
                label = f"prompt object {k + 1} on frame {frame}" if kind != "propagate" else "propagate forward"
                if kind == "points":
                    s.add_points(frame, k + 1, [(float(np.clip(x, 0, W - 1)), float(np.clip(y, 0, H - 1)))])
                elif kind == "box":
                    half = SQUARES[k][1]
                    s.add_box(frame, k + 1, (max(0, x - half), max(0, y - half), min(W, x + half), min(H, y + half)))
                else:
                    last_step = _last_step(s)
                    s.run("forward", start=touched[0], stop=touched[-1] + 1)
                    if _last_step(s) == last_step:  # it reproduced the stored masks: nothing to undo
                        if _digest(s, touched) != before:
                            report.mismatches.append(f"op {i}: a propagation changed masks without an undo step")
                        kind = "propagate (no change)"
                if kind != "propagate (no change)":
                    undo_stack.append((label, touched, before, _digest(s, touched)))
                    redo_stack.clear()
            else:
                kind = "skipped " + kind
            report.ops[kind] = report.ops.get(kind, 0) + 1
            if i in checkpoints:
                report.rss_mb[i] = _rss_mb()
        report.rss_mb[n_ops] = _rss_mb()
        saved = _everything(s.project)
    with Project.open(path, readonly=True) as reopened:
        report.saved_items = len(saved)
        report.lost_on_reopen = len(saved ^ _everything(reopened))
    report.seconds = time.perf_counter() - start
    import resource

    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.file_bytes = path.stat().st_size
    report.payload_bytes = _payload(path)
    return report
