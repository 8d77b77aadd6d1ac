"""SAM 3 on a tiny random model: the concept segmenter (phrases -> instances) against transformers' own
loop, streaming and bounded memory, nothing-found reporting, and the tracker segmenter (points, boxes,
masks) loaded from the same checkpoint, seeded with the concept segmenter's masks."""

from __future__ import annotations

import doctest
import hashlib
import importlib
from typing import ClassVar

import numpy as np
import pytest
import torch
import transformers

from annotator_widgets import open_video, registry
from annotator_widgets.backends import ConceptSegmenter, VideoSegmenter
from annotator_widgets.backends.sam3 import Sam3ConceptSegmenter
from annotator_widgets.backends.sam3_tracker import Sam3TrackerSegmenter
from annotator_widgets.errors import BackendError, CheckpointError, NotFoundError, PromptError
from annotator_widgets.rle import mask_iou
from annotator_widgets.types import Point, Prompt
from annotator_widgets.video import ArrayVideo
from tests.support.sam3_models import TINY_OPTIONS, build_tiny_sam3

from ._synthetic import synthetic_clip

N_FRAMES = 14
W, H = 160, 96  # a non-square video: masks must come back in these pixels


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_sam3(tmp_path_factory.mktemp("tiny_sam3"))


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(N_FRAMES, width=W, height=H, num_objects=2, seed=4)


def _concept(tiny, video, **kw):
    for key, value in {**TINY_OPTIONS, "device": "cpu", "dtype": "float32", "max_instances": 4}.items():
        kw.setdefault(key, value)
    seg = Sam3ConceptSegmenter(tiny, **kw)
    seg.start(open_video(video))
    return seg


def _frames(results):
    return [(r.frame, {k: (v.mask, v.score) for k, v in r.objects.items()}) for r in results]


def assert_same(a, b):
    assert [f for f, _ in a] == [f for f, _ in b]
    for (f, ma), (_, mb) in zip(a, b, strict=True):
        assert sorted(ma) == sorted(mb), f"frame {f}: ids differ"
        for k in ma:
            assert np.array_equal(ma[k][0], mb[k][0]), f"frame {f} instance {k}: masks differ"
            assert ma[k][1] == pytest.approx(mb[k][1], abs=1e-6), f"frame {f} instance {k}: scores differ"


def transformers_reference(tiny, frames, phrases, start, reverse, **attrs):
    """transformers' documented loop: the whole video preprocessed into the session, propagate_in_video_iterator."""
    model = transformers.Sam3VideoModel.from_pretrained(tiny).eval()
    proc = transformers.Sam3VideoProcessor.from_pretrained(tiny)
    for name, value in attrs.items():
        setattr(model, name, value)
    session = proc.init_video_session(video=list(frames), inference_device="cpu")
    proc.add_text_prompt(session, phrases)
    # transformers' reverse iterator starts one frame before start_frame_idx
    it = model.propagate_in_video_iterator(session, start_frame_idx=start + 1 if reverse else start, reverse=reverse)
    out = []
    for o in it:
        post = proc.postprocess_outputs(session, o)
        ids = post["object_ids"].tolist()
        masks = post["masks"].numpy()
        out.append((o.frame_idx, {i + 1: (masks[n], o.obj_id_to_tracker_score.get(i, 0.0)) for n, i in enumerate(ids)}))
    return out


# -- the concept segmenter -------------------------------------------------------------------------
def test_phrases_map_back_and_masks_are_in_video_pixels(tiny, clip):
    seg = registry.resolve("concept", f"sam3:{tiny}", device="cpu", dtype="float32", max_instances=4, **TINY_OPTIONS)
    assert isinstance(seg, Sam3ConceptSegmenter) and isinstance(seg, ConceptSegmenter)
    assert seg.name == f"sam3:{tiny}"
    seg.start(open_video(clip.frames))
    found = seg.add_text(3, ["cat", "red dog"])
    phrases = [p for p, _ in found.values()]
    assert sorted(set(phrases)) == ["cat", "red dog"] and phrases.count("cat") == 2  # 2 detector queries each
    assert sorted(found) == seg.object_ids and min(found) >= 1
    for obj_id, (phrase, m) in found.items():
        assert m.mask.shape == (H, W) and m.mask.dtype == bool and m.mask.any()
        assert m.score is not None and 0 <= m.score <= 1 and seg.phrase_of(obj_id) == phrase
    last = seg.last_result
    assert seg.phrases == ["cat", "red dog"] and last is not None and last.frame == 3
    # asking again for a known phrase (on a later frame) returns its instances without adding it twice
    again = seg.add_text(6, "cat")
    assert {p for p, _ in again.values()} == {"cat"} and set(again) <= set(found)
    last = seg.last_result
    assert seg.phrases == ["cat", "red dog"] and last is not None and last.frame == 6
    with pytest.raises(PromptError, match="no instance"):
        seg.phrase_of(999)
    seg.close()


