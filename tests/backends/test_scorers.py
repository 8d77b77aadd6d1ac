"""Mask scorers (CLIP, SigLIP, SigLIP 2) on tiny random models loaded through the package's own code,
compared with the plain transformers forward pass; and the masked-crop helper they are fed with."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import transformers

from annotator_widgets import crops as crops_module
from annotator_widgets import registry
from annotator_widgets.backends import MaskScorer
from annotator_widgets.backends.scorers import ClipScorer, Siglip2Scorer, SiglipScorer
from annotator_widgets.crops import MEAN_RGB, crop_box, masked_crop, masked_crops
from annotator_widgets.errors import BackendError, CheckpointError, PromptError
from annotator_widgets.rle import RLE
from tests.support.vlm_text import build_tiny_clip, build_tiny_siglip, build_tiny_siglip2

FAMILIES = {
    "clip": (ClipScorer, build_tiny_clip),
    "siglip": (SiglipScorer, build_tiny_siglip),
    "siglip2": (Siglip2Scorer, build_tiny_siglip2),
}
PHRASES = ["red shoes", "a person riding a bike"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return {name: build(tmp_path_factory.mktemp(name)) for name, (_, build) in FAMILIES.items()}


@pytest.fixture(scope="module")
def scorers(folders):
    made = {name: cls(folders[name], device="cpu") for name, (cls, _) in FAMILIES.items()}
    yield made
    for scorer in made.values():
        scorer.close()


@pytest.fixture(scope="module")
def crops():
    rng = np.random.default_rng(3)
    return [
        rng.integers(0, 256, (40, 50, 3), dtype=np.uint8),
        rng.integers(0, 256, (20, 90, 3), dtype=np.uint8),
        np.full((8, 8, 3), 200, np.uint8),
    ]


def _raw_logits(folder, name, crops, texts):
    """``logits_per_image`` of the model's own forward pass, inputs prepared as its docs show."""
    model = transformers.AutoModel.from_pretrained(folder).eval()
    processor = transformers.AutoProcessor.from_pretrained(folder)
    if name == "clip":
        inputs = processor(text=texts, images=crops, padding=True, return_tensors="pt")
    elif name == "siglip":
        inputs = processor(text=texts, images=crops, padding="max_length", return_tensors="pt")
    else:  # the processor's call defaults (16 px patches, 256 of them) override the tiny image processor's
        inputs = processor(
            text=texts, images=crops, padding="max_length", max_num_patches=16, patch_size=8, return_tensors="pt"
        )
    with torch.inference_mode():
        out = model(**inputs)
    return out, model


# -- scorers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAMILIES)
def test_embeddings_are_unit_norm_rows_that_depend_on_the_input(scorers, crops, name):
    scorer = scorers[name]
    images = scorer.embed_images(crops)
    texts = scorer.embed_text(PHRASES)
    assert images.shape == (3, scorer.dim) and texts.shape == (2, scorer.dim)
    assert images.dtype == np.float32 and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    # different crops and phrases give different rows (a truncated template would make phrases equal)
    assert np.abs(images[0] - images[1]).max() > 1e-3
    assert np.abs(texts[0] - texts[1]).max() > 1e-3


@pytest.mark.parametrize("name", FAMILIES)
def test_embeddings_and_scores_match_the_models_own_forward_pass(scorers, folders, crops, name):
    scorer = scorers[name]
    texts = [scorer.template.format(p) for p in PHRASES]
    raw, model = _raw_logits(folders[name], name, crops, texts)
    np.testing.assert_allclose(scorer.embed_images(crops), raw.image_embeds.numpy(), atol=1e-5)
    np.testing.assert_allclose(scorer.embed_text(PHRASES), raw.text_embeds.numpy(), atol=1e-5)
    scores = scorer.score(scorer.embed_images(crops), scorer.embed_text(PHRASES))
    assert scores.shape == (3, 2) and scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()
    logits = raw.logits_per_image.numpy().astype(np.float64)
    if name == "clip":  # softmax over the phrases and the mean "no match" embedding
        no_match, _ = _raw_logits(folders[name], name, crops[:1], list(scorer.no_match))
        mean = no_match.text_embeds.numpy().mean(axis=0)
        mean /= np.linalg.norm(mean)
        extra = scorer.logit_scale * (raw.image_embeds.numpy() @ mean)[:, None]
        full = np.concatenate([logits, extra], axis=1)
        expected = np.exp(full - full.max(axis=1, keepdims=True))
        expected = (expected / expected.sum(axis=1, keepdims=True))[:, :2]
    else:
        expected = 1 / (1 + np.exp(-logits))
        assert scorer.logit_bias == pytest.approx(float(model.logit_bias.detach()))
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_bfloat16_weights_give_float32_unit_rows_close_to_float32(scorers, folders, crops):
    scorer = ClipScorer(folders["clip"], device="cpu", dtype="bfloat16")
    assert scorer.dtype == torch.bfloat16 and next(scorer._model.parameters()).dtype == torch.bfloat16
    images = scorer.embed_images(crops)
    assert images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    agreement = (images * scorers["clip"].embed_images(crops)).sum(axis=1)
    assert (agreement > 0.98).all()


