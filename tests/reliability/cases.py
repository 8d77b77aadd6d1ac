"""The table of bad inputs over the public API (shared by the test suite and benchmarks/bench_reliability.py).

Each case is ``(name, call)``: ``call(ctx)`` must raise an :class:`~annotator_widgets.errors.AnnotatorError`
that says what failed and how to fix it, and leave the project exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator_widgets import RLE, AnnotationSession, Project, open_video, registry

W, H, T = 64, 48, 12


def frames(n: int = T, w: int = W, h: int = H, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.repeat(rng.integers(0, 60, (1, h, w, 3)), n, 0).astype(np.uint8)
    out[:, 12:36, 16:44] = (200, 60, 40)
    return out


def start_mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[12:36, 16:44] = True
    return m


@dataclass
class Ctx:
    session: AnnotationSession
    tmp: Path

    @property
    def project(self) -> Project:
        return self.session.project


def snapshot(project: Project) -> tuple[Any, ...]:
    """What must not change: the undo history, every table's row count, and every stored mask."""
    masks = tuple(
        (a.frame, a.obj_id, a.rle.counts if hasattr(a.rle, "counts") else str(a.rle), a.score)
        for a in project.iter_annotations()
    )
    return (
        tuple(h.label for h in project.history()),
        tuple(sorted(project.stats().items())),
        tuple((o.obj_id, o.name) for o in project.objects()),
        tuple(project.prompts()),
        masks,
    )


def _new_session(ctx: Ctx, video: Any, **kw: Any) -> None:
    s = AnnotationSession(video, **kw)
    s.close()


def _not_sqlite(ctx: Ctx) -> None:
    p = ctx.tmp / "notes.awp"
    p.write_text("these are my notes, not a project\n" * 20)
    Project.open(p)