@pytest.mark.parametrize("reverse", [False, True])
def test_same_masks_as_the_transformers_iterator(tiny, clip, reverse):
    """Streamed frames, pruned memory and our hotstart buffer give what transformers gives on the whole video."""
    start = 9 if reverse else 2
    opts = {"hotstart_delay": 3, "max_instances": 3}
    seg = _concept(tiny, clip.frames, **opts)
    seg.add_text(start, ["cat", "dog"])
    ours = _frames(seg.propagate(start, reverse=reverse))
    expected = range(start, -1, -1) if reverse else range(start, N_FRAMES)
    assert [f for f, _ in ours] == list(expected)
    ref = transformers_reference(
        tiny,
        clip.frames,
        ["cat", "dog"],
        start,
        reverse,
        score_threshold_detection=0.0,
        new_det_thresh=0.0,
        hotstart_delay=3,
        hotstart_unmatch_thresh=3,
        hotstart_dup_thresh=3,
        max_num_objects=3,
    )
    assert_same(ours, ref)
    assert any(m.any() for _, objs in ours for m, _ in objs.values())
    seg.close()


def test_reverse_and_ranges(tiny, clip):
    seg = _concept(tiny, clip.frames, max_instances=2)
    seg.add_text(6, ["cat"])
    assert [r.frame for r in seg.propagate(6, max_frames=3, reverse=True)] == [6, 5, 4, 3]
    assert [r.frame for r in seg.propagate(2, reverse=True)] == [2, 1, 0]
    assert [r.frame for r in seg.propagate(0, reverse=True)] == [0]
    assert [r.frame for r in seg.propagate(N_FRAMES - 2, max_frames=5)] == [N_FRAMES - 2, N_FRAMES - 1]
    assert [r.frame for r in seg.propagate(4, max_frames=0)] == [4]
    with pytest.raises(BackendError, match="max_frames"):
        seg.propagate(0, max_frames=-1)
    with pytest.raises(PromptError, match="out of range"):
        seg.propagate(N_FRAMES)
    seg.close()


def test_new_instances_appear_while_propagating(tiny, clip):
    seg = _concept(tiny, clip.frames, max_instances=4)
    first = seg.add_text(0, ["cat"])
    assert len(first) == 2
    results = list(seg.propagate(0, max_frames=4))
    later = {i for r in results for i in r.objects} - set(first)
    assert later, "SAM 3 keeps detecting: unmatched detections become new instances"
    assert all(seg.phrase_of(i) == "cat" for i in later)
    seg.close()


def test_remove_object_drops_the_instance(tiny, clip):
    seg = _concept(tiny, clip.frames, max_instances=2)
    found = seg.add_text(0, ["cat"])
    gone, kept = sorted(found)
    seg.remove_object(gone)
    seg.remove_object(12345)  # unknown: ignored
    assert seg.object_ids == [kept]
    results = list(seg.propagate(1, max_frames=5))
    assert all(gone not in r.objects for r in results) and gone not in seg.object_ids
    assert all(kept in r.objects for r in results)
    seg.close()


def test_changes_during_a_propagation_stop_it(tiny, clip):
    seg = _concept(tiny, clip.frames, max_instances=2)
    found = seg.add_text(0, ["cat"])
    gen = seg.propagate(0)
    next(gen)
    seg.remove_object(min(found))
    with pytest.raises(BackendError, match="changed while a propagation"):
        next(gen)
    seg.reset()
    assert seg.phrases == [] and seg.object_ids == []
    with pytest.raises(BackendError, match="no phrase"):
        seg.propagate(0)
    seg.close()
    with pytest.raises(BackendError, match="closed"):
        seg.reset()


def test_frames_stream_lazily_and_few_are_held(tiny, clip):
    class Counting(ArrayVideo):
        decoded: ClassVar[list[int]] = []

        def _decode(self, index):
            self.decoded.append(index)
            return super()._decode(index)

    video = Counting(clip.frames)
    seg = _concept(tiny, video, max_instances=2, hotstart_delay=2, frame_cache=2)
    assert video.decoded == []
    seg.add_text(4, ["cat"])
    assert video.decoded == [4]
    gen = seg.propagate(4)
    held = []
    for _ in range(3):
        r = next(gen)
        held.append(seg.memory_stats()["held_frames"])
        # with a 2-frame hotstart delay the model runs one frame ahead of what is reported
        assert sorted(set(video.decoded)) == list(range(4, r.frame + 2))
    gen.close()
    assert max(held) <= 2
    assert len(video.decoded) == len(set(video.decoded))  # each frame read once


