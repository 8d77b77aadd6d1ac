"""The grounders (text -> boxes) on tiny random transformers models, loaded offline from folders.

Every family is built in code (tests/support/vlm.py), saved with ``save_pretrained`` and loaded
by folder path through the package's own loader, as a downloaded checkpoint would be. Outputs
are random, so the tests check plumbing against transformers' own post-processing of the same
model outputs: boxes in the image's pixels (non-square images, both orientations), phrases
mapped back, selection (threshold, NMS, top-k, minimum size), errors.
"""

from __future__ import annotations

import doctest
import importlib
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from annotator_widgets import registry
from annotator_widgets.backends.grounders.florence2 import Florence2Grounder
from annotator_widgets.backends.grounders.owl import Owlv2Grounder
from annotator_widgets.backends.grounders.postprocess import Candidates, Settings, nms, nothing_found, select
from annotator_widgets.backends.protocols import Grounder, GroundingBox
from annotator_widgets.errors import BackendError, CheckpointError, MissingDependencyError, NotFoundError, PromptError
from annotator_widgets.types import box_iou
from tests.support.vlm import BUILDERS

PACKAGE = "annotator_widgets.backends.grounders."
FAMILIES = ["owlv2", "owlvit", "grounding-dino", "mm-grounding-dino", "detr", "rt-detr"]
PHRASES = {"detr": ["person", "a cup", "car"], "rt-detr": ["person", "cups", "car"]}
#: class id -> phrase of PHRASES, by the tiny models' id2label (tests/support/vlm.py)
COCO_IDS = {"detr": {1: "person", 4: "a cup", 3: "car"}, "rt-detr": {0: "person", 3: "cups", 2: "car"}}
WORDS = ["a cat", "the blue bottle", "a red dress"]
OPEN = {"device": "cpu", "dtype": "float32", "threshold": 0.0, "nms_iou": 1.0, "min_size": 0.0}


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


LANDSCAPE, PORTRAIT = _image(180, 320), _image(320, 180, seed=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """part name -> folder of its tiny model (built once per module)."""
    folders: dict[str, object] = {}

    def get(name: str):
        if name not in folders:
            folders[name] = BUILDERS[name](tmp_path_factory.mktemp(name.replace("-", "_")))
        return folders[name]

    return get


def _grounder(tiny, name: str, **kwargs):
    return registry.resolve("grounder", f"{name}:{tiny(name)}", **{**OPEN, **kwargs})


def _phrases(name: str) -> list[str]:
    return PHRASES.get(name, WORDS)


def _capture(model):
    """Record the model's forward outputs (what detect() post-processed)."""
    seen = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append(out))
    return seen, handle


def _inside(found: list[GroundingBox], image: np.ndarray) -> None:
    h, w = image.shape[:2]
    for g in found:
        x0, y0, x1, y1 = g.box.xyxy
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, g


