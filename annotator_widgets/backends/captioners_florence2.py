"""Florence-2 captions (transformers' native ``Florence2ForConditionalGeneration``).

Florence-2 is prompted with task tokens; captions use ``<MORE_DETAILED_CAPTION>`` by default
(``<CAPTION>`` and ``<DETAILED_CAPTION>`` are shorter).

Florence-2 is not a visual question answering model: it was trained on its task tokens only,
and free text prompts give unreliable output. So a question is answered with the detailed
caption of the image (``questions="caption"``, the default; a warning says so once per
captioner), or refused with a :class:`~annotator_widgets.errors.PromptError`
(``questions="error"``). Ask a question-answering captioner (``"blip"``, ``"smolvlm"``,
``"qwen-vl"``) when the answer matters.

Example:
    >>> from annotator_widgets.backends.captioners_florence2 import Florence2Captioner  # doctest: +SKIP
    >>> Florence2Captioner().describe([crop], [""])  # doctest: +SKIP
    ['A person in a red jacket rides a bicycle down a city street ...']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError, PromptError
from .captioners import BaseCaptioner

__all__ = ["Florence2Captioner"]

log = logging.getLogger(__name__)

#: the caption tasks Florence-2 knows
CAPTION_TASKS = ("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>")


class Florence2Captioner(BaseCaptioner):
    """The :class:`~annotator_widgets.backends.Captioner` on Florence-2.

    Args:
        model: Hub id (default ``florence-community/Florence-2-base``, the transformers-native
            weights) or a ``save_pretrained`` folder.
        task: One of :data:`CAPTION_TASKS`.
        questions: ``"caption"`` (answer a question with the caption, warning once) or ``"error"``.
        max_new_tokens: Longest caption (default 128: detailed captions are long).
        **options: ``num_beams``, ``batch_size``, ``device``, ``dtype``, ``local_files_only``
            as in :class:`~.captioners.BaseCaptioner`.
    """

    spec = "florence2"
    family = "Florence-2"
    default_model = "florence-community/Florence-2-base"
    model_types = frozenset({"florence2"})
    default_max_new_tokens = 128
    decoder_only = False

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        task: str = "<MORE_DETAILED_CAPTION>",
        questions: str = "caption",
        max_new_tokens: int | None = None,
        **options: Any,
    ) -> None:
        if task not in CAPTION_TASKS:
            raise BackendError("unknown Florence-2 caption task", given=task, hint=f"use one of {CAPTION_TASKS}")
        if questions not in ("caption", "error"):
            raise BackendError("questions must be 'caption' or 'error'", given=questions)
        self.task = task
        self.questions = questions
        self._warned = False
        super().__init__(model, max_new_tokens=max_new_tokens, **options)

    def build_inputs(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> dict[str, Any]:
        """The task prompt (questions replaced by it, see the module doc) and pixels of each image."""
        asked = [p for p in prompts if p]
        if asked:
            if self.questions == "error":
                raise PromptError(
                    "Florence-2 does not answer questions",
                    given=asked[0],
                    hint='pass "" for a caption, or use a question-answering captioner such as "blip" or "smolvlm"',
                )
            if not self._warned:
                log.warning(
                    "Florence-2 is not a question-answering model: answering %r (and later questions) with its %s",
                    asked[0],
                    self.task,
                )
                self._warned = True
        return self._inputs(self._open(), text=[self.task] * len(images), images=list(images))
