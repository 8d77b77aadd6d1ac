"""Tiny randomly initialised SAM2 models, saved like the real ones and loaded through the real paths.

* :func:`build_micro_sam2` - Meta ``sam2`` format: a YAML config derived from the shipped
  ``sam2.1_hiera_t.yaml`` (256 px, a 5-block Hiera, narrow heads; ~1.2 M parameters, tens of
  ms per frame on one CPU core) and a ``{"model": state_dict}`` checkpoint.
* :func:`build_tiny_hf_sam2` - a transformers ``Sam2VideoModel`` + ``Sam2VideoProcessor``
  folder written with ``save_pretrained`` (~1.4 M parameters).

Random weights make every object score negative, so every mask would be empty and any
bookkeeping would look "identical" for free. The builders shift the object-score head's
bias (objects present) and the mask hypernetworks' output bias (masks cover part of the
frame and depend on memory), so tests can tell right from wrong.

Example:
    >>> from tests.support.models import build_micro_sam2  # doctest: +SKIP
    >>> micro = build_micro_sam2(tmp_path)  # doctest: +SKIP
    >>> seg = micro.segmenter()  # a Sam2Segmenter on the CPU  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator_widgets.backends._optional import require

if TYPE_CHECKING:
    from annotator_widgets.backends.sam2_meta import Sam2Segmenter
    from annotator_widgets.types import Prompt

__all__ = [
    "MicroSam2",
    "build_micro_sam2",
    "build_tiny_hf_sam2",
    "micro_sam2_raw_predictor",
    "time_raw_predictor",
]

_EMBED = 16  # Hiera stage-1 channels
_HIDDEN = 64  # transformer / FPN width
_MEM = 64  # memory channels

#: overrides of the shipped sam2.1 tiny config that make the micro model
MICRO_OVERRIDES: dict[str, Any] = {
    "model.image_size": 256,
    "model.image_encoder.trunk.embed_dim": _EMBED,
    "model.image_encoder.trunk.stages": [1, 1, 2, 1],
    "model.image_encoder.trunk.global_att_blocks": [3],
    "model.image_encoder.neck.d_model": _HIDDEN,
    "model.image_encoder.neck.position_encoding.num_pos_feats": _HIDDEN,
    "model.image_encoder.neck.backbone_channel_list": [_EMBED * 8, _EMBED * 4, _EMBED * 2, _EMBED],
    "model.memory_attention.d_model": _HIDDEN,
    "model.memory_attention.num_layers": 1,
    "model.memory_attention.layer.d_model": _HIDDEN,
    "model.memory_attention.layer.dim_feedforward": 128,
    "model.memory_attention.layer.self_attention.embedding_dim": _HIDDEN,
    "model.memory_attention.layer.self_attention.feat_sizes": [16, 16],
    "model.memory_attention.layer.cross_attention.embedding_dim": _HIDDEN,
    "model.memory_attention.layer.cross_attention.feat_sizes": [16, 16],
    "model.memory_attention.layer.cross_attention.kv_in_dim": _MEM,
    "model.memory_encoder.out_dim": _MEM,
    "model.memory_encoder.in_dim": _HIDDEN,
    "model.memory_encoder.position_encoding.num_pos_feats": _MEM,
    "model.memory_encoder.mask_downsampler.embed_dim": _HIDDEN,
    "model.memory_encoder.mask_downsampler.kernel_size": 4,
    "model.memory_encoder.mask_downsampler.stride": 4,
    "model.memory_encoder.mask_downsampler.padding": 0,
    "model.memory_encoder.fuser.layer.dim": _HIDDEN,
    "model.memory_encoder.fuser.num_layers": 1,
}


@dataclass(frozen=True)
class MicroSam2:
    """Files of a micro SAM2 model in Meta's format.

    Attributes:
        checkpoint: ``micro_sam2.pt`` (``{"model": state_dict}``).
        config: ``micro_sam2.yaml`` (a complete sam2 model config).
    """

    checkpoint: Path
    config: Path

    def segmenter(self, **kwargs: Any) -> Sam2Segmenter:
        """A :class:`~annotator_widgets.backends.sam2_meta.Sam2Segmenter` on these files (CPU by default)."""
        from annotator_widgets.backends.sam2_meta import Sam2Segmenter

        kwargs.setdefault("device", "cpu")
        return Sam2Segmenter("micro_sam2", checkpoint=self.checkpoint, config=self.config, **kwargs)

    def raw_predictor(self, **kwargs: Any) -> Any:
        """The upstream ``SAM2VideoPredictor`` on these files (see :func:`micro_sam2_raw_predictor`)."""
        return micro_sam2_raw_predictor(self, **kwargs)


def build_micro_sam2(
    directory: str | os.PathLike[str], *, seed: int = 0, score_bias: float = 0.5, mask_bias: float = 0.12
) -> MicroSam2:
    """Write ``micro_sam2.yaml`` and ``micro_sam2.pt`` into ``directory`` (deterministic for a seed).

    Args:
        directory: Target folder (created if needed).
        seed: Seed of the random initialisation.
        score_bias: Added to the object-score head's output bias (positive: objects present).
        mask_bias: Added to the mask hypernetworks' output bias (about 0.12 makes masks cover
            around half of the frame, where they are most sensitive to the memory).

    Returns:
        The paths, with helpers to load them.
    """
    torch = require("torch")
    require("sam2")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from annotator_widgets.backends._sam2_build import _package_config_path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    base = _package_config_path("configs/sam2.1/sam2.1_hiera_t.yaml")
    assert base is not None, "sam2 package configs are missing"
    cfg = OmegaConf.load(base)
    for key, value in MICRO_OVERRIDES.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    config = out / "micro_sam2.yaml"
    config.write_text(
        "# @package _global_\n# micro SAM2 for tests: sam2.1_hiera_t.yaml with tests"
        ".support.models.MICRO_OVERRIDES\n\n" + OmegaConf.to_yaml(cfg)
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = instantiate(cfg.model, _recursive_=True)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state["sam_mask_decoder.pred_obj_score_head.layers.2.bias"] += score_bias
    for i in range(model.sam_mask_decoder.num_mask_tokens):
        state[f"sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.2.bias"] += mask_bias
    checkpoint = out / "micro_sam2.pt"
    torch.save({"model": state}, checkpoint)
    return MicroSam2(checkpoint=checkpoint, config=config)


def micro_sam2_raw_predictor(
    micro: MicroSam2,
    *,
    device: str = "cpu",
    overrides: Sequence[str] = ("++model.add_all_frames_to_correct_as_cond=true",),
) -> Any:
    """The upstream predictor built by ``sam2.build_sam.build_sam2_video_predictor`` from the micro files.

    Uses Hydra with the micro model's folder as config dir (the global Hydra state is
    restored afterwards) - an independent path from the segmenter's own loader, for
    equivalence tests and benchmarks.
    """
    require("sam2")
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup
    from sam2.build_sam import build_sam2_video_predictor

    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(Path(micro.config).parent.resolve()), version_base=None):
            return build_sam2_video_predictor(
                Path(micro.config).stem, str(micro.checkpoint), device=device, hydra_overrides_extra=list(overrides)
            )
    finally:
        restore_gh_from_backup(backup)


def time_raw_predictor(
    micro: MicroSam2,
    folder: str | os.PathLike[str],
    prompts: Iterable[Prompt],
    frames: int | None = None,
    *,
    dtype: str = "auto",
    warmup: int = 2,
) -> float:
    """Seconds per frame of the upstream predictor propagating on a JPEG folder (the baseline).

    Args:
        micro: The model files.
        folder: A folder of ``<int>.jpg`` frames (``sam2.init_state`` input).
        prompts: Applied with ``add_new_points_or_box`` (box, then points) or ``add_new_mask``.
        frames: Frames to propagate after the first prompt's frame (None: to the end).
        dtype: CPU autocast dtype: ``"auto"`` (the segmenter's CPU default: bf16 where the CPU computes it,
            else fp32), ``"bfloat16"`` or ``"float32"``.
        warmup: Frames propagated before timing starts (excluded from the average).

    Returns:
        Mean seconds per propagated frame (frame loading at ``init_state`` excluded).
    """
    torch = require("torch")
    from annotator_widgets.backends._sam2_build import resolve_dtype

    predictor = micro_sam2_raw_predictor(micro)
    dt = resolve_dtype(dtype, torch.device("cpu"))
    prompts = list(prompts)
    with torch.inference_mode(), torch.autocast("cpu", dtype=dt, enabled=dt != torch.float32):
        state = predictor.init_state(str(folder))
        for p in prompts:
            if p.mask is not None:
                predictor.add_new_mask(state, p.frame, p.obj_id, p.mask.to_mask())
            if p.points or p.box is not None:
                coords, labels = p.point_arrays()
                predictor.add_new_points_or_box(
                    state,
                    p.frame,
                    p.obj_id,
                    points=coords if len(coords) else None,
                    labels=labels if len(coords) else None,
                    box=None if p.box is None else list(p.box.xyxy),
                )
        start = min(p.frame for p in prompts)
        count, t0 = 0, 0.0
        for _ in predictor.propagate_in_video(state, start_frame_idx=start, max_frame_num_to_track=frames):
            count += 1
            if count == warmup:
                t0 = time.perf_counter()
        timed = count - warmup
        return (time.perf_counter() - t0) / timed if timed > 0 else float("nan")


def build_tiny_hf_sam2(
    directory: str | os.PathLike[str], *, seed: int = 0, score_bias: float = 0.5, mask_bias: float = 0.0
) -> Path:
    """Save a tiny random transformers ``Sam2VideoModel`` and its processor (256 px) into ``directory``.

    Memory-attention and memory-encoder output channels are exactly 64 with a hidden size of
    128 (other combinations fail inside transformers' rotary attention). With these weights
    masks cover about a third of the frame without a mask bias.

    Args:
        directory: Target folder (created if needed).
        seed: Seed of the random initialisation.
        score_bias: Added to the object-score head's output bias (positive: objects present).
        mask_bias: Added to the mask hypernetworks' output bias.

    Returns:
        The folder, loadable by ``HfSam2Segmenter(path, device="cpu")``.
    """
    torch = require("torch")
    require("transformers")
    from transformers import Sam2VideoConfig, Sam2VideoModel, Sam2VideoProcessor
    from transformers.models.sam2.image_processing_sam2 import Sam2ImageProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    hidden, embed, size = 128, 16, 256
    vision = {
        "backbone_config": {
            "model_type": "sam2_hiera_det_model",
            "hidden_size": embed,
            "image_size": [size, size],
            "blocks_per_stage": [1, 1, 2, 1],
            "embed_dim_per_stage": [embed, 2 * embed, 4 * embed, 8 * embed],
            "num_attention_heads_per_stage": [1, 1, 1, 1],
            "window_size_per_stage": [8, 4, 14, 7],
            "global_attention_blocks": [3],
        },
        "backbone_channel_list": [8 * embed, 4 * embed, 2 * embed, embed],
        "backbone_feature_sizes": [[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        "fpn_hidden_size": hidden,
    }
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": hidden, "image_size": size, "patch_size": 16},
        mask_decoder_config={
            "hidden_size": hidden,
            "mlp_dim": 256,
            "num_attention_heads": 8,
            "iou_head_hidden_dim": 64,
        },
        image_size=size,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=256,
        memory_attention_rope_feat_sizes=[size // 16] * 2,
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        mask_downsampler_kernel_size=4,
        mask_downsampler_stride=4,
        mask_downsampler_padding=0,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=256,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Sam2VideoModel(config).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias += score_bias
        for mlp in model.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.bias += mask_bias
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor = Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(
            size={"height": size, "width": size}, mask_size={"height": size // 4, "width": size // 4}
        ),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
        target_size=size,
    )
    processor.save_pretrained(out)
    return out


def build_tiny_edgetam(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save a tiny random transformers ``EdgeTamVideoModel`` with a SAM2 processor (256 px) into ``directory``.

    EdgeTAM's memory is a perceiver resampler: its 2-D latents must number exactly the product of
    ``memory_attention_rope_k_sizes`` (8 x 8 here), or the rotary attention fails on shapes.

    Returns:
        The folder, loadable as the segmenter ``"hf:<folder>"`` (the same code as a hub id).
    """
    torch = require("torch")
    require("transformers")
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, Sam2VideoProcessor
    from transformers.models.sam2.image_processing_sam2 import Sam2ImageProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    hidden, embed, size = 128, 16, 256
    vision = {
        "backbone_config": {
            "model_type": "sam2_hiera_det_model",
            "hidden_size": embed,
            "image_size": [size, size],
            "blocks_per_stage": [1, 1, 2, 1],
            "embed_dim_per_stage": [embed, 2 * embed, 4 * embed, 8 * embed],
            "num_attention_heads_per_stage": [1, 1, 1, 1],
            "window_size_per_stage": [8, 4, 14, 7],
            "global_attention_blocks": [3],
        },
        "backbone_channel_list": [8 * embed, 4 * embed, 2 * embed, embed],
        "backbone_feature_sizes": [[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        "fpn_hidden_size": hidden,
    }
    config = EdgeTamVideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": hidden, "image_size": size, "patch_size": 16},
        mask_decoder_config={
            "hidden_size": hidden,
            "mlp_dim": 256,
            "num_attention_heads": 8,
            "iou_head_hidden_dim": 64,
        },
        image_size=size,
        num_maskmem=3,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_mlp_hidden_size=256,
        memory_attention_rope_feat_sizes=[size // 16] * 2,
        memory_attention_rope_k_sizes=[8, 8],
        perceiver_resampler_num_latents=16,
        perceiver_resampler_num_latents_2d=64,
        perceiver_resampler_num_layers=1,
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        mask_downsampler_kernel_size=4,
        mask_downsampler_stride=4,
        mask_downsampler_padding=0,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=256,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EdgeTamVideoModel(config).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias += 0.5
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(
            size={"height": size, "width": size}, mask_size={"height": size // 4, "width": size // 4}
        ),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
        target_size=size,
    ).save_pretrained(out)
    return out
