"""Loading transformers models the one way this package does it: a hub id or a ``save_pretrained`` folder.

Every transformers backend (SAM2 video, the grounders, the scorers and captioners, SAM 3, ...) goes
through :func:`load_pretrained`:

* ``model`` is a local folder (written by ``save_pretrained``) or a hub id. An existing folder is
  always read locally; a string that looks like a path (absolute, ``./``, ``~``, a drive) but is
  not a folder is a :class:`~annotator_widgets.errors.CheckpointError` naming it, never a hub lookup.
* The config is read first and its ``model_type`` checked against the families the caller
  accepts: a folder of another architecture is a :class:`~annotator_widgets.errors.BackendError`
  naming the found and the expected ``model_type``.
* Before a hub id is looked up online, one quick TCP connection to the hub's host
  (:func:`hub_reachable`, ``PROBE_TIMEOUT`` seconds, remembered for ``PROBE_TTL``) says whether
  the network is there: where it is not, only the local cache is read (a cached model still
  loads) instead of huggingface_hub retrying for ~25 s before the same error. No probe with
  ``HF_HUB_OFFLINE=1``, ``local_files_only=True``, a folder, or a proxy configured (the proxy decides).
* A hub id that cannot be loaded (offline and not cached, unknown, no access) is a
  :class:`~annotator_widgets.errors.CheckpointError` saying how to get it onto the machine; a
  processor needing a package that is not installed is a
  :class:`~annotator_widgets.errors.MissingDependencyError`.

Device and precision: ``device`` as :func:`resolve_device` (``"auto"`` is cuda, then mps, then cpu).
``dtype=None`` keeps the weights as saved (the SAM2 backends and grounders compute under
:func:`autocast` with :func:`resolve_dtype`); any other ``dtype`` loads the weights in
:func:`resolve_weights_dtype` (``"auto"``: float32 on CPU/MPS, bf16 or fp16 on CUDA), as the
scorers and captioners do.

The small input helpers shared by those parts live here too: :func:`check_images`,
:func:`check_phrases`, :func:`to_model`, :func:`stack_rows`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError, CheckpointError, MissingDependencyError, PromptError
from ._optional import require
from ._sam2_build import autocast, resolve_device, resolve_dtype

__all__ = [
    "Loaded",
    "autocast",
    "check_images",
    "check_phrases",
    "hub_reachable",
    "is_local_path",
    "load_pretrained",
    "resolve_device",
    "resolve_dtype",
    "resolve_weights_dtype",
    "stack_rows",
    "to_model",
]

log = logging.getLogger(__name__)

#: seconds the hub probe waits for a TCP connection
PROBE_TIMEOUT = 3.0
#: seconds a probe's answer is reused
PROBE_TTL = 60.0
_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_probed: dict[tuple[str, int], tuple[float, bool]] = {}


@dataclass(frozen=True)
class Loaded:
    """What :func:`load_pretrained` returns.

    Attributes:
        model: The transformers model, on its device, in eval mode.
        processor: Its processor (or image processor when the folder has no full processor).
        config: The model config.
        source: The folder (absolute) or hub id it was loaded from.
        device: The ``torch.device`` the model is on.
        dtype: The weights' ``torch.dtype``.
    """

    model: Any
    processor: Any
    config: Any
    source: str
    device: Any = None
    dtype: Any = None


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
        or text.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or text in (".", "..")
        or text.count("/") > 1
        or "\\" in text
        or (len(text) > 1 and text[1] == ":")  # a Windows drive
    )


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool | None:
    """Whether the Hugging Face hub's host takes a TCP connection (one try, answer kept ``PROBE_TTL`` s).

    None when it cannot tell: a proxy is configured (the proxy decides) or the endpoint has no host.
    """
    if any(os.environ.get(name) for name in _PROXIES):
        return None
    try:
        from huggingface_hub import constants

        endpoint = str(constants.ENDPOINT)
    except ImportError:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parts = urllib.parse.urlsplit(endpoint)
    if not parts.hostname:
        return None
    where = (parts.hostname, parts.port or (80 if parts.scheme == "http" else 443))
    now = time.monotonic()
    if where in _probed and now - _probed[where][0] < PROBE_TTL:
        return _probed[where][1]
    try:
        socket.create_connection(where, timeout=timeout).close()
        ok = True
    except OSError as exc:
        log.info("the hub %s:%d is not reachable (%s): reading the local cache only", *where, exc)
        ok = False
    _probed[where] = (now, ok)
    return ok


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def resolve_weights_dtype(dtype: Any, device: Any) -> Any:
    """The weights' dtype: ``"auto"`` -> float32 on CPU/MPS, bf16 (cc >= 8) or fp16 on CUDA; else as given.

    bf16 matmuls on CPUs are slow for generation and change greedy decoding, hence float32 there.
    """
    torch = require("torch")
    if (dtype is None or str(dtype).lower() == "auto") and device.type != "cuda":
        return torch.float32
    return resolve_dtype(dtype, device)


def _cause(exc: BaseException, limit: int = 240) -> str:
    """What a library's exception says, for a hint: its first sentence of its first line, cut at a word (never in
    the middle of an address)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = text.split(". ", 1)[0].rstrip(".") + "."
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _how_to_get(source: str, example: str, advice: str | None = None) -> str:
    how = _where_from(source, example)
    return how if advice is None else f"{how}; {advice}"


