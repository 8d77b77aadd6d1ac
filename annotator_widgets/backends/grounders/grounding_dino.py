"""Grounding DINO and MM-Grounding-DINO: phrases joined into one caption, one forward pass.

The processor expects the phrases as one lower-case caption, each ended by a dot
(``"a cat. a dog."``). The model gives each query box a logit per caption token; a box's score
for a phrase is the highest token probability (sigmoid) over that phrase's own tokens - the
processor's box score restricted to the phrase - and the box answers its best phrase. Separators
and special tokens never count, so a box is always mapped back to an asked phrase (the
processor instead decodes whichever tokens pass a text threshold).

Boxes are normalised ``cx, cy, w, h`` of the image (the processor pads only batches): x scales by
the width, y by the height. The caption may hold at most ``config.max_text_len`` tokens (256).

Example:
    >>> from annotator_widgets.backends.grounders.grounding_dino import GroundingDinoGrounder  # doctest: +SKIP
    >>> dino = GroundingDinoGrounder(threshold=0.35)  # IDEA-Research/grounding-dino-tiny  # doctest: +SKIP
    >>> dino.detect(frame, ["the blue bottle", "a person"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...errors import BackendError, PromptError
from ._base import HfGrounder
from .postprocess import Candidates, cxcywh_to_xyxy, sigmoid

__all__ = ["GroundingDinoGrounder", "MMGroundingDinoGrounder", "caption_spans"]


def caption_spans(phrases: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The caption Grounding DINO reads and each phrase's character span in it.

    Example:
        >>> caption_spans(["A cat", "a dog"])
        ('a cat. a dog.', [(0, 5), (7, 12)])
    """
    parts, spans, pos = [], [], 0
    for phrase in phrases:
        text = phrase.strip().lower()
        spans.append((pos, pos + len(text)))
        parts.append(text)
        pos += len(text) + 2  # ". "
    return ". ".join(parts) + ".", spans


class GroundingDinoGrounder(HfGrounder):
    """Grounding DINO (``GroundingDinoForObjectDetection``); default threshold 0.3."""

    part = "grounding-dino"
    family = "Grounding DINO"
    classes: ClassVar[dict[str, str]] = {"grounding-dino": "GroundingDinoForObjectDetection"}
    default_model = "IDEA-Research/grounding-dino-tiny"
    default_threshold = 0.3

    def _predict(self, image: np.ndarray, phrases: list[str]) -> Candidates:
        caption, spans = caption_spans(phrases)
        ids, tokens = self._phrase_tokens(caption, spans, phrases)
        inputs = self.processor(images=image, text=caption, return_tensors="pt")
        if inputs["input_ids"][0].tolist() != ids:
            raise BackendError(
                "the processor tokenized the caption differently from its tokenizer",
                given=caption,
                hint="a mismatched tokenizer/processor in the model folder; re-save both with save_pretrained",
            )
        out = self.model(**self._to_device(inputs))
        probs = sigmoid(self._numpy(out.logits[0]))  # (queries, max_text_len); padding (-inf) is 0
        matrix = np.stack([probs[:, cols].max(axis=1) for cols in tokens], axis=1)
        height, width = image.shape[:2]
        return Candidates.from_matrix(cxcywh_to_xyxy(self._numpy(out.pred_boxes[0]), (width, height)), matrix)

    def _phrase_tokens(
        self, caption: str, spans: list[tuple[int, int]], phrases: list[str]
    ) -> tuple[list[int], list[list[int]]]:
        """The caption's token ids and each phrase's token positions (from the tokenizer's character offsets)."""
        enc = self.processor.tokenizer(caption, return_offsets_mapping=True)
        ids: list[int] = list(enc["input_ids"])
        limit = int(getattr(self.config, "max_text_len", 256))
        if len(ids) > limit:
            raise PromptError(
                f"too many phrases for one {self.family} pass: {len(ids)} tokens, at most {limit}",
                given=phrases,
                hint="ask fewer or shorter phrases per call",
            )
        special = set(self.processor.tokenizer.all_special_ids)
        offsets = enc["offset_mapping"]
        out = []
        for (start, stop), phrase in zip(spans, phrases, strict=True):
            cols = [i for i, (a, b) in enumerate(offsets) if b > a and a < stop and b > start and ids[i] not in special]
            if not cols:
                raise PromptError(
                    f"the {self.family} tokenizer gives the phrase no tokens", given=phrase, hint="use words"
                )
            out.append(cols)
        return ids, out


class MMGroundingDinoGrounder(GroundingDinoGrounder):
    """MM-Grounding-DINO (``MMGroundingDinoForObjectDetection``, OpenMMLab's re-training); default threshold 0.3."""

    part = "mm-grounding-dino"
    family = "MM-Grounding-DINO"
    classes: ClassVar[dict[str, str]] = {"mm-grounding-dino": "MMGroundingDinoForObjectDetection"}
    default_model = "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg"
    default_threshold = 0.3
