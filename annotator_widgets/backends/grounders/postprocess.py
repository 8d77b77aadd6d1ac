"""What every grounder does after its model: boxes in image pixels, clipped, thresholded, de-duplicated.

Each model family turns its raw outputs into :class:`Candidates` - boxes ``x0, y0, x1, y1`` in
the pixels of the image it was given (they may still reach outside it), one score per box and
the index of the asked phrase each box answers - and :func:`select` does the rest the same way
for all of them, in this order:

1. clip every box to the image;
2. drop boxes narrower or lower than ``min_size`` pixels (and empty ones);
3. drop boxes scoring below ``threshold``;
4. non-maximum suppression per phrase (greedy, best first; a box goes when its IoU with a kept
   box of the same phrase exceeds ``nms_iou``; ``nms_iou=1`` switches it off). IoU is
   :func:`annotator_widgets.types.box_iou`;
5. keep the ``top_k`` best boxes per phrase;
6. return :class:`~annotator_widgets.backends.protocols.GroundingBox` records, best first.

Only numpy here: the model families import torch.

Example:
    >>> import numpy as np
    >>> cands = Candidates(
    ...     boxes=np.array([[10, 10, 50, 50], [12, 11, 50, 52], [-20, 5, 30, 40], [60, 0, 61, 1]], float),
    ...     scores=np.array([0.9, 0.8, 0.7, 0.95]),
    ...     labels=np.array([0, 0, 1, 1]),
    ... )
    >>> found = select(cands, ["a cat", "a dog"], (48, 64), Settings(threshold=0.5, nms_iou=0.5, min_size=2))
    >>> [(b.phrase, b.box.xyxy, round(b.score, 2)) for b in found]
    [('a cat', (10.0, 10.0, 50.0, 48.0), 0.9), ('a dog', (0.0, 5.0, 30.0, 40.0), 0.7)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import BackendError, NotFoundError, PromptError
from ...types import Box, box_iou
from ..protocols import GroundingBox

__all__ = [
    "Candidates",
    "Settings",
    "check_image",
    "check_phrases",
    "cxcywh_to_xyxy",
    "match_phrase",
    "nms",
    "normalize",
    "nothing_found",
    "select",
    "sigmoid",
]


@dataclass(frozen=True)
class Settings:
    """How boxes are kept; validated at construction.

    Attributes:
        threshold: Lowest score kept (scores are in 0..1).
        nms_iou: Boxes of one phrase overlapping a better one by more than this IoU are dropped;
            1.0 keeps every box.
        top_k: At most this many boxes per phrase (None: no limit).
        min_size: Smallest width and height kept, in image pixels, after clipping.
    """

    threshold: float = 0.1
    nms_iou: float = 0.5
    top_k: int | None = None
    min_size: float = 2.0

    def __post_init__(self) -> None:
        for name, low, high in (("threshold", 0.0, 1.0), ("nms_iou", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise BackendError(f"{name} must be a number in {low:g}..{high:g}", given=value)
        if self.top_k is not None and (
            isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1
        ):
            raise BackendError("top_k must be a positive int or None", given=self.top_k)
        size = self.min_size
        if isinstance(size, bool) or not isinstance(size, int | float) or not 0 <= size < float("inf"):
            raise BackendError("min_size must be a non-negative number of pixels", given=size)


@dataclass(frozen=True, eq=False)
class Candidates:
    """A model's boxes before selection.

    Attributes:
        boxes: ``(N, 4)`` ``x0, y0, x1, y1`` in image pixels (not yet clipped).
        scores: ``(N,)`` in 0..1.
        labels: ``(N,)`` index of the phrase each box answers.
        best: ``(P,)`` best score seen per phrase before any selection (for "found nothing" messages);
            derived from ``scores`` and ``labels`` when not given.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    best: np.ndarray | None = field(default=None)

    @classmethod
    def from_matrix(cls, boxes: Any, matrix: Any) -> Candidates:
        """One box per row of ``matrix`` (``(N, P)`` scores of each box for each phrase), labelled
        with its best phrase. Entries below 0 mean "cannot answer that phrase"; rows with none left go.

        Example:
            >>> c = Candidates.from_matrix([[0, 0, 4, 4], [1, 1, 5, 5]], [[0.2, 0.7], [-1, -1]])
            >>> c.labels.tolist(), c.scores.tolist(), c.best.tolist()
            ([1], [0.7], [0.2, 0.7])
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        matrix = np.asarray(matrix, np.float64).reshape(len(boxes), -1)
        if matrix.shape[1] == 0 or len(boxes) == 0:
            return cls.empty(matrix.shape[1])
        labels = matrix.argmax(axis=1)
        scores = matrix[np.arange(len(boxes)), labels]
        ok = scores >= 0
        best = np.clip(matrix.max(axis=0), 0.0, None)
        return cls(boxes[ok], scores[ok], labels[ok], best)

    @classmethod
    def empty(cls, num_phrases: int) -> Candidates:
        """No boxes."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), np.zeros(num_phrases))

    def best_scores(self, phrases: Sequence[str]) -> dict[str, float]:
        """phrase -> best score seen for it (0.0 when the model gave it no box)."""
        if self.best is not None:
            return {p: float(self.best[i]) for i, p in enumerate(phrases)}
        out = dict.fromkeys(phrases, 0.0)
        for score, label in zip(self.scores.tolist(), self.labels.tolist(), strict=True):
            out[phrases[label]] = max(out[phrases[label]], float(score))
        return out


