"""Tiny randomly initialised grounding models, saved like the real ones and loaded through the real paths.

Each ``build_tiny_*`` writes a transformers model and its processor (with a tokenizer built in
memory: no download) into a folder with ``save_pretrained``; the folder loads offline through
``annotator_widgets.backends._hf.load_pretrained`` exactly as a downloaded checkpoint does. The
models have a few thousand to a few hundred thousand parameters and run in milliseconds; their
outputs are random, so tests assert plumbing (pixel mapping, phrase mapping, selection), not content.

Traps these builders avoid (RESEARCH.md, "Language models offline"):

* OWL treats a query whose first token id is 0 as padding: special tokens go at the end of the
  toy vocabularies; OWL's ``projection_dim`` equals the text width and the tokenizer keeps
  ``model_max_length=16``.
* Grounding DINO needs at least two decoder layers and a ``d_model`` divisible by 32 (GroupNorm).
* Florence-2 needs ``<loc_0>``..``<loc_999>`` tokens, a ``post_processor_config`` and
  ``image_processor.image_seq_length`` equal to the vision tokens ((image / 8) ** 2 + 1 here).
* DETR's default config asks for a timm backbone: a native ResNet config is used instead.

Random heads give degenerate outputs: OWL boxes thrown to the image corners, every DETR query the
same box and class. The builders re-draw a few head weights (seeded) so boxes lie near their
patches, vary in size and overlap, and labels differ between queries.

Example:
    >>> from tests.support.vlm import build_tiny_owlv2  # doctest: +SKIP
    >>> folder = build_tiny_owlv2(tmp_path / "owlv2")  # doctest: +SKIP
    >>> Owlv2Grounder(folder, device="cpu", dtype="float32").detect(image, ["a cat"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotator_widgets.backends._optional import require

__all__ = [
    "BUILDERS",
    "build_tiny_detr",
    "build_tiny_florence2",
    "build_tiny_grounding_dino",
    "build_tiny_mm_grounding_dino",
    "build_tiny_owlv2",
    "build_tiny_owlvit",
    "build_tiny_rt_detr",
    "tiny_bart_tokenizer",
    "tiny_bert_tokenizer",
    "tiny_clip_tokenizer",
]

_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Florence-2's task and structure tokens besides <loc_N> (as in the released tokenizer)
FLORENCE_EXTRA_TOKENS = (
    "<od>",
    "</od>",
    "<ocr>",
    "</ocr>",
    "<poly>",
    "</poly>",
    "<sep>",
    "<grounding>",
    "</grounding>",
    "<seg>",
    "</seg>",
)


def _save(model: Any, processor: Any, directory: str | os.PathLike[str]) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _spread(model: Any, stds: dict[str, float], seed: int) -> None:
    """Re-draw the parameters whose names contain a key of ``stds`` with that spread (seeded), so queries differ."""
    torch = require("torch")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            std = next((v for k, v in stds.items() if k in name), None)
            if std is not None:
                param.copy_(torch.randn(param.shape, generator=gen) * std)


# -- tokenizers ------------------------------------------------------------------------------------
def tiny_clip_tokenizer() -> Any:
    """A character-level CLIP BPE tokenizer (OWL): letters, digits, '.', specials last, 16 tokens."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    for c in _LETTERS + ".":
        vocab[c] = len(vocab)
    for c in _LETTERS + ".":
        vocab[c + "</w>"] = len(vocab)
    for s in ("<|startoftext|>", "<|endoftext|>"):
        vocab[s] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def tiny_bert_tokenizer() -> Any:
    """A character-level WordPiece tokenizer (Grounding DINO's BERT): letters, digits, '.'."""
    from transformers import BertTokenizer

    vocab = {s: i for i, s in enumerate(("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."))}
    for c in _LETTERS:
        vocab[c] = len(vocab)
    for c in _LETTERS:
        vocab["##" + c] = len(vocab)
    return BertTokenizer(vocab=vocab)


