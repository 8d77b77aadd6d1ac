"""The built-in parts: one line each, read by :mod:`annotator_widgets.registry`.

A new model, format, importer or effect is one new module plus one line here. Targets are
``"module:attribute"`` strings, imported only when the part is used, so importing the
package stays cheap. Other packages add parts through entry points instead (see the registry).
"""

from __future__ import annotations

__all__ = ["BUILTIN"]

_B = "annotator_widgets.backends."
_X = "annotator_widgets.export."

#: (kind, name, target, summary, aliases)
BUILTIN: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    # segmenters
    ("segmenter", "auto", _B + "auto:auto_segmenter", "SAM 2.1 tiny if its checkpoint is on disk, else classic", ()),
    ("segmenter", "classic", _B + "classic:ClassicSegmenter", "OpenCV GrabCut + optical flow, no weights", ()),
    (
        "segmenter",
        "sam2",
        _B + "sam2_meta:Sam2Segmenter",
        "Meta's sam2 package: sam2[:model], e.g. sam2:sam2.1_hiera_small",
        (),
    ),
    (
        "segmenter",
        "hf",
        _B + "sam2_hf:HfSam2Segmenter",
        "transformers Sam2Video / EdgeTAM: hf:<hub id or folder>",
        ("transformers",),
    ),
    (
        "segmenter",
        "sam3-tracker",
        _B + "sam3_tracker:Sam3TrackerSegmenter",
        "SAM 3's tracker (points, boxes, masks): sam3-tracker[:<hub id or folder>], default facebook/sam3",
        (),
    ),
    # concept segmenters (text -> every instance, tracked)
    (
        "concept",
        "sam3",
        _B + "sam3:Sam3ConceptSegmenter",
        "SAM 3 phrases -> every instance, tracked: sam3[:<hub id or folder>], default facebook/sam3",
        (),
    ),
    # pose
    ("pose", "mediapipe", _B + "pose:MediaPipePoseEstimator", "MediaPipe PoseLandmarker (offline full model)", ()),
    # export formats
    ("exporter", "coco", _X + "coco:FORMAT", "COCO instance segmentation JSON (RLE masks, track ids)", ()),
    ("exporter", "png", _X + "png:FORMAT", "one label PNG per frame, pixel value = object id", ()),
]
