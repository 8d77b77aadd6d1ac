"""Refining SAM 3's text-found instances with clicks: mask prompts for ``Sam3TrackerVideoModel``.

A SAM 3 video session takes text only. Its tracker (``Sam3TrackerVideoModel``, the
``"sam3-tracker"`` segmenter) loads from the same checkpoint with the same backbone, neck and
tracker weights and takes points, boxes and masks. :func:`seed_prompts` turns one frame of the
concept segmenter's results into mask prompts (the phrase kept as the prompt's ``text``) and
:func:`seeded_tracker` starts a tracker on the same video with them, so that clicks on any frame
refine the instances from there.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.backends.protocols import ObjectMask, SegmenterFrame
    >>> mask = np.zeros((4, 6), bool)
    >>> mask[1:3, 2:5] = True
    >>> result = SegmenterFrame(frame=7, objects={2: ObjectMask(mask, 0.9), 5: ObjectMask(np.zeros_like(mask), 0.1)})
    >>> [(p.frame, p.obj_id, p.text, int(p.mask.area)) for p in seed_prompts(result, {2: "cat"})]
    [(7, 2, 'cat', 6)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..types import Prompt
from .protocols import SegmenterFrame

if TYPE_CHECKING:
    from ..video import VideoSource
    from .sam3_tracker import Sam3TrackerSegmenter

__all__ = ["seed_prompts", "seeded_tracker"]


def seed_prompts(result: SegmenterFrame, phrases: Mapping[int, str]) -> list[Prompt]:
    """Mask prompts for every non-empty instance of one frame's result, in id order (empty masks are skipped).

    Args:
        result: One frame of a concept segmenter's results.
        phrases: Instance id -> phrase, kept as each prompt's ``text``.
    """
    from ..rle import RLE

    return [
        Prompt(frame=result.frame, obj_id=i, mask=RLE.from_mask(m.mask), text=phrases.get(i, ""))
        for i, m in sorted(result.objects.items())
        if m.mask.any()
    ]


def seeded_tracker(model: str, video: VideoSource, prompts: Iterable[Prompt], **options: Any) -> Sam3TrackerSegmenter:
    """A ``"sam3-tracker"`` segmenter loaded from ``model``, started on ``video``, with each prompt set in turn.

    Args:
        model: The checkpoint (hub id or folder) the concept segmenter was loaded from.
        video: The video the concept segmenter runs on.
        prompts: Seed prompts (see :func:`seed_prompts`).
        **options: For :class:`~annotator_widgets.backends.sam3_tracker.Sam3TrackerSegmenter`.
    """
    from .sam3_tracker import Sam3TrackerSegmenter

    tracker = Sam3TrackerSegmenter(model, **options)
    try:
        tracker.start(video)
        for prompt in prompts:
            tracker.set_prompt(prompt)
    except BaseException:
        tracker.close()
        raise
    return tracker