# -- pixel and phrase mapping against transformers' own post-processing ----------------------------
def _reference(name: str, g, out, image: np.ndarray, phrases: list[str]) -> list[tuple[np.ndarray, str, float]]:
    """(clipped box, phrase, score) per box as transformers' post-processing reads the same outputs."""
    import torch

    h, w = image.shape[:2]
    proc = g.processor
    rows = []
    label_to_phrase = {k: p for k, p in COCO_IDS[name].items() if p in phrases} if name in COCO_IDS else {}
    if name in ("owlv2", "owlvit"):
        res = proc.post_process_grounded_object_detection(out, threshold=0.0, target_sizes=[(h, w)])[0]
        rows = [
            (b, phrases[int(lab)], float(s))
            for b, lab, s in zip(res["boxes"], res["labels"], res["scores"], strict=True)
        ]
    elif name == "detr":  # softmax: a box answers the phrase of its best class
        res = proc.post_process_object_detection(out, threshold=0.0, target_sizes=[(h, w)])[0]
        for b, lab, s in zip(res["boxes"], res["labels"], res["scores"], strict=True):
            rows += [(b, label_to_phrase[int(lab)], float(s))] if int(lab) in label_to_phrase else []
    elif name == "rt-detr":  # sigmoid per class: each query's best pair among the asked classes
        asked = torch.tensor(sorted(label_to_phrase))
        for q in range(out.logits.shape[1]):
            logits = torch.full_like(out.logits[:, q : q + 1], -float("inf"))
            logits[..., asked] = out.logits[:, q : q + 1, asked]
            one = SimpleNamespace(logits=logits, pred_boxes=out.pred_boxes[:, q : q + 1])
            res = proc.post_process_object_detection(one, threshold=0.0, target_sizes=[(h, w)])[0]
            rows.append((res["boxes"][0], label_to_phrase[int(res["labels"][0])], float(res["scores"][0])))
    else:  # Grounding DINO: boxes from the processor; phrase and score from each phrase's own tokens
        tok = proc.tokenizer
        caption = ". ".join(p.lower() for p in phrases) + "."
        ids = tok(caption, return_tensors="pt")["input_ids"]
        res = proc.post_process_grounded_object_detection(
            out, input_ids=ids, threshold=0.0, text_threshold=1.0, target_sizes=[(h, w)]
        )[0]
        probs = out.logits[0].sigmoid().numpy()
        ids_list, cols, pos = ids[0].tolist(), [], 1  # after [CLS]
        for p in phrases:  # find each phrase's tokens in order (not from character offsets)
            own = tok(p.lower(), add_special_tokens=False)["input_ids"]
            while ids_list[pos : pos + len(own)] != own:
                pos += 1
            cols.append(list(range(pos, pos + len(own))))
            pos += len(own)
        per = np.stack([probs[:, c].max(axis=1) for c in cols], axis=1)
        assert len(res["boxes"]) == len(per)  # threshold 0 keeps every query, in order
        rows = [
            (b, phrases[int(k)], float(per[i, k]))
            for i, (b, k) in enumerate(zip(res["boxes"], per.argmax(1), strict=True))
        ]
        assert all(s <= float(m) + 1e-6 for (_, _, s), m in zip(rows, res["scores"], strict=True))
    return [(np.clip(np.asarray(b, float), 0, [w, h, w, h]), p, s) for b, p, s in rows]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("image", [LANDSCAPE, PORTRAIT], ids=["320x180", "180x320"])
def test_boxes_and_phrases_match_transformers_post_processing(tiny, name, image):
    g = _grounder(tiny, name)
    phrases = _phrases(name)
    seen, handle = _capture(g.model)
    found = g.detect(image, phrases)
    handle.remove()
    assert len(seen) == 1 and found
    _inside(found, image)
    ref = _reference(name, g, seen[0], image, phrases)
    ref = [r for r in ref if (r[0][2] > r[0][0]) and (r[0][3] > r[0][1])]  # non-empty after clipping
    assert len(found) == len(ref)
    for hit in found:
        got = np.asarray(hit.box.xyxy)
        match = [r for r in ref if np.allclose(r[0], got, atol=1e-3) and r[1] == hit.phrase]
        assert match, (hit, ref[:3])
        assert any(abs(r[2] - hit.score) < 1e-5 for r in match), (hit, match)
    # the pixel mapping is exercised: some box edges lie strictly inside the image, not only on its border
    h, w = image.shape[:2]
    inner = [v for hit in found for v, side in zip(hit.box.xyxy, (w, h, w, h), strict=True) if 0.5 < v < side - 0.5]
    assert inner
    assert [hit.score for hit in found] == sorted((hit.score for hit in found), reverse=True)
    g.close()


def test_owl_maps_each_box_to_its_own_query_whatever_the_order(tiny):
    g = _grounder(tiny, "owlv2")
    ab = {(h.box.xyxy, h.phrase, round(h.score, 6)) for h in g.detect(LANDSCAPE, WORDS)}
    ba = {(h.box.xyxy, h.phrase, round(h.score, 6)) for h in g.detect(LANDSCAPE, WORDS[::-1])}
    assert ab == ba
    assert len({p for _, p, _ in ab}) >= 2  # boxes answer different phrases


def test_owlv2_boxes_are_fractions_of_the_padded_square(tiny):
    g = _grounder(tiny, "owlv2")
    seen, handle = _capture(g.model)
    found = g.detect(LANDSCAPE, ["a cat"])
    handle.remove()
    cx, cy, bw, bh = seen[0].pred_boxes[0].numpy().T.astype(float)
    side = 320.0  # the longer side: the processor pads 320x180 to 320x320
    expect = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * side
    expect = np.clip(expect, 0, [320, 180, 320, 180])
    for hit in found:
        assert np.abs(expect - np.asarray(hit.box.xyxy)).max(axis=1).min() < 1e-3


