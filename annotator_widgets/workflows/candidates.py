"""Candidate masks on one frame, for a scorer to rank: from a point grid, from grounding boxes, or given.

A candidate source is a callable ``source(frame_index, image) -> list of (H, W) bool masks``.
The ones here run prompts through a **scratch** segmenter: a segmenter instance of its own,
started on the video, whose prompts never reach the project (no object is created, the
history is untouched) and are forgotten after each frame (:meth:`ScratchSegmenter.masks`).

* :func:`grid_source` - a ``n x n`` grid of positive point prompts (SAM's automatic mask
  generator in miniature), one mask per point, near-duplicates dropped (:func:`dedupe`).
* :func:`grounder_source` - a grounder's boxes for the phrase, each turned into a mask by a box
  prompt (or the grounder's own mask when it segments).
* :func:`given_source` - masks computed elsewhere: ``{frame: [mask, ...]}`` or a callable.

:func:`mask_key` names a mask by its content, so a cache keyed by it (the project's
embeddings) recognises the same candidate on the same frame in a later query.

Example:
    >>> import numpy as np
    >>> a = np.zeros((8, 8), bool); a[2:6, 2:6] = True
    >>> b = a.copy(); b[2, 2] = False  # 15 of a's 16 pixels: IoU 0.94
    >>> len(dedupe([a, b], iou=0.8, min_area=1)), len(dedupe([a, b], iou=0.95, min_area=1))
    (1, 2)
    >>> mask_key(a) == mask_key(a.copy()), mask_key(a) == mask_key(b)
    (True, False)
    >>> [(p.x, p.y) for p in grid_points(40, 20, 2)]
    [(10.0, 5.0), (30.0, 5.0), (10.0, 15.0), (30.0, 15.0)]
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .. import registry
from ..errors import PromptError
from ..rle import RLE
from ..types import Box, Point, Prompt

if TYPE_CHECKING:
    from ..backends import Grounder, VideoSegmenter
    from ..video import VideoSource

__all__ = [
    "CandidateSource",
    "ScratchSegmenter",
    "dedupe",
    "dedupe_with_boxes",
    "given_source",
    "grid_points",
    "grid_source",
    "grounder_source",
    "mask_key",
]

log = logging.getLogger(__name__)

CandidateSource = Callable[[int, np.ndarray], list[np.ndarray]]

#: the object id the scratch segmenter prompts (its state is its own: no clash with the project's ids)
_SCRATCH_ID = 1


Box4 = tuple[int, int, int, int]


def mask_key(mask: np.ndarray | RLE, box: Box4 | None = None) -> str:
    """A short content hash of a mask (its size, tight box and the pixels inside it): equal masks get equal keys.

    Outside its tight box a mask is all False, so hashing the box and the bits inside it names the same
    content as hashing every pixel, at a fraction of the cost. ``box`` is the mask's tight box when known
    (:func:`~annotator_widgets.crops.tight_box`, as :func:`dedupe_with_boxes` gives it).
    """
    arr = mask.to_mask() if isinstance(mask, RLE) else np.asarray(mask, bool)
    if box is None:
        box = _box(arr)
    digest = hashlib.blake2b(np.asarray((*arr.shape, *(box or (0, 0, 0, 0))), np.int64).tobytes(), digest_size=10)
    if box is not None:
        x0, y0, x1, y1 = box
        digest.update(np.packbits(arr[y0:y1, x0:x1]).tobytes())
    return "k" + digest.hexdigest()


def _box(mask: np.ndarray) -> Box4 | None:
    """The tight box of a bool mask (x1, y1 exclusive), or None when it is empty."""
    u = mask.view(np.uint8)
    x, y, w, h = cv2.boundingRect(u if u.strides[-1] == 1 else np.ascontiguousarray(u))
    return None if w == 0 or h == 0 else (x, y, x + w, y + h)


def _overlap(a: np.ndarray, b: np.ndarray, box_a: Box4 | None, box_b: Box4 | None) -> int:
    """Pixels in both masks, counted only where their boxes meet."""
    if box_a is None or box_b is None:
        return 0
    x0, y0 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x1, y1 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    if x1 <= x0 or y1 <= y0:
        return 0
    return int(np.count_nonzero(a[y0:y1, x0:x1] & b[y0:y1, x0:x1]))


def dedupe(masks: Sequence[np.ndarray], *, iou: float = 0.8, min_area: int = 16) -> list[np.ndarray]:
    """Drop masks under ``min_area`` pixels and masks overlapping an earlier kept one with IoU >= ``iou``.

    Larger masks are kept first, so of two near-duplicates the larger stays; the result is in
    the order kept.
    """
    return [m for m, _ in dedupe_with_boxes(masks, iou=iou, min_area=min_area)]


def dedupe_with_boxes(
    masks: Sequence[np.ndarray], *, iou: float = 0.8, min_area: int = 16
) -> list[tuple[np.ndarray, Box4 | None]]:
    """:func:`dedupe`, each kept mask with its tight box (None for an empty mask kept by ``min_area`` 0).

    Areas and overlaps are counted inside the masks' boxes only (masks whose boxes do not meet
    do not overlap), so the cost follows the objects' size, not the frame's.
    """
    if not 0.0 < iou <= 1.0:
        raise PromptError("iou must be in (0, 1]", given=iou, hint="e.g. 0.8")
    arrays = [np.asarray(m, bool) for m in masks]
    boxes = [_box(m) for m in arrays]
    areas = [
        0 if b is None else int(np.count_nonzero(m[b[1] : b[3], b[0] : b[2]]))
        for m, b in zip(arrays, boxes, strict=True)
    ]
    kept: list[int] = []
    for i in sorted(range(len(arrays)), key=lambda k: -areas[k]):
        if areas[i] < min_area:
            continue
        if all(_iou(_overlap(arrays[i], arrays[j], boxes[i], boxes[j]), areas[i], areas[j]) < iou for j in kept):
            kept.append(i)
    return [(arrays[i], boxes[i]) for i in kept]


def _iou(inter: int, area_a: int, area_b: int) -> float:
    union = area_a + area_b - inter
    return inter / union if union else 0.0


def grid_points(width: int, height: int, n: int) -> list[Point]:
    """``n x n`` points at the centres of an even grid over a ``width x height`` frame, row by row."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PromptError("the grid needs a positive number of points per side", given=n, hint="e.g. grid=8")
    xs = [(i + 0.5) * width / n for i in range(n)]
    ys = [(j + 0.5) * height / n for j in range(n)]
    return [Point(x, y) for y in ys for x in xs]


