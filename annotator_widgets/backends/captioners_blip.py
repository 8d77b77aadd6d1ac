"""BLIP and BLIP-2 captions and answers (transformers).

* ``"blip"`` (:class:`BlipCaptioner`): captions with a BLIP captioning checkpoint
  (``BlipForConditionalGeneration``, default ``Salesforce/blip-image-captioning-base``);
  questions with a BLIP VQA checkpoint (``BlipForQuestionAnswering``, default
  ``Salesforce/blip-vqa-base``), loaded at the first question. A folder given as the model is
  never paired with the hub's VQA model: ``"blip:<VQA folder>"`` answers questions (and cannot
  caption); ``"blip:<captioning folder>"`` answers questions only with ``vqa_model=`` given.
  BLIP's answer decoder attends to every question position, padding included, so questions
  share a batch only with questions of the same token length: batched answers equal one-by-one
  answers.
* ``"blip2"`` (:class:`Blip2Captioner`): one model for both (``Blip2ForConditionalGeneration``,
  default ``Salesforce/blip2-opt-2.7b``); a caption is generated from the image alone, a
  question is asked as ``question_template`` (``"Question: {} Answer:"``, BLIP-2's own).

Example:
    >>> from annotator_widgets.backends.captioners_blip import BlipCaptioner  # doctest: +SKIP
    >>> BlipCaptioner().describe([crop, crop], ["", "what is the person holding?"])  # doctest: +SKIP
    ['a man riding a bike down a street', 'umbrella']
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError, CheckpointError, PromptError
from ._hf import Loaded, is_local_path
from .captioners import BaseCaptioner

__all__ = ["Blip2Captioner", "BlipCaptioner"]

_VQA_CLASS = "BlipForQuestionAnswering"
#: ``vqa_model``'s default: the hub's VQA model for a hub captioning model, none for a folder
AUTO = "auto"


def _architectures(model: str | os.PathLike[str] | None) -> list[str]:
    """The ``architectures`` of a local folder's config.json ([] for a hub id or an unreadable folder)."""
    if model is None or not is_local_path(str(model)):
        return []
    try:
        with open(os.path.join(os.path.expanduser(str(model)), "config.json"), encoding="utf-8") as f:
            return list(json.load(f).get("architectures") or [])
    except (OSError, ValueError, AttributeError):
        return []  # the loader says what is wrong with the folder


class BlipCaptioner(BaseCaptioner):
    """The :class:`~annotator_widgets.backends.Captioner` on BLIP (captioning + VQA checkpoints).

    Args:
        model: The captioning checkpoint (hub id or folder), or a folder of a VQA checkpoint
            (then it answers questions and a caption is an error).
        vqa_model: The question-answering checkpoint, loaded at the first question. ``"auto"``:
            ``Salesforce/blip-vqa-base`` for a hub ``model``; none for a folder (a question is
            then an error naming ``vqa_model=``, never a silent hub download). None makes
            questions an error.
        **options: ``max_new_tokens``, ``num_beams``, ``batch_size``, ``device``, ``dtype``,
            ``local_files_only`` as in :class:`~.captioners.BaseCaptioner`.

    Raises:
        BackendError: ``model`` is a VQA checkpoint from the hub or given with another ``vqa_model``
            (pass it as ``vqa_model``), or not BLIP.
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
        vqa_model: str | os.PathLike[str] | None = AUTO,
        **options: Any,
    ) -> None:
        #: True for a VQA folder given as the model: it answers questions, it does not caption
        self.answers_only = _VQA_CLASS in _architectures(model) and vqa_model == AUTO
        super().__init__(model, **options)
        loaded = self._open()
        self._vqa: Loaded | None = loaded if self.answers_only else None
        if not self.answers_only and _VQA_CLASS in (getattr(loaded.config, "architectures", None) or []):
            raise BackendError(
                "this BLIP checkpoint answers questions; it does not caption",
                given=loaded.source,
                hint=f"pass it as vqa_model=..., with a captioning checkpoint such as {self.default_model!r}",
            )
        self._local = model is not None and is_local_path(str(model))
        if vqa_model == AUTO:
            vqa_model = loaded.source if self.answers_only else None if self._local else self.default_vqa_model
        self.vqa_model = vqa_model

    def _load(self, model: str | os.PathLike[str], model_class: str, **kwargs: Any) -> Loaded:
        # a VQA folder given as the model is loaded once, as the question-answering model
        return super()._load(model, _VQA_CLASS if self.answers_only else model_class, **kwargs)

    def close(self) -> None:
        """Release both models."""
        with self._lock:
            self._loaded = None
            self._vqa = None

    def vqa(self) -> Loaded:
        """The question-answering model, loaded on first use."""
        if self._vqa is None:
            if self.vqa_model is None:
                why = "its model is a folder and no vqa_model was given; " if self._local else ""
                raise PromptError(
                    "this BLIP captioner has no question-answering model",
                    given=self.name,
                    hint=f"{why}pass vqa_model='<folder of a BlipForQuestionAnswering>' "
                    f"(or {self.default_vqa_model!r} from the hub), give that VQA folder as the model itself "
                    "('blip:<VQA folder>', e.g. --captioner on the command line), or ask with an empty prompt",
                )
            try:
                self._vqa = self._load(self.vqa_model, _VQA_CLASS, example=self.default_vqa_model)
            except CheckpointError as exc:
                raise CheckpointError(
                    exc.message or "cannot load the BLIP question-answering model",
                    given=exc.given,
                    hint=f"{exc.hint or 'check the checkpoint'}; questions use vqa_model= (given {self.vqa_model!r}): "
                    "pass a BlipForQuestionAnswering folder there",
                ) from exc
        return self._vqa

    def _captioning(self) -> Loaded:
        """The captioning model; an error for a VQA folder given as the model."""
        if self.answers_only:
            raise PromptError(
                "this BLIP model answers questions; it does not caption",
                given=self.name,
                hint="ask a question (a non-empty prompt), or pass a captioning checkpoint such as "
                f"{self.default_model!r} as the model and this folder as vqa_model=...",
            )
        return self._open()

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
        return self._inputs(self._captioning(), images=list(images))

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
        loaded = self.vqa() if prompts[0] else self._captioning()
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