# -- selection ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*FAMILIES, "florence2"])
def test_threshold_top_k_and_min_size_are_respected(tiny, name):
    extra = {"max_new_tokens": 40, "num_beams": 1} if name == "florence2" else {}
    g = _grounder(tiny, name, **extra)
    phrases = _phrases(name)

    def run():
        return _forced(g, LANDSCAPE, ["a cat", "a dog"]) if name == "florence2" else g.detect(LANDSCAPE, phrases)

    everything = run()
    cut = float(np.median([h.score for h in everything]))
    side = float(np.median([min(h.box.xywh[2:]) for h in everything if h.score >= cut]))
    g.settings = type(g.settings)(threshold=cut, nms_iou=1.0, top_k=2, min_size=side)
    kept = run()
    assert kept, "the cuts are medians: something must pass both"
    for hit in kept:
        assert hit.score >= cut and min(hit.box.xywh[2:]) >= side
    asked = {h.phrase for h in everything}
    for p in asked:
        assert sum(h.phrase == p for h in kept) <= 2
    # what is kept is the best of what passes, unchanged
    passing = [h for h in everything if h.score >= cut and min(h.box.xywh[2:]) >= side]
    for p in asked:
        want = sorted((h.score for h in passing if h.phrase == p), reverse=True)[:2]
        assert sorted((h.score for h in kept if h.phrase == p), reverse=True) == pytest.approx(want)


def test_top_k_keeps_the_best_boxes_of_each_phrase(tiny):
    everything = _grounder(tiny, "detr").detect(LANDSCAPE, ["person", "a cup"])
    people = [h for h in everything if h.phrase == "person"]
    assert len(people) > 3
    kept = _grounder(tiny, "detr", top_k=3).detect(LANDSCAPE, ["person", "a cup"])
    assert [h.phrase for h in kept] == ["person"] * 3
    assert [(h.box, h.score) for h in kept] == [(h.box, h.score) for h in people[:3]]


@pytest.mark.parametrize("name", ["owlv2", "detr"])
def test_nms_removes_duplicates_of_one_phrase_only(tiny, name):
    phrases = _phrases(name)[:2]
    raw = _grounder(tiny, name).detect(LANDSCAPE, phrases)
    dup = [(a, b) for i, a in enumerate(raw) for b in raw[i + 1 :] if a.phrase == b.phrase and _iou(a, b) > 0.5]
    assert dup, "the tiny model must produce overlapping boxes for this test to mean anything"
    kept = _grounder(tiny, name, nms_iou=0.5).detect(LANDSCAPE, phrases)
    assert len(kept) < len(raw)
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert a.phrase != b.phrase or _iou(a, b) <= 0.5
    # every dropped box overlaps a better kept box of its phrase
    kept_keys = {(h.box.xyxy, h.phrase) for h in kept}
    for h in raw:
        if (h.box.xyxy, h.phrase) not in kept_keys:
            assert any(k.phrase == h.phrase and k.score >= h.score and _iou(k, h) > 0.5 for k in kept)


@pytest.mark.parametrize("seed", range(5))
def test_nms_is_greedy_best_first(seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 80, (60, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (60, 2))], axis=1)
    scores = rng.uniform(0, 1, 60)
    keep = nms(boxes, scores, 0.4)
    assert list(scores[keep]) == sorted(scores[keep], reverse=True)
    iou = box_iou(boxes, boxes)
    assert all(iou[a, b] <= 0.4 for i, a in enumerate(keep) for b in keep[i + 1 :])
    for j in set(range(60)) - set(keep.tolist()):  # every dropped box overlaps a better kept one
        assert any(iou[k, j] > 0.4 and scores[k] >= scores[j] for k in keep)
    assert nms(boxes, scores, 0.4, limit=3).tolist() == keep[:3].tolist()
    assert sorted(nms(boxes, scores, 1.0).tolist()) == list(range(60))


