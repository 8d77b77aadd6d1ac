"""Building Meta's SAM2 video predictor without Hydra surprises, and choosing device and precision.

``sam2.build_sam.build_sam2_video_predictor`` composes configs through Hydra's global
state (initialised when ``sam2`` is imported), which fails for YAML files outside the
package and when another library re-initialised Hydra (upstream #81, #26, #531). Here a
config is read with OmegaConf (a package config name or any YAML path), the same
overrides as the official builder are applied, and the model is instantiated with
``hydra.utils.instantiate`` - the same objects, no global state touched.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, CheckpointError, PromptError
from ._optional import require

__all__ = [
    "autocast",
    "build_predictor",
    "check_memory_window",
    "check_prompt_mask",
    "cpu_bf16_is_fast",
    "load_config",
    "resolve_device",
    "resolve_dtype",
    "sigmoid",
]

log = logging.getLogger(__name__)

#: What ``build_sam2_video_predictor`` adds (target class and its post-processing options),
#: plus refinement clicks on tracked frames becoming conditioning frames (upstream #719/#731).
BASE_OVERRIDES: tuple[str, ...] = (
    "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    "++model.binarize_mask_from_pts_for_mem_enc=true",
    "++model.fill_hole_area=8",
    "++model.add_all_frames_to_correct_as_cond=true",
)


# -- device and precision ---------------------------------------------------------------
def resolve_device(device: Any = "auto") -> Any:
    """``"auto"`` -> cuda, then mps, then cpu; otherwise check that the device exists.

    Returns:
        A ``torch.device``.
    """
    torch = require("torch")
    if device is None or (isinstance(device, str) and device.lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BackendError(
            "unknown torch device", given=device, hint="use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(
            "CUDA was asked for but torch sees no CUDA GPU",
            given=str(device),
            hint="use device='auto' or 'cpu', or install a CUDA build of torch",
        )
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BackendError(
            "MPS was asked for but is not available", given=str(device), hint="use device='auto' or 'cpu'"
        )
    return dev


_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}


def cpu_bf16_is_fast() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX tiles).

    Without them PyTorch emulates bf16, and autocast to it is several times slower than fp32: on this
    project's AVX2 test machine (torch 2.14) a 16384x384x1536 linear layer took 8x as long, a 7x7 conv over a
    1024 px image 200x, SAM 2.1 tiny's image encoder 4-8x (14 s vs 59-107 s per 1024 px frame, loaded machine).
    """
    torch = require("torch")
    cpu = getattr(torch, "cpu", None)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except Exception:  # noqa: BLE001 - a private probe that changed: assume emulated (fp32 is always right)
            continue
    return False


def resolve_dtype(dtype: Any, device: Any) -> Any:
    """The compute precision: ``"auto"`` picks bf16 on GPUs with compute capability >= 8 and on CPUs that compute
    bf16 natively (:func:`cpu_bf16_is_fast`), fp32 on other CPUs and on MPS, fp16 on older GPUs (e.g. the T4).

    Returns:
        A ``torch.dtype``; ``torch.float32`` means no autocast.
    """
    torch = require("torch")
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise BackendError("unsupported dtype", given=str(dtype), hint="use float32, bfloat16 or float16")
        return dtype
    if dtype is None or str(dtype).lower() == "auto":
        if device.type == "cuda":
            major, _ = torch.cuda.get_device_capability(device)
            return torch.bfloat16 if major >= 8 and torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu":
            return torch.bfloat16 if cpu_bf16_is_fast() else torch.float32
        return torch.float32
    name = _DTYPES.get(str(dtype).lower().replace("torch.", ""))
    if name is None:
        raise BackendError("unknown dtype", given=dtype, hint="use 'auto', 'float32', 'bfloat16' or 'float16'")
    return getattr(torch, name)


