"""Loading transformers image/text models (scorers, captioners) and checking what they are given.

One place for what every such part does the same way, as :mod:`.sam2_hf` does for SAM2:

* :func:`load_pretrained` - a hub id or a ``save_pretrained`` folder -> model + processor on a
  device and in a dtype, with :class:`~annotator_widgets.errors.CheckpointError` (missing
  folder, hub id not downloadable / not cached offline: says how to get it) and
  :class:`~annotator_widgets.errors.BackendError` (a folder of another architecture: names
  its ``model_type`` and the expected ones).
* :func:`resolve_vlm_dtype` - ``"auto"`` is float32 on CPU and MPS (bf16 matmuls on CPU are
  slow for generation and change greedy decoding), bf16 on GPUs with compute capability >= 8,
  fp16 on older GPUs. The weights are loaded in that dtype.
* :func:`check_images`, :func:`check_phrases`, :func:`to_model` - input checks and moving a
  processor's output to the model.

Another helper's ``backends/_hf.py`` may take this over; the functions here are meant to merge into it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError, CheckpointError, MissingDependencyError, PromptError
from ._optional import require
from ._sam2_build import resolve_device, resolve_dtype

__all__ = [
    "Loaded",
    "check_images",
    "check_phrases",
    "is_local_path",
    "load_pretrained",
    "resolve_vlm_dtype",
    "stack_rows",
    "to_model",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """A loaded model with its processor, config, where it came from, device and dtype."""

    model: Any
    processor: Any
    config: Any
    source: str
    device: Any
    dtype: Any


def resolve_vlm_dtype(dtype: Any, device: Any) -> Any:
    """The weights' dtype: ``"auto"`` -> float32 on CPU/MPS, bf16 (cc >= 8) or fp16 on CUDA; else as given."""
    torch = require("torch")
    if (dtype is None or str(dtype).lower() == "auto") and device.type != "cuda":
        return torch.float32
    return resolve_dtype(dtype, device)


def is_local_path(text: str) -> bool:
    """True when ``text`` reads as a file-system path rather than a hub id (``org/name``)."""
    return (
        text.startswith(("/", "./", "../", "~", "\\"))
        or text.count("/") > 1
        or (len(text) > 1 and text[1] == ":")  # a Windows drive
        or Path(text).expanduser().exists()
    )


def _hint(source: str, example: str) -> str:
    return (
        f"pass a folder written by save_pretrained, or a hub id such as {example!r}; offline, download it on a "
        f"connected machine first (`hf download {source}`, or `huggingface-cli download {source}`) and set "
        "HF_HUB_OFFLINE=1, or copy the folder and pass its path (a relative folder must exist where Python runs)"
    )


