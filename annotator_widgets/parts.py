"""The built-in parts: one line each, read by :mod:`annotator_widgets.registry`.

A new model, format, importer or effect is one new module plus one line here. Targets are
``"module:attribute"`` strings, imported only when the part is used, so importing the
package stays cheap. Other packages add parts through entry points instead (see the registry).
"""

from __future__ import annotations

__all__ = ["BUILTIN"]

_B = "annotator_widgets.backends."
_X = "annotator_widgets.export."
_G = "annotator_widgets.backends.grounders."

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
    # grounders (text -> boxes); the argument is a hub id or a save_pretrained folder
    (
        "grounder",
        "owlv2",
        _G + "owl:Owlv2Grounder",
        "OWLv2 open-vocabulary boxes (default): owlv2[:<id or folder>]",
        ("owl",),
    ),
    ("grounder", "owlvit", _G + "owl:OwlVitGrounder", "OWL-ViT open-vocabulary boxes: owlvit[:<id or folder>]", ()),
    (
        "grounder",
        "grounding-dino",
        _G + "grounding_dino:GroundingDinoGrounder",
        "Grounding DINO phrase boxes",
        ("gdino",),
    ),
    (
        "grounder",
        "mm-grounding-dino",
        _G + "grounding_dino:MMGroundingDinoGrounder",
        "MM-Grounding-DINO phrase boxes",
        (),
    ),
    ("grounder", "florence2", _G + "florence2:Florence2Grounder", "Florence-2 grounding / detection", ("florence",)),
    ("grounder", "detr", _G + "coco:DetrGrounder", "DETR, COCO class names only ('person', 'cup'); needs timm", ()),
    (
        "grounder",
        "rt-detr",
        _G + "coco:RtDetrGrounder",
        "RT-DETR, COCO class names only ('person', 'cup')",
        ("rtdetr",),
    ),
    # pose
    ("pose", "mediapipe", _B + "pose:MediaPipePoseEstimator", "MediaPipe PoseLandmarker (offline full model)", ()),
    # export formats
    ("exporter", "coco", _X + "coco:FORMAT", "COCO instance segmentation JSON (RLE masks, track ids)", ()),
    ("exporter", "png", _X + "png:FORMAT", "one label PNG per frame, pixel value = object id", ()),
]
