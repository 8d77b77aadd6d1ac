"""The protocols every model part implements, and the small records they exchange.

The session, the workflows and the widgets only know these protocols; concrete parts
live in the sibling modules, import their heavy libraries lazily, and are found by name
through :mod:`annotator_widgets.registry`. Each protocol is ``runtime_checkable`` so the
registry can check an instance a user passes in.

Kinds of part (the registry's kinds):

* ``segmenter`` - :class:`VideoSegmenter`: points / boxes / masks -> masklets (SAM2's vocabulary).
* ``pose`` - :class:`PoseEstimator`: people's 33 body landmarks per frame (no identities).
* ``hands`` - :class:`HandEstimator`: 21 landmarks per hand with handedness.
* ``grounder`` - :class:`Grounder`: text -> boxes with scores on one image.
* ``concept`` - :class:`ConceptSegmenter`: text -> every instance segmented and tracked (SAM 3).
* ``scorer`` - :class:`MaskScorer`: how well image regions match a phrase (CLIP, SigLIP).
* ``captioner`` - :class:`Captioner`: image regions -> text (captions, answers to questions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ..types import Box, HandPose, PersonPose, Prompt
    from ..video import VideoSource

__all__ = [
    "Captioner",
    "ConceptSegmenter",
    "Grounder",
    "GroundingBox",
    "HandEstimator",
    "MaskScorer",
    "ObjectMask",
    "PoseEstimator",
    "SegmenterFrame",
    "VideoSegmenter",
]


@dataclass(frozen=True, eq=False)
class ObjectMask:
    """One object's mask on one frame as a segmenter produced it.

    Attributes:
        mask: ``(H, W)`` boolean array in video pixels.
        score: Confidence in 0..1 (presence x quality where the model has both), or None.
    """

    mask: np.ndarray
    score: float | None = None


@dataclass(frozen=True, eq=False)
class SegmenterFrame:
    """What a segmenter yields per propagated frame: the masks of every tracked object."""

    frame: int
    objects: dict[int, ObjectMask] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class GroundingBox:
    """One box a grounder found for one phrase on one image.

    Attributes:
        box: In the image's pixels, clipped to the image.
        score: Confidence in 0..1.
        phrase: Which of the asked phrases it answers.
        mask: ``(H, W)`` boolean mask when the model also segments (SAM 3, a face mesh), else None.
    """

    box: Box
    score: float
    phrase: str
    mask: np.ndarray | None = None


@runtime_checkable
class VideoSegmenter(Protocol):
    """A promptable video segmenter (SAM2's vocabulary).

    The segmenter's state is a cache: the session can always rebuild it with
    :meth:`reset` followed by :meth:`set_prompt` for every stored prompt, in order.
    ``set_prompt`` *runs the model* on a prompt (the project's ``put_prompt`` stores one).

    Optional: ``prepare(frame: int) -> None``, not part of the checked protocol. It computes
    ahead the part of a click's work that depends only on the frame (SAM2's image features, the
    classic segmenter's colour space and gradients) into a bounded per-frame cache, and may also
    prepare the next frame in the direction the user moves. It must be thread safe (it is called
    from a worker while the user looks at the frame, see ``AnnotationSession.prepare``) and must
    never change results: masks are the same with and without it.

    Optional: ``forget_prompt(frame: int, obj_id: int) -> None``, only for segmenters whose prompts
    do not depend on each other (the classic one). It forgets one object's prompt on one frame and
    must leave the state a rebuild from the remaining prompts would give; the session then resyncs
    an undo in O(changed prompts) instead of replaying the changed object's prompts.

    Optional: ``twin() -> VideoSegmenter``, for segmenters that hold a model worth loading once
    (SAM2). It returns a second segmenter on the SAME loaded weights with a state of its own:
    workflows that need scratch masks (candidates for find-by-text) use it instead of loading the
    model again, and never touch the user's tracking state. Closing the twin leaves this one open.

    Optional: ``refines_masks: bool`` (a class attribute; absent means False), for segmenters whose
    ``set_prompt`` treats a prompt with points AND a mask as clicks that correct that mask (the
    classic one). ``AnnotationSession.add_points`` on a frame where the object has a stored
    (propagated) mask but no prompt then sends ``Prompt(frame, obj, points, mask=<the stored mask>)``,
    so a correction click refines the tracked mask instead of starting over from the click alone;
    the prior travels in the stored prompt, so undo, redo and a rebuild give the same mask.
    Segmenters without it (SAM2 refines from its own memory) get the click-only prompt.
    """

    name: str

    def start(self, video: VideoSource) -> None:
        """Begin a state for ``video``; frames are read lazily from it."""
        ...

    def set_prompt(self, prompt: Prompt) -> dict[int, ObjectMask]:
        """Apply the whole prompt of one object on one frame, replacing that object's
        earlier prompt on that frame. Returns masks on ``prompt.frame``, at least for
        ``prompt.obj_id``."""
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and all its prompts and memory."""
        ...

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track every prompted object from ``start`` (included) forward, or backward
        when ``reverse``, over at most ``max_frames`` frames after ``start``."""
        ...

    def reset(self) -> None:
        """Forget all prompts, objects and memory; keep the video."""
        ...

    def close(self) -> None:
        """Release the model state and memory."""
        ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Detects people's landmarks on frames in time order (no identities)."""

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> list[PersonPose]:
        """Landmarks of every person on an RGB frame; ``person_id`` is a placeholder (1..N)."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


@runtime_checkable
class HandEstimator(Protocol):
    """Detects hands (21 landmarks each, with handedness) on frames in time order."""

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> list[HandPose]:
        """Every hand on an RGB frame; ``person_id`` is None (people are assigned later)."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


@runtime_checkable
class Grounder(Protocol):
    """Finds boxes for phrases on one image (open-vocabulary detection, phrase grounding).

    Implementations return boxes in the image's pixels, clipped to it, after their own
    score threshold, non-maximum suppression, top-k and minimum size.
    """

    name: str

    def detect(self, image: np.ndarray, phrases: Sequence[str]) -> list[GroundingBox]:
        """Boxes for every phrase on an RGB ``(H, W, 3)`` uint8 image, best first."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


@runtime_checkable
class ConceptSegmenter(Protocol):
    """Text -> every instance detected, segmented and tracked through a video by one model (SAM 3).

    Instance ids are the segmenter's own; the workflow maps them to project objects.
    """

    name: str

    def start(self, video: VideoSource) -> None:
        """Begin a state for ``video``; frames are read lazily from it."""
        ...

    def add_text(self, frame: int, phrases: Sequence[str]) -> dict[int, tuple[str, ObjectMask]]:
        """Detect the phrases on ``frame``: instance id -> (phrase, mask) of what was found there."""
        ...

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track (and keep detecting) the phrases' instances from ``start``; keys are instance ids."""
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget one instance."""
        ...

    def reset(self) -> None:
        """Forget all phrases and instances; keep the video."""
        ...

    def close(self) -> None:
        """Release the model state and memory."""
        ...


@runtime_checkable
class MaskScorer(Protocol):
    """How well image regions match a phrase (CLIP-style image/text embeddings)."""

    name: str

    def embed_images(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, D)`` unit-norm embeddings of RGB crops (background already masked out)."""
        ...

    def embed_text(self, phrases: Sequence[str]) -> np.ndarray:
        """``(M, D)`` unit-norm embeddings of phrases."""
        ...

    def score(self, image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """``(N, M)`` match scores in 0..1 (the model's own calibration: softmax or sigmoid)."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


@runtime_checkable
class Captioner(Protocol):
    """Writes text about image regions: a caption, or the answer to a question."""

    name: str

    def describe(self, images: Sequence[np.ndarray], prompts: Sequence[str]) -> list[str]:
        """One text per RGB image; ``prompts[i]`` is the question ("" for a plain caption). Batched."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...
