"""BLIP and BLIP-2 captions and answers (transformers).

* ``"blip"`` (:class:`BlipCaptioner`): captions with a BLIP captioning checkpoint
  (``BlipForConditionalGeneration``, default ``Salesforce/blip-image-captioning-base``);
  questions with a BLIP VQA checkpoint (``BlipForQuestionAnswering``, default
  ``Salesforce/blip-vqa-base``), loaded at the first question. BLIP's answer decoder attends
  to every question position, padding included, so questions share a batch only with
  questions of the same token length: batched answers equal one-by-one answers.
* ``"blip2"`` (:class:`Blip2Captioner`): one model for both (``Blip2ForConditionalGeneration``,
  default ``Salesforce/blip2-opt-2.7b``); a caption is generated from the image alone, a
  question is asked as ``question_template`` (``"Question: {} Answer:"``, BLIP-2's own).

Example:
    >>> from annotator_widgets.backends.captioners_blip import BlipCaptioner  # doctest: +SKIP
    >>> BlipCaptioner().describe([crop, crop], ["", "what is the person holding?"])  # doctest: +SKIP
    ['a man riding a bike down a street', 'umbrella']
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError, PromptError
from ._vlm_loading import Loaded
from .captioners import BaseCaptioner

__all__ = ["Blip2Captioner", "BlipCaptioner"]

_VQA_CLASS = "BlipForQuestionAnswering"


class BlipCaptioner(BaseCaptioner):
    """The :class:`~annotator_widgets.backends.Captioner` on BLIP (captioning + VQA checkpoints).

    Args:
        model: The captioning checkpoint (hub id or folder).
        vqa_model: The question-answering checkpoint, loaded at the first question; None
            makes questions an error.
        **options: ``max_new_tokens``, ``num_beams``, ``batch_size``, ``device``, ``dtype``,
            ``local_files_only`` as in :class:`~.captioners.BaseCaptioner`.

    Raises:
        BackendError: ``model`` is a VQA checkpoint (pass it as ``vqa_model``), or not BLIP.
        CheckpointError: A checkpoint cannot be found or loaded (the VQA one: at the first question).
    """

    spec = "blip"
    family = "BLIP"
    default_model = "Salesforce/blip-image-captioning-base"
    default_vqa_model = "Salesforce/blip-vqa-base"
    model_types = frozenset({"blip"})
    model_class = "BlipForConditionalGeneration"
    decoder_only = False  # BLIP's generate returns only the generated text tokens

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        vqa_model: str | os.PathLike[str] | None = default_vqa_model,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        loaded = self._open()
        if _VQA_CLASS in (getattr(loaded.config, "architectures", None) or []):
            raise BackendError(
                "this BLIP checkpoint answers questions; it does not caption",
                given=loaded.source,
                hint=f"pass it as vqa_model=..., with a captioning checkpoint such as {self.default_model!r}",
            )
        self.vqa_model = vqa_model
        self._vqa: Loaded | None = None

    def close(self) -> None:
        """Release both models."""
        with self._lock:
            self._loaded = None
            self._vqa = None

    def vqa(self) -> Loaded:
        """The question-answering model, loaded on first use."""
        if self._vqa is None:
            if self.vqa_model is None:
                raise PromptError(
                    "this BLIP captioner has no question-answering model",
                    given=self.name,
                    hint=f"pass vqa_model={self.default_vqa_model!r} (or a folder), or ask with an empty prompt",
                )
            self._vqa = self._load(self.vqa_model, _VQA_CLASS, example=self.default_vqa_model)
        return self._vqa

    def build_inputs(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> dict[str, Any]:
        """Pixels (captions) or pixels + question tokens (questions); one kind per call."""
        kinds = {bool(p) for p in prompts}
        if len(kinds) > 1:
            raise PromptError(
                "BLIP needs captions and questions in separate calls to build_inputs",
                given=list(prompts),
                hint="describe() sorts them for you",
            )
        if True in kinds:
            return self._inputs(self.vqa(), images=list(images), text=list(prompts), padding=True)
        return self._inputs(self._open(), images=list(images))

    def _groups(self, prompts: list[str]) -> list[list[int]]:
        """Captions together; questions by token length (see the module doc)."""
        groups: dict[int, list[int]] = defaultdict(list)
        tokenizer = None
        for i, prompt in enumerate(prompts):
            if not prompt:
                groups[-1].append(i)
                continue
            if tokenizer is None:
                tokenizer = self.vqa().processor.tokenizer
            groups[len(tokenizer(prompt)["input_ids"])].append(i)
        return [groups[k] for k in sorted(groups)]

    def _generate(self, images: list[np.ndarray], prompts: list[str]) -> list[str]:
        loaded = self.vqa() if prompts[0] else self._open()
        return self._run(loaded, self.build_inputs(images, prompts))


class Blip2Captioner(BaseCaptioner):
    """The :class:`~annotator_widgets.backends.Captioner` on BLIP-2 (OPT or Flan-T5 language models).

    Args:
        model: Hub id (default ``Salesforce/blip2-opt-2.7b``) or folder.
        question_template: How a question is put to the model (``"{}"`` for the bare question).
        **options: ``max_new_tokens``, ``num_beams``, ``batch_size``, ``device``, ``dtype``,
            ``local_files_only`` as in :class:`~.captioners.BaseCaptioner`.
    """

    spec = "blip2"
    family = "BLIP-2"
    default_model = "Salesforce/blip2-opt-2.7b"
    model_types = frozenset({"blip-2"})

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        question_template: str = "Question: {} Answer:",
        **options: Any,
    ) -> None:
        if not isinstance(question_template, str) or question_template.count("{}") != 1:
            raise BackendError("question_template must contain '{}' exactly once", given=question_template)
        self.question_template = question_template
        super().__init__(model, **options)
        loaded = self._open()
        text_config = getattr(loaded.config, "text_config", None)
        if getattr(text_config, "is_encoder_decoder", False):  # Flan-T5: generate returns only new tokens
            self.decoder_only = False
            loaded.processor.tokenizer.padding_side = "right"

    def build_inputs(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> dict[str, Any]:
        """The query-token placeholders, then the (templated) question, and the pixels."""
        texts = [self.question_template.format(p) if p else "" for p in prompts]
        return self._inputs(self._open(), images=list(images), text=texts, padding=True)
