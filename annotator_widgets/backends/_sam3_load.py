"""Loading SAM 3 models and processors from a hub id or a ``save_pretrained`` folder.

Both SAM 3 parts read the same checkpoint: ``facebook/sam3`` (a ``sam3_video`` model) holds the
detector, the text encoder and the tracker; ``Sam3TrackerVideoModel.from_pretrained`` on it
keeps the tracker, the vision backbone and the tracker neck (weights identical to the video
model's) and drops the detector. Both load through the package's one loader
(:func:`._hf.load_pretrained`): a folder of another model is a
:class:`~annotator_widgets.errors.BackendError`, a missing or gated checkpoint a
:class:`~annotator_widgets.errors.CheckpointError` whose hint says how to accept the licence.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _hf

__all__ = ["DEFAULT_MODEL", "GATED_HINT", "load_pretrained", "model_source"]

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
    """Load a SAM 3 model and its processor through :func:`._hf.load_pretrained` (the package's one loader).

    Args:
        source: A folder or a hub id (see :func:`model_source`).
        classes: Accepted ``config.model_type`` -> (model class, processor class) in transformers; every
            entry names the same processor class.
        what: What the caller wants, for error messages (``"a SAM 3 video model"``).
        local_files_only: Never contact the hub (default: only when ``source`` is a folder).

    Returns:
        ``(model in eval mode on the CPU, processor)``.

    Raises:
        CheckpointError: The checkpoint cannot be found, read or downloaded (the hint says how to get
            the gated weights).
        BackendError: The checkpoint is another architecture.
    """
    loaded = _hf.load_pretrained(
        source,
        classes={t: m for t, (m, _) in classes.items()},
        family=f"SAM 3 ({what})",
        example=DEFAULT_MODEL,
        device="cpu",
        local_files_only=local_files_only,
        processor_class=next(iter(classes.values()))[1],
        advice=GATED_HINT,
    )
    return loaded.model, loaded.processor
