"""SAM 3's tracker as a visual-prompt segmenter: points, boxes and masks -> masklets (``"sam3-tracker"``).

transformers' ``Sam3TrackerVideoModel`` is SAM2's video tracker with SAM 3's vision backbone and
weights, so this part is :class:`~annotator_widgets.backends.sam2_hf.HfSam2Segmenter` loaded from a
SAM 3 checkpoint: frames stream lazily from the :class:`~annotator_widgets.video.VideoSource`
(each one preprocessed when the model needs it, dropped after use), tracking memory beyond the
window the model reads is archived to disk and restored on demand (results identical to an
unpruned run), prompts are kept so that replacing one or removing an object rebuilds the session
(the transformers session has no remove), and both directions and refinement clicks on tracked
frames work as for SAM2.

It loads from the same checkpoint as the ``"sam3"`` concept segmenter (``facebook/sam3``, a
``sam3_video`` model: the tracker, backbone and neck weights are the video model's), so
:meth:`~annotator_widgets.backends.sam3.Sam3ConceptSegmenter.to_tracker` can hand text-found
instances to it as mask prompts and the session can go on with clicks.

Example:
    >>> from annotator_widgets import registry
    >>> registry.lookup("segmenter", "sam3-tracker").__name__
    'Sam3TrackerSegmenter'
    >>> seg = registry.resolve("segmenter", "sam3-tracker:facebook/sam3")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from ._sam3_load import DEFAULT_MODEL, load_pretrained, model_source
from .sam2_hf import HfSam2Segmenter

__all__ = ["Sam3TrackerSegmenter"]

#: config.model_type -> (model class, processor class): the SAM 3 video checkpoint, or a tracker-only one
_CLASSES = {
    "sam3_video": ("Sam3TrackerVideoModel", "Sam3TrackerVideoProcessor"),
    "sam3_tracker_video": ("Sam3TrackerVideoModel", "Sam3TrackerVideoProcessor"),
}


class Sam3TrackerSegmenter(HfSam2Segmenter):
    """The :class:`~annotator_widgets.backends.VideoSegmenter` on SAM 3's tracker (``Sam3TrackerVideoModel``).

    Args:
        model: A hub id (default ``"facebook/sam3"``: gated, accept Meta's SAM licence on the hub
            first) or a folder written by ``save_pretrained`` of a ``sam3_video`` or
            ``sam3_tracker_video`` model.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (bf16 autocast on recent GPUs and bf16-native CPUs, fp16 on older GPUs, else fp32),
            ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        memory_window: Frames of tracking memory kept on each side of the current frame:
            ``"auto"`` (what the model reads), an int, or None for unbounded.
        archive_dir: Where pruned memory is archived (default: a temporary folder).
        local_files_only: Never contact the hub (default: only when ``model`` is a folder).

    Raises:
        CheckpointError: The checkpoint cannot be found or loaded (gated, not downloaded, offline).
        BackendError: Not a SAM 3 checkpoint, or a bad device/dtype/memory window.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: Any = "auto",
        dtype: Any = "auto",
        memory_window: int | str | None = "auto",
        archive_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool | None = None,
    ) -> None:
        super().__init__(
            model_source(model),
            device=device,
            dtype=dtype,
            memory_window=memory_window,
            archive_dir=archive_dir,
            local_files_only=local_files_only,
        )
        self.name = f"sam3-tracker:{model}"

    def __repr__(self) -> str:
        return f"Sam3TrackerSegmenter({self.model_id!r}, device={self.device}, dtype={self.dtype})"

    def _load(self, source: str, local_files_only: bool | None) -> tuple[Any, Any]:
        model, processor = load_pretrained(
            source, _CLASSES, what="a SAM 3 checkpoint (tracker)", local_files_only=local_files_only
        )
        return model.to(self.device), processor