def check_image(image: Any) -> np.ndarray:
    """The image as a ``(H, W, 3)`` uint8 array, or :class:`PromptError` saying what was given.

    Example:
        >>> check_image(np.zeros((4, 6, 3), np.uint8)).shape
        (4, 6, 3)
        >>> check_image(np.zeros((4, 6), np.uint8))
        Traceback (most recent call last):
        ...
        annotator_widgets.errors.PromptError: a grounder needs ... (given: 'uint8 array of shape (4, 6)')...
    """
    arr = image if isinstance(image, np.ndarray) else None
    if arr is None or arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        what = f"{arr.dtype} array of shape {arr.shape}" if arr is not None else type(image).__name__
        raise PromptError(
            "a grounder needs an RGB uint8 image of shape (H, W, 3)",
            given=what,
            hint="pass a video frame (VideoSource.frame(i)) or np.asarray(PIL_image.convert('RGB')); "
            "convert float images with (img * 255).astype(np.uint8) and drop an alpha channel with img[..., :3]",
        )
    return arr


def check_phrases(phrases: Any) -> list[str]:
    """The phrases stripped, duplicates removed (first kept); a single string is one phrase.

    Example:
        >>> check_phrases(["a cat ", "a dog", "a cat"])
        ['a cat', 'a dog']
        >>> check_phrases(["a cat", "  "])
        Traceback (most recent call last):
        ...
        annotator_widgets.errors.PromptError: a phrase is empty (given: ['a cat', '  ']). Fix: ...
    """
    items = [phrases] if isinstance(phrases, str) else phrases
    if not isinstance(items, Sequence) or not items:
        raise PromptError(
            "a grounder needs at least one phrase", given=phrases, hint="pass phrases such as ['a person', 'a cup']"
        )
    out: list[str] = []
    for p in items:
        if not isinstance(p, str):
            raise PromptError("phrases must be strings", given=phrases, hint="pass a list of str")
        text = " ".join(p.split())
        if not text:
            raise PromptError("a phrase is empty", given=list(items), hint="remove empty phrases, e.g. 'a red dress'")
        if text not in out:
            out.append(text)
    return out


def sigmoid(x: Any) -> np.ndarray:
    """The logistic function in float64, without overflow warnings.

    Example:
        >>> sigmoid([-1000.0, 0.0, 40.0]).tolist()
        [0.0, 0.5, 1.0]
    """
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, np.float64)))