def _truncated(ctx: Ctx) -> None:
    src = ctx.tmp / "whole.awp"
    Project.create(src, open_video(frames(3))).close()
    data = src.read_bytes()
    bad = ctx.tmp / "half.awp"
    bad.write_bytes(data[: len(data) // 3])
    Project.open(bad)


def _empty_file(ctx: Ctx) -> None:
    p = ctx.tmp / "empty.awp"
    p.write_bytes(b"")
    Project.open(p)


def _sqlite_not_project(ctx: Ctx) -> None:
    p = ctx.tmp / "other.sqlite"
    with sqlite3.connect(p) as conn:
        conn.execute("CREATE TABLE t(x)")
    conn.close()
    Project.open(p)


def _other_video(ctx: Ctx) -> None:
    AnnotationSession(frames(T + 1), project=ctx.project.path.with_name("x.awp"), segmenter="classic").close()
    # the project above now exists for a 13-frame video; opening it with the 12-frame one must fail
    AnnotationSession(frames(T), project=ctx.project.path.with_name("x.awp"), segmenter="classic")


def readonly_folder(tmp: Path, name: str) -> Path:
    """A folder nobody may write in: chmod 555 for a normal user; root ignores modes, so under root
    a folder of the read-only sysfs mount (whose writes fail with EACCES) stands in."""
    if os.geteuid() != 0:
        folder = tmp / name
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = Path("/sys/kernel")
    assert folder.is_dir() and not os.access(folder / "x", os.F_OK)
    return folder


def _readonly_folder_project(ctx: Ctx) -> None:
    Project.create(readonly_folder(ctx.tmp, "locked dir") / "p ✓.awp", open_video(frames(2)))


def _readonly_folder_export(ctx: Ctx) -> None:
    from annotator_widgets.export import save_coco

    save_coco(ctx.project, readonly_folder(ctx.tmp, "read only ✓") / "annotations.json")


def _readonly_folder_render(ctx: Ctx) -> None:
    from annotator_widgets.render.video import render_video

    render_video(ctx.project, ctx.session.video, readonly_folder(ctx.tmp, "read only render") / "out.mp4")


def _missing_unicode_video(ctx: Ctx) -> None:
    open_video(ctx.tmp / "vidéo à moi ✓" / "clip 1.mp4")


def _not_a_video(ctx: Ctx) -> None:
    p = ctx.tmp / "fake clip ü.mp4"
    p.write_text("not a video")
    open_video(p)


def _empty_folder_video(ctx: Ctx) -> None:
    d = ctx.tmp / "no frames here"
    d.mkdir()
    open_video(d)


def _removed_object(ctx: Ctx, verb: str) -> None:
    s = ctx.session
    s.add_object()
    doomed = s.add_object()
    s.remove_object(doomed.obj_id)
    ctx.tmp.joinpath("marker").write_text("")  # the removal above is part of the setup, not the bad call
    raise _Setup(lambda: _call_on_removed(s, doomed.obj_id, verb))


class _Setup(Exception):
    """A case whose setup changes the project: the runner snapshots again, then calls ``bad``."""

    def __init__(self, bad: Callable[[], Any]) -> None:
        super().__init__("setup done")
        self.bad = bad


def _call_on_removed(s: AnnotationSession, obj_id: int, verb: str) -> None:
    if verb == "points":
        s.add_points(0, obj_id, [(10, 10)])
    elif verb == "box":
        s.add_box(0, obj_id, (5, 5, 20, 20))
    elif verb == "mask":
        s.add_mask(0, obj_id, start_mask())
    else:
        s.remove_object(obj_id)


def _pts(points: Any, labels: Any = None) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.session.add_points(0, 1, points, labels)


def _box(box: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.session.add_box(0, 1, box)


def _mask(mask: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.session.add_mask(0, 1, mask)


def _frame(verb: str, frame: Any) -> Callable[[Ctx], Any]:
    def call(ctx: Ctx) -> Any:
        s = ctx.session
        if verb == "points":
            return s.add_points(frame, 1, [(10, 10)])
        if verb == "box":
            return s.add_box(frame, 1, (5, 5, 20, 20))
        if verb == "mask":
            return s.add_mask(frame, 1, start_mask())
        if verb == "clear":
            return s.clear_frame(frame)
        if verb == "propagate":
            return list(s.propagate("forward", start=frame))
        if verb == "masks":
            return s.masks(frame)
        raise AssertionError(verb)

    return call


nan, inf = float("nan"), float("inf")

CASES: list[tuple[str, Callable[[Ctx], Any]]] = [
    # points
    ("point x past the right edge", _pts([(W + 5, 10)])),
    ("point y past the bottom", _pts([(10, H + 1)])),
    ("point x == width", _pts([(W, 10)])),
    ("negative x", _pts([(-1, 10)])),
    ("negative y", _pts([(10, -0.5)])),
    ("NaN x", _pts([(nan, 10)])),
    ("NaN y", _pts([(10, nan)])),
    ("inf x", _pts([(inf, 10)])),
    ("-inf y", _pts([(10, -inf)])),
    ("NaN in an array", _pts(np.array([[10.0, 10.0], [nan, 5.0]]))),
    ("empty point list", _pts([])),
    ("empty (0, 2) array", _pts(np.zeros((0, 2)))),
    ("point with three coordinates", _pts([(1, 2, 3)])),
    ("(N, 3) array", _pts(np.ones((2, 3)))),
    ("point of strings", _pts([("a", "b")])),
    ("label 2", _pts([(10, 10)], [2])),
    ("label -1", _pts([(10, 10)], [-1])),
    ("label 0.5", _pts([(10, 10)], [0.5])),
    ("label as a word", _pts([(10, 10)], ["yes"])),
    ("label None", _pts([(10, 10)], [None])),
    ("more labels than points", _pts([(10, 10)], [1, 0])),
    ("fewer labels than points", _pts([(10, 10), (12, 12)], [1])),
    # object ids
    ("object id 0", lambda ctx: ctx.session.add_points(0, 0, [(10, 10)])),
    ("negative object id", lambda ctx: ctx.session.add_points(0, -3, [(10, 10)])),
    ("object id 1.5", lambda ctx: ctx.session.add_points(0, 1.5, [(10, 10)])),  # type: ignore[arg-type]
    ("object id as text", lambda ctx: ctx.session.add_points(0, "1", [(10, 10)])),  # type: ignore[arg-type]
    ("object id True", lambda ctx: ctx.session.add_points(0, True, [(10, 10)])),
    ("points on a removed object", lambda ctx: _removed_object(ctx, "points")),
    ("box on a removed object", lambda ctx: _removed_object(ctx, "box")),
    ("mask on a removed object", lambda ctx: _removed_object(ctx, "mask")),
    ("remove a removed object", lambda ctx: _removed_object(ctx, "remove")),
    ("remove an unknown object", lambda ctx: ctx.session.remove_object(99)),
    # frames
    ("frame -1", _frame("points", -1)),
    ("frame == num_frames", _frame("points", T)),
    ("frame True", _frame("points", True)),
    ("frame 1.5", _frame("points", 1.5)),
    ("frame as text", _frame("points", "3")),
    ("frame None", _frame("points", None)),
    ("huge frame", _frame("points", 10**18)),
    ("box on frame -2", _frame("box", -2)),
    ("mask on frame num_frames", _frame("mask", T)),
    ("clear frame out of range", _frame("clear", T + 3)),
    ("propagate from -1", _frame("propagate", -1)),
    ("propagate from num_frames", _frame("propagate", T)),
    ("propagate from a float", _frame("propagate", 2.0)),
    ("read masks of frame -1", _frame("masks", -1)),
    ("propagate sideways", lambda ctx: ctx.session.propagate("sideways")),  # type: ignore[arg-type]
    ("propagate stop past the end", lambda ctx: list(ctx.session.propagate("forward", 0, 10**9))),
    # boxes
    ("box x1 < x0", _box((30, 5, 10, 20))),
    ("box y1 < y0", _box((5, 30, 20, 10))),
    ("zero-width box", _box((10, 5, 10, 20))),
    ("zero-height box", _box((5, 10, 20, 10))),
    ("box outside the frame", _box((W + 10, H + 10, W + 30, H + 30))),
    ("box left of the frame", _box((-30, 5, -10, 20))),
    ("box with NaN", _box((nan, 5, 20, 20))),
    ("box with inf", _box((5, 5, inf, 20))),
    ("box of three numbers", _box((5, 5, 20))),
    ("box of text", _box(("a", "b", "c", "d"))),
    # masks
    ("mask one row too tall", _mask(np.ones((H + 1, W), bool))),
    ("mask transposed", _mask(np.ones((W, H), bool))),
    ("colour mask", _mask(np.ones((H, W, 3), bool))),
    ("1-D mask", _mask(np.ones(H * W, bool))),
    ("empty mask", _mask(np.zeros((H, W), bool))),
    ("float mask with NaN", _mask(np.full((H, W), nan))),
    ("mask of complex numbers", _mask(np.full((H, W), 1j))),
    ("mask of objects", _mask(np.full((H, W), None))),
    ("mask of text", _mask(np.full((H, W), "x"))),
    ("RLE of another size", _mask(RLE.from_mask(np.ones((H, W + 1), bool)))),
    # videos
    ("zero-frame video", lambda ctx: open_video(np.zeros((0, H, W, 3), np.uint8))),
    ("zero-size frames", lambda ctx: open_video(np.zeros((3, 0, 0, 3), np.uint8))),
    ("2-D array video", lambda ctx: open_video(np.zeros((H, W), np.uint8))),
    ("video of 5 channels", lambda ctx: open_video(np.zeros((2, H, W, 5), np.uint8))),
    ("missing unicode path", _missing_unicode_video),
    ("text file named .mp4", _not_a_video),
    ("empty frame folder", _empty_folder_video),
    ("session on a zero-frame video", lambda ctx: _new_session(ctx, np.zeros((0, H, W, 3), np.uint8))),
    # projects
    ("project file that is not SQLite", _not_sqlite),
    ("truncated project file", _truncated),
    ("empty project file", _empty_file),
    ("SQLite file that is not a project", _sqlite_not_project),
    ("missing project file", lambda ctx: Project.open(ctx.tmp / "nowhere ✓" / "p.awp")),
    ("project path is a folder", lambda ctx: Project.open(ctx.tmp)),
    ("project made for another video", _other_video),
    ("create over an existing project", lambda ctx: Project.create(ctx.project.path, ctx.session.video)),
    ("second writer on the project", lambda ctx: Project.open(ctx.project.path)),
    ("project in a read-only folder", _readonly_folder_project),
    ("project for a zero-frame video", lambda ctx: Project.create(ctx.tmp / "z.awp", {"frames": 0, "width": 4})),
    # outputs and names
    ("export into a read-only folder", _readonly_folder_export),
    ("render into a read-only folder", _readonly_folder_render),
    ("unknown segmenter", lambda ctx: registry.resolve("segmenter", "segment-everything-9000")),
    ("session with an unknown segmenter", lambda ctx: _new_session(ctx, frames(2), segmenter="nope")),
    ("unknown export format", lambda ctx: registry.resolve("exporter", "xlsx")),
    ("unknown effect", lambda ctx: registry.resolve("effect", "sparkles")),
    ("unknown importer", lambda ctx: registry.resolve("importer", "xlsx")),
    ("unknown kind of part", lambda ctx: registry.resolve("gadget", "x")),
]


def run_case(name: str, call: Callable[[Ctx], Any], ctx: Ctx) -> BaseException | None:
    """Run one case; return what it raised (None when it raised nothing). Setup steps are not the bad call."""
    try:
        call(ctx)
    except _Setup as setup:
        try:
            setup.bad()
        except BaseException as exc:  # noqa: BLE001 - the caller judges it
            return exc
        return None
    except BaseException as exc:  # noqa: BLE001 - the caller judges it
        return exc
    return None


def make_ctx(tmp: Path) -> Ctx:
    session = AnnotationSession(frames(), project=tmp / "my project ✓.awp", segmenter="classic")
    session.add_mask(0, 1, start_mask())
    return Ctx(session, tmp)


def describe_failure(exc: BaseException | None) -> str | None:
    """None when ``exc`` is a good error: an AnnotatorError with a fix (hint) and a message that names the value."""
    from annotator_widgets.errors import AnnotatorError

    if exc is None:
        return "nothing was raised"
    if not isinstance(exc, AnnotatorError):
        return f"{type(exc).__name__} is not an AnnotatorError: {exc}"
    if not exc.hint:
        return f"no hint on how to fix it: {exc}"
    if not exc.message:
        return f"no message: {exc!r}"
    return None


__all__ = ["CASES", "Ctx", "describe_failure", "make_ctx", "run_case", "snapshot"]
