"""The part every transformers grounder shares: loading, options, input checks, the detect template.

A model family subclasses :class:`HfGrounder`, names the architectures it accepts and a default
hub id, and implements :meth:`HfGrounder._predict` (image + phrases -> :class:`.Candidates` in
image pixels); selection is :func:`.postprocess.select` for all.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import AnnotatorError, BackendError
from .._hf import autocast, load_pretrained, resolve_device, resolve_dtype
from .._optional import require
from ..protocols import GroundingBox
from .postprocess import Candidates, Settings, check_image, check_phrases, select

__all__ = ["HfGrounder"]

log = logging.getLogger(__name__)


class HfGrounder:
    """Base of the transformers grounders (a :class:`~annotator_widgets.backends.Grounder`).

    Args:
        model: Hub id or ``save_pretrained`` folder (default: the family's :attr:`default_model`).
        threshold: Lowest score kept (default: the family's :attr:`default_threshold`).
        nms_iou: Per-phrase non-maximum suppression IoU (1.0: off).
        top_k: At most this many boxes per phrase (None: no limit).
        min_size: Smallest box width and height kept, in image pixels.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (bf16 autocast on CPUs and recent GPUs, fp16 on older GPUs, fp32 on MPS),
            ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        local_files_only: Never contact the hub (default: only for folders; ``HF_HUB_OFFLINE=1``
            also keeps transformers offline).

    Attributes:
        name: ``"<part>:<model>"``.
        model_id: The folder or hub id loaded.
        last_scores: phrase -> best score the last :meth:`detect` saw before selection (0.0 when the
            model gave the phrase no box): what to tell a user when nothing was found
            (see :func:`.postprocess.nothing_found`).

    Raises:
        CheckpointError: The model cannot be found or loaded.
        BackendError: Not an architecture of this family, or a bad option.
    """

    #: registry name of the part
    part: ClassVar[str] = ""
    #: what the family is called in messages
    family: ClassVar[str] = ""
    #: accepted config.model_type -> transformers class
    classes: ClassVar[dict[str, str]] = {}
    default_model: ClassVar[str] = ""
    default_threshold: ClassVar[float] = 0.1
    processor_class: ClassVar[str] = "AutoProcessor"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float | None = None,
        nms_iou: float = 0.5,
        top_k: int | None = None,
        min_size: float = 2.0,
        device: Any = "auto",
        dtype: Any = "auto",
        local_files_only: bool | None = None,
    ) -> None:
        self._torch = require("torch")
        require("transformers")
        self.settings = Settings(
            threshold=self.default_threshold if threshold is None else threshold,
            nms_iou=nms_iou,
            top_k=top_k,
            min_size=min_size,
        )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        spec = str(model) if model is not None and str(model).strip() else self.default_model
        loaded = load_pretrained(
            spec,
            classes=self.classes,
            family=self.family,
            example=self.default_model,
            device=self.device,
            local_files_only=local_files_only,
            processor_class=self.processor_class,
            check_config=self._check_config,
        )
        self.model: Any = loaded.model
        self.processor: Any = loaded.processor
        self.config: Any = loaded.config
        self.model_id = loaded.source
        self.name = f"{self.part}:{spec}"
        self.last_scores: dict[str, float] = {}
        self._lock = threading.Lock()
        self._setup()
        log.info("%s (%s) on %s (%s)", self.name, type(self.model).__name__, self.device, self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, device={self.device}, dtype={self.dtype})"

    def __enter__(self) -> HfGrounder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol ---------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, phrases: Sequence[str]) -> list[GroundingBox]:
        """Boxes for every phrase on an RGB ``(H, W, 3)`` uint8 image, best first.

        Boxes are in the image's pixels, clipped to it, after the score threshold, per-phrase
        non-maximum suppression, ``top_k`` and ``min_size``. Several phrases go through the model
        together where it allows (one forward pass). An empty list means nothing passed; the best
        score seen per phrase is in :attr:`last_scores`.

        Raises:
            PromptError: Not an RGB uint8 image, no phrase, or an empty phrase.
            BackendError: The grounder is closed, or the model failed.
        """
        image = check_image(image)
        asked = check_phrases(phrases)
        with self._lock:
            if self.model is None:
                raise BackendError("grounder is closed", given=self.name, hint=f"create a new {type(self).__name__}")
            try:
                with autocast(self.device, self.dtype):
                    cands = self._predict(image, asked)
            except AnnotatorError:
                raise
            except (RuntimeError, ValueError, IndexError, KeyError, TypeError) as exc:
                raise BackendError(
                    f"{self.family} failed on a {image.shape[1]}x{image.shape[0]} image",
                    given=asked,
                    hint=f"{type(exc).__name__}: {exc}",
                ) from exc
        found = select(cands, asked, image.shape[:2], self.settings)
        self.last_scores = cands.best_scores(asked)
        if not found:
            log.info(
                "%s found nothing for %s (best %s, threshold %g)",
                self.name,
                asked,
                {k: round(v, 3) for k, v in self.last_scores.items()},
                self.settings.threshold,
            )
        return found

    def close(self) -> None:
        """Release the model (a later :meth:`detect` raises)."""
        with self._lock:
            self.model = None

    # -- for subclasses ---------------------------------------------------------------------------
    def _check_config(self, config: Any) -> None:
        """Called with the config before the weights load (e.g. to require an optional library)."""

    def _setup(self) -> None:
        """Called once after loading (e.g. to cache token ids)."""

    def _predict(self, image: np.ndarray, phrases: list[str]) -> Candidates:
        """The model's boxes for ``phrases`` in ``image``'s pixels (inside inference mode and autocast)."""
        raise NotImplementedError

    def _to_device(self, inputs: Any) -> Any:
        return inputs.to(self.device)

    def _numpy(self, tensor: Any) -> np.ndarray:
        return np.asarray(tensor.detach().float().cpu().numpy(), np.float64)