@contextlib.contextmanager
def autocast(device: Any, dtype: Any) -> Iterator[None]:
    """Inference mode plus autocast to ``dtype`` (none for float32), entered per call, never globally."""
    torch = require("torch")
    with torch.inference_mode():
        if dtype == torch.float32:
            # switch off an autocast the caller may have entered (cpu and cuda; other devices: as they are)
            off = torch.autocast(device_type=device.type, enabled=False) if device.type in ("cpu", "cuda") else None
            with off or contextlib.nullcontext():
                yield
        else:
            with torch.autocast(device_type=device.type, dtype=dtype):
                yield


def install_fp32_memory_guard(model: Any) -> None:
    """Let fp32 (no autocast) inference survive sam2's bf16 memory features.

    sam2 stores ``maskmem_features`` as bfloat16. When the memory holds no fp32 object
    pointer (an object first prompted on a later frame than tracking starts) ``torch.cat``
    keeps bf16 and the attention fails with "mat1 and mat2 must have the same dtype"
    (upstream #308/#577). This casts the memory to the query's dtype only in that case -
    the same promotion ``torch.cat`` does when a pointer is present - so results elsewhere
    are unchanged. Patches this model instance only.
    """
    torch = require("torch")
    attention = model.memory_attention
    original = attention.forward

    def forward(
        curr: Any, memory: Any, curr_pos: Any = None, memory_pos: Any = None, num_obj_ptr_tokens: int = 0
    ) -> Any:
        ref = curr[0] if isinstance(curr, list) else curr
        if memory.dtype != ref.dtype and not torch.is_autocast_enabled(ref.device.type):
            memory = memory.to(ref.dtype)
        return original(
            curr=curr, memory=memory, curr_pos=curr_pos, memory_pos=memory_pos, num_obj_ptr_tokens=num_obj_ptr_tokens
        )

    attention.forward = forward


# -- configs --------------------------------------------------------------------------------
def _package_config_path(name: str) -> Path | None:
    sam2 = require("sam2")
    root = Path(sam2.__path__[0])
    stem = name[:-5] if name.endswith(".yaml") else name
    for candidate in (root / f"{stem}.yaml", root / "configs" / f"{stem}.yaml"):
        if candidate.is_file():
            return candidate
    base = Path(stem).name
    hits = sorted(root.glob(f"configs/**/{base}.yaml")) + sorted(root.glob(f"{base}.yaml"))
    return hits[0] if hits else None


