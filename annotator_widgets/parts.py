"""The built-in parts: one line each, read by :mod:`annotator_widgets.registry`.

A new model, format, importer or effect is one new module plus one line here. Targets are
``"module:attribute"`` strings, imported only when the part is used, so importing the
package stays cheap. Other packages add parts through entry points instead (see the registry).
"""

from __future__ import annotations

__all__ = ["BUILTIN"]

_B = "annotator_widgets.backends."
_X = "annotator_widgets.export."
_E = "annotator_widgets.render.effects:"

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
    # effects: effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb (see annotator_widgets.render.effects)
    ("effect", "blur", _E + "blur", "Gaussian blur inside the masks; strength scales the radius", ()),
    ("effect", "pixelate", _E + "pixelate", "big pixels inside the masks; strength scales the block size", ("mosaic",)),
    ("effect", "solid", _E + "solid", "fill the masks with one colour (option color=(r, g, b))", ()),
    ("effect", "outline", _E + "outline", "only the masks' outlines (option color=(r, g, b))", ()),
    ("effect", "dim", _E + "dim", "darken everything outside the masks; strength scales the darkening", ()),
]