class ScratchSegmenter:
    """A segmenter used only to turn prompts into masks on single frames; nothing is stored.

    Args:
        segmenter: A segmenter instance (it is started on ``video``, so do not pass the
            session's own: its state would be lost) or a registry spec (``"classic"``,
            ``"sam2"``...); a spec's instance is closed by :meth:`close`.
        video: The video the prompts refer to.
    """

    def __init__(self, segmenter: str | VideoSegmenter, video: VideoSource, *, own: bool | None = None) -> None:
        self._own = isinstance(segmenter, str) if own is None else own
        self.segmenter: VideoSegmenter = registry.resolve("segmenter", segmenter)
        self.segmenter.start(video)
        self.calls = 0

    @classmethod
    def beside(cls, segmenter: VideoSegmenter, video: VideoSource) -> ScratchSegmenter:
        """A scratch segmenter of the same kind as ``segmenter`` (the session's), leaving its state alone.

        A segmenter with ``twin()`` (SAM2) lends its loaded model to a twin with a state of its own;
        any other is instantiated again from its registry name.
        """
        twin = getattr(segmenter, "twin", None)
        if callable(twin):
            return cls(twin(), video, own=True)
        return cls(segmenter.name, video)

    def masks(self, frame: int, prompts: Sequence[tuple[tuple[Point, ...], Box | None]]) -> list[np.ndarray]:
        """One mask per ``(points, box)`` prompt on ``frame``; the segmenter forgets them afterwards."""
        out = []
        try:
            for points, box in prompts:
                result = self.segmenter.set_prompt(Prompt(frame, _SCRATCH_ID, points, box))
                self.calls += 1
                found = result.get(_SCRATCH_ID)
                if found is not None:
                    out.append(np.asarray(found.mask, bool))
        finally:
            self.segmenter.reset()  # no memory of candidates carried to the next frame
        return out

    def close(self) -> None:
        """Close the segmenter if it was made here."""
        if self._own:
            self.segmenter.close()


def grid_source(scratch: ScratchSegmenter, grid: int = 8) -> CandidateSource:
    """Candidates from a ``grid x grid`` point grid, one positive point per prompt."""
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise PromptError("grid must be a positive int (points per side)", given=grid, hint="e.g. grid=8")

    def source(frame: int, image: np.ndarray) -> list[np.ndarray]:
        h, w = image.shape[:2]
        return scratch.masks(frame, [((p,), None) for p in grid_points(w, h, grid)])

    return source


def grounder_source(scratch: ScratchSegmenter | None, grounder: Grounder, text: str) -> CandidateSource:
    """Candidates from a grounder's boxes for ``text``: its masks where it segments, else box prompts.

    ``scratch`` may be None only for a grounder that returns masks.
    """

    def source(frame: int, image: np.ndarray) -> list[np.ndarray]:
        found = grounder.detect(image, [text])
        masks = [np.asarray(g.mask, bool) for g in found if g.mask is not None]
        boxes = [g.box for g in found if g.mask is None]
        if boxes:
            if scratch is None:
                raise PromptError(
                    "the grounder returned boxes without masks and there is no segmenter to turn them into masks",
                    given=getattr(grounder, "name", type(grounder).__name__),
                    hint="pass segmenter='classic' (or a SAM2 spec)",
                )
            masks += scratch.masks(frame, [((), box) for box in boxes])
        return masks

    return source


def given_source(
    masks: Mapping[int, Sequence[np.ndarray | RLE]] | Callable[[int, np.ndarray], Sequence[Any]],
) -> CandidateSource:
    """Candidates computed elsewhere: ``{frame: [mask, ...]}`` (frames not in it have none) or a callable."""
    if callable(masks):
        fn = masks

        def from_callable(frame: int, image: np.ndarray) -> list[np.ndarray]:
            return [_bool_mask(m, image) for m in fn(frame, image)]

        return from_callable
    if not isinstance(masks, Mapping):
        raise PromptError(
            "candidates must be 'grid', 'grounder[:spec]', {frame: [masks]} or a callable",
            given=type(masks).__name__,
        )
    table = masks

    def from_table(frame: int, image: np.ndarray) -> list[np.ndarray]:
        return [_bool_mask(m, image) for m in table.get(frame, ())]

    return from_table


def _bool_mask(mask: Any, image: np.ndarray) -> np.ndarray:
    arr = mask.to_mask() if isinstance(mask, RLE) else np.asarray(mask)
    if arr.shape != image.shape[:2]:
        raise PromptError(
            "a candidate mask is not the frame's size",
            given=f"mask {arr.shape}, frame {image.shape[:2]}",
            hint="give (height, width) masks of the video",
        )
    return arr.astype(bool, copy=False)
