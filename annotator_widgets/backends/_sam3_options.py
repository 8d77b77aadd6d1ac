"""Checking and applying the SAM 3 concept segmenter's options (thresholds, hotstart, instance cap, phrases).

The thresholds live as attributes on transformers' ``Sam3VideoModel`` (copied from its config
at construction and read on every frame), so they are set on the loaded model instance.

Example:
    >>> check_phrases(["person", " dog ", "person"])
    ['person', 'dog']
    >>> check_options(0.5, 0.7, 15, None, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import BackendError, NotFoundError, PromptError

__all__ = ["apply_options", "check_options", "check_phrases", "nothing_found"]


def check_phrases(phrases: Sequence[str] | str) -> list[str]:
    """The phrases, stripped and without repeats (one string is one phrase).

    Raises:
        PromptError: No phrase, or an empty or non-string one.
    """
    words = [phrases] if isinstance(phrases, str) else list(phrases)
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise PromptError("add_text needs one or more non-empty phrases", given=phrases, hint='e.g. ["person", "dog"]')
    return list(dict.fromkeys(w.strip() for w in words))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_options(
    score: float | None, new: float | None, delay: int | None, max_instances: int | None, frame_cache: int
) -> None:
    """Raise :class:`~annotator_widgets.errors.BackendError` for an option out of range."""
    for name, value in (("score_threshold", score), ("new_detection_threshold", new)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            raise BackendError(f"{name} must be a probability in 0..1 or None", given=value)
    if delay is not None and not (_is_int(delay) and delay >= 0):
        raise BackendError("hotstart_delay must be a non-negative int or None", given=delay)
    if max_instances is not None and not (_is_int(max_instances) and max_instances >= 1):
        raise BackendError("max_instances must be a positive int or None", given=max_instances)
    if not (_is_int(frame_cache) and frame_cache >= 1):
        raise BackendError("frame_cache must be a positive int", given=frame_cache)


def apply_options(
    model: Any, score: float | None, new: float | None, delay: int | None, max_instances: int | None
) -> None:
    """Set the given options on a ``Sam3VideoModel`` (None keeps the checkpoint's value).

    The hotstart unmatch/duplicate counts are capped at the delay, as the config requires.
    """
    if score is not None:
        model.score_threshold_detection = float(score)
    if new is not None:
        model.new_det_thresh = float(new)
    if delay is not None:
        model.hotstart_delay = int(delay)
    if model.hotstart_delay > 0:
        model.hotstart_unmatch_thresh = min(model.hotstart_unmatch_thresh, model.hotstart_delay)
        model.hotstart_dup_thresh = min(model.hotstart_dup_thresh, model.hotstart_delay)
    if max_instances is not None:
        model.max_num_objects = int(max_instances)


def nothing_found(words: list[str], frame: int, scores: dict[str, float], model: Any) -> NotFoundError:
    """The error for phrases that found nothing on ``frame``: the best detection score and the thresholds.

    Example:
        >>> class Model:
        ...     score_threshold_detection, new_det_thresh = 0.5, 0.7
        >>> error = nothing_found(["cat"], 3, {"cat": 0.25}, Model())
        >>> error.message.split(" (")[1]
        'best detection score 0.250, threshold 0.5, new instances need 0.7)'
    """
    best = max((scores.get(w, 0.0) for w in words), default=0.0)
    return NotFoundError(
        f"SAM 3 found no instance of {words} on frame {frame} (best detection score {best:.3f}, "
        f"threshold {model.score_threshold_detection:g}, new instances need {model.new_det_thresh:g})",
        given=words,
        hint="rephrase, try another frame, or lower score_threshold / new_detection_threshold; "
        "the phrases were withdrawn",
    )
