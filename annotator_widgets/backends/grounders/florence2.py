"""Florence-2 (transformers' native ``Florence2ForConditionalGeneration``): boxes written as location tokens.

Florence-2 generates text in which every box is four tokens ``<loc_0>`` .. ``<loc_999>`` (x0, y0,
x1, y1 in thousandths of the image's width and height) after the phrase it belongs to. Tasks:

* ``<CAPTION_TO_PHRASE_GROUNDING>`` (default): the phrases joined into one caption
  (``"a cat. a dog"``), one generation; each found phrase is mapped back to the asked phrase whose
  words it repeats (:func:`.postprocess.match_phrase`; with one phrase, everything answers it).
  The post-processor's banned phrases (e.g. ``"the image"``) are skipped.
* ``<OPEN_VOCABULARY_DETECTION>``: one prompt per phrase, generated together as a batch; each
  sequence's boxes answer its phrase.
* ``<OD>``: the model's own object classes (no text input); a box answers the phrase its class
  equals, ignoring articles and plurals.

Florence-2 gives no scores. The score reported is the model's confidence in the box's location:
the geometric mean of the probabilities of its four location tokens (``exp`` of their mean
log-probability at generation time), in 0..1. The default threshold is therefore 0 (keep every
box the model wrote). Coordinates are the centres of the location bins, ``(bin + 0.5) / 1000``
times the image size, as the processor's own dequantisation, but not rounded to whole pixels.

Example:
    >>> from annotator_widgets.backends.grounders.florence2 import Florence2Grounder  # doctest: +SKIP
    >>> flo = Florence2Grounder()  # florence-community/Florence-2-base  # doctest: +SKIP
    >>> flo.detect(frame, ["the blue bottle"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...errors import BackendError
from ._base import HfGrounder
from .postprocess import Candidates, match_phrase, normalize

__all__ = ["TASKS", "Florence2Grounder", "LocatedPhrase", "parse_locations"]

GROUNDING = "<CAPTION_TO_PHRASE_GROUNDING>"
OPEN_VOCABULARY = "<OPEN_VOCABULARY_DETECTION>"
OBJECTS = "<OD>"
#: the Florence-2 tasks that give boxes
TASKS = (GROUNDING, OPEN_VOCABULARY, OBJECTS)
_BINS = 1000
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class LocatedPhrase:
    """One box Florence-2 wrote: its phrase, its four location bins and their token log-probabilities."""

    text: str
    bins: tuple[int, int, int, int]
    logprob: float


def parse_locations(
    ids: list[int], logprobs: list[float], loc_bins: dict[int, int], decode: Any, skip: set[int]
) -> list[LocatedPhrase]:
    """Walk generated token ids: text tokens make the current phrase, each four location tokens a box.

    Args:
        ids: Generated token ids.
        logprobs: Log-probability of each id when it was generated (same length).
        loc_bins: Token id of ``<loc_N>`` -> N.
        decode: Token ids -> text.
        skip: Ids that are neither text nor location (bos, eos, pad, image).

    Returns:
        The boxes in order, each with the phrase written before it and the mean log-probability of
        its four location tokens. An incomplete run of location tokens is ignored.

    Example:
        >>> vocab = {1: "cat", 2: "dog"}
        >>> locs = {10 + i: i for i in range(1000)}
        >>> out = parse_locations([1, 10, 11, 12, 13, 2, 14, 15, 16, 17, 18, 19, 20, 21], [0.0] * 14, locs,
        ...                       lambda t: "".join(vocab[i] for i in t), set())
        >>> [(p.text, p.bins) for p in out]
        [('cat', (0, 1, 2, 3)), ('dog', (4, 5, 6, 7)), ('dog', (8, 9, 10, 11))]
    """
    found: list[LocatedPhrase] = []
    text_ids: list[int] = []
    phrase = ""
    run: list[tuple[int, float]] = []
    for tid, lp in zip(ids, logprobs, strict=True):
        if tid in skip:
            continue
        if tid in loc_bins:
            if text_ids:
                phrase = _TAG.sub("", decode(text_ids)).strip()
                text_ids = []
            run.append((loc_bins[tid], lp))
            if len(run) == 4:
                bins = (run[0][0], run[1][0], run[2][0], run[3][0])
                found.append(LocatedPhrase(phrase, bins, float(np.mean([r[1] for r in run]))))
                run = []
        else:
            run = []
            text_ids.append(tid)
    return found


def _task(task: str) -> str:
    key = task.strip().upper()
    key = key if key.startswith("<") else f"<{key}>"
    if key not in TASKS:
        raise BackendError("not a Florence-2 task that gives boxes", given=task, hint=f"use one of {list(TASKS)}")
    return key


class Florence2Grounder(HfGrounder):
    """Florence-2 grounding, open-vocabulary detection or object detection; default threshold 0.

    Args:
        model: Hub id or folder of a transformers-native Florence-2 (``model_type`` ``florence2``),
            e.g. ``florence-community/Florence-2-base`` (``microsoft/Florence-2-base`` needs
            ``trust_remote_code`` and is not loaded).
        task: ``"<CAPTION_TO_PHRASE_GROUNDING>"``, ``"<OPEN_VOCABULARY_DETECTION>"`` or ``"<OD>"``
            (brackets and case optional).
        num_beams: Beam search width (Microsoft's examples use 3; 1 is greedy and faster).
        max_new_tokens: Longest generation.
        **kwargs: As for :class:`~annotator_widgets.backends.grounders._base.HfGrounder`.
    """

    part = "florence2"
    family = "Florence-2"
    classes: ClassVar[dict[str, str]] = {"florence2": "Florence2ForConditionalGeneration"}
    default_model = "florence-community/Florence-2-base"
    default_threshold = 0.0

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        task: str = GROUNDING,
        num_beams: int = 3,
        max_new_tokens: int = 1024,
        **kwargs: Any,
    ) -> None:
        self.task = _task(task)
        for name, value in (("num_beams", num_beams), ("max_new_tokens", max_new_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BackendError(f"{name} must be a positive int", given=value)
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        super().__init__(model, **kwargs)

    def _setup(self) -> None:
        tok = self.processor.tokenizer
        self._loc_bins = {int(tok.convert_tokens_to_ids(f"<loc_{i}>")): i for i in range(_BINS)}
        if len(self._loc_bins) != _BINS or tok.unk_token_id in self._loc_bins:
            raise BackendError(
                "the Florence-2 tokenizer has no <loc_0>..<loc_999> tokens",
                given=self.model_id,
                hint="use the processor saved with the model (florence-community/Florence-2-base)",
            )
        image_id = getattr(tok, "image_token_id", None)
        self._skip = set(tok.all_special_ids) | ({int(image_id)} if image_id is not None else set())
        post = getattr(self.processor, "post_processor", None)
        banned = getattr(post, "banned_grounding_tokens", None) or ()
        self._banned = {normalize(b) for b in banned}

    def _prompts(self, phrases: list[str]) -> list[str]:
        if self.task == OBJECTS:
            return [OBJECTS]
        if self.task == GROUNDING:
            return [GROUNDING + ". ".join(phrases)]
        return [OPEN_VOCABULARY + p for p in phrases]

    def _predict(self, image: np.ndarray, phrases: list[str]) -> Candidates:
        prompts = self._prompts(phrases)
        inputs = self.processor(text=prompts, images=[image] * len(prompts), padding=True, return_tensors="pt")
        out = self.model.generate(
            **self._to_device(inputs),
            max_new_tokens=self.max_new_tokens,
            num_beams=self.num_beams,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
        beams = getattr(out, "beam_indices", None) if self.num_beams > 1 else None
        trans = self.model.compute_transition_scores(out.sequences, out.scores, beams, normalize_logits=beams is None)
        seqs = out.sequences.tolist()
        logp = self._numpy(trans)
        offset = len(seqs[0]) - logp.shape[1]  # the decoder start token has no score
        height, width = image.shape[:2]
        boxes, scores, labels = [], [], []
        for row, ids in enumerate(seqs):
            tail = ids[offset:]
            for loc in parse_locations(tail, logp[row, : len(tail)].tolist(), self._loc_bins, self._decode, self._skip):
                label = self._label(loc.text, phrases, row)
                if label is None:
                    continue
                x0, y0, x1, y1 = ((b + 0.5) / _BINS for b in loc.bins)
                boxes.append((x0 * width, y0 * height, x1 * width, y1 * height))
                scores.append(float(np.exp(loc.logprob)))
                labels.append(label)
        if not boxes:
            return Candidates.empty(len(phrases))
        return Candidates(np.asarray(boxes, np.float64), np.asarray(scores), np.asarray(labels, int))

    def _decode(self, ids: list[int]) -> str:
        return str(self.processor.tokenizer.decode(ids, skip_special_tokens=False))

    def _label(self, text: str, phrases: list[str], row: int) -> int | None:
        """Which asked phrase a written phrase answers (None: none)."""
        if self.task == OPEN_VOCABULARY:
            return row
        if self.task == OBJECTS:
            key = normalize(text)
            return next((i for i, p in enumerate(phrases) if normalize(p) == key), None)
        if normalize(text) in self._banned:
            return None
        hit = match_phrase(text, phrases)
        return 0 if hit is None and len(phrases) == 1 else hit
