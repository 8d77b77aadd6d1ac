"""Chat vision-language models as captioners: SmolVLM and Qwen-VL (transformers), through their chat templates.

Each image becomes one user turn - the image, then the text - written with the processor's
own chat template and ``add_generation_prompt=True``; the text is the question, or
``caption_prompt`` for a caption. The assistant's reply (the generated tokens after the
prompt) is the answer. Prompts are padded on the left, so a batch gives the same text as
one image at a time.

* ``"smolvlm"`` (:class:`SmolVlmCaptioner`): ``HuggingFaceTB/SmolVLM-256M-Instruct`` by
  default (SmolVLM and Idefics3 checkpoints). Its processor needs the ``num2words`` package.
* ``"qwen-vl"`` (:class:`QwenVlCaptioner`): ``Qwen/Qwen2.5-VL-3B-Instruct`` by default
  (Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints).

Example:
    >>> from annotator_widgets.backends.captioners_chat import SmolVlmCaptioner  # doctest: +SKIP
    >>> SmolVlmCaptioner().describe([crop], ["What is the person doing with the cup?"])  # doctest: +SKIP
    ['The person is drinking from the cup.']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError
from .captioners import BaseCaptioner

__all__ = ["ChatCaptioner", "QwenVlCaptioner", "SmolVlmCaptioner"]


class ChatCaptioner(BaseCaptioner):
    """A :class:`~annotator_widgets.backends.Captioner` on an image-text-to-text model with a chat template.

    Args:
        model: Hub id or ``save_pretrained`` folder (with the processor's chat template).
        caption_prompt: The text sent with the image when the prompt is ``""``.
        system_prompt: An optional system turn before each user turn.
        **options: ``max_new_tokens``, ``num_beams``, ``batch_size``, ``device``, ``dtype``,
            ``local_files_only`` as in :class:`~.captioners.BaseCaptioner`.

    Raises:
        BackendError: Another architecture, or a processor without a chat template.
        CheckpointError: The model cannot be found or loaded.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        caption_prompt: str = "Describe this image in one sentence.",
        system_prompt: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(caption_prompt, str) or not caption_prompt.strip():
            raise BackendError("caption_prompt must be a non-empty string", given=caption_prompt)
        self.caption_prompt = caption_prompt.strip()
        self.system_prompt = system_prompt
        super().__init__(model, **options)
        loaded = self._open()
        if not getattr(loaded.processor, "chat_template", None):
            raise BackendError(
                f"the {self.family} processor has no chat template",
                given=loaded.source,
                hint="use an instruction-tuned checkpoint, or save one with processor.chat_template set",
            )

    def messages(self, prompt: str) -> list[dict[str, Any]]:
        """The conversation for one image and its (stripped) prompt."""
        turns: list[dict[str, Any]] = []
        if self.system_prompt:
            turns.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        text = prompt or self.caption_prompt
        turns.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]})
        return turns

    def build_inputs(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> dict[str, Any]:
        """Chat-templated prompts (with the image placeholder expanded by the processor) and pixels."""
        loaded = self._open()
        texts = [
            loaded.processor.apply_chat_template(self.messages(p), add_generation_prompt=True, tokenize=False)
            for p in prompts
        ]
        return self._inputs(loaded, text=texts, images=[[image] for image in images], padding=True)


class SmolVlmCaptioner(ChatCaptioner):
    """:class:`ChatCaptioner` for SmolVLM / Idefics3 (default ``HuggingFaceTB/SmolVLM-256M-Instruct``)."""

    spec = "smolvlm"
    family = "SmolVLM"
    default_model = "HuggingFaceTB/SmolVLM-256M-Instruct"
    model_types = frozenset({"smolvlm", "idefics3"})


class QwenVlCaptioner(ChatCaptioner):
    """:class:`ChatCaptioner` for Qwen2-VL, Qwen2.5-VL and Qwen3-VL (default ``Qwen/Qwen2.5-VL-3B-Instruct``)."""

    spec = "qwen-vl"
    family = "Qwen-VL"
    default_model = "Qwen/Qwen2.5-VL-3B-Instruct"
    model_types = frozenset({"qwen2_vl", "qwen2_5_vl", "qwen3_vl"})
