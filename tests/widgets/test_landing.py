"""Precompute on landing: the frame the user lands on is prepared once in the background, stale requests dropped."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest

from annotator_widgets import AnnotationSession
from annotator_widgets.errors import SessionBusyError
from annotator_widgets.widgets import VideoAnnotator
from annotator_widgets.widgets.landing import Preparer, _prepare

from .conftest import DiscSegmenter


class PreparingSegmenter(DiscSegmenter):
    """The disc segmenter with the optional ``prepare(frame)``, counting calls; ``gate`` holds each call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def prepare(self, frame: int) -> None:
        self.calls.append(frame)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.first = threading.Event()

    def prepare(self, frame: int) -> None:
        self.calls.append(frame)
        self.first.set()
        assert self.gate.wait(20)


def test_only_the_latest_landing_is_prepared_then_its_neighbours_in_the_direction_of_travel():
    rec = Recorder()
    p = Preparer(rec, num_frames=20, neighbours=2)
    try:
        p.land(1)
        assert rec.first.wait(10)  # the worker is inside prepare(1)
        for f in (2, 3, 4):  # passed on the way while 1 is being prepared: 2 and 3 are stale
            p.land(f)
        rec.gate.set()
        assert p.wait_idle(10)
        assert rec.calls == [1, 4, 5, 6]
        p.land(3)  # travelling backwards now; 1 was prepared already
        assert p.wait_idle(10)
        assert rec.calls == [1, 4, 5, 6, 3, 2]
        p.land(19)  # no neighbours past the end
        assert p.wait_idle(10) and rec.calls[-1] == 19 and p.prepared[-1] == 19
    finally:
        rec.gate.set()
        p.close()


def test_a_busy_or_failing_prepare_is_skipped_and_the_worker_goes_on(caplog):
    calls = []

    def prepare(session, frame):
        calls.append(frame)
        if frame == 0:
            raise SessionBusyError.running("propagating")
        if frame == 1:
            raise RuntimeError("model exploded")

    p = Preparer(None, num_frames=5, neighbours=2, prepare=prepare)
    try:
        with caplog.at_level(logging.DEBUG, logger="annotator_widgets.widgets.landing"):
            p.land(0)
            assert p.wait_idle(10)
        assert calls == [0, 1, 2] and p.prepared == [2]
        assert any("preparing frame 1 failed" in r.getMessage() for r in caplog.records)
    finally:
        p.close()


def test_a_segmenter_without_prepare_is_left_alone(annotator):
    assert _prepare(annotator.session, 0) is False  # the segmenter has no prepare: nothing happens
    assert annotator.preparer.wait_idle(10)
    annotator.next_frame()
    assert annotator.preparer.wait_idle(10)
    assert annotator.preparer.prepared == []  # nothing remembered as prepared
    assert not annotator.session._sync.started  # and the segmenter is not started for nothing


@pytest.fixture
def preparing(clip, tmp_path):
    seg = PreparingSegmenter()
    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=seg)
    ann = VideoAnnotator(session, max_display_side=160)
    yield ann, seg
    ann.close()
    session.close()


def test_landing_on_a_frame_prepares_it_exactly_once(preparing):
    ann, seg = preparing
    assert ann.preparer.wait_idle(10)
    assert seg.calls == [0]  # the first frame shown (the segmenter prepares its neighbour itself)
    ann.seek(7)
    assert ann.preparer.wait_idle(10)
    ann.next_frame()
    assert ann.preparer.wait_idle(10)
    ann.redraw()  # stays on 8: not prepared again
    assert ann.preparer.wait_idle(10)
    assert seg.calls == [0, 7, 8]
    assert set(Counter(seg.calls).values()) == {1}


def test_playback_prepares_where_it_stops_not_every_frame(preparing):
    ann, seg = preparing
    assert ann.preparer.wait_idle(10)
    seg.calls.clear()
    ann.seek(3)
    assert ann.preparer.wait_idle(10)
    seg.calls.clear()
    ann.play(fps=200)
    assert ann._player.wait_finished(30) and not ann.playing
    assert ann.preparer.wait_idle(10)
    assert seg.calls == [ann.num_frames - 1]  # the last frame, where playback stopped; nothing on the way


def test_no_prepare_during_a_propagation_then_one_where_it_ended(preparing):
    ann, seg = preparing
    ann.click(100, 60)
    assert ann.preparer.wait_idle(10)
    seg.calls.clear()
    seg.gate = threading.Semaphore(0)  # the propagation waits for a permit per frame
    job = ann.propagate_forward()
    ann.seek(5)  # navigating while it runs: no prepare (the segmenter is busy propagating)
    assert ann.busy and ann.preparer.wait_idle(10) and seg.calls == []
    seg.gate.release(100)
    assert job.wait(30) and not ann.busy
    assert ann.preparer.wait_idle(10)
    assert seg.calls == [5]  # where the user is when it ended


# -- SAM2: the click on the frame the user landed on runs no image encoder ----------------------


def test_a_click_where_the_user_landed_skips_the_sam2_image_encoder(clip, tmp_path):
    from tests.support.models import build_micro_sam2

    micro = build_micro_sam2(tmp_path / "micro")
    session = AnnotationSession(clip.frames, project=tmp_path / "s.awp", segmenter=micro.segmenter())
    ann = VideoAnnotator(session, max_display_side=160)
    try:
        assert ann.preparer.wait_idle(60)  # the first frame shown: the segmenter started and prepared it
        assert session._sync.started
        calls: list[int] = []
        predictor = session.segmenter._predictor
        encode = predictor.forward_image

        def counting(*args, **kwargs):
            calls.append(ann.frame)
            return encode(*args, **kwargs)

        predictor.forward_image = counting
        ann.click(100, 60)
        assert calls == []  # the very first click, too
        for frame in (7, 3, 4):  # a jump, a jump back, the next frame
            ann.seek(frame)
            assert ann.preparer.wait_idle(60)
            before = len(calls)  # the worker encoded the landed frame (and the next one)
            ann.click(100, 60)
            assert len(calls) == before, f"a click on prepared frame {frame} ran the image encoder"
        assert calls  # the worker did the encoding
        ann.preparer.close()  # no more landing prepares: a click on a frame nobody prepared pays the encoder
        ann.seek(11)
        ann.click(100, 60)
        assert calls[-1] == 11
    finally:
        ann.close()
        session.close()