def test_clip_leaves_room_for_no_match_and_gives_one_phrase_a_real_score(scorers, crops):
    scorer = scorers["clip"]
    images, texts = scorer.embed_images(crops), scorer.embed_text(PHRASES)
    two = scorer.score(images, texts)
    one = scorer.score(images, texts[:1])
    assert (two.sum(axis=1) < 1).all()
    assert one.shape == (3, 1) and ((one > 0) & (one < 1)).all()
    # softmax: a competing phrase lowers the first phrase's score
    assert (two[:, 0] < one[:, 0]).all()


def test_clip_without_no_match_is_the_plain_softmax(folders, crops):
    scorer = ClipScorer(folders["clip"], no_match=(), device="cpu")
    images, texts = scorer.embed_images(crops), scorer.embed_text(PHRASES)
    np.testing.assert_allclose(scorer.score(images, texts).sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(PromptError, match="one phrase"):
        scorer.score(images, texts[:1])


@pytest.mark.parametrize("name", ["siglip", "siglip2"])
def test_siglip_scores_each_pair_on_its_own(scorers, crops, name):
    scorer = scorers[name]
    images, texts = scorer.embed_images(crops), scorer.embed_text(PHRASES)
    np.testing.assert_allclose(scorer.score(images, texts)[:, :1], scorer.score(images, texts[:1]), atol=1e-7)


@pytest.mark.parametrize("name", FAMILIES)
def test_batches_give_the_same_embeddings(scorers, crops, name):
    scorer = scorers[name]
    whole = scorer.embed_images(crops * 2)
    phrases = [*PHRASES, "a dog", "the street"]
    texts = scorer.embed_text(phrases)
    scorer.batch_size = 2
    try:
        np.testing.assert_allclose(scorer.embed_images(crops * 2), whole, atol=1e-5)
        np.testing.assert_allclose(scorer.embed_text(phrases), texts, atol=1e-5)
    finally:
        scorer.batch_size = 32
    np.testing.assert_allclose(whole[:3], whole[3:], atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_tiny_crops_are_read_as_height_width_channels(scorers, name):
    # (3, 5, 3) or (4, 4, 3) look channels-first to transformers unless told
    scorer = scorers[name]
    tiny = [np.full((3, 5, 3), 10, np.uint8), np.full((4, 4, 3), 250, np.uint8), np.zeros((1, 1, 3), np.uint8)]
    out = scorer.embed_images(tiny)
    assert out.shape == (3, scorer.dim) and np.isfinite(out).all()


@pytest.mark.parametrize("name", FAMILIES)
def test_empty_inputs_give_empty_arrays(scorers, name):
    scorer = scorers[name]
    assert scorer.embed_images([]).shape == (0, scorer.dim)
    assert scorer.embed_text([]).shape == (0, scorer.dim)
    assert scorer.score(np.zeros((0, scorer.dim)), scorer.embed_text(PHRASES)).shape == (0, 2)
    assert scorer.score(scorer.embed_images([np.zeros((4, 4, 3), np.uint8)]), np.zeros((0, scorer.dim))).shape == (
        1,
        0,
    )


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((0, 8, 3), np.uint8),
    ],
    ids=["grey", "rgba", "float", "empty"],
)
def test_non_rgb_crops_are_prompt_errors(scorers, bad):
    with pytest.raises(PromptError, match="RGB uint8"):
        scorers["clip"].embed_images([np.zeros((8, 8, 3), np.uint8), bad])


