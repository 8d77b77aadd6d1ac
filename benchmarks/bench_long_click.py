"""A click on a long video: kernel-side cost of one click, 300 vs 10,000 frames; prints one JSON object.

Two projects of 5 objects with a mask on every frame (64x48 frames, built with
``Project.put_annotations``), each behind an :class:`~annotator_widgets.AnnotationSession` and a
:class:`~annotator_widgets.VideoAnnotator` shown at 64 px. A click is the widget's own mouse handler
fed an ipyevents mousedown + mouseup (as tests/widgets drive it) on frame 150, alternating two
points of object 3; the segmenter is a stand-in (a fixed square per prompt, no model) so the figure
is the widget's and the project's share of a click: prompt and mask writes, the refresh (objects
panel, timeline rows, frame view and drawing, timeline strip, tools).

- ``click_ms``: median per (frames, mode) over the rounds. ``mode`` ``kept`` is this code (timeline
  rows kept and updated from the rows written, the strip redrawing the changed rows); ``full`` is
  the previous behaviour emulated in the same process (``session.timeline`` patched to
  :func:`~annotator_widgets.view.timeline`, the strip redrawn whole on every update).
- ``ratio_long_to_short``: per round, click(10,000) / click(300), median (paired rounds).
- ``timeline_read_ms``: ``view.timeline(project)`` alone on each project, median.
- ``strip_ms_10000``: the timeline strip on the 10,000-frame project drawn whole (``redraw()``, what
  every update did before) vs an ``update`` where one row changed (that row drawn again), median.
- ``mask_rows_per_click``: mask rows handed out by the store during one click (every read counted).

    python benchmarks/bench_long_click.py               # the figures
    python benchmarks/bench_long_click.py --rounds 3    # a quick check that it runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from annotator_widgets import RLE, Annotation, AnnotationSession, Project, VideoAnnotator
from annotator_widgets.backends import ObjectMask
from annotator_widgets.view import timeline
from annotator_widgets.widgets.timeline import Timeline

W, H, OBJECTS, FRAME = 64, 48, 5, 150


class SquareSegmenter:
    """Stand-in segmenter: a prompt's mask is a 10x10 square at its first point (no model)."""

    name = "square"

    def __init__(self) -> None:
        self._masks: dict[int, np.ndarray] = {}

    def start(self, video: Any) -> None:
        pass

    def set_prompt(self, prompt: Any) -> dict[int, ObjectMask]:
        m = np.zeros((H, W), bool)
        p = prompt.points[0] if prompt.points else None
        if p is not None:
            m[max(0, int(p.y) - 5) : int(p.y) + 5, max(0, int(p.x) - 5) : int(p.x) + 5] = True
        self._masks[prompt.obj_id] = m
        return {oid: ObjectMask(mk, 0.9) for oid, mk in self._masks.items()}

    def remove_object(self, obj_id: int) -> None:
        self._masks.pop(obj_id, None)

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Any:
        return iter(())

    def reset(self) -> None:
        self._masks.clear()

    def close(self) -> None:
        self._masks.clear()


def build(folder: Path, frames: int) -> Path:
    path = folder / f"p{frames}.awp"
    project = Project.create(path, {"frames": frames, "width": W, "height": H})
    m = np.zeros((H, W), bool)
    m[10:30, 10:40] = True
    rle = RLE.from_mask(m)
    ids = [project.add_object(name=f"o{k}").obj_id for k in range(OBJECTS)]
    project.put_annotations(
        [Annotation(f, oid, rle, 0.3 if f % 13 == 0 else 0.9) for oid in ids for f in range(frames)]
    )
    project.close()
    return path


def mouse(ann: VideoAnnotator, kind: str, x: float, y: float) -> None:
    event = {"type": kind, "button": 0, "shiftKey": False, "relativeX": x, "relativeY": y,
             "boundingRectWidth": W, "boundingRectHeight": H}  # fmt: skip
    ann.mouse_events._dom_handlers(event)


def click_ms(ann: VideoAnnotator, k: int) -> float:
    x = 20 + 10 * (k % 2)
    t = time.perf_counter()
    mouse(ann, "mousedown", x, 20)
    mouse(ann, "mouseup", x, 20)
    return (time.perf_counter() - t) * 1000


