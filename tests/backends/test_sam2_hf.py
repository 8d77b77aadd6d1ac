"""HfSam2Segmenter (transformers Sam2VideoModel) on a tiny random model: equivalence with the
documented streaming loop, reverse tracking, rebuilds, bounded memory, loading."""

from __future__ import annotations

import logging
import math
from typing import ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from annotator_widgets import open_video, registry  # noqa: E402
from annotator_widgets.backends import VideoSegmenter  # noqa: E402
from annotator_widgets.backends._sam2_build import resolve_dtype  # noqa: E402
from annotator_widgets.backends.sam2_hf import HfSam2Segmenter  # noqa: E402
from annotator_widgets.errors import BackendError, CheckpointError, PromptError  # noqa: E402
from annotator_widgets.rle import RLE, mask_iou  # noqa: E402
from annotator_widgets.types import Box, Point, Prompt  # noqa: E402
from tests.support.models import build_tiny_hf_sam2  # noqa: E402

from ._synthetic import synthetic_clip  # noqa: E402

N_FRAMES = 24


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_hf_sam2(tmp_path_factory.mktemp("tiny_hf_sam2"))


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(N_FRAMES, num_objects=3, seed=4)


@pytest.fixture(scope="module")
def reference(tiny):
    """The model and processor loaded the plain transformers way."""
    from transformers import AutoProcessor, Sam2VideoModel

    return Sam2VideoModel.from_pretrained(tiny).eval(), AutoProcessor.from_pretrained(tiny)


def _click(clip, frame, k, obj_id=None, negative=()):
    pts = [Point(*clip.center(frame, k))] + [Point(x, y, label=0) for x, y in negative]
    return Prompt(frame=frame, obj_id=obj_id or k + 1, points=tuple(pts))


def _seg(tiny, clip, **kw):
    kw.setdefault("device", "cpu")
    seg = HfSam2Segmenter(tiny, **kw)
    seg.start(open_video(clip.frames))
    return seg


def _collect(frames):
    return [
        (f.frame, {k: v.mask for k, v in f.objects.items()}, {k: v.score for k, v in f.objects.items()}) for f in frames
    ]


def assert_same(a, b):
    assert [f for f, _, _ in a] == [f for f, _, _ in b]
    for (f, ma, sa), (_, mb, sb) in zip(a, b, strict=True):
        assert sorted(ma) == sorted(mb), f
        for k in ma:
            assert ma[k].dtype == bool
            assert np.array_equal(ma[k], mb[k]), f"frame {f} object {k} differs"
        assert sa == sb, f


def streaming_reference(reference, clip, prompts, order, reverse=False):
    """transformers' documented streaming loop: frames fed one by one, nothing pruned."""
    model, proc = reference
    h, w = clip.frames.shape[1:3]
    session = proc.init_video_session(inference_device="cpu", dtype=torch.float32)
    out_log = []
    dt = resolve_dtype("auto", torch.device("cpu"))  # the segmenter's default on this CPU
    with torch.inference_mode(), torch.autocast("cpu", dtype=dt, enabled=dt != torch.float32):
        for p in prompts:
            pixels = proc(images=np.array(clip.frames[p.frame]), return_tensors="pt").pixel_values[0]
            coords, labels = p.point_arrays()
            kw = {"input_points": [[coords.tolist()]], "input_labels": [[labels.tolist()]]} if len(coords) else {}
            if p.box is not None:
                kw["input_boxes"] = [[list(p.box.xyxy)]]
            proc.add_inputs_to_inference_session(
                session, frame_idx=p.frame, obj_ids=p.obj_id, original_size=(h, w), **kw
            )
            model(inference_session=session, frame_idx=p.frame, frame=pixels)
        for f in order:
            pixels = proc(images=np.array(clip.frames[f]), return_tensors="pt").pixel_values[0]
            out = model(inference_session=session, frame_idx=f, frame=pixels, reverse=reverse)
            masks = proc.post_process_masks([out.pred_masks], original_sizes=[[h, w]], binarize=True)[0][:, 0]
            logits = out.object_score_logits.float().reshape(-1).tolist()
            out_log.append(
                (
                    f,
                    {k: masks[i].numpy() for i, k in enumerate(out.object_ids)},
                    {k: 1 / (1 + math.exp(-logits[i])) for i, k in enumerate(out.object_ids)},
                )
            )
    return out_log