@pytest.mark.parametrize(
    "phrases", [[""], ["red shoes", "   "], [None], "red shoes"], ids=["empty", "blank", "none", "str"]
)
def test_bad_phrases_are_prompt_errors(scorers, phrases):
    with pytest.raises(PromptError):
        scorers["siglip"].embed_text(phrases)


def test_embeddings_of_different_sizes_or_shapes_are_prompt_errors(scorers, crops):
    clip, siglip = scorers["clip"], scorers["siglip"]
    with pytest.raises(PromptError, match="different sizes"):
        clip.score(clip.embed_images(crops), siglip.embed_text(PHRASES))
    with pytest.raises(PromptError, match="2-D"):
        clip.score(clip.embed_images(crops)[0], clip.embed_text(PHRASES))


def test_a_folder_of_another_architecture_names_its_model_type(folders):
    with pytest.raises(BackendError, match="model_type 'siglip'") as err:
        ClipScorer(folders["siglip"], device="cpu")
    assert "clip" in str(err.value)
    with pytest.raises(BackendError, match="model_type 'clip'"):
        SiglipScorer(folders["clip"], device="cpu")


def test_siglip2_accepts_both_siglip_architectures(folders, crops):
    # the fixed-resolution SigLIP 2 checkpoints are model_type "siglip", the NaFlex ones "siglip2"
    scorer = registry.resolve("scorer", f"siglip2:{folders['siglip']}", device="cpu")
    assert isinstance(scorer, Siglip2Scorer) and scorer.embed_images(crops).shape == (3, scorer.dim)


def test_missing_folder_and_unknown_hub_id_are_checkpoint_errors_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="folder not found") as err:
        ClipScorer(tmp_path / "nowhere", device="cpu")
    assert "save_pretrained" in str(err.value)
    with pytest.raises(CheckpointError, match="hf download no-such-org/no-such-clip") as err:
        ClipScorer("no-such-org/no-such-clip", device="cpu", local_files_only=True)
    assert "HF_HUB_OFFLINE" in str(err.value)


def test_registered_scorers_satisfy_the_protocol(folders):
    assert {"clip", "siglip", "siglip2"} <= set(registry.names("scorer"))
    for name in FAMILIES:
        scorer = registry.resolve("scorer", f"{name}:{folders[name]}", device="cpu")
        assert isinstance(scorer, MaskScorer) and scorer.name == f"{name}:{folders[name]}"
        scorer.close()
        with pytest.raises(BackendError, match="closed"):
            scorer.embed_text(PHRASES)


def test_match_scores_crops_against_phrases_in_one_call(scorers, crops):
    scorer = scorers["siglip"]
    expected = scorer.score(scorer.embed_images(crops), scorer.embed_text(PHRASES))
    np.testing.assert_allclose(scorer.match(crops, PHRASES), expected)


# -- masked crops ---------------------------------------------------------------------------------
@pytest.fixture
def scene():
    """A textured 60x100 (H x W, not square) frame and a disc-shaped mask in it."""
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (60, 100, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:60, :100]
    mask = (xx - 62) ** 2 / 14**2 + (yy - 30) ** 2 / 9**2 <= 1  # an ellipse, 29 x 19 px
    return frame, mask


def _tight(mask):
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("background", ["black", "mean", (1, 2, 3)])
def test_masked_crop_keeps_the_mask_at_its_box_and_fills_the_rest(scene, background):
    frame, mask = scene
    x0, y0, x1, y1 = _tight(mask)
    assert crop_box(mask, margin=0, square=False) == (x0, y0, x1, y1)
    crop = masked_crop(frame, mask, margin=0, square=False, background=background)
    assert crop.shape == (y1 - y0, x1 - x0, 3)
    inside = mask[y0:y1, x0:x1]
    np.testing.assert_array_equal(crop[inside], frame[y0:y1, x0:x1][inside])
    fill = {"black": (0, 0, 0), "mean": MEAN_RGB}.get(background, background)
    assert (crop[~inside] == np.array(fill, np.uint8)).all()