def _where_from(source: str, example: str) -> str:
    if is_local_path(source):
        return (
            "check the path (a relative folder must exist where Python runs); write such a folder with "
            "model.save_pretrained(folder) and processor.save_pretrained(folder), or pass a hub id such as "
            f"{example!r}"
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
    device: Any = "auto",
    dtype: Any = None,
    local_files_only: bool | None = None,
    processor_class: str = "AutoProcessor",
    check_config: Callable[[Any], None] | None = None,
    padding_side: str | None = None,
    advice: str | None = None,
) -> Loaded:
    """Load a transformers model and its processor from a hub id or a folder.

    Args:
        model: A hub id or a folder written by ``save_pretrained``.
        classes: Accepted ``config.model_type`` -> transformers model class name
            (``{"owlv2": "Owlv2ForObjectDetection"}``; ``dict.fromkeys(types, "AutoModel")``).
        family: What the caller loads, for messages (``"OWLv2"``).
        example: A hub id of that family, for hints.
        device: ``"auto"`` or a torch device (see :func:`resolve_device`).
        dtype: ``None`` keeps the saved weights' dtype; otherwise the weights are loaded in
            :func:`resolve_weights_dtype` of it (``"auto"``, ``"float32"``, ``torch.bfloat16`` ...).
        local_files_only: Never contact the hub (default: True for folders, else transformers'
            own rule, which honours ``HF_HUB_OFFLINE``).
        processor_class: ``"AutoProcessor"`` or ``"AutoImageProcessor"`` (detectors without text).
        check_config: Called with the config before the weights are loaded (e.g. to require an
            optional library the architecture needs); may raise.
        padding_side: Set on the processor's tokenizer (``"left"`` for decoder-only generation).
        advice: Added to every "cannot load" hint (e.g. how to accept a gated model's licence).

    Returns:
        The model (eval mode, on its device), processor, config, source, device and dtype.

    Raises:
        CheckpointError: No model given, the folder does not exist or has no config.json, or the
            hub id cannot be loaded.
        BackendError: The model is not of an accepted ``model_type``; a bad device or dtype.
        MissingDependencyError: The processor or model needs a package that is not installed.
    """
    require("torch")
    transformers = require("transformers")
    text = str(model).strip()
    if not text:
        raise CheckpointError(f"no {family} model given", given=model, hint=_how_to_get(example, example, advice))
    local = is_local_path(text)
    path = Path(text).expanduser()
    if local:
        if not path.is_dir():
            raise CheckpointError(
                f"{family} model folder not found", given=text, hint=_how_to_get(text, example, advice)
            )
        source = str(path.resolve())
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"not a transformers model folder: it has no config.json ({family})",
                given=source,
                hint=_how_to_get(source, example, advice),
            )
    else:
        source = text
    device = resolve_device(device)
    weights_dtype = None if dtype is None else resolve_weights_dtype(dtype, device)
    offline = local if local_files_only is None else bool(local_files_only or local)
    unreachable = not offline and not _offline_env() and hub_reachable() is False
    if unreachable:  # fail fast: the cache or the error, not huggingface_hub's retries
        advice = f"{advice}; " if advice else ""
        advice += "the hub was not reachable from here, so only the local cache was read"
    kwargs: dict[str, Any] = {"local_files_only": True} if offline or unreachable else {}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model config",
            given=source,
            hint=f"{_how_to_get(source, example, advice)} ({type(exc).__name__}: {_cause(exc)})",
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
    model_kwargs = dict(kwargs) if weights_dtype is None else {**kwargs, "dtype": weights_dtype}
    try:
        net = getattr(transformers, class_name).from_pretrained(source, **model_kwargs)
        proc = getattr(transformers, processor_class).from_pretrained(source, **kwargs)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the {family} model or processor needs a package that is not installed",
            given=str(exc)[:300],
            hint="pip install 'annotator-widgets[vlm]'",
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"cannot load the {family} model or its processor",
            given=source,
            hint=f"{_how_to_get(source, example, advice)} ({type(exc).__name__}: {_cause(exc)})",
        ) from exc
    if padding_side is not None and getattr(proc, "tokenizer", None) is not None:
        proc.tokenizer.padding_side = padding_side
    net = net.to(device).eval()
    log.info("loaded %s %s (%s) from %s on %s", family, class_name, model_type, source, device)
    return Loaded(
        model=net, processor=proc, config=config, source=source, device=device, dtype=getattr(net, "dtype", None)
    )


# -- inputs shared by the image/text parts -------------------------------------------------------------------


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