# -- equivalence ------------------------------------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
def test_same_masks_as_transformers_streaming_loop(tiny, reference, clip, reverse):
    start = N_FRAMES - 4 if reverse else 3
    prompts = [
        _click(clip, start, 0),
        Prompt(frame=start, obj_id=2, box=Box(*clip.box(start, 1))),
        _click(clip, start, 2, negative=[clip.center(start, 0)]),
    ]
    seg = _seg(tiny, clip)
    for p in prompts:
        got = seg.set_prompt(p)
        assert p.obj_id in got and got[p.obj_id].mask.shape == clip.frames.shape[1:3]
    ours = _collect(seg.propagate(start, reverse=reverse))
    order = range(start, -1, -1) if reverse else range(start, N_FRAMES)
    assert_same(ours, streaming_reference(reference, clip, prompts, order, reverse=reverse))
    assert all(0 < s < 1 for _, _, scores in ours for s in scores.values())
    assert any(m.any() for _, masks, _ in ours for m in masks.values())
    stats = seg.memory_stats()
    assert stats["stored_frames"] == 0  # frames are not kept in the session
    seg.close()


def test_protocol_max_frames_and_both_directions(tiny, clip):
    seg = _seg(tiny, clip)
    assert isinstance(seg, VideoSegmenter) and seg.name.startswith("hf:")
    seg.set_prompt(_click(clip, 10, 0))
    assert [f.frame for f in seg.propagate(10, max_frames=3)] == [10, 11, 12, 13]
    assert [f.frame for f in seg.propagate(10, max_frames=3, reverse=True)] == [10, 9, 8, 7]
    assert [f.frame for f in seg.propagate(2, reverse=True)] == [2, 1, 0]
    assert [f.frame for f in seg.propagate(0, reverse=True)] == [0]
    assert [f.frame for f in seg.propagate(N_FRAMES - 1)] == [N_FRAMES - 1]
    seg.close()


# -- prompts, objects, rebuilds ---------------------------------------------------------------------
def test_replacing_a_prompt_equals_a_session_built_from_the_final_prompts(tiny, clip):
    first, final = _click(clip, 5, 0), _click(clip, 5, 0, negative=[clip.center(5, 1)])
    other = _click(clip, 8, 1)
    seg = _seg(tiny, clip)
    for p in (first, other):
        seg.set_prompt(p)
    list(seg.propagate(5))
    replaced = seg.set_prompt(final)
    assert seg.prompts == [final, other]
    fresh = _seg(tiny, clip)
    for p in (final, other):
        fresh.set_prompt(p)
    assert np.array_equal(replaced[1].mask, fresh.set_prompt(final)[1].mask)
    assert_same(_collect(seg.propagate(0)), _collect(fresh.propagate(0)))
    seg.close()
    fresh.close()


def test_remove_object_rebuilds_from_the_other_prompts(tiny, clip):
    prompts = [_click(clip, 0, 0), _click(clip, 0, 1), _click(clip, 6, 2)]
    seg = _seg(tiny, clip)
    for p in prompts:
        seg.set_prompt(p)
    list(seg.propagate(0))
    seg.remove_object(2)
    seg.remove_object(42)  # unknown: ignored
    assert seg.object_ids == [1, 3] and seg.prompts == [prompts[0], prompts[2]]
    fresh = _seg(tiny, clip)
    for p in (prompts[0], prompts[2]):
        fresh.set_prompt(p)
    assert_same(_collect(seg.propagate(0)), _collect(fresh.propagate(0)))
    seg.remove_object(1)
    seg.remove_object(3)
    with pytest.raises(BackendError, match="no object"):
        seg.propagate(0)
    seg.close()
    fresh.close()


def test_object_added_after_propagation_and_refinement_click(tiny, clip):
    seg = _seg(tiny, clip)
    seg.set_prompt(_click(clip, 0, 0))
    before = {f: m[1] for f, m, _ in _collect(seg.propagate(0))}
    seg.set_prompt(_click(clip, 12, 2))  # a new object on a later frame
    seg.set_prompt(_click(clip, 12, 0, negative=[clip.center(12, 1), clip.center(12, 2)]))  # refine object 1
    after = _collect(seg.propagate(12))
    assert [f for f, _, _ in after] == list(range(12, N_FRAMES))
    assert all(set(m) == {1, 3} for _, m, _ in after)
    changed = [f for f, m, _ in after if not np.array_equal(m[1], before[f])]
    assert 12 in changed and any(f > 12 for f in changed)
    seg.close()


