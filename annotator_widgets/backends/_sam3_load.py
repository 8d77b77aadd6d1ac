"""Loading SAM 3 models and processors from a hub id or a ``save_pretrained`` folder.

Both SAM 3 parts read the same checkpoint: ``facebook/sam3`` (a ``sam3_video`` model) holds the
detector, the text encoder and the tracker; ``Sam3TrackerVideoModel.from_pretrained`` on it
keeps the tracker, the vision backbone and the tracker neck (weights identical to the video
model's) and drops the detector. One loader checks the folder's architecture first, so a
folder of another model is a :class:`~annotator_widgets.errors.BackendError` and a missing or
gated checkpoint is a :class:`~annotator_widgets.errors.CheckpointError` with a hint.

(Kept here rather than in a shared ``_hf.py``: none existed when the SAM 3 parts were written.)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import BackendError, CheckpointError
from ._optional import require

__all__ = ["DEFAULT_MODEL", "GATED_HINT", "load_pretrained", "model_source"]

log = logging.getLogger(__name__)

#: The released SAM 3 checkpoint on the Hugging Face hub (gated: Meta's SAM licence).
DEFAULT_MODEL = "facebook/sam3"

GATED_HINT = (
    "SAM 3 weights are gated under Meta's SAM licence: accept it on https://huggingface.co/facebook/sam3, "
    "log in (`hf auth login`), then `hf download facebook/sam3` (offline: set HF_HUB_OFFLINE=1 afterwards); "
    "or pass a folder written by save_pretrained"
)


def model_source(model: str | os.PathLike[str] | None) -> str:
    """A local folder (user home expanded) or a hub id; None means :data:`DEFAULT_MODEL`.

    Example:
        >>> model_source(None)
        'facebook/sam3'
    """
    if model is None or str(model) == "":
        return DEFAULT_MODEL
    text = str(model)
    path = Path(text).expanduser()
    return str(path) if path.is_dir() else text


def load_pretrained(
    source: str,
    classes: dict[str, tuple[str, str]],
    *,
    what: str,
    local_files_only: bool | None = None,
) -> tuple[Any, Any]:
    """Load a transformers model and its processor after checking the checkpoint's architecture.

    Args:
        source: A folder or a hub id (see :func:`model_source`).
        classes: Accepted ``config.model_type`` -> (model class, processor class) in transformers.
        what: What the caller wants, for error messages (``"a SAM 3 video model"``).
        local_files_only: Never contact the hub (default: only when ``source`` is a folder).

    Returns:
        ``(model in eval mode on the CPU, processor)``.

    Raises:
        CheckpointError: The checkpoint cannot be found, read or downloaded.
        BackendError: The checkpoint is another architecture.
    """
    transformers = require("transformers")
    if _looks_like_path(source) and not Path(source).is_dir():
        raise CheckpointError(
            f"no such folder for {what}", given=source, hint="check the path, or pass a hub id; " + GATED_HINT
        )
    local = Path(source).is_dir() if local_files_only is None else local_files_only
    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load the config of {what}", given=source, hint=GATED_HINT) from exc
    model_type = getattr(config, "model_type", "")
    names = classes.get(model_type)
    if names is None or not all(hasattr(transformers, n) for n in names):
        raise BackendError(
            f"not {what}",
            given=f"{source} ({model_type})",
            hint=f"use a checkpoint of type {sorted(classes)} such as {DEFAULT_MODEL!r} "
            f"(transformers {transformers.__version__})",
        )
    model_class, processor_class = (getattr(transformers, n) for n in names)
    try:
        model = model_class.from_pretrained(source, local_files_only=local)
        processor = processor_class.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the weights or the processor of {what}", given=source, hint=GATED_HINT
        ) from exc
    log.debug("loaded %s (%s) from %s", type(model).__name__, model_type, source)
    return model.eval(), processor


def _looks_like_path(source: str) -> bool:
    """A hub id is ``name`` or ``owner/name``; anything else with a separator is meant as a folder.

    Example:
        >>> [_looks_like_path(s) for s in ("facebook/sam3", "/data/sam3", "./sam3", "~/sam3", "a/b/c")]
        [False, True, True, True, True]
    """
    return source.startswith((".", "~", os.sep)) or os.path.isabs(source) or source.count("/") > 1 or "\\" in source
