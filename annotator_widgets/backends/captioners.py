"""What every captioner part shares: checking the input, batching, greedy generation, decoding.

A captioner writes one text per image: a caption when the prompt is ``""``, else the answer
to the prompt (a question). The model families live in sibling modules, each a subclass of
:class:`BaseCaptioner` registered by name:

* ``"florence2"`` - :class:`~.captioners_florence2.Florence2Captioner` (captions only; see there for questions)
* ``"blip"``, ``"blip2"`` - :mod:`.captioners_blip`
* ``"smolvlm"``, ``"qwen-vl"`` - :mod:`.captioners_chat` (chat templates)

Decoding is greedy (``do_sample=False``, ``num_beams=1``) unless ``num_beams`` is raised, so
the same input always gives the same text. Images are processed in batches of ``batch_size``;
padding is arranged so a batch gives the same text as one image at a time.

Subclasses implement :meth:`BaseCaptioner.build_inputs` (what the model is given) and may
override :meth:`BaseCaptioner._groups` (which images can share a batch) and
:meth:`BaseCaptioner._generate`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import BackendError, PromptError
from ._optional import require
from ._vlm_loading import Loaded, check_images, load_pretrained, to_model

__all__ = ["BaseCaptioner", "check_prompts"]


def check_prompts(prompts: Any, count: int) -> list[str]:
    """One stripped prompt per image; a plain string is used for every image.

    Raises:
        PromptError: A prompt that is not a string, or a count that differs from the images'.
    """
    if isinstance(prompts, str):
        return [prompts.strip()] * count
    out = list(prompts)
    if len(out) != count:
        raise PromptError(
            "one prompt per image is needed",
            given=f"{count} images, {len(out)} prompts",
            hint='pass "" for a caption, a question otherwise, or one string for all images',
        )
    for i, prompt in enumerate(out):
        if not isinstance(prompt, str):
            raise PromptError(f"prompt {i} is not a string", given=prompt, hint='use "" for a plain caption')
    return [p.strip() for p in out]


class BaseCaptioner:
    """The :class:`~annotator_widgets.backends.Captioner` plumbing on a transformers image-to-text model.

    Args:
        model: Hub id (default :attr:`default_model`) or a ``save_pretrained`` folder.
        max_new_tokens: Longest text generated per image.
        num_beams: 1 is greedy decoding (the default); more is beam search (still deterministic).
        batch_size: Images per ``generate`` call.
        device: ``"auto"`` (cuda, mps, cpu) or a torch device.
        dtype: ``"auto"`` (float32 on CPU, bf16/fp16 on GPUs), ``"float32"``, ``"bfloat16"``, ``"float16"``.
        local_files_only: Never contact the hub (default: only for folders).

    Raises:
        CheckpointError: The model cannot be found or loaded.
        BackendError: Another architecture, or bad options.
    """

    spec: ClassVar[str]
    family: ClassVar[str]
    default_model: ClassVar[str]
    model_types: ClassVar[frozenset[str]]
    model_class: ClassVar[str] = "AutoModelForImageTextToText"
    default_max_new_tokens: ClassVar[int] = 64
    #: decoder-only models generate after the prompt: pad on the left, cut the prompt off the output
    decoder_only: bool = True

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        max_new_tokens: int | None = None,
        num_beams: int = 1,
        batch_size: int = 8,
        device: Any = "auto",
        dtype: Any = "auto",
        local_files_only: bool | None = None,
    ) -> None:
        max_new_tokens = self.default_max_new_tokens if max_new_tokens is None else max_new_tokens
        for name, value in (("max_new_tokens", max_new_tokens), ("num_beams", num_beams), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BackendError(f"{name} must be a positive int", given=value)
        self._torch = require("torch")
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.batch_size = batch_size
        self._options: dict[str, Any] = {"device": device, "dtype": dtype, "local_files_only": local_files_only}
        self._loaded: Loaded | None = self._load(self.default_model if model is None else model, self.model_class)
        self.name = self.spec if model is None else f"{self.spec}:{model}"
        self.model_id = self._loaded.source
        self.device = self._loaded.device
        self.dtype = self._loaded.dtype
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, device={self.device}, dtype={self.dtype})"

    # -- protocol ---------------------------------------------------------------------------
    def describe(self, images: Sequence[np.ndarray], prompts: Sequence[str] | str) -> list[str]:
        """One text per RGB uint8 image: a caption for a ``""`` prompt, else the answer to it.

        Args:
            images: RGB uint8 ``(H, W, 3)`` arrays (crops of the regions to describe).
            prompts: One per image, or one string for all.

        Returns:
            The texts, in the images' order, stripped of surrounding space.

        Raises:
            PromptError: A non-RGB image, or prompts that do not match the images.
        """
        arrays = check_images(images)
        texts = check_prompts(prompts, len(arrays))
        out: list[str] = [""] * len(arrays)
        with self._lock:
            self._open()
            for group in self._groups(texts):
                for start in range(0, len(group), self.batch_size):
                    idx = group[start : start + self.batch_size]
                    answers = self._generate([arrays[i] for i in idx], [texts[i] for i in idx])
                    for i, answer in zip(idx, answers, strict=True):
                        out[i] = answer.strip()
        return out

    def close(self) -> None:
        """Release the model(s)."""
        with self._lock:
            self._loaded = None

    # -- for subclasses -----------------------------------------------------------------------
    def build_inputs(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> dict[str, Any]:
        """What the model is given for these images and (checked, stripped) prompts: the
        processor's output on the model's device. Public for inspection and debugging."""
        raise NotImplementedError

    def _groups(self, prompts: list[str]) -> list[list[int]]:
        """Indices of images that may share a batch (default: all)."""
        return [list(range(len(prompts)))]

    def _generate(self, images: list[np.ndarray], prompts: list[str]) -> list[str]:
        return self._run(self._open(), self.build_inputs(images, prompts))

    def _load(self, model: str | os.PathLike[str], model_class: str, **kwargs: Any) -> Loaded:
        return load_pretrained(
            model,
            model_class=model_class,
            model_types=kwargs.pop("model_types", self.model_types),
            family=kwargs.pop("family", self.family),
            example=kwargs.pop("example", self.default_model),
            padding_side="left" if self.decoder_only else None,
            **self._options,
            **kwargs,
        )

    def _open(self) -> Loaded:
        if self._loaded is None:
            raise BackendError(f"the {self.family} captioner is closed", given=self.name, hint="create a new one")
        return self._loaded

    def _inputs(self, loaded: Loaded, **processor_kwargs: Any) -> dict[str, Any]:
        """Run ``loaded.processor`` and move its output to the model."""
        if "images" in processor_kwargs:  # a 3- or 4-pixel-high image is ambiguous otherwise
            processor_kwargs.setdefault("input_data_format", "channels_last")
        try:
            batch = loaded.processor(return_tensors="pt", **processor_kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackendError(
                f"the {self.family} processor rejected the input", given=self.name, hint=f"{type(exc).__name__}: {exc}"
            ) from exc
        return to_model(batch, loaded)

    def _run(self, loaded: Loaded, inputs: dict[str, Any], **generate_kwargs: Any) -> list[str]:
        """Greedy (or beam) generation and decoding of the new tokens only."""
        with self._torch.inference_mode():
            ids = loaded.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=self.num_beams,
                **generate_kwargs,
            )
        if self.decoder_only and "input_ids" in inputs:
            ids = ids[:, inputs["input_ids"].shape[1] :]
        return [str(t) for t in loaded.processor.batch_decode(ids, skip_special_tokens=True)]