def test_reset_and_mask_prompts(tiny, clip, caplog):
    seg = _seg(tiny, clip)
    seg.set_prompt(_click(clip, 0, 0))
    seg.reset()
    assert seg.object_ids == [] and seg.prompts == []
    mask = np.zeros(clip.frames.shape[1:3], bool)
    x0, y0, x1, y1 = (int(v) for v in clip.box(2, 1))
    mask[y0:y1, x0:x1] = True
    got = seg.set_prompt(Prompt(frame=2, obj_id=5, mask=RLE.from_mask(mask)))
    assert mask_iou(got[5].mask, mask) > 0.9  # a mask prompt is the output on its frame (via 64x64 logits)
    with caplog.at_level(logging.WARNING, logger="annotator_widgets.backends.sam2_hf"):
        seg.set_prompt(Prompt(frame=3, obj_id=5, mask=RLE.from_mask(mask), points=(Point(1, 1),)))
    assert "cannot combine" in caplog.text
    assert [f.frame for f in seg.propagate(2, max_frames=2)] == [2, 3, 4]
    with pytest.raises(PromptError, match="mask size"):
        seg.set_prompt(Prompt(frame=0, obj_id=1, mask=RLE.from_mask(np.ones((3, 3), bool))))
    with pytest.raises(PromptError, match="out of range"):
        seg.set_prompt(Prompt(frame=N_FRAMES, obj_id=1, points=(Point(1, 1),)))
    seg.close()
    with pytest.raises(BackendError, match="closed"):
        seg.reset()


def test_cancelled_propagation_and_lazy_frames(tiny, clip):
    from annotator_widgets.video import ArrayVideo

    class Counting(ArrayVideo):
        decoded: ClassVar[list[int]] = []

        def _decode(self, index):
            self.decoded.append(index)
            return super()._decode(index)

    video = Counting(clip.frames)
    seg = HfSam2Segmenter(tiny, device="cpu")
    seg.start(video)
    assert video.decoded == []
    seg.set_prompt(_click(clip, 4, 0))
    gen = seg.propagate(4)
    assert [next(gen).frame for _ in range(3)] == [4, 5, 6]
    gen.close()
    assert sorted(set(video.decoded)) == [4, 5, 6]
    assert [f.frame for f in seg.propagate(6, max_frames=2)] == [6, 7, 8]
    seg.close()


def test_changing_prompts_during_a_propagation_stops_it(tiny, clip):
    seg = _seg(tiny, clip)
    seg.set_prompt(_click(clip, 0, 0))
    gen = seg.propagate(0)
    next(gen)
    seg.remove_object(1)
    with pytest.raises(BackendError, match="changed while a propagation"):
        next(gen)
    seg.close()


# -- bounded memory ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_pruned_memory_gives_identical_results(tiny):
    n = 120
    clip = synthetic_clip(n, num_objects=2, seed=5)
    logs, stats = [], []
    for window in ("auto", None):
        seg = HfSam2Segmenter(tiny, device="cpu", memory_window=window)
        seg.start(open_video(clip.frames))
        log = []
        seg.set_prompt(_click(clip, 40, 0))
        log += _collect(seg.propagate(40))
        log += _collect(seg.propagate(40, reverse=True))
        seg.set_prompt(_click(clip, 90, 1))  # new object on a frame whose window was pruned
        log += _collect(seg.propagate(90, reverse=True, max_frames=30))
        log += _collect(seg.propagate(100, max_frames=15))  # a start whose window was pruned
        logs.append(log)
        stats.append(seg.memory_stats())
        seg.close()
    assert_same(*logs)
    pruned, unpruned = stats
    assert pruned["restored"] > 0 and pruned["archived_bytes"] > 0
    assert pruned["non_cond_entries"] <= 2 * (2 * 15 + 1) < unpruned["non_cond_entries"]
    assert pruned["stored_frames"] == unpruned["stored_frames"] == 0


def test_too_small_memory_window_changes_results(tiny):
    clip = synthetic_clip(N_FRAMES, num_objects=2, seed=5)
    logs = []
    for window in (2, None):
        seg = HfSam2Segmenter(tiny, device="cpu", memory_window=window)
        seg.start(open_video(clip.frames))
        seg.set_prompt(_click(clip, 0, 0))
        logs.append(_collect(seg.propagate(0)))
        seg.close()
    with pytest.raises(AssertionError):
        assert_same(*logs)


# -- loading ------------------------------------------------------------------------------------------
def test_resolve_segmenter_and_loading_errors(tiny, tmp_path):
    seg = registry.resolve("segmenter", f"hf:{tiny}", device="cpu")
    assert isinstance(seg, HfSam2Segmenter)
    seg.close()
    with pytest.raises(CheckpointError) as info:
        HfSam2Segmenter(tmp_path / "missing_model", device="cpu", local_files_only=True)
    assert "save_pretrained" in info.value.hint
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(
        tmp_path / "bert"
    )
    with pytest.raises(BackendError, match="not a SAM2-family"):
        HfSam2Segmenter(tmp_path / "bert", device="cpu")
    with pytest.raises(BackendError, match="memory_window"):
        HfSam2Segmenter(tiny, device="cpu", memory_window=0)
