"""prepare(frame): work computed ahead per frame, in a bounded cache, never changing results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import open_video
from annotator_widgets.backends._prepare import FrameCache, neighbour
from annotator_widgets.data import synthetic_clip
from annotator_widgets.types import Point, Prompt
from tests.support.models import build_micro_sam2, build_tiny_hf_sam2

# -- the cache ---------------------------------------------------------------------------------


def test_frame_cache_is_bounded_and_least_recently_used_goes_first():
    cache: FrameCache[int] = FrameCache(2)
    assert cache.get(1, lambda: 10) == 10 and cache.get(2, lambda: 20) == 20
    assert cache.lookup(1) == 10  # 1 is now the most recent
    cache.get(3, lambda: 30)
    assert cache.frames() == [1, 3] and cache.lookup(2) is None
    assert cache.get(1, lambda: pytest.fail("recomputed")) == 10
    cache.clear()
    assert cache.frames() == [] and cache.lookup(1) is None
    off: FrameCache[int] = FrameCache(0)
    assert off.get(1, lambda: 5) == 5 and off.frames() == []


def test_frame_cache_computes_once_when_a_click_asks_while_a_worker_computes():
    cache: FrameCache[str] = FrameCache(2)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "features"

    worker = threading.Thread(target=cache.get, args=(7, slow))
    worker.start()
    started.wait(10)
    got: list[str | None] = []
    click = threading.Thread(target=lambda: got.append(cache.lookup(7)))
    click.start()
    release.set()
    worker.join(10)
    click.join(10)
    assert got == ["features"] and calls == [1] and cache.misses == 1


def test_frame_cache_failure_reaches_the_caller_and_is_not_kept():
    cache: FrameCache[int] = FrameCache(2)

    def boom() -> int:
        raise ValueError("decode failed")

    with pytest.raises(ValueError):
        cache.get(1, boom)
    assert cache.lookup(1) is None and cache.get(1, lambda: 3) == 3


def test_neighbour_follows_the_direction_of_travel():
    assert neighbour(5, None, 10) == 6 and neighbour(5, 4, 10) == 6 and neighbour(5, 8, 10) == 4
    assert neighbour(9, 8, 10) is None and neighbour(0, 3, 10) is None


# -- SAM2 (both backends): the same masks with and without prepared features -------------------


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=6, size=(96, 72), num_objects=2, seed=2)


def _prompts(clip):
    out = []
    for obj, frame in ((1, 2), (2, 2), (1, 4)):
        ys, xs = np.nonzero(clip.masks[obj][frame])
        out.append(Prompt(frame, obj, (Point(float(xs.mean()), float(ys.mean())),)))
    return out


def _run(seg, clip, prepare):
    seg.start(open_video(clip.frames))
    masks = []
    for p in _prompts(clip):
        if prepare:
            seg.prepare(p.frame)
        masks.append(seg.set_prompt(p)[p.obj_id].mask)
    masks += [om.mask for out in seg.propagate(2) for om in out.objects.values()]
    return masks


def _counting(obj, name):
    calls = []
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    setattr(obj, name, wrapper)
    return calls


def test_meta_sam2_prepared_click_skips_the_image_encoder_and_gives_the_same_masks(clip, tmp_path):
    micro = build_micro_sam2(tmp_path / "micro")
    plain = _run(micro.segmenter(), clip, prepare=False)
    seg = micro.segmenter()
    seg.start(open_video(clip.frames))
    seg.prepare(2)
    assert seg._features.frames() == [2, 3]  # the frame, then its neighbour ahead
    calls = _counting(seg._predictor, "forward_image")
    first = _prompts(clip)[0]
    seg.set_prompt(first)
    assert calls == []  # the click ran only the prompt encoder and the decoder
    prepared = _run(seg, clip, prepare=True)
    assert len(prepared) == len(plain)
    for a, b in zip(plain, prepared, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(Exception, match="frame"):
        seg.prepare(99)


def test_hf_sam2_prepared_click_skips_the_image_encoder_and_gives_the_same_masks(clip, tmp_path):
    from annotator_widgets.backends.sam2_hf import HfSam2Segmenter

    tiny = build_tiny_hf_sam2(tmp_path / "tiny")
    plain = _run(HfSam2Segmenter(tiny, device="cpu"), clip, prepare=False)
    seg = HfSam2Segmenter(tiny, device="cpu", feature_cache=4)
    seg.start(open_video(clip.frames))
    seg.prepare(4)  # 4, then 5 ahead
    seg.prepare(3)  # moving backward: 3, then 2
    assert seg._features.frames() == [4, 5, 3, 2]
    calls = _counting(seg._model, "get_image_features")
    seg.set_prompt(_prompts(clip)[0])
    assert calls == []
    prepared = _run(seg, clip, prepare=True)
    for a, b in zip(plain, prepared, strict=True):
        np.testing.assert_array_equal(a, b)


# -- the session's verb ------------------------------------------------------------------------


def test_session_prepare_forwards_to_a_segmenter_that_has_prepare(clip):
    from annotator_widgets import AnnotationSession, PromptError
    from annotator_widgets.backends.classic import ClassicSegmenter

    class Preparing(ClassicSegmenter):
        """Test double: the real classic segmenter plus a recorded prepare()."""

        def __init__(self) -> None:
            super().__init__()
            self.prepared: list[int] = []

        def prepare(self, frame: int) -> None:
            self.prepared.append(frame)

    seg = Preparing()
    with AnnotationSession(clip.frames, segmenter=seg) as session:
        assert session.prepare(1) is True and seg.prepared == [1]  # started on the video first
        ys, xs = np.nonzero(clip.masks[1][0])
        session.add_points(0, None, [(float(xs.mean()), float(ys.mean()))])
        assert session.prepare(3) is True and seg.prepared == [1, 3]
        with pytest.raises(PromptError):
            session.prepare(len(clip.frames))
    with AnnotationSession(clip.frames, segmenter=ClassicSegmenter()) as session:
        session.add_points(0, None, [(float(xs.mean()), float(ys.mean()))])
        assert session.prepare(2) is (hasattr(ClassicSegmenter, "prepare"))


def _sam2(backend, tmp_path):
    """A factory of fresh SAM2 segmenters on one tiny model, and how to reach its image encoder."""
    if backend == "meta":
        micro = build_micro_sam2(tmp_path / "micro")
        return micro.segmenter, lambda seg: (seg._predictor, "forward_image")
    from annotator_widgets.backends.sam2_hf import HfSam2Segmenter

    tiny = build_tiny_hf_sam2(tmp_path / "tiny")
    return (lambda: HfSam2Segmenter(tiny, device="cpu")), lambda seg: (seg._model, "get_image_features")


@pytest.mark.parametrize("backend", ["meta", "hf"])
def test_session_prepare_starts_the_segmenter_and_a_click_there_skips_the_image_encoder(backend, clip, tmp_path):
    from annotator_widgets import AnnotationSession

    make, encoder = _sam2(backend, tmp_path)
    clicks = [(2, 1), (2, 2), (5, 1)]  # (frame, object): frame 2 prepared, frame 5 not

    def centre(frame, obj):
        ys, xs = np.nonzero(clip.masks[obj][frame])
        return [(float(xs.mean()), float(ys.mean()))]

    def annotate(session, calls=None):
        masks, used = [], []
        for frame, obj in clicks:
            before = len(calls) if calls is not None else 0
            masks.append(session.add_points(frame, obj, centre(frame, obj))[obj])
            used.append(len(calls) - before if calls is not None else None)
        session.run("forward", start=2)
        return masks + [session.masks(f)[o] for f in range(2, 6) for o in (1, 2)], used

    with AnnotationSession(clip.frames, tmp_path / "plain.awp", make()) as session:
        plain, _ = annotate(session)
    with AnnotationSession(clip.frames, tmp_path / "prepared.awp", make()) as session:
        assert not session._sync.started
        assert session.prepare(2) is True  # starts the segmenter on the video, as the first click would
        assert session._sync.started
        calls = _counting(*encoder(session.segmenter))
        prepared, used = annotate(session, calls)
    assert used == [0, 0, 1]  # prepared frame: no encoder call; the frame nobody prepared: one
    assert len(prepared) == len(plain)
    for a, b in zip(plain, prepared, strict=True):
        np.testing.assert_array_equal(a, b)  # the cache never changes a result


def test_module_examples():
    import doctest

    import annotator_widgets.backends._prepare as mod

    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