def test_select_clips_and_suppresses_per_phrase_only():
    boxes = np.array([[-10, -5, 40, 30], [0, 0, 41, 31], [1, 1, 40, 30], [300, 170, 400, 260], [319.5, 10, 330, 40]])
    cands = Candidates(boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([0, 0, 1, 1, 1]))
    found = select(cands, ["a", "b"], (180, 320), Settings(threshold=0.0, nms_iou=0.5, min_size=1.0))
    assert [(h.phrase, h.box.xyxy) for h in found] == [
        ("a", (0.0, 0.0, 40.0, 30.0)),  # clipped; its duplicate of the same phrase is gone
        ("b", (1.0, 1.0, 40.0, 30.0)),  # overlaps "a" boxes but answers another phrase: kept
        ("b", (300.0, 170.0, 320.0, 180.0)),  # clipped to the image; the 0.5 px sliver is too small
    ]
    assert select(Candidates.empty(2), ["a", "b"], (180, 320), Settings()) == []


def _iou(a: GroundingBox, b: GroundingBox) -> float:
    return float(box_iou(a.box.xyxy, b.box.xyxy)[0, 0])


def test_nothing_found_keeps_the_best_score_for_the_message(tiny):
    g = _grounder(tiny, "owlv2", threshold=1.0)
    assert g.detect(LANDSCAPE, ["a cat", "a dog"]) == []
    assert set(g.last_scores) == {"a cat", "a dog"} and 0 < max(g.last_scores.values()) < 1
    err = nothing_found(g.name, ["a cat", "a dog"], g.last_scores, g.settings.threshold)
    assert isinstance(err, NotFoundError) and f"{max(g.last_scores.values()):.3f}" in str(err)


