"""Propagation stops at shot cuts (both ways), says so, and crosses them only when asked; with the real classic
segmenter on two generated scenes end to end (a cut at a known frame)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession
from annotator_widgets.data import synthetic_clip
from annotator_widgets.propagation import CUT_WARNING, Pass, split_at_cuts

SIZE, A, B = (160, 120), 12, 14
CUT = A


@pytest.fixture(scope="module")
def clips():
    return synthetic_clip(A, SIZE, 1, seed=0), synthetic_clip(B, SIZE, 1, seed=1)


def make_session(clips, tmp_path, **kwargs):
    a, b = clips
    return AnnotationSession(np.concatenate([a.frames, b.frames]), tmp_path / "p.awp", segmenter="classic", **kwargs)


def click(session, clips, frame: int, name: str = "blob") -> int:
    """A new object prompted with one click at the centre of the scene's blob on ``frame``."""
    a, b = clips
    truth = a.masks[1][frame] if frame < CUT else b.masks[1][frame - CUT]
    y, x = np.argwhere(truth).mean(axis=0)
    obj = session.add_object(name=name)
    session.add_points(frame, obj.obj_id, [(x, y)])
    return obj.obj_id


def test_the_session_finds_the_cut(clips, tmp_path):
    with make_session(clips, tmp_path) as session:
        assert session.cuts() == [CUT]


@pytest.mark.parametrize(
    ("prompt", "direction", "frames", "cut_frame"),
    [
        (5, "forward", range(5, CUT), CUT - 1),  # stops on the last frame before the cut
        (5, "both", [*range(5, CUT), *range(4, -1, -1)], CUT - 1),
        (18, "backward", range(18, CUT - 1, -1), CUT),  # stops on the first frame after the cut
        (18, "both", [*range(18, A + B), *range(17, CUT - 1, -1)], CUT),
    ],
)
def test_propagation_stops_at_the_cut_and_says_so(clips, tmp_path, prompt, direction, frames, cut_frame):
    with make_session(clips, tmp_path) as session:
        oid = click(session, clips, prompt)
        got = [r.frame for r in session.propagate(direction, start=prompt)]
        assert got == list(frames)
        assert session.project.mask_frames(oid) == sorted(frames)  # nothing stored across the cut either
        assert session.progress.cuts == [CUT] and session.progress.done == session.progress.total == len(got)
        warned = [w for w in session.project.warnings(obj_id=oid) if w.kind == CUT_WARNING]
        assert [w.frame for w in warned] == [cut_frame]
        assert f"cut at frame {CUT}" in warned[0].message and "cuts=False" in warned[0].message
        assert [w.frame for w in session.warnings if w.kind == CUT_WARNING] == [cut_frame]


def test_cuts_false_restores_crossing(clips, tmp_path):
    with make_session(clips, tmp_path) as session:
        oid = click(session, clips, 5)
        assert [r.frame for r in session.propagate("forward", start=5, cuts=False)] == list(range(5, A + B))
        assert session.project.mask_frames(oid) == list(range(5, A + B))
        assert session.progress.cuts == [] and not session.project.warnings(obj_id=oid)
    with make_session(clips, tmp_path / "second", cuts=False) as session:  # the session-wide setting
        click(session, clips, 18)
        assert [r.frame for r in session.propagate("backward")] == list(range(18, -1, -1))


def test_each_shot_is_propagated_from_its_own_prompts_with_its_own_objects(clips, tmp_path):
    with make_session(clips, tmp_path) as session:
        first = click(session, clips, 3, "in shot 1")
        second = click(session, clips, 20, "in shot 2")
        got = [r for r in session.propagate("both")]  # from the earliest prompt, frame 3
        assert sorted(r.frame for r in got) == list(range(A + B))
        for r in got:
            assert set(r.masks) == ({first} if r.frame < CUT else {second})
        assert session.project.mask_frames(first) == list(range(CUT))
        assert session.project.mask_frames(second) == list(range(CUT, A + B))
        truth = clips[1].masks[1]
        ious = [  # the second shot's masks follow its own blob
            np.logical_and(r.masks[second], truth[r.frame - CUT]).sum()
            / np.logical_or(r.masks[second], truth[r.frame - CUT]).sum()
            for r in got
            if r.frame >= CUT
        ]
        assert len(ious) == B and min(ious) > 0.5