def test_pruned_memory_gives_identical_results_and_stays_bounded(tiny):
    clip = synthetic_clip(40, width=W, height=H, num_objects=2, seed=5)
    logs, stats = [], []
    for window in ("auto", None):
        seg = _concept(tiny, clip.frames, max_instances=2, hotstart_delay=2, memory_window=window)
        seg.add_text(12, ["cat"])
        log = _frames(seg.propagate(12))
        log += _frames(seg.propagate(12, reverse=True))  # a start whose memory was archived
        log += _frames(seg.propagate(30, max_frames=6))
        logs.append(log)
        stats.append(seg.memory_stats())
        seg.close()
    assert_same(*logs)
    pruned, unpruned = stats
    keep = 2 * 3 + 1  # the tiny tracker reads 3 frames back
    assert pruned["archived_bytes"] > 0 and pruned["restored"] > 0
    assert pruned["non_cond_entries"] <= pruned["instances"] * keep < unpruned["non_cond_entries"]
    assert pruned["frame_metadata"] <= 2 * keep < unpruned["frame_metadata"]
    assert pruned["held_frames"] <= 2 and unpruned["held_frames"] <= 2


def test_nothing_found_at_default_thresholds_is_reported(tiny, clip):
    """Random weights score ~0.25: the checkpoint's 0.5 / 0.7 thresholds find nothing, and that is said."""
    seg = Sam3ConceptSegmenter(tiny, device="cpu", dtype="float32")
    seg.start(open_video(clip.frames))
    with pytest.raises(NotFoundError, match=r"no instance of \['cat'\] on frame 2 \(best detection score 0\.2") as info:
        seg.add_text(2, ["cat"])
    assert "threshold" in (info.value.hint or "") and info.value.given == ["cat"]
    assert seg.phrases == [] and seg.object_ids == []  # withdrawn: nothing to propagate silently
    with pytest.raises(BackendError, match="no phrase"):
        seg.propagate(0)
    seg.close()


def test_options_and_errors(tiny, clip, tmp_path):
    with pytest.raises(CheckpointError, match="SAM 3") as info:
        Sam3ConceptSegmenter(tmp_path / "missing", device="cpu", local_files_only=True)
    hint = info.value.hint or ""
    assert "licence" in hint and "save_pretrained" in hint
    for cls in (Sam3ConceptSegmenter, Sam3TrackerSegmenter):  # a missing folder is said as such (no hub call)
        with pytest.raises(CheckpointError, match="model folder not found") as info:
            cls(tmp_path / "nope" / "sam3", device="cpu")
        assert info.value.given == str(tmp_path / "nope" / "sam3")
    # a hub id that is not downloaded, offline: the gated-licence hint says how to get it
    with pytest.raises(CheckpointError, match=r"cannot load the SAM 3 .* config") as info:
        Sam3TrackerSegmenter("example-org/not-downloaded", device="cpu", local_files_only=True)
    assert "hf download facebook/sam3" in (info.value.hint or "")
    transformers.BertConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    ).save_pretrained(tmp_path / "bert")
    with pytest.raises(BackendError, match="not a SAM 3"):
        Sam3ConceptSegmenter(tmp_path / "bert", device="cpu")
    with pytest.raises(BackendError, match="not a SAM 3"):
        Sam3TrackerSegmenter(tmp_path / "bert", device="cpu")
    for bad in ({"score_threshold": 1.5}, {"hotstart_delay": -1}, {"max_instances": 0}, {"memory_window": 0}):
        with pytest.raises(BackendError):
            Sam3ConceptSegmenter(tiny, device="cpu", **bad)
    seg = _concept(tiny, clip.frames, hotstart_delay=4)
    model = seg._model
    assert (model.hotstart_delay, model.hotstart_unmatch_thresh, model.hotstart_dup_thresh) == (4, 4, 4)
    for phrases in ([], [""], ["cat", 3]):
        with pytest.raises(PromptError, match="phrase"):
            seg.add_text(0, phrases)
    with pytest.raises(PromptError, match="out of range"):
        seg.add_text(N_FRAMES, ["cat"])
    with pytest.raises(BackendError, match="no SAM 3 result"):
        seg.seed_prompts()
    seg.close()