def tiny_bart_tokenizer() -> Any:
    """A byte-level BART tokenizer (Florence-2) with ``<image>``, ``<loc_0..999>`` and task tokens."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import BartTokenizer

    vocab = {s: i for i, s in enumerate(("<s>", "<pad>", "</s>", "<unk>"))}
    for ch in sorted(ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tok = BartTokenizer(vocab=vocab, merges=[], extra_special_tokens={"image_token": "<image>"})
    tok.add_tokens([f"<loc_{i}>" for i in range(1000)] + list(FLORENCE_EXTRA_TOKENS))
    return tok


# -- models ----------------------------------------------------------------------------------------
def _owl(directory: str | os.PathLike[str], v2: bool, seed: int) -> Path:
    torch = require("torch")
    tf = require("transformers")

    tok = tiny_clip_tokenizer()
    text = {
        "vocab_size": len(tok),
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 16,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    vision = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 64,
        "patch_size": 16,
    }
    torch.manual_seed(seed)
    if v2:
        config = tf.Owlv2Config(text_config=text, vision_config=vision, projection_dim=16)
        model = tf.Owlv2ForObjectDetection(config).eval()
        images = tf.Owlv2ImageProcessor(size={"height": 64, "width": 64})
        processor = tf.Owlv2Processor(image_processor=images, tokenizer=tok)
    else:
        config = tf.OwlViTConfig(text_config=text, vision_config=vision, projection_dim=16)
        model = tf.OwlViTForObjectDetection(config).eval()
        images = tf.OwlViTImageProcessor(size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64})
        processor = tf.OwlViTProcessor(image_processor=images, tokenizer=tok)
    # random box heads throw boxes to the image corners: keep them near their patches, varied;
    # random text/class projections let one query win every patch: spread them
    _spread(model, {"box_head.dense2.weight": 0.05, "text_projection": 1.0, "class_head.dense0": 1.0}, seed)
    return _save(model, processor, directory)


def build_tiny_owlv2(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """OWLv2: 64 px (4x4 patches -> 16 boxes), 16-wide one-layer towers; the processor pads to a square."""
    return _owl(directory, True, seed)


def build_tiny_owlvit(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """OWL-ViT: as :func:`build_tiny_owlv2`; the processor resizes without padding."""
    return _owl(directory, False, seed)


def _dino(directory: str | os.PathLike[str], mm: bool, seed: int) -> Path:
    torch = require("torch")
    tf = require("transformers")

    tok = tiny_bert_tokenizer()
    kwargs = {
        "backbone_config": {
            "model_type": "swin",
            "embed_dim": 8,
            "depths": [1, 1, 1, 1],
            "num_heads": [1, 1, 1, 1],
            "window_size": 4,
            "image_size": 64,
            "out_indices": [2, 3, 4],
        },
        "text_config": {
            "model_type": "bert",
            "vocab_size": len(tok),
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "max_position_embeddings": 64,
        },
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 2,
        "encoder_ffn_dim": 32,
        "decoder_ffn_dim": 32,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "num_queries": 20,
        "max_text_len": 32,
        "encoder_n_points": 2,
        "decoder_n_points": 2,
    }
    torch.manual_seed(seed)
    if mm:
        model = tf.MMGroundingDinoForObjectDetection(tf.MMGroundingDinoConfig(**kwargs)).eval()
    else:
        model = tf.GroundingDinoForObjectDetection(tf.GroundingDinoConfig(**kwargs)).eval()
    images = tf.GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    return _save(model, tf.GroundingDinoProcessor(image_processor=images, tokenizer=tok), directory)


def build_tiny_grounding_dino(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Grounding DINO: Swin 8-wide, BERT 32-wide, d_model 32, 2 decoder layers, 20 queries, 32 text tokens."""
    return _dino(directory, False, seed)