def old_ways(ann: VideoAnnotator) -> None:
    """The previous behaviour: every refresh reads the whole timeline and redraws the whole strip."""
    session = ann.session
    session.timeline = lambda: timeline(session.project)  # type: ignore[method-assign]
    strip = ann.timeline

    def update(rows: Any) -> None:
        strip._drawn = False
        Timeline.update(strip, rows)

    strip.update = update  # type: ignore[method-assign]


def count_mask_rows(project: Project) -> list[int]:
    counter = [0]
    store = project._store
    query, pages = store.query, store.pages

    def counted_query(sql: str, args: Any = ()) -> Any:
        out = query(sql, args)
        counter[0] += len(out) if " masks" in sql else 0
        return out

    def counted_pages(sql: str, *a: Any, **kw: Any) -> Any:
        for page in pages(sql, *a, **kw):
            counter[0] += len(page) if " masks" in sql else 0
            yield page

    store.query, store.pages = counted_query, counted_pages  # type: ignore[method-assign]
    return counter


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp())
    sizes = (300, 10_000)
    anns: dict[tuple[int, str], VideoAnnotator] = {}
    for n in sizes:
        path = build(folder, n)
        video = np.zeros((n, H, W, 3), np.uint8)
        for mode in ("kept", "full"):
            copy = folder / f"{mode}{n}.awp"
            copy.write_bytes(path.read_bytes())
            session = AnnotationSession(video, project=copy, segmenter=SquareSegmenter())
            ann = VideoAnnotator(session, max_display_side=64)
            if mode == "full":
                old_ways(ann)
            ann.seek(FRAME)
            ann.current_object = 3
            click_ms(ann, 0)  # warm: first prompt on the frame, first full read
            anns[n, mode] = ann
    times: dict[tuple[int, str], list[float]] = {key: [] for key in anns}
    for r in range(args.rounds):
        order = list(anns) if r % 2 == 0 else list(reversed(anns))
        for key in order:
            times[key].append(click_ms(anns[key], r + 1))
    out: dict[str, Any] = {"rounds": args.rounds, "frames": list(sizes), "objects": OBJECTS}
    out["click_ms"] = {f"{n}/{mode}": round(statistics.median(times[n, mode]), 2) for n, mode in anns}
    out["ratio_long_to_short"] = {
        mode: round(statistics.median(a / b for a, b in zip(times[10_000, mode], times[300, mode], strict=True)), 2)
        for mode in ("kept", "full")
    }
    out["ratio_full_to_kept_10000"] = round(
        statistics.median(a / b for a, b in zip(times[10_000, "full"], times[10_000, "kept"], strict=True)), 2
    )
    reads = {}
    for n in sizes:
        project = anns[n, "kept"].session.project
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            timeline(project)
            ts.append((time.perf_counter() - t) * 1000)
        reads[str(n)] = round(statistics.median(ts), 2)
    out["timeline_read_ms"] = reads
    strip = anns[10_000, "kept"].timeline  # 5 rows of 10,000 frames, a low-score run every 13 frames
    shown = list(strip.rows)
    whole, one = [], []
    for k in range(9):
        t = time.perf_counter()
        strip.redraw()
        whole.append((time.perf_counter() - t) * 1000)
        changed = shown[2].score.copy()
        changed[FRAME] = 0.1 if k % 2 == 0 else 0.9
        t = time.perf_counter()
        strip.update([*shown[:2], dataclasses.replace(shown[2], score=changed), *shown[3:]])
        one.append((time.perf_counter() - t) * 1000)
    out["strip_ms_10000"] = {"whole": round(statistics.median(whole), 2), "one_row": round(statistics.median(one), 2)}
    rows = {}
    for key, ann in anns.items():
        counter = count_mask_rows(ann.session.project)
        click_ms(ann, 99)
        rows[f"{key[0]}/{key[1]}"] = counter[0]
    out["mask_rows_per_click"] = rows
    for ann in anns.values():
        ann.close()
        ann.session.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