# -- the tracker segmenter and refinement ----------------------------------------------------------
def test_tracker_loads_the_same_weights_as_the_concept_model(tiny):
    concept = Sam3ConceptSegmenter(tiny, device="cpu")
    tracker = registry.resolve("segmenter", f"sam3-tracker:{tiny}", device="cpu")
    assert isinstance(tracker, Sam3TrackerSegmenter) and isinstance(tracker, VideoSegmenter)
    assert tracker.name == f"sam3-tracker:{tiny}"
    video_weights = concept._model.state_dict()

    def source(key):  # where each tracker tensor lives in the video model
        if key.startswith("vision_encoder.neck."):
            return "tracker_neck." + key.removeprefix("vision_encoder.neck.")
        if key.startswith("vision_encoder."):
            return "detector_model." + key
        return "tracker_model." + key

    tracker_weights = tracker._model.state_dict()
    assert len(tracker_weights) > 200
    for key, value in tracker_weights.items():
        assert torch.equal(value, video_weights[source(key)]), key
    concept.close()
    tracker.close()


def test_seeded_tracker_takes_clicks(tiny, clip):
    concept = _concept(tiny, clip.frames, max_instances=2)
    found = concept.add_text(2, ["cat"])
    seeds = concept.seed_prompts()
    assert [p.obj_id for p in seeds] == sorted(found) and all(p.frame == 2 and p.text == "cat" for p in seeds)
    tracker = concept.to_tracker()
    assert tracker.object_ids == sorted(found) and tracker.prompts == seeds
    assert tracker.dtype == concept.dtype and tracker.device == concept.device
    before = {r.frame: r.objects for r in tracker.propagate(2)}
    assert sorted(before) == list(range(2, N_FRAMES))
    obj = min(found)
    # the seed frame reproduces the seeded mask (a mask prompt is the output, through the tiny model's
    # 16 x 16 low-res logits for a 160 x 96 video)
    assert mask_iou(before[2][obj].mask, found[obj][1].mask) > 0.7
    # a click on a tracked frame refines the instance from there on
    m = 8
    x, y = clip.center(m, 0)
    clicked = tracker.set_prompt(Prompt(frame=m, obj_id=obj, points=(Point(x, y), Point(5, 5, label=0))))
    assert not np.array_equal(clicked[obj].mask, before[m][obj].mask)
    after = {r.frame: r.objects for r in tracker.propagate(m)}
    assert any(not np.array_equal(after[f][obj].mask, before[f][obj].mask) for f in range(m + 1, N_FRAMES))
    tracker.close()
    concept.close()


@pytest.mark.slow
def test_tracker_memory_is_pruned_with_identical_masks_and_flat_memory(tiny):
    """80 frames: 11 times the 7-frame window the tiny tracker reads (~25 s on a shared core)."""
    n, early = 80, 25
    clip = synthetic_clip(n, width=W, height=H, num_objects=2, seed=6)

    def digest(results):  # masks as digests: keeping every mask would itself grow RSS
        return [
            (r.frame, {k: (hashlib.sha1(v.mask.tobytes()).hexdigest(), v.score) for k, v in r.objects.items()})
            for r in results
        ]

    logs, held, rss = [], [], []
    for window in ("auto", None):
        seg = Sam3TrackerSegmenter(tiny, device="cpu", dtype="float32", memory_window=window)
        seg.start(open_video(clip.frames))
        for k in (0, 1):
            seg.set_prompt(Prompt(frame=0, obj_id=k + 1, points=(Point(*clip.center(0, k)),)))
        log, sizes, mem = [], {}, {}
        for r in seg.propagate(0):
            log += digest([r])
            if r.frame in (early, n - 1):
                sizes[r.frame] = seg.memory_stats()["output_bytes"]
                mem[r.frame] = _rss_mb()
        seg.set_prompt(Prompt(frame=50, obj_id=3, points=(Point(*clip.center(50, 1)),)))  # its window was archived
        log += digest(seg.propagate(50, reverse=True, max_frames=15))
        logs.append(log)
        held.append(sizes)
        rss.append(mem)
        seg.close()
    assert logs[0] == logs[1]
    assert len(logs[0]) == n + 16 and all(len(objs) >= 2 for _, objs in logs[0])
    pruned, unpruned = held
    assert pruned[early] == pruned[n - 1]  # flat: the same tensors held at frame 25 and 79
    assert unpruned[n - 1] > unpruned[early] + (n - 1 - early) * 2 * 5_000  # unpruned: ~7.5 KB per frame and object
    # RSS follows (loose bound: the archive's index in RAM costs ~1 KB per archived entry)
    assert rss[0][n - 1] - rss[0][early] < 2.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@pytest.mark.parametrize(
    "name",
    [
        "annotator_widgets.backends.sam3",
        "annotator_widgets.backends.sam3_tracker",
        "annotator_widgets.backends._sam3_load",
        "annotator_widgets.backends._sam3_stream",
        "annotator_widgets.backends._sam3_options",
        "annotator_widgets.backends._sam3_refine",
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