def build_tiny_mm_grounding_dino(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """MM-Grounding-DINO: the same sizes as :func:`build_tiny_grounding_dino`."""
    return _dino(directory, True, seed)


#: what Florence2Processor parses (the released processor's post_processor_config, abridged)
FLORENCE_POST_PROCESSOR = {
    "ocr": {"AREA_THRESHOLD": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
    "pure_text": {},
    "description_with_bboxes": {},
    "description_with_polygons": {},
    "polygons": {},
    "bboxes": {},
    "description_with_bboxes_or_polygons": {},
}


def build_tiny_florence2(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Florence-2 (native): a 2-stage 16-wide DaViT at 32 px (17 image tokens) and a 16-wide 1+1-layer BART."""
    torch = require("torch")
    tf = require("transformers")

    tok = tiny_bart_tokenizer()
    size = 32
    config = tf.Florence2Config(
        vision_config={
            "depths": [1, 1],
            "patch_size": [7, 3],
            "patch_stride": [4, 2],
            "patch_padding": [3, 1],
            "patch_prenorm": [False, True],
            "embed_dim": [16, 16],
            "num_heads": [1, 1],
            "num_groups": [1, 1],
            "window_size": 2,
            "projection_dim": 16,
            "max_position_embeddings": 20,
            "max_temporal_embeddings": 2,
        },
        text_config={
            "model_type": "bart",
            "vocab_size": len(tok),
            "d_model": 16,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_attention_heads": 2,
            "decoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "decoder_ffn_dim": 32,
            "max_position_embeddings": 256,
            "pad_token_id": tok.pad_token_id,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "decoder_start_token_id": tok.eos_token_id,
        },
        image_token_id=tok.image_token_id,
    )
    torch.manual_seed(seed)
    model = tf.Florence2ForConditionalGeneration(config).eval()
    images = tf.CLIPImageProcessor(
        size={"height": size, "width": size}, crop_size={"height": size, "width": size}, do_center_crop=False
    )
    images.image_seq_length = (size // 8) ** 2 + 1
    processor = tf.Florence2Processor(
        image_processor=images, tokenizer=tok, post_processor_config=FLORENCE_POST_PROCESSOR
    )
    return _save(model, processor, directory)


DETR_LABELS = {0: "N/A", 1: "person", 2: "bicycle", 3: "car", 4: "cup", 5: "bottle"}
RT_DETR_LABELS = {0: "person", 1: "bicycle", 2: "car", 3: "cup", 4: "bottle"}


def build_tiny_detr(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """DETR with a native 8-wide ResNet (no timm), d_model 16, 1+1 layers, 12 queries, 6 labels (one N/A)."""
    torch = require("torch")
    tf = require("transformers")

    torch.manual_seed(seed)
    config = tf.DetrConfig(
        use_timm_backbone=False,
        backbone_config={
            "model_type": "resnet",
            "embedding_size": 8,
            "hidden_sizes": [8, 8, 8, 8],
            "depths": [1, 1, 1, 1],
            "layer_type": "basic",
            "out_features": ["stage4"],
        },
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=12,
        id2label=DETR_LABELS,
        label2id={v: k for k, v in DETR_LABELS.items()},
    )
    model = tf.DetrForObjectDetection(config).eval()
    _spread(
        model,
        {
            "query_position_embeddings": 3.0,
            "encoder_attn.q_proj.weight": 2.0,
            "encoder_attn.k_proj.weight": 2.0,
            "bbox_predictor": 0.35,
            "class_labels_classifier": 0.35,
        },
        seed,
    )
    images = tf.DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    return _save(model, images, directory)


def build_tiny_rt_detr(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """RT-DETR with an 8-wide ResNet, d_model 16, 1+1 layers, 12 queries, 5 labels, 64 px."""
    torch = require("torch")
    tf = require("transformers")

    torch.manual_seed(seed)
    config = tf.RTDetrConfig(
        backbone_config={
            "model_type": "rt_detr_resnet",
            "embedding_size": 8,
            "hidden_sizes": [8, 8, 8, 8],
            "depths": [1, 1, 1, 1],
            "layer_type": "basic",
            "out_indices": [2, 3, 4],
        },
        encoder_hidden_dim=16,
        encoder_in_channels=[8, 8, 8],
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=12,
        decoder_in_channels=[16, 16, 16],
        decoder_n_points=2,
        id2label=RT_DETR_LABELS,
        label2id={v: k for k, v in RT_DETR_LABELS.items()},
    )
    model = tf.RTDetrForObjectDetection(config).eval()
    _spread(model, {"decoder.class_embed": 1.0}, seed)
    images = tf.RTDetrImageProcessor(size={"height": 64, "width": 64})
    return _save(model, images, directory)


#: part name -> builder
BUILDERS: dict[str, Callable[..., Path]] = {
    "owlv2": build_tiny_owlv2,
    "owlvit": build_tiny_owlvit,
    "grounding-dino": build_tiny_grounding_dino,
    "mm-grounding-dino": build_tiny_mm_grounding_dino,
    "florence2": build_tiny_florence2,
    "detr": build_tiny_detr,
    "rt-detr": build_tiny_rt_detr,
}