def test_a_square_crop_with_margin_is_centred_on_the_box_and_pixels_sit_at_their_coordinates(scene):
    frame, mask = scene
    tx0, ty0, tx1, ty1 = _tight(mask)
    x0, y0, x1, y1 = crop_box(mask, margin=0.2)
    assert x1 - x0 == y1 - y0 == (tx1 - tx0) + 2 * round(0.2 * (tx1 - tx0))
    assert x0 < tx0 and y0 < ty0 and x1 > tx1 and y1 > ty1
    assert abs((x0 + x1) - (tx0 + tx1)) <= 1 and abs((y0 + y1) - (ty0 + ty1)) <= 1
    crop = masked_crop(frame, mask, margin=0.2, background="black")
    ys, xs = np.nonzero(mask)
    np.testing.assert_array_equal(crop[ys - y0, xs - x0], frame[ys, xs])
    assert crop.sum(axis=2).astype(bool).sum() == mask.sum()  # nothing else kept (frame has no black pixels)


def test_a_crop_past_the_frame_edge_is_filled_there(scene):
    frame, _ = scene
    mask = np.zeros(frame.shape[:2], bool)
    mask[50:60, 0:30] = True  # bottom-left corner: the square crop reaches below the frame
    x0, y0, _, y1 = crop_box(mask, margin=0.1)
    assert y1 > 60 and x0 < 0
    crop = masked_crop(frame, mask, margin=0.1, background="mean")
    np.testing.assert_array_equal(crop[50 - y0 : 60 - y0, -x0 : 30 - x0], frame[50:60, 0:30])
    assert (crop[60 - y0 :] == MEAN_RGB).all() and (crop[:, :-x0] == MEAN_RGB).all()


def test_blur_keeps_the_object_sharp_and_the_background_without_detail(scene):
    frame, mask = scene
    x0, y0, x1, y1 = crop_box(mask, margin=0.3)
    crop = masked_crop(frame, mask, margin=0.3, background="blur")
    ys, xs = np.nonzero(mask)
    np.testing.assert_array_equal(crop[ys - y0, xs - x0], frame[ys, xs])
    outside = ~np.pad(mask, 40)[y0 + 40 : y1 + 40, x0 + 40 : x1 + 40]
    assert crop[outside].std() < 0.3 * frame.std()  # random texture averaged out
    flat = np.full_like(frame, 90)
    assert (masked_crop(flat, mask, background="blur") == 90).all()


def test_size_resizes_the_longer_side(scene):
    frame, mask = scene
    assert masked_crop(frame, mask, size=224).shape == (224, 224, 3)
    crop = masked_crop(frame, mask, size=64, square=False)
    assert max(crop.shape[:2]) == 64 and crop.shape[1] > crop.shape[0]


def test_masked_crops_takes_rles_and_several_masks(scene):
    frame, mask = scene
    other = np.zeros_like(mask)
    other[5:15, 5:25] = True
    out = masked_crops(frame, [RLE.from_mask(mask), other], size=32)
    assert len(out) == 2 and all(c.shape == (32, 32, 3) for c in out)
    np.testing.assert_array_equal(out[0], masked_crop(frame, mask, size=32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask": np.zeros((60, 100), bool)}, "empty"),
        ({"mask": np.ones((30, 100), bool)}, "not the frame's size"),
        ({"frame": np.zeros((60, 100), np.uint8)}, "RGB uint8"),
        ({"background": "pink"}, "unknown background"),
        ({"background": (0, 0, 300)}, "unknown background"),
        ({"margin": -0.1}, "margin"),
        ({"size": 0}, "size"),
    ],
)
def test_bad_crop_input_is_a_prompt_error(scene, kwargs, match):
    frame, mask = scene
    args = {"frame": frame, "mask": mask, **kwargs}
    with pytest.raises(PromptError, match=match):
        masked_crop(args.pop("frame"), args.pop("mask"), **args)


def test_crops_doc_examples_run():
    result = doctest.testmod(crops_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", FAMILIES)
def test_a_torchvision_image_processor_prepares_the_pixels_on_the_models_device(scorers, crops, name, monkeypatch):
    scorer = scorers[name]
    processor = scorer._images
    assert processor.backend == "torchvision"  # transformers 5's default image processors
    seen = []
    real = type(processor).__call__

    def spy(self, *a, **kw):
        seen.append(kw.get("device"))
        return real(self, *a, **kw)

    monkeypatch.setattr(type(processor), "__call__", spy)
    scorer.embed_images(crops)
    assert seen and all(str(d) == str(scorer.device) for d in seen)  # uint8 crops go to the device, not float pixels
