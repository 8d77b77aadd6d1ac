"""Model backends behind small protocols (:mod:`.protocols`), found by name through :mod:`annotator_widgets.registry`.

This package's ``__init__`` only re-exports the protocols; concrete backends live in the
submodules, import their heavy libraries lazily, and are listed in :mod:`annotator_widgets.parts`.

Segmenter names (``registry.names("segmenter")``):

* ``"classic"`` - OpenCV GrabCut + optical flow, no weights (:mod:`.classic`).
* ``"sam2"`` or ``"sam2:<model>"`` - Meta's ``sam2`` package, e.g. ``"sam2:sam2.1_hiera_tiny"`` (:mod:`.sam2_meta`).
* ``"hf:<model id or folder>"`` - transformers' ``Sam2VideoModel`` / EdgeTAM (:mod:`.sam2_hf`).
* ``"auto"`` - SAM2 when it is installed and a checkpoint is on disk, else classic (:mod:`.auto`).
"""

from __future__ import annotations

from .protocols import (
    Captioner,
    ConceptSegmenter,
    Grounder,
    GroundingBox,
    HandEstimator,
    MaskScorer,
    ObjectMask,
    PoseEstimator,
    SegmenterFrame,
    VideoSegmenter,
)

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
