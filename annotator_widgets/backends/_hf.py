"""Loading transformers models the one way this package does it: a hub id or a ``save_pretrained`` folder.

Every transformers backend (SAM2 video, the grounders, SAM 3, ...) goes through :func:`load_pretrained`:

* ``model`` is a local folder (written by ``save_pretrained``) or a hub id. An existing folder is
  always read locally; a string that looks like a path (absolute, ``./``, ``~``) but is not a
  folder is a :class:`~annotator_widgets.errors.CheckpointError` naming it, never a hub lookup.
* The config is read first and its ``model_type`` checked against the families the caller
  accepts: a folder of another architecture is a :class:`~annotator_widgets.errors.BackendError`
  naming the found and the expected ``model_type``.
* A hub id that cannot be loaded (offline and not cached, unknown, no access) is a
  :class:`~annotator_widgets.errors.CheckpointError` saying how to get it onto the machine.

Device and precision follow the SAM2 backends (:func:`resolve_device`, :func:`resolve_dtype`,
:func:`autocast`, re-exported here): ``"auto"`` is cuda, then mps, then cpu; bf16 autocast on CPUs
and recent GPUs, fp16 on older GPUs, fp32 on MPS.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, CheckpointError
from ._optional import require
from ._sam2_build import autocast, resolve_device, resolve_dtype

__all__ = ["Loaded", "autocast", "is_local_path", "load_pretrained", "resolve_device", "resolve_dtype"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """What :func:`load_pretrained` returns.

    Attributes:
        model: The transformers model, on its device, in eval mode.
        processor: Its processor (or image processor when the folder has no full processor).
        config: The model config.
        source: The folder (absolute) or hub id it was loaded from.
    """

    model: Any
    processor: Any
    config: Any
    source: str


def is_local_path(text: str) -> bool:
    """True when ``text`` is meant as a local path rather than a hub id (``owner/name``).

    Example:
        >>> is_local_path("google/owlv2-base-patch16-ensemble"), is_local_path("./models/owl")
        (False, True)
    """
    if Path(text).expanduser().exists():
        return True
    return (
        os.path.isabs(text)
        or text.startswith(("./", "../", "~", ".\\", "..\\"))
        or text in (".", "..")
        or text.count("/") > 1
        or "\\" in text
    )


def _how_to_get(source: str, example: str) -> str:
    if is_local_path(source):
        return (
            "check the path; write such a folder with model.save_pretrained(folder) and "
            f"processor.save_pretrained(folder), or pass a hub id such as {example!r}"
        )
    return (
        f"on a connected machine run `huggingface-cli download {source}` (or `hf download {source}`) and "
        "copy the Hugging Face cache (HF_HOME) here, or save the model and processor with "
        "save_pretrained(folder) and pass the folder; set HF_HUB_OFFLINE=1 to never try the network"
    )


def load_pretrained(
    model: str | os.PathLike[str],
    *,
    classes: Mapping[str, str],
    family: str,
    example: str,
    device: Any,
    local_files_only: bool | None = None,
    processor_class: str = "AutoProcessor",
    check_config: Callable[[Any], None] | None = None,
) -> Loaded:
    """Load a transformers model and its processor from a hub id or a folder.

    Args:
        model: A hub id or a folder written by ``save_pretrained``.
        classes: Accepted ``config.model_type`` -> transformers model class name.
        family: What the caller loads, for messages (``"OWLv2"``).
        example: A hub id of that family, for hints.
        device: A ``torch.device`` (see :func:`resolve_device`).
        local_files_only: Never contact the hub (default: True for folders, else transformers'
            own rule, which honours ``HF_HUB_OFFLINE``).
        processor_class: ``"AutoProcessor"`` or ``"AutoImageProcessor"`` (detectors without text).
        check_config: Called with the config before the weights are loaded (e.g. to require an
            optional library the architecture needs); may raise.

    Returns:
        The model (eval mode, on ``device``), processor, config and source.

    Raises:
        CheckpointError: The folder does not exist, or the hub id cannot be loaded.
        BackendError: The model is not of an accepted ``model_type``.
    """
    transformers = require("transformers")
    text = str(model)
    local = is_local_path(text)
    path = Path(text).expanduser()
    if local:
        if not path.is_dir():
            raise CheckpointError(f"{family} model folder not found", given=text, hint=_how_to_get(text, example))
        source = str(path.resolve())
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"not a transformers model folder: it has no config.json ({family})",
                given=source,
                hint=_how_to_get(source, example),
            )
    else:
        source = text
    offline = local if local_files_only is None else bool(local_files_only or local)
    kwargs: dict[str, Any] = {"local_files_only": True} if offline else {}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model config", given=source, hint=_how_to_get(source, example)
        ) from exc
    model_type = getattr(config, "model_type", "")
    class_name = classes.get(model_type)
    if class_name is None:
        expected = " or ".join(repr(t) for t in classes)
        raise BackendError(
            f"not a {family} model: its config has model_type {model_type!r}, expected {expected}",
            given=source,
            hint=f"pass a {family} checkpoint such as {example!r}, or use the part made for {model_type!r}",
        )
    if not hasattr(transformers, class_name):
        raise BackendError(
            f"this transformers has no {class_name}",
            given=f"transformers {transformers.__version__}",
            hint="upgrade transformers: pip install -U 'transformers>=5'",
        )
    if check_config is not None:
        check_config(config)
    try:
        net = getattr(transformers, class_name).from_pretrained(source, **kwargs)
        proc = getattr(transformers, processor_class).from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model or its processor",
            given=source,
            hint=f"{_how_to_get(source, example)} ({type(exc).__name__}: {str(exc)[:200]})",
        ) from exc
    log.info("loaded %s %s (%s) from %s", family, class_name, model_type, source)
    return Loaded(model=net.to(device).eval(), processor=proc, config=config, source=source)
