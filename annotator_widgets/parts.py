"""The built-in parts: one line each, read by :mod:`annotator_widgets.registry`.

A new model, format, importer or effect is one new module plus one line here. Targets are
``"module:attribute"`` strings, imported only when the part is used, so importing the
package stays cheap. Other packages add parts through entry points instead (see the registry).
"""

from __future__ import annotations

__all__ = ["BUILTIN"]

_B = "annotator_widgets.backends."
_X = "annotator_widgets.export."
_T = "annotator_widgets.widgets.tools."

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
    # pose
    ("pose", "mediapipe", _B + "pose:MediaPipePoseEstimator", "MediaPipe PoseLandmarker (offline full model)", ()),
    # export formats
    ("exporter", "coco", _X + "coco:FORMAT", "COCO instance segmentation JSON (RLE masks, track ids)", ()),
    ("exporter", "png", _X + "png:FORMAT", "one label PNG per frame, pixel value = object id", ()),
    # tools of the annotator widget (the first one is the base tool)
    ("tool", "points", _T + "points:PointsTool", "clicks add points, drags add boxes; +/- labels; clear", ()),
    ("tool", "person", _T + "person:PersonTool", "track people; a click selects or tracks a person", ()),
    ("tool", "region", _T + "region:RegionTool", "a drag seeds the people in a region and propagates", ()),
]
