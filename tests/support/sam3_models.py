"""A tiny randomly initialised SAM 3 video model, saved like ``facebook/sam3`` and loaded through the real paths.

:func:`build_tiny_sam3` writes a ``sam3_video`` folder (``Sam3VideoModel`` weights and config plus a
``Sam3VideoProcessor`` with an in-memory ``CLIPTokenizer``): ~3 M parameters, 56 px input, a
one-layer ViT, CLIP text encoder and DETR, and a SAM2-style tracker with 128 channels (the memory
encoder's 64 channels are hard-coded, so the tracker width must be a multiple of 64 above 64).
``Sam3VideoModel`` reads it for text prompts and ``Sam3TrackerVideoModel`` reads the same folder
for point / box / mask prompts, as with the released checkpoint.

The config keeps the released detection defaults (0.5 detection, 0.7 new-instance threshold,
hotstart 15), at which random weights find nothing; tests pass :data:`TINY_OPTIONS` to detect.
Random weights would also make every tracked mask empty, so the builder shifts the tracker's
object-score bias (objects present) and mask-hypernetwork bias (masks cover part of the frame
and depend on memory), as :mod:`tests.support.models` does for SAM2.

Example:
    >>> from tests.support.sam3_models import TINY_OPTIONS, build_tiny_sam3  # doctest: +SKIP
    >>> folder = build_tiny_sam3(tmp_path / "sam3")  # doctest: +SKIP
    >>> seg = Sam3ConceptSegmenter(folder, device="cpu", **TINY_OPTIONS)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from annotator_widgets.backends._optional import require

__all__ = ["TINY_OPTIONS", "build_tiny_sam3", "tiny_clip_tokenizer"]

#: Concept-segmenter options at which the tiny random model detects: every query is an instance
TINY_OPTIONS: dict[str, Any] = {"score_threshold": 0.0, "new_detection_threshold": 0.0, "hotstart_delay": 0}

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tiny_clip_tokenizer() -> Any:
    """A character-level ``CLIPTokenizer`` built in memory (letters; special tokens at the end of the vocab)."""
    transformers = require("transformers")
    vocab: dict[str, int] = {"!": 0}
    for ch in _LETTERS:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return transformers.CLIPTokenizer(
        vocab=vocab,
        merges=[],
        unk_token="<|endoftext|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def build_tiny_sam3(
    directory: str | os.PathLike[str],
    *,
    seed: int = 0,
    image_size: int = 56,
    num_queries: int = 2,
    score_bias: float = 0.5,
    mask_bias: float = 0.12,
    **config: Any,
) -> Path:
    """Write a tiny ``sam3_video`` model and its processor into ``directory`` (deterministic for a seed).

    Args:
        directory: Target folder (created if needed).
        seed: Seed of the random initialisation.
        image_size: Model input size (a multiple of the 14 px patch).
        num_queries: Detector queries: each phrase finds at most this many instances per frame.
        score_bias: Added to the tracker's object-score head bias (positive: objects present).
        mask_bias: Added to the tracker's mask hypernetworks' output bias.
        **config: Other ``Sam3VideoConfig`` fields (thresholds, hotstart, ...).

    Returns:
        ``directory`` as a Path.
    """
    torch = require("torch")
    transformers = require("transformers")
    size, patch, hidden = image_size, 14, 128
    tokenizer = tiny_clip_tokenizer()
    vocab = tokenizer.get_vocab()
    vit = {
        "model_type": "sam3_vit_model",  # without it the sub-config dict fails with KeyError: None
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": size,
        "patch_size": patch,
        "window_size": 2,
        "global_attn_indexes": [0],
        "pretrain_image_size": size,
    }
    grid = size // patch
    vision = {
        "model_type": "sam3_vision_model",
        "backbone_config": vit,
        "fpn_hidden_size": hidden,
        "backbone_feature_sizes": [[4 * grid] * 2, [2 * grid] * 2, [grid] * 2],
    }
    layer = {"hidden_size": hidden, "num_attention_heads": 2, "intermediate_size": 128}
    detector = {
        "vision_config": vision,
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": len(vocab) + 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "projection_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,  # the processor pads phrases to 32 tokens
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        "geometry_encoder_config": {**layer, "num_layers": 1},
        "detr_encoder_config": {**layer, "num_layers": 1},
        "detr_decoder_config": {**layer, "num_layers": 1, "num_queries": num_queries},
        "mask_decoder_config": {"hidden_size": hidden, "num_attention_heads": 2},
    }
    tracker = {
        "vision_config": vision,
        "image_size": size,  # Sam3TrackerVideoConfig silently resets it to 1008 otherwise
        "prompt_encoder_config": {"hidden_size": hidden, "image_size": size, "patch_size": patch},
        "mask_decoder_config": {
            "hidden_size": hidden,
            "num_hidden_layers": 1,
            "mlp_dim": 128,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": 32,
        },
        "num_maskmem": 3,
        "max_object_pointers_in_encoder": 4,  # tracking reads 3 frames back: a short memory window
        "memory_attention_hidden_size": hidden,
        "memory_attention_num_layers": 1,
        "memory_attention_feed_forward_hidden_size": 128,
        "memory_attention_rope_feat_sizes": [grid, grid],
        "memory_encoder_hidden_size": hidden,
        "memory_encoder_output_channels": 64,
        "mask_downsampler_embed_dim": hidden,
        "memory_fuser_embed_dim": hidden,
        "memory_fuser_intermediate_dim": 128,
        "memory_fuser_num_layers": 1,
    }
    cfg = transformers.Sam3VideoConfig(
        detector_config=detector, tracker_config=tracker, low_res_mask_size=4 * grid, **config
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.Sam3VideoModel(cfg).eval()
    with torch.no_grad():
        decoder = model.tracker_model.mask_decoder
        decoder.pred_obj_score_head.proj_out.bias += score_bias
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.proj_out.bias += mask_bias
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    square = {"height": size, "width": size}
    half = [0.5, 0.5, 0.5]  # SAM 3's normalisation (the SAM2 video processor defaults to ImageNet's)
    processor = transformers.Sam3VideoProcessor(
        image_processor=transformers.Sam3ImageProcessor(size=square, image_mean=half, image_std=half),
        video_processor=transformers.Sam2VideoVideoProcessor(size=square, image_mean=half, image_std=half),
        tokenizer=tokenizer,
        target_size=size,
    )
    processor.save_pretrained(out)
    return out
