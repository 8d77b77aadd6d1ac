"""Hysteresis, gap bridging and minimum duration on scripted distance sequences (pure functions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotator_widgets.action_segments import bridge_gaps, find_segments, hysteresis, runs, segment_hand
from annotator_widgets.errors import PromptError

NAN = math.nan
ENTER, LEAVE = 0.25, 0.45


def _segments(d, *, min_frames=3, max_gap=1, scores=None, first_frame=0, sides=None):
    scores = np.zeros(len(d)) if scores is None else scores
    return find_segments(
        d, scores, enter=ENTER, leave=LEAVE, min_frames=min_frames, max_gap=max_gap, first_frame=first_frame,
        sides=sides, person_id=1, obj_id=2,
    )  # fmt: skip


def test_flicker_around_the_enter_threshold_gives_one_segment_with_exact_bounds():
    # in contact on frames 10..29; the distance flickers around `enter` the whole time but stays under `leave`
    d = np.full(40, 1.0)
    d[10:30] = np.where(np.arange(20) % 2 == 0, 0.2, 0.3)
    segs = _segments(d)
    assert [(s.start, s.stop) for s in segs] == [(10, 30)]
    assert segs[0].person_id == 1 and segs[0].obj_id == 2 and segs[0].meta["auto"] is True
    # the same sequence with one threshold (enter == leave) and no bridging flickers: the hysteresis is what holds it
    single = find_segments(d, np.zeros(40), enter=ENTER, leave=ENTER, min_frames=1, max_gap=0)
    assert len(single) == 10


def test_flicker_around_the_leave_threshold_ends_and_does_not_restart_without_entering_again():
    d = np.array([1, 0.2, 0.2, 0.5, 0.4, 0.5, 0.4, 1, 1])
    assert hysteresis(d, enter=ENTER, leave=LEAVE).astype(int).tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("active", "min_frames", "max_gap", "expected"),
    [
        ([0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0], 3, 0, [(6, 10)]),  # the 2-frame blip is dropped
        ([0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0], 3, 1, [(1, 6)]),  # one-frame gap bridged, the last blip dropped
        ([1, 1, 1, 0, 0, 1, 1, 1], 3, 1, [(0, 3), (5, 8)]),  # a 2-frame gap is not bridged with max_gap=1
        ([1, 1, 1, 0, 0, 1, 1, 1], 3, 2, [(0, 8)]),
        ([1, 1, 1, 1, 1], 5, 0, [(0, 5)]),  # exactly min_frames long: kept; stop is excluded
        ([1, 1, 1, 1, 1], 6, 0, []),
    ],
)
def test_bridging_then_minimum_duration(active, min_frames, max_gap, expected):
    got = runs(bridge_gaps(active, max_gap=max_gap), min_frames=min_frames)
    assert got == expected
    assert all(stop - start >= min_frames for start, stop in got)


def test_bridging_never_extends_past_the_first_or_last_contact():
    assert bridge_gaps([0, 0, 1, 0, 1, 0, 0], max_gap=5).astype(int).tolist() == [0, 0, 1, 1, 1, 0, 0]


def test_undecided_frames_keep_the_state_but_are_not_contact():
    # frames 4..5 undecided (person not visible): contact resumes at 0.4 (< leave) without re-entering
    d = np.array([1, 0.2, 0.2, 0.2, NAN, NAN, 0.4, 0.4, 1])
    assert hysteresis(d, enter=ENTER, leave=LEAVE).astype(int).tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 0]
    assert [(s.start, s.stop) for s in _segments(d, max_gap=2)] == [(1, 8)]
    # a long undecided stretch splits the interaction (not bridged), and trailing undecided frames are not included
    d2 = np.array([0.2, 0.2, 0.2, NAN, NAN, NAN, NAN, 0.2, 0.2, 0.2, NAN, NAN])
    assert [(s.start, s.stop) for s in _segments(d2, max_gap=2)] == [(0, 3), (7, 10)]


def test_confidence_key_frame_hand_and_first_frame():
    d = np.array([1, 0.2, 0.1, 0.0, 0.2, 1])
    scores = np.array([0, 0.5, 0.8, 1.0, 0.5, 0])
    left = np.array([1, 0.2, 0.1, 0.0, 0.2, 1])
    right = np.array([NAN] * 6)
    (seg,) = _segments(d, scores=scores, first_frame=100, sides=(left, right))
    assert (seg.start, seg.stop) == (101, 105)
    assert seg.score == pytest.approx(0.7) and seg.meta["key_frame"] == 103 and seg.meta["hand"] == "left"


def test_segment_hand_both_and_fallback():
    assert segment_hand([0.1] * 4, [0.1, 0.1, 1, 1], leave=LEAVE) == "both"
    assert segment_hand([1, 1, 1, 1], [0.1, 1, 1, 1], leave=LEAVE) == "right"
    assert segment_hand([0.5, 0.5], [0.9, 0.9], leave=LEAVE) == "left"  # neither within leave: the closer share


def test_bad_input_is_a_clear_error():
    with pytest.raises(PromptError, match="leave must be >= enter"):
        hysteresis([0.1], enter=0.5, leave=0.2)
    with pytest.raises(PromptError, match="1-D"):
        hysteresis(np.zeros((2, 2)), enter=0.1, leave=0.2)
    with pytest.raises(PromptError, match="one score per distance"):
        find_segments([0.1, 0.1], [0.5], enter=0.1, leave=0.2, min_frames=1, max_gap=0)