def test_a_shot_without_prompts_is_left_alone(clips, tmp_path):
    with make_session(clips, tmp_path) as session:
        oid = click(session, clips, 2)
        assert [r.frame for r in session.propagate("forward")] == list(range(2, CUT))
        assert session.project.mask_frames(oid) == list(range(2, CUT))


@pytest.mark.parametrize(
    ("passes", "cuts", "prompts", "both", "expected"),
    [
        ([Pass(2, 7)], [], {2: {1}}, False, [Pass(2, 7)]),  # no cuts: unchanged
        ([Pass(2, 7)], [5], {2: {1}}, False, [Pass(2, 2, False, frozenset({1}), 5)]),
        (
            [Pass(2, 7)],
            [5],
            {2: {1}, 7: {2}},
            False,
            [Pass(2, 2, False, frozenset({1}), 5), Pass(7, 2, False, frozenset({2}), None)],
        ),
        ([Pass(8, 8, True)], [5], {8: {1}}, False, [Pass(8, 3, True, frozenset({1}), 5)]),
        (
            [Pass(8, 8, True)],
            [5],
            {8: {1}, 1: {2}, 3: {2}},
            False,
            [Pass(8, 3, True, frozenset({1}), 5), Pass(3, 3, True, frozenset({2}), None)],
        ),
        (  # both: a shot after the start's shot is propagated both ways from its first prompt
            [Pass(2, 7), Pass(2, 2, True)],
            [5],
            {2: {1}, 7: {2}},
            True,
            [
                Pass(2, 2, False, frozenset({1}), 5),
                Pass(7, 2, False, frozenset({2}), None),
                Pass(7, 2, True, frozenset({2}), 5),
                Pass(2, 2, True, frozenset({1}), None),
            ],
        ),
        ([Pass(2, 2)], [5], {2: {1}}, False, [Pass(2, 2, False, frozenset({1}), None)]),  # asked to stop there
    ],
)
def test_split_at_cuts(passes, cuts, prompts, both, expected):
    assert split_at_cuts(passes, cuts, prompts, 10, both=both) == expected


@pytest.mark.parametrize("kind", ["sam2", "hf"])
def test_real_model_segmenters_stop_at_the_cut_too(clips, tmp_path, kind):
    """The micro SAM2 models (random weights: structure only) remember an object from its conditioning frame and
    would paint it into the other shot; the session keeps each shot to its own objects, both ways."""
    from tests.test_session_protocol import _make

    a, b = clips
    frames = np.concatenate([a.frames, b.frames])
    with AnnotationSession(frames, tmp_path / "p.awp", _make(kind, tmp_path / "models")) as session:
        first = click(session, clips, 3, "in shot 1")
        second = click(session, clips, 20, "in shot 2")
        got = {r.frame: set(r.masks) for r in session.propagate("both")}
        assert got == {f: {first} if f < CUT else {second} for f in range(A + B)}
        assert session.project.mask_frames(first) == list(range(CUT))
        assert session.project.mask_frames(second) == list(range(CUT, A + B))
        crossing = {r.frame: set(r.masks) for r in session.propagate("forward", start=3, cuts=False)}
        assert crossing[CUT] == {first, second}  # without cuts the model carries both into the second shot


def test_the_cut_scan_runs_when_the_propagation_starts_not_when_it_is_asked_for(clips, tmp_path):
    """The widget asks for the generator on the kernel's thread and iterates it in a worker: a cut scan (it decodes
    frames) must not block the asking thread."""
    from annotator_widgets.cutscan import META_KEY

    with make_session(clips, tmp_path) as session:
        click(session, clips, 5)
        run = session.propagate("forward")
        assert session._cut_scan.decoded == 0 and session.busy
        assert next(run).frame == 5
        assert session._cut_scan.decoded > 0
        assert [r.frame for r in run] == list(range(6, CUT))
        assert session.project.get_meta(META_KEY) is not None  # what it scanned is kept
