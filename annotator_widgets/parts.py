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
    # pose
    ("pose", "mediapipe", _B + "pose:MediaPipePoseEstimator", "MediaPipe PoseLandmarker (offline full model)", ()),
    # scorers: text <-> image-region match scores (spec "name:<hub id or folder>")
    ("scorer", "clip", _B + "scorers:ClipScorer", "CLIP softmax + no-match column (openai/clip-vit-base-patch32)", ()),
    ("scorer", "siglip", _B + "scorers:SiglipScorer", "SigLIP sigmoid scores (google/siglip-base-patch16-224)", ()),
    ("scorer", "siglip2", _B + "scorers:Siglip2Scorer", "SigLIP 2 sigmoid (google/siglip2-base-patch16-224)", ()),
    # captioners: image region -> caption, or the answer to a question
    ("captioner", "florence2", _B + "captioners_florence2:Florence2Captioner", "Florence-2 captions, no VQA", ()),
    ("captioner", "blip", _B + "captioners_blip:BlipCaptioner", "BLIP captions + BLIP VQA answers", ()),
    ("captioner", "blip2", _B + "captioners_blip:Blip2Captioner", "BLIP-2 captions and answers (blip2-opt-2.7b)", ()),
    ("captioner", "smolvlm", _B + "captioners_chat:SmolVlmCaptioner", "SmolVLM-256M-Instruct chat", ()),
    ("captioner", "qwen-vl", _B + "captioners_chat:QwenVlCaptioner", "Qwen2.5-VL / Qwen3-VL chat", ("qwen",)),
    # export formats
    ("exporter", "coco", _X + "coco:FORMAT", "COCO instance segmentation JSON (RLE masks, track ids)", ()),
    ("exporter", "png", _X + "png:FORMAT", "one label PNG per frame, pixel value = object id", ()),
]
