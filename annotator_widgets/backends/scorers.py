"""Mask scorers: how well image regions match phrases, with CLIP, SigLIP and SigLIP 2 (transformers).

Each part embeds crops (:func:`annotator_widgets.crops.masked_crop` prepares them) and phrases
into one space (unit-norm rows), and turns cosine similarities into 0..1 scores with the
model's own calibration, as transformers' zero-shot image classification pipeline does:

* **CLIP** (:class:`ClipScorer`, ``"clip"``): a softmax of ``logit_scale x cosine`` over the
  phrases *plus one "no match" column* - the prompt ensemble of :attr:`ClipScorer.no_match`
  ("This is a photo of something else." ...), averaged and renormalised. So a single phrase
  gets a real score (phrase against "something else") instead of a trivial 1.0, and a crop
  that matches none of several phrases scores low on all of them. Rows sum to at most 1.
  ``no_match=()`` gives CLIP's plain softmax over the phrases (then one phrase is an error).
* **SigLIP / SigLIP 2** (:class:`SiglipScorer` ``"siglip"``, :class:`Siglip2Scorer`
  ``"siglip2"``): ``sigmoid(logit_scale x cosine + logit_bias)``, each (crop, phrase) pair on
  its own. Both accept either architecture: the fixed-resolution SigLIP 2 checkpoints
  (``google/siglip2-base-patch16-224``) are ``model_type="siglip"``, the NaFlex ones ``"siglip2"``.

Phrases go through ``template`` (default ``"This is a photo of {}."``, the pipeline's); SigLIP
text is padded to its full length (64), as it was trained.

Example:
    >>> from annotator_widgets.backends.scorers import ClipScorer  # doctest: +SKIP
    >>> scorer = ClipScorer()  # openai/clip-vit-base-patch32  # doctest: +SKIP
    >>> crops = masked_crops(frame, masks, size=224)  # doctest: +SKIP
    >>> scores = scorer.score(scorer.embed_images(crops), scorer.embed_text(["red shoes"]))  # (N, 1)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import BackendError, PromptError
from ._hf import check_images, check_phrases, load_pretrained, stack_rows, to_model
from ._optional import require

__all__ = ["ClipScorer", "Siglip2Scorer", "SiglipScorer"]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def _matrix(value: Any, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise PromptError(
            f"{what} must be a finite 2-D (rows, dim) array",
            given=f"shape {arr.shape}",
            hint="pass what embed_images / embed_text returned",
        )
    return arr


class _ContrastiveScorer:
    """What CLIP and SigLIP share: loading, embedding in batches, checks. Subclasses calibrate."""

    spec: ClassVar[str]
    family: ClassVar[str]
    default_model: ClassVar[str]
    model_types: ClassVar[frozenset[str]]
    pad_to_max_length: ClassVar[bool]

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        template: str = "This is a photo of {}.",
        batch_size: int = 32,
        device: Any = "auto",
        dtype: Any = "auto",
        local_files_only: bool | None = None,
    ) -> None:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise BackendError("template must contain '{}' exactly once", given=template, hint="e.g. 'a photo of {}.'")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BackendError("batch_size must be a positive int", given=batch_size)
        self._torch = require("torch")
        loaded = load_pretrained(
            self.default_model if model is None else model,
            classes=dict.fromkeys(self.model_types, "AutoModel"),
            family=self.family,
            example=self.default_model,
            device=device,
            dtype=dtype,
            local_files_only=local_files_only,
        )
        processor = loaded.processor
        if not (hasattr(processor, "image_processor") and hasattr(processor, "tokenizer")):
            raise BackendError(
                f"the {self.family} folder has no image processor and tokenizer",
                given=f"{loaded.source} ({type(processor).__name__})",
                hint="save the model's processor next to it: processor.save_pretrained(folder)",
            )
        self._loaded = loaded
        self._model: Any = loaded.model
        self._images = processor.image_processor
        self._tokenizer = processor.tokenizer
        #: a torchvision image processor resizes and normalises where the model runs (uint8 crops go to the GPU,
        #: not float pixels made on the CPU); others run on the CPU
        torchvision = getattr(self._images, "backend", None) == "torchvision"
        self._image_kwargs: dict[str, Any] = {"device": loaded.device} if torchvision else {}
        self.name = self.spec if model is None else f"{self.spec}:{model}"
        self.model_id = loaded.source
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.template = template
        self.batch_size = batch_size
        config = loaded.config
        self.dim = int(getattr(config, "projection_dim", 0) or config.vision_config.hidden_size)
        #: the image tower's input side (crops cut at this size need no second resize)
        self.image_size: int | None = int(getattr(config.vision_config, "image_size", 0) or 0) or None
        self.logit_scale = float(self._model.logit_scale.detach().float().exp().reshape(-1)[0])
        bias = getattr(self._model, "logit_bias", None)
        self.logit_bias = 0.0 if bias is None else float(bias.detach().float().reshape(-1)[0])
        max_length = int(config.text_config.max_position_embeddings)
        self._text_kwargs: dict[str, Any] = {
            "padding": "max_length" if self.pad_to_max_length else True,
            "truncation": True,
            "max_length": max_length,
        }
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, device={self.device}, dtype={self.dtype})"

    # -- protocol ---------------------------------------------------------------------------
    def embed_images(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, D)`` unit-norm float32 embeddings of RGB uint8 crops (background already masked out).

        Raises:
            PromptError: A crop that is not RGB uint8 ``(H, W, 3)``.
        """
        images = check_images(crops, "crop")
        rows = []
        with self._lock:
            model = self._open()
            with self._torch.inference_mode():
                for start in range(0, len(images), self.batch_size):
                    inputs = self._images(
                        images=images[start : start + self.batch_size],
                        return_tensors="pt",
                        input_data_format="channels_last",  # a 3- or 4-pixel-high crop is ambiguous otherwise
                        **self._image_kwargs,
                    )
                    feats = model.get_image_features(**to_model(inputs, self._loaded)).pooler_output
                    rows.append(self._unit(feats))
        return stack_rows(rows, self.dim)

    def embed_text(self, phrases: Sequence[str]) -> np.ndarray:
        """``(M, D)`` unit-norm float32 embeddings of phrases, each put in :attr:`template` first.

        Raises:
            PromptError: An empty phrase, or one string instead of a sequence.
        """
        return self._embed_texts([self.template.format(p) for p in check_phrases(phrases)])

    def score(self, image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """``(N, M)`` float32 match scores in 0..1 with the model's calibration (see the module doc).

        Raises:
            PromptError: Embeddings that are not 2-D, or of different sizes.
        """
        cosine = self.similarity(image_embeddings, text_embeddings)
        return self._calibrate(cosine).astype(np.float32)

    def close(self) -> None:
        """Release the model."""
        with self._lock:
            self._model = None

    # -- helpers ----------------------------------------------------------------------------
    def similarity(self, image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """``(N, M)`` cosine similarities (float64), before any calibration."""
        images, texts = self._unit_pair(image_embeddings, text_embeddings)
        return images @ texts.T

    @staticmethod
    def _unit_pair(image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both sets checked and made unit-norm float64 rows (once: :meth:`ClipScorer.score` reuses the images)."""
        images = _matrix(image_embeddings, "image_embeddings")
        texts = _matrix(text_embeddings, "text_embeddings")
        if images.shape[1] != texts.shape[1]:
            raise PromptError(
                "image and text embeddings have different sizes",
                given=f"{images.shape} and {texts.shape}",
                hint="embed crops and phrases with the same scorer",
            )
        return _unit_rows(images), _unit_rows(texts)

    def match(self, crops: Sequence[np.ndarray], phrases: Sequence[str]) -> np.ndarray:
        """``score(embed_images(crops), embed_text(phrases))`` in one call."""
        return self.score(self.embed_images(crops), self.embed_text(phrases))

    def _calibrate(self, cosine: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        rows = []
        with self._lock:
            model = self._open()
            with self._torch.inference_mode():
                for start in range(0, len(texts), self.batch_size):
                    tokens = self._tokenizer(
                        texts[start : start + self.batch_size], return_tensors="pt", **self._text_kwargs
                    )
                    feats = model.get_text_features(**to_model(tokens, self._loaded)).pooler_output
                    rows.append(self._unit(feats))
        return stack_rows(rows, self.dim)

    def _unit(self, feats: Any) -> np.ndarray:
        feats = feats.float()
        feats = feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return feats.cpu().numpy().astype(np.float32)

    def _open(self) -> Any:
        if self._model is None:
            raise BackendError(f"the {self.family} scorer is closed", given=self.name, hint="create a new one")
        return self._model


class ClipScorer(_ContrastiveScorer):
    """The :class:`~annotator_widgets.backends.MaskScorer` on a transformers CLIP model.

    Args:
        model: Hub id (default ``openai/clip-vit-base-patch32``) or a ``save_pretrained`` folder.
        no_match: The "no match" prompt ensemble competing with the phrases in the softmax
            (full sentences, not put in the template); ``()`` for the plain softmax over phrases.
        template: Each phrase is written into it (``"{}"`` for the bare phrase).
        batch_size: Crops or phrases per model call.
        device: ``"auto"`` (cuda, mps, cpu) or a torch device.
        dtype: ``"auto"`` (float32 on CPU, bf16/fp16 on GPUs), ``"float32"``, ``"bfloat16"``, ``"float16"``.
        local_files_only: Never contact the hub (default: only for folders).

    Raises:
        CheckpointError: The model cannot be found or loaded.
        BackendError: Not a CLIP model, or bad options.
    """

    spec = "clip"
    family = "CLIP"
    default_model = "openai/clip-vit-base-patch32"
    model_types = frozenset({"clip"})
    pad_to_max_length = False

    #: the default "no match" prompt ensemble
    NO_MATCH: ClassVar[tuple[str, ...]] = (
        "This is a photo of something else.",
        "This is a photo of the background.",
        "This is a photo of an object.",
    )

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        no_match: Sequence[str] = NO_MATCH,
        template: str = "This is a photo of {}.",
        batch_size: int = 32,
        device: Any = "auto",
        dtype: Any = "auto",
        local_files_only: bool | None = None,
    ) -> None:
        self.no_match = tuple(check_phrases(no_match))
        super().__init__(
            model,
            template=template,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            local_files_only=local_files_only,
        )
        self._no_match_embedding: np.ndarray | None = None

    def no_match_embedding(self) -> np.ndarray | None:
        """The ``(1, D)`` unit-norm mean embedding of :attr:`no_match` (None without one); computed once."""
        if not self.no_match:
            return None
        if self._no_match_embedding is None:
            mean = self._embed_texts(list(self.no_match)).mean(axis=0, keepdims=True)
            self._no_match_embedding = _unit_rows(mean).astype(np.float32)
        return self._no_match_embedding

    def score(self, image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """``(N, M)`` softmax of ``logit_scale x cosine`` over the M phrases and the "no match" column.

        Raises:
            PromptError: Bad embeddings, or a single phrase with ``no_match=()`` (it would always score 1).
        """
        images, texts = self._unit_pair(image_embeddings, text_embeddings)
        cosine = images @ texts.T
        phrases = cosine.shape[1]
        if phrases == 0:
            return np.zeros(cosine.shape, np.float32)
        extra = self.no_match_embedding()
        if extra is None:
            if phrases == 1:
                raise PromptError(
                    "one phrase and no 'no match' prompts: the softmax would score every crop 1.0",
                    given=self.no_match,
                    hint="keep the default no_match, or score several phrases at once",
                )
        else:
            cosine = np.concatenate([cosine, images @ extra.T.astype(np.float64)], axis=1)
        logits = self.logit_scale * cosine
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs[:, :phrases].astype(np.float32)


class SiglipScorer(_ContrastiveScorer):
    """The :class:`~annotator_widgets.backends.MaskScorer` on a transformers SigLIP (or SigLIP 2) model.

    Scores are ``sigmoid(logit_scale x cosine + logit_bias)``: independent per (crop, phrase).
    Arguments as :class:`ClipScorer` (no ``no_match``); default ``google/siglip-base-patch16-224``.
    """

    spec = "siglip"
    family = "SigLIP"
    default_model = "google/siglip-base-patch16-224"
    model_types = frozenset({"siglip", "siglip2"})
    pad_to_max_length = True

    def _calibrate(self, cosine: np.ndarray) -> np.ndarray:
        logits = np.clip(self.logit_scale * cosine + self.logit_bias, -60.0, 60.0)
        return 1.0 / (1.0 + np.exp(-logits))


class Siglip2Scorer(SiglipScorer):
    """:class:`SiglipScorer` with ``google/siglip2-base-patch16-224`` as default (either architecture)."""

    spec = "siglip2"
    family = "SigLIP 2"
    default_model = "google/siglip2-base-patch16-224"
