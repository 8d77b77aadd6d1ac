"""Model backends behind small protocols.

The session and the widgets only know these protocols; concrete backends live
in the submodules and import their heavy libraries lazily. :func:`resolve_segmenter`
is the one place that maps a name to a concrete segmenter.

Segmenter names:

* ``"classic"`` - OpenCV GrabCut + optical flow, no weights (:mod:`.classic`).
* ``"sam2"`` or ``"sam2:<model>"`` - Meta's ``sam2`` package, e.g. ``"sam2:sam2.1_hiera_tiny"`` (:mod:`.sam2_meta`).
* ``"hf:<model id or folder>"`` - transformers' ``Sam2VideoModel`` / EdgeTAM (:mod:`.sam2_hf`).
* ``"auto"`` - SAM2 when it is installed and a checkpoint is on disk, else classic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import BackendError

if TYPE_CHECKING:
    from ..types import PersonPose, Prompt
    from ..video import VideoSource

__all__ = [
    "ObjectMask",
    "PoseEstimator",
    "SegmenterFrame",
    "VideoSegmenter",
    "resolve_segmenter",
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


@runtime_checkable
class VideoSegmenter(Protocol):
    """A promptable video segmenter (SAM2's vocabulary).

    The segmenter's state is a cache: the session can always rebuild it with
    :meth:`reset` followed by :meth:`set_prompt` for every stored prompt, in order.
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


def resolve_segmenter(spec: str | VideoSegmenter = "auto", **kwargs: Any) -> VideoSegmenter:
    """Turn a segmenter name (see the module docstring) or an instance into a segmenter."""
    if not isinstance(spec, str):
        missing = [m for m in ("start", "set_prompt", "propagate", "remove_object", "reset") if not hasattr(spec, m)]
        if missing:
            raise BackendError(
                "object is not a VideoSegmenter",
                given=type(spec).__name__,
                hint=f"it lacks {missing}; pass a name like 'classic' or 'sam2'",
            )
        return spec
    name, _, arg = spec.partition(":")
    name = name.strip().lower()
    if name == "classic":
        from .classic import ClassicSegmenter

        return ClassicSegmenter(**kwargs)
    if name == "sam2":
        from .sam2_meta import Sam2Segmenter

        return Sam2Segmenter(arg or kwargs.pop("model", "sam2.1_hiera_tiny"), **kwargs)
    if name in ("hf", "transformers"):
        from .sam2_hf import HfSam2Segmenter

        if not arg and "model" not in kwargs:
            raise BackendError(
                "'hf' needs a model id or folder",
                given=spec,
                hint="use e.g. 'hf:facebook/sam2.1-hiera-tiny' or 'hf:/path/to/saved/model'",
            )
        return HfSam2Segmenter(arg or kwargs.pop("model"), **kwargs)
    if name == "auto":
        from ._optional import available

        if available("sam2") and available("torch"):
            from ..checkpoints import find_local

            ckpt = find_local("sam2.1_hiera_tiny")
            if ckpt is not None:
                from .sam2_meta import Sam2Segmenter

                return Sam2Segmenter("sam2.1_hiera_tiny", **kwargs)
        from .classic import ClassicSegmenter

        return ClassicSegmenter(**kwargs)
    raise BackendError("unknown segmenter", given=spec, hint="use 'auto', 'classic', 'sam2[:model]' or 'hf:<model>'")
