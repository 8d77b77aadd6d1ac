"""Bad input over the public API: always an AnnotatorError that says what and how to fix it; nothing changes."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator_widgets.errors import AnnotatorError

from .cases import CASES, Ctx, H, W, describe_failure, make_ctx, run_case, snapshot


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({name for name, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "call"), CASES, ids=[name for name, _ in CASES])
def test_bad_input_is_refused_cleanly(name: str, call: Callable[[Ctx], object], tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    try:
        before = snapshot(ctx.project)
        exc = run_case(name, call, ctx)
        problem = describe_failure(exc)
        assert problem is None, f"{name}: {problem}"
        after = snapshot(ctx.project)
        if before != after and "removed object" not in name and "remove a removed" not in name:
            pytest.fail(f"{name}: the project changed")
        # the session is still usable afterwards
        assert ctx.session.add_points(0, 1, [(30, 24)])
    finally:
        ctx.session.close()


coordinates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-5, max_value=W + 5),
    st.integers(min_value=-(10**20), max_value=10**20),
)
frames_any = st.one_of(
    st.integers(min_value=-(10**19), max_value=10**19),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=coordinates, y=coordinates, label=st.one_of(st.integers(-2, 3), st.floats(-1, 2), st.booleans()))
def test_any_click_is_taken_or_refused_cleanly(tmp_path: Path, x: float, y: float, label: object) -> None:
    ctx = make_ctx(tmp_path / f"c{abs(hash((x, y, label))) % 10**9}")
    try:
        before = snapshot(ctx.project)
        ok = (
            isinstance(x, int | float)
            and isinstance(y, int | float)
            and math.isfinite(x)
            and math.isfinite(y)
            and 0 <= x < W
            and 0 <= y < H
            and label in (0, 1)
        )
        try:
            masks = ctx.session.add_points(0, 1, [(x, y)], [label])  # type: ignore[list-item]
        except AnnotatorError as exc:
            assert not ok, f"a valid click was refused: {exc}"
            assert exc.hint, exc
            assert snapshot(ctx.project) == before
        else:
            assert ok, "an invalid click was taken"
            assert masks[1].shape == (H, W)
    finally:
        ctx.session.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames_any, verb=st.sampled_from(["points", "box", "clear", "masks", "propagate"]))
def test_any_frame_is_taken_or_refused_cleanly(tmp_path: Path, frame: object, verb: str) -> None:
    from .cases import _frame

    ctx = make_ctx(tmp_path / f"f{abs(hash((repr(frame), verb))) % 10**9}")
    try:
        before = snapshot(ctx.project)
        ok = isinstance(frame, int) and not isinstance(frame, bool) and 0 <= frame < len(ctx.session.video)
        ok = ok or (frame is None and verb == "propagate")  # None: from the first prompt
        try:
            _frame(verb, frame)(ctx)
        except AnnotatorError as exc:
            assert not ok, f"frame {frame!r} was refused: {exc}"
            assert exc.hint and "0.." in exc.hint, exc
            assert snapshot(ctx.project) == before
        else:
            assert ok, f"frame {frame!r} was taken by {verb}"
    finally:
        ctx.session.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(box=st.lists(coordinates, min_size=4, max_size=4))
def test_any_box_is_taken_or_refused_cleanly(tmp_path: Path, box: list[float]) -> None:
    ctx = make_ctx(tmp_path / f"b{abs(hash(tuple(map(repr, box)))) % 10**9}")
    try:
        before = snapshot(ctx.project)
        x0, y0, x1, y1 = (float(v) for v in box)
        finite = all(math.isfinite(v) for v in (x0, y0, x1, y1))
        ok = finite and x1 > x0 and y1 > y0 and min(x1, W) > max(x0, 0) and min(y1, H) > max(y0, 0)
        try:
            masks = ctx.session.add_box(0, 1, box)
        except AnnotatorError as exc:
            assert not ok, f"a valid box was refused: {exc}"
            assert exc.hint, exc
            assert snapshot(ctx.project) == before
        else:
            assert ok, f"an invalid box was taken: {box}"
            assert masks[1].any()  # never an empty mask from a box (the classic fallback)
    finally:
        ctx.session.close()


def test_one_frame_video_works(tmp_path: Path) -> None:
    from annotator_widgets import AnnotationSession

    from .cases import frames, start_mask

    with AnnotationSession(frames(1), project=tmp_path / "one frame ✓.awp", segmenter="classic") as s:
        s.add_mask(0, None, start_mask())
        assert [r.frame for r in s.propagate()] == [0]
        assert len(s.project.mask_frames()) == 1
    assert np.array_equal(start_mask().shape, (H, W))