def cxcywh_to_xyxy(boxes: Any, scale: Sequence[float]) -> np.ndarray:
    """Normalised ``cx, cy, w, h`` boxes -> ``x0, y0, x1, y1`` times ``scale`` (``(sx, sy)``).

    Example:
        >>> cxcywh_to_xyxy([[0.5, 0.5, 0.2, 0.4]], (100, 50)).tolist()
        [[40.0, 15.0, 60.0, 35.0]]
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    sx, sy = float(scale[0]), float(scale[1])
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack(
        [(b[:, 0] - half_w) * sx, (b[:, 1] - half_h) * sy, (b[:, 0] + half_w) * sx, (b[:, 1] + half_h) * sy], 1
    )


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, best first.

    A box is dropped when its IoU with a kept (better) box exceeds ``iou``; ``iou >= 1`` keeps all.
    Stops after ``limit`` kept boxes.

    Example:
        >>> nms(np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10]], float), np.array([0.5, 0.9, 0.4]), 0.5)
        array([1, 2])
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    if iou >= 1.0:
        return order[:limit]
    keep: list[int] = []
    alive = order
    while alive.size and (limit is None or len(keep) < limit):
        first, alive = int(alive[0]), alive[1:]
        keep.append(first)
        if alive.size:
            alive = alive[box_iou(boxes[first], boxes[alive])[0] <= iou]
    return np.asarray(keep, dtype=int)


def select(cands: Candidates, phrases: Sequence[str], size: tuple[int, int], settings: Settings) -> list[GroundingBox]:
    """Clip, filter, suppress and rank ``cands`` on an image of ``size`` = ``(height, width)``.

    Returns:
        Boxes in image pixels inside the image, best first (ties keep the model's order).
    """
    height, width = size
    boxes = np.asarray(cands.boxes, np.float64).reshape(-1, 4).copy()
    scores = np.asarray(cands.scores, np.float64).reshape(-1)
    labels = np.asarray(cands.labels, int).reshape(-1)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    ok = (w > 0) & (h > 0) & (w >= settings.min_size) & (h >= settings.min_size)
    ok &= np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (scores >= settings.threshold)
    picked: list[int] = []
    for label in np.unique(labels[ok]):
        idx = np.flatnonzero(ok & (labels == label))
        picked.extend(idx[nms(boxes[idx], scores[idx], settings.nms_iou, settings.top_k)].tolist())
    picked.sort(key=lambda i: (-scores[i], i))
    return [
        GroundingBox(box=Box(*boxes[i].tolist()), score=float(scores[i]), phrase=phrases[labels[i]]) for i in picked
    ]


def _words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w for w in words if w not in {"a", "an", "the", "some"}]


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def normalize(text: str) -> str:
    """Lower-case words without articles, each made singular: how labels and phrases are compared.

    Example:
        >>> normalize("The Blue Bottles!")
        'blue bottle'
    """
    return " ".join(_singular(w) for w in _words(text))


def match_phrase(label: str, phrases: Sequence[str]) -> int | None:
    """Which asked phrase a model's label text answers, or None.

    Articles and plurals are ignored; a label and a phrase match when one's words are a contiguous
    run of the other's (the label ``"blue bottle"`` answers ``"the blue bottle"``); the phrase
    sharing the most words wins.

    Example:
        >>> match_phrase("blue bottle", ["a red dress", "the blue bottle"])
        1
        >>> match_phrase("cars", ["a car", "a dog"]), match_phrase("tree", ["a car"])
        (0, None)
    """
    want = normalize(label).split()
    best, best_len = None, 0
    for i, phrase in enumerate(phrases):
        have = normalize(phrase).split()
        short, long_ = (want, have) if len(want) <= len(have) else (have, want)
        if not short:
            continue
        n = len(short)
        if any(long_[k : k + n] == short for k in range(len(long_) - n + 1)) and n > best_len:
            best, best_len = i, n
    return best


def nothing_found(name: str, phrases: Sequence[str], best: dict[str, float], threshold: float) -> NotFoundError:
    """The error a workflow raises when a grounder found nothing: what was asked and the best score.

    Example:
        >>> str(nothing_found("owlv2", ["a cat"], {"a cat": 0.04}, 0.1))
        "owlv2 found nothing for ['a cat'] (given: 'best score 0.040 (a cat), threshold 0.1'). Fix: ..."
    """
    top = max(best.items(), key=lambda kv: kv[1], default=("", 0.0))
    return NotFoundError(
        f"{name} found nothing for {list(phrases)}",
        given=f"best score {top[1]:.3f} ({top[0]}), threshold {threshold:g}",
        hint="lower the grounder's threshold, rephrase (a short noun phrase such as 'a red dress'), "
        "or try another frame or grounder",
    )