def _parse_override(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, raw = text.lstrip("+~").partition("=")
    if not sep or not key.strip():
        raise BackendError(
            "cannot parse a config override", given=text, hint="write overrides like 'model.image_size=512'"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise BackendError("cannot parse a config override value", given=text) from exc
    return key.strip(), value


def load_config(config: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Any:
    """Read a SAM2 config and apply Hydra-style overrides (``"++model.x=1"``, ``"model.y=[1,2]"``).

    Args:
        config: A config of the sam2 package (``"configs/sam2.1/sam2.1_hiera_t.yaml"``,
            ``"sam2.1_hiera_t"``) or a path to a YAML file with a top-level ``model:`` key.
        overrides: Applied in order after :data:`BASE_OVERRIDES`.

    Returns:
        The resolved OmegaConf config.

    Raises:
        BackendError: Unknown config, unreadable YAML, no ``model`` section, bad override.
    """
    omegaconf = require("omegaconf", "sam2")
    OmegaConf = omegaconf.OmegaConf
    path = Path(config).expanduser()
    if not path.is_file():
        found = _package_config_path(str(config))
        if found is None:
            raise BackendError(
                "unknown SAM2 config",
                given=str(config),
                hint="pass a config of the sam2 package such as 'configs/sam2.1/sam2.1_hiera_t.yaml' "
                "or the path of a YAML file",
            )
        path = found
    try:
        cfg = OmegaConf.load(path)
    except Exception as exc:
        raise BackendError("cannot read SAM2 config", given=str(path), hint=f"check the YAML: {exc}") from exc
    if "defaults" in cfg:
        cfg = _compose_with_hydra(path)
    if "model" not in cfg:
        raise BackendError(
            "SAM2 config has no 'model' section",
            given=str(path),
            hint="use a sam2 model config (its top-level key is 'model')",
        )
    for text in (*BASE_OVERRIDES, *overrides):
        key, value = _parse_override(text)
        try:
            OmegaConf.update(cfg, key, value, force_add=True)
        except Exception as exc:
            raise BackendError("cannot apply a config override", given=text, hint=str(exc)) from exc
    OmegaConf.resolve(cfg)
    return cfg


def _compose_with_hydra(path: Path) -> Any:
    """Configs with a Hydra defaults list: compose in a private Hydra context, restoring the global one."""
    require("hydra", "sam2")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent.resolve()), version_base=None):
            return compose(config_name=path.stem)
    except Exception as exc:
        raise BackendError("cannot compose SAM2 config with Hydra", given=str(path), hint=str(exc)) from exc
    finally:
        restore_gh_from_backup(backup)


# -- model ----------------------------------------------------------------------------------
def build_predictor(
    config: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None,
    device: Any,
    overrides: Sequence[str] = (),
) -> Any:
    """Instantiate a ``SAM2VideoPredictor`` from a config and load a Meta checkpoint into it.

    Raises:
        BackendError: The config cannot be built.
        CheckpointError: The checkpoint is missing, unreadable, or does not fit the config.
    """
    require("torch")
    require("sam2")
    from hydra.utils import instantiate

    extra = list(overrides)
    if importlib.util.find_spec("sam2._C") is None:
        # hole filling needs sam2's CUDA extension; without it sam2 warns on every frame and skips it
        extra.insert(0, "++model.fill_hole_area=0")
    cfg = load_config(config, extra)
    try:
        model = instantiate(cfg.model, _recursive_=True)
    except Exception as exc:
        raise BackendError("cannot build SAM2 from its config", given=str(config), hint=f"{exc}") from exc
    if checkpoint is not None:
        _load_checkpoint(model, Path(checkpoint), config)
    return model.to(device).eval()


def _load_checkpoint(model: Any, path: Path, config: Any) -> None:
    torch = require("torch")
    if not path.is_file():
        raise CheckpointError(
            "SAM2 checkpoint file not found",
            given=str(path),
            hint="check the path, or pass a registry name such as 'sam2.1_hiera_tiny' "
            "(`python -m annotator_widgets.checkpoints fetch sam2.1_hiera_tiny`)",
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            "cannot read SAM2 checkpoint (corrupt, truncated, or not a torch file)",
            given=str(path),
            hint="delete it and download it again",
        ) from exc
    state = blob.get("model") if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(
            "not a SAM2 checkpoint: it has no 'model' state dict",
            given=str(path),
            hint="use Meta's SAM 2.1 .pt files, saved as {'model': state_dict}",
        )
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches raise even when not strict
        raise CheckpointError(
            "SAM2 checkpoint does not fit the config",
            given=f"{path} with config {config}",
            hint=f"pass the config that goes with this checkpoint ({str(exc)[:300]})",
        ) from exc
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            "SAM2 checkpoint does not fit the config",
            given=f"{path} with config {config}",
            hint=f"pass the config that goes with this checkpoint (missing: {list(result.missing_keys)[:4]}, "
            f"unexpected: {list(result.unexpected_keys)[:4]})",
        )
    log.info("loaded SAM2 checkpoint %s", path)


def check_memory_window(value: Any) -> None:
    """Accept ``"auto"``, a positive int or None for a segmenter's ``memory_window``."""
    ok = value is None or value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    if not ok:
        raise BackendError("memory_window must be 'auto', a positive int or None", given=value)


def check_prompt_mask(prompt: Any, video: Any) -> None:
    """Raise :class:`PromptError` when a prompt's mask is not the video's size."""
    if prompt.mask is None:
        return
    width, height = video.size
    if tuple(prompt.mask.size) != (height, width):
        h, w = prompt.mask.size
        raise PromptError(
            "prompt mask size differs from the video", given=f"{w}x{h}", hint=f"give a {width}x{height} mask"
        )


def sigmoid(x: float) -> float:
    """The logistic function: SAM2's object-score logit as a probability."""
    return 1.0 / (1.0 + math.exp(-x))