# -- Florence-2 -----------------------------------------------------------------------------------------
def _forcing(tok, text: str, probs: list[float]):
    """A logits processor that makes generation write ``text`` with the given token probabilities."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    probs = (probs + [0.9] * len(ids))[: len(ids)]

    class Force(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = min(input_ids.shape[1] - 1, len(ids) - 1)
            out = torch.full_like(scores, -float("inf"))
            out[:, ids[step]] = float(np.log(probs[step]))
            out[:, tok.unk_token_id] = float(np.log(1 - probs[step]))
            return out

    return ids, LogitsProcessorList([Force()])


GROUNDED = (
    "a cat<loc_100><loc_200><loc_300><loc_400>"
    "a dog<loc_500><loc_100><loc_900><loc_800><loc_50><loc_60><loc_450><loc_990>"
)


def _forced(g, image, phrases, text: str = GROUNDED, probs: list[float] | None = None):
    original = g.model.generate
    _, procs = _forcing(g.processor.tokenizer, text, probs or [0.6 + 0.03 * (i % 10) for i in range(60)])
    g.model.generate = lambda **kw: original(**kw, logits_processor=procs)
    try:
        return g.detect(image, phrases)
    finally:
        g.model.generate = original


@pytest.mark.parametrize("num_beams", [1, 2])
def test_florence_grounding_reads_location_tokens_in_pixels(tiny, num_beams):
    g = _grounder(tiny, "florence2", num_beams=num_beams, max_new_tokens=40)
    tok = g.processor.tokenizer
    probs = [0.6 + 0.03 * (i % 10) for i in range(60)]
    ids, _ = _forcing(tok, GROUNDED, probs)
    found = _forced(g, LANDSCAPE, ["a dog", "a cat"], probs=probs)
    w, h = 320, 180
    expect = {
        ("a cat", ((100.5) / 1000 * w, 200.5 / 1000 * h, 300.5 / 1000 * w, 400.5 / 1000 * h)),
        ("a dog", (500.5 / 1000 * w, 100.5 / 1000 * h, 900.5 / 1000 * w, 800.5 / 1000 * h)),
        ("a dog", (50.5 / 1000 * w, 60.5 / 1000 * h, 450.5 / 1000 * w, 990.5 / 1000 * h)),
    }
    assert {(f.phrase, tuple(round(v, 6) for v in f.box.xyxy)) for f in found} == {
        (p, tuple(round(v, 6) for v in b)) for p, b in expect
    }
    # the score: geometric mean of the four location tokens' probabilities
    loc_pos = [i for i, t in enumerate(ids) if tok.convert_ids_to_tokens(t).startswith("<loc_")]
    groups = [loc_pos[k : k + 4] for k in range(0, len(loc_pos), 4)]
    want = sorted(float(np.exp(np.mean(np.log([probs[i] for i in grp])))) for grp in groups)
    assert sorted(f.score for f in found) == pytest.approx(want, abs=1e-5)
    # the processor's own parser reads the same boxes (it rounds to whole pixels)
    parsed = g.processor.post_process_generation(
        tok.decode(ids, skip_special_tokens=False), task="<CAPTION_TO_PHRASE_GROUNDING>", image_size=(w, h)
    )["<CAPTION_TO_PHRASE_GROUNDING>"]
    for label, box in zip(parsed["labels"], parsed["bboxes"], strict=True):
        assert any(f.phrase == label and np.allclose(f.box.xyxy, box, atol=1.0) for f in found)


def test_florence_open_vocabulary_batches_one_prompt_per_phrase(tiny):
    g = _grounder(tiny, "florence2", task="open_vocabulary_detection", num_beams=1, max_new_tokens=40)
    text = "thing<loc_100><loc_200><loc_300><loc_400>"
    prompts: list[list[str]] = []
    processor = g.processor

    def call(**kw):
        prompts.append(list(kw["text"]))
        return processor(**kw)

    g.processor = _Proxy(processor, call)
    try:
        found = _forced(g, LANDSCAPE, ["a cat", "a dog"], text=text)
    finally:
        g.processor = processor
    assert prompts == [["<OPEN_VOCABULARY_DETECTION>a cat", "<OPEN_VOCABULARY_DETECTION>a dog"]]
    assert sorted(f.phrase for f in found) == ["a cat", "a dog"]  # one box per sequence, each its own phrase
    assert len({f.box.xyxy for f in found}) == 1


class _Proxy:
    """A processor stand-in that records calls and forwards everything to the real one."""

    def __init__(self, real, call):
        self._real, self._call = real, call

    def __call__(self, **kw):
        return self._call(**kw)

    def __getattr__(self, attr):
        return getattr(self._real, attr)


def test_florence_object_detection_keeps_the_asked_classes_and_skips_banned_phrases(tiny):
    g = _grounder(tiny, "florence2", task="OD", num_beams=1, max_new_tokens=40)
    text = "person<loc_10><loc_20><loc_300><loc_400>car<loc_500><loc_500><loc_900><loc_900>"
    found = _forced(g, LANDSCAPE, ["a person"], text=text)
    assert [f.phrase for f in found] == ["a person"]
    g = _grounder(tiny, "florence2", num_beams=1, max_new_tokens=40)
    text = "the image<loc_0><loc_0><loc_999><loc_999>a cat<loc_10><loc_20><loc_300><loc_400>"
    found = _forced(g, LANDSCAPE, ["a cat", "a dog"], text=text)
    assert [f.phrase for f in found] == ["a cat"]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_florence_runs_real_generation(tiny, num_beams):
    g = _grounder(tiny, "florence2", num_beams=num_beams, max_new_tokens=16)
    found = g.detect(LANDSCAPE, ["a cat", "a dog"])
    _inside(found, LANDSCAPE)
    assert set(g.last_scores) == {"a cat", "a dog"}


# -- errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("phrases", [[], [""], ["a cat", "   "], [3]])
def test_bad_phrases_are_prompt_errors(tiny, phrases):
    g = _grounder(tiny, "owlvit")
    with pytest.raises(PromptError):
        g.detect(LANDSCAPE, phrases)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((18, 32), np.uint8),
        np.zeros((18, 32, 4), np.uint8),
        np.zeros((18, 32, 3), np.float32),
        np.zeros((0, 32, 3), np.uint8),
        [[0, 0, 0]],
    ],
    ids=["gray", "rgba", "float", "empty", "list"],
)
def test_bad_images_are_prompt_errors(tiny, image):
    g = _grounder(tiny, "owlvit")
    with pytest.raises(PromptError, match="RGB uint8"):
        g.detect(image, ["a cat"])


@pytest.mark.parametrize(
    ("name", "folder_of", "found"),
    [
        ("owlv2", "owlvit", "owlvit"),
        ("grounding-dino", "mm-grounding-dino", "mm-grounding-dino"),
        ("rt-detr", "detr", "detr"),
    ],
)
def test_a_folder_of_another_architecture_is_a_backend_error(tiny, name, folder_of, found):
    with pytest.raises(BackendError, match=f"model_type '{found}'") as info:
        registry.resolve("grounder", f"{name}:{tiny(folder_of)}", device="cpu")
    assert not isinstance(info.value, CheckpointError)
    expected = {"owlv2": "'owlv2'", "grounding-dino": "'grounding-dino'", "rt-detr": "'rt_detr'"}[name]
    assert expected in str(info.value)


def test_missing_folder_and_unreachable_hub_id_are_checkpoint_errors(tmp_path, monkeypatch):
    missing = tmp_path / "no_such_model"
    with pytest.raises(CheckpointError, match="folder not found") as info:
        Owlv2Grounder(missing, device="cpu")
    assert str(missing) in str(info.value) and "save_pretrained" in str(info.value.hint)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        Owlv2Grounder(tmp_path / "empty", device="cpu")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with pytest.raises(CheckpointError) as info:
        Owlv2Grounder("nobody-here/no-such-owl", device="cpu", local_files_only=True)
    assert info.value.given == "nobody-here/no-such-owl"
    assert "huggingface-cli download nobody-here/no-such-owl" in str(info.value.hint)


def test_a_timm_backbone_needs_timm(tmp_path, monkeypatch):
    from transformers import DetrConfig

    DetrConfig().save_pretrained(tmp_path / "detr_timm")  # facebook/detr-resnet-50's timm ResNet
    monkeypatch.setitem(sys.modules, "timm", None)  # as if timm were not installed
    with pytest.raises(MissingDependencyError, match="timm"):
        registry.resolve("grounder", f"detr:{tmp_path / 'detr_timm'}", device="cpu")


def test_coco_detectors_answer_class_names_only(tiny):
    g = _grounder(tiny, "rt-detr")
    with pytest.raises(PromptError, match="class names only") as info:
        g.detect(LANDSCAPE, ["people", "the blue bottle"])
    assert "'bottle'" in str(info.value.hint) and "owlv2" in str(info.value.hint)
    found = g.detect(LANDSCAPE, ["people", "bikes", "a car"])
    assert {f.phrase for f in found} <= {"people", "bikes", "a car"}


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 1.5}, {"nms_iou": -0.1}, {"top_k": 0}, {"min_size": -1}, {"threshold": "high"}],
)
def test_bad_options_are_backend_errors(tiny, kwargs):
    with pytest.raises(BackendError):
        _grounder(tiny, "owlvit", **kwargs)


def test_closed_grounder_and_bad_florence_task(tiny):
    g = _grounder(tiny, "owlvit")
    g.close()
    with pytest.raises(BackendError, match="closed"):
        g.detect(LANDSCAPE, ["a cat"])
    with pytest.raises(BackendError, match="Florence-2 task"):
        Florence2Grounder(tiny("florence2"), task="<CAPTION>", device="cpu")


# -- the registry and the protocol -------------------------------------------------------------------
#: registered grounders that are not transformers models (resolved by their default spec: no tiny folder)
OTHERS = {"mediapipe-face"}


def test_every_registered_grounder_satisfies_the_protocol(tiny):
    ours = [n for n in registry.names("grounder") if str(registry.get("grounder", n).target).startswith(PACKAGE)]
    assert set(ours) == set(BUILDERS), "every grounder of this package has a tiny builder"
    assert set(registry.names("grounder")) == set(BUILDERS) | OTHERS, "a new grounder needs its check here"
    for name in ours:
        g = _grounder(tiny, name)
        assert isinstance(g, Grounder)
        assert registry.resolve("grounder", g) is g
        assert g.name == f"{name}:{tiny(name)}" and g.model_id == str(tiny(name))
        g.close()
    for name in sorted(OTHERS):
        with registry.resolve("grounder", name) as other:
            assert isinstance(other, Grounder), name
            assert registry.resolve("grounder", other) is other
    assert registry.get("grounder", "owl").name == "owlv2"


@pytest.mark.parametrize(
    "module", ["postprocess", "coco", "florence2", "grounding_dino", "__init__", "annotator_widgets.backends._hf"]
)
def test_docstring_examples(module):
    name = module if module.startswith("annotator_widgets") else PACKAGE + module
    mod = importlib.import_module(name.removesuffix(".__init__"))
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