def load_pretrained(
    model: str | os.PathLike[str],
    *,
    model_class: str,
    model_types: Collection[str],
    family: str,
    example: str,
    device: Any = "auto",
    dtype: Any = "auto",
    local_files_only: bool | None = None,
    padding_side: str | None = None,
) -> Loaded:
    """Load ``model`` (hub id or folder) with ``transformers.<model_class>`` and its ``AutoProcessor``.

    Args:
        model: Hub id or local folder.
        model_class: A transformers class name (``"AutoModel"``, ``"BlipForQuestionAnswering"``).
        model_types: Accepted ``config.model_type`` values.
        family: What the part calls this kind of model, for messages (``"CLIP"``).
        example: A hub id to show in hints.
        device: ``"auto"`` (cuda, mps, cpu) or a torch device.
        dtype: See :func:`resolve_vlm_dtype`.
        local_files_only: Never contact the hub (default: only for folders).
        padding_side: Set on the tokenizer (``"left"`` for decoder-only generation).

    Raises:
        CheckpointError: Missing folder, unknown or not downloadable hub id, unreadable files.
        BackendError: Another architecture, or a bad device/dtype.
        MissingDependencyError: The processor needs a package that is not installed.
    """
    require("torch")
    transformers = require("transformers")
    text = str(model).strip()
    if not text:
        raise CheckpointError(f"no {family} model given", given=model, hint=_hint(example, example))
    if is_local_path(text):
        path = Path(text).expanduser()
        if not path.is_dir():
            raise CheckpointError(f"{family} model folder not found", given=str(path), hint=_hint(example, example))
        source = str(path)
        local = True if local_files_only is None else local_files_only
    else:
        source = text
        local = bool(local_files_only)
    device = resolve_device(device)
    dtype = resolve_vlm_dtype(dtype, device)
    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model config", given=source, hint=f"{_hint(source, example)} ({exc})"[:600]
        ) from exc
    model_type = getattr(config, "model_type", None)
    if model_type not in model_types:
        raise BackendError(
            f"not a {family} model: its config has model_type {model_type!r}",
            given=source,
            hint=f"use a model of type {sorted(model_types)}, e.g. {example!r}",
        )
    try:
        net = getattr(transformers, model_class).from_pretrained(source, local_files_only=local, dtype=dtype)
        processor = transformers.AutoProcessor.from_pretrained(source, local_files_only=local)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the {family} processor needs a package that is not installed",
            given=str(exc)[:300],
            hint="pip install 'annotator-widgets[vlm]'",
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model or its processor",
            given=source,
            hint=f"{_hint(source, example)} ({type(exc).__name__}: {exc})"[:600],
        ) from exc
    if padding_side is not None:
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = padding_side
    net = net.to(device).eval()
    log.info("%s %s (%s) on %s in %s", family, source, type(net).__name__, device, dtype)
    return Loaded(model=net, processor=processor, config=config, source=source, device=device, dtype=dtype)


def check_images(images: Any, what: str = "image") -> list[np.ndarray]:
    """The images as a list of RGB uint8 ``(H, W, 3)`` arrays, or :class:`PromptError` naming the first bad one."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        raise PromptError(
            f"expected a sequence of {what}s, got one array", given=f"shape {images.shape}", hint="wrap it in a list"
        )
    out: list[np.ndarray] = []
    for i, image in enumerate(images):
        arr = np.asarray(image)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise PromptError(
                f"{what} {i} is not an RGB uint8 (H, W, 3) array",
                given=f"shape {arr.shape}, dtype {arr.dtype}",
                hint="convert grey or RGBA images with cv2.cvtColor (e.g. cv2.COLOR_GRAY2RGB, cv2.COLOR_RGBA2RGB) "
                "and scale float images to 0..255 uint8",
            )
        out.append(arr)
    return out


def check_phrases(phrases: Any) -> list[str]:
    """Phrases stripped of surrounding space; an empty one, or a bare string, is a :class:`PromptError`."""
    if isinstance(phrases, str):
        raise PromptError("expected a sequence of phrases, got one string", given=phrases, hint=f"pass [{phrases!r}]")
    out: list[str] = []
    for i, phrase in enumerate(phrases):
        if not isinstance(phrase, str) or not phrase.strip():
            raise PromptError(f"phrase {i} is empty or not a string", given=phrase, hint="describe what to look for")
        out.append(phrase.strip())
    return out


def to_model(inputs: Any, loaded: Loaded) -> dict[str, Any]:
    """A processor's output on the model's device; floating tensors (pixels) in the model's dtype."""
    torch = require("torch")
    out: dict[str, Any] = {}
    for key, value in dict(inputs).items():
        if isinstance(value, torch.Tensor):
            value = value.to(loaded.device, loaded.dtype) if value.is_floating_point() else value.to(loaded.device)
        out[key] = value
    return out


def stack_rows(rows: Sequence[np.ndarray], dim: int) -> np.ndarray:
    """Concatenate ``(n, dim)`` blocks; ``(0, dim)`` for none."""
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, dim), np.float32)
