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
_E = "annotator_widgets.render.effects:"
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
    ("hands", "mediapipe", _B + "hands:MediaPipeHandEstimator", "MediaPipe HandLandmarker (offline full model)", ()),
    ("grounder", "mediapipe-face", _B + "faces:MediaPipeFaceDetector", "faces only: MediaPipe BlazeFace, offline", ()),
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
    ("exporter", "coco", _X + "coco:FORMAT", "COCO JSON: RLE masks, keypoints, tracks, videos, actions", ()),
    ("exporter", "coco-dataset", _X + "coco_dataset:FORMAT", "COCO folder: annotations/ + images/", ("coco_dataset",)),
    ("exporter", "png", _X + "png:FORMAT", "one label PNG per frame, pixel value = object id", ()),
    ("exporter", "yolo", _X + "yolo:DETECT", "YOLO detection, Ultralytics layout (track ids beside)", ()),
    ("exporter", "yolo-seg", _X + "yolo:SEGMENT", "YOLO segmentation, exact polygons, holes bridged", ("yolo_seg",)),
    ("exporter", "mot", _X + "mot:MOT", "MOT Challenge gt.txt boxes with track ids", ()),
    ("exporter", "mots", _X + "mot:MOTS", "MOTS gt.txt: COCO RLE masks with track ids", ()),
    ("exporter", "davis", _X + "davis:DAVIS", "DAVIS palette PNGs, pixel value = object id", ()),
    ("exporter", "binary-png", _X + "davis:BINARY", "one 0/255 PNG per object and frame", ("binary_png",)),
    ("exporter", "cvat", _X + "cvat:FORMAT", "CVAT for video 1.1 XML: a track per object", ()),
    ("exporter", "actions", _X + "actions:FORMAT", "action segments: JSON, or CSV for a .csv path", ()),
    # importers
    ("importer", "coco", _X + "coco_import:IMPORTER", "COCO JSON: RLE or polygon masks, track ids", ()),
    ("importer", "davis", _X + "davis:IMPORTER", "indexed PNG masks (DAVIS or label PNGs)", ("png",)),
    ("importer", "yolo", _X + "yolo_import:IMPORTER", "YOLO: polygons as masks, boxes as prompts", ("yolo-seg",)),
    ("importer", "cvat", _X + "cvat_import:IMPORTER", "CVAT XML 1.1: polygons as masks", ()),
    ("importer", "mot", _X + "mot_import:IMPORTER", "MOT boxes as box prompts, MOTS masks", ("mots",)),
    # effects: effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb (see annotator_widgets.render.effects)
    ("effect", "blur", _E + "blur", "Gaussian blur inside the masks; strength scales the radius", ()),
    ("effect", "pixelate", _E + "pixelate", "big pixels inside the masks; strength scales the block size", ("mosaic",)),
    ("effect", "solid", _E + "solid", "fill the masks with one colour (option color=(r, g, b))", ()),
    ("effect", "outline", _E + "outline", "only the masks' outlines (option color=(r, g, b))", ()),
    ("effect", "dim", _E + "dim", "darken everything outside the masks; strength scales the darkening", ()),
    # tools of the annotator widget (the first one is the base tool)
    ("tool", "points", _T + "points:PointsTool", "clicks add points, drags add boxes; +/- labels; clear", ()),
    ("tool", "person", _T + "person:PersonTool", "track people; a click selects or tracks a person", ()),
    ("tool", "region", _T + "region:RegionTool", "a drag seeds the people in a region and propagates", ()),
    ("tool", "effects", _T + "effects:EffectsTool", "blur/pixelate objects: live preview, render an MP4", ()),
    ("tool", "export", _T + "export:ExportTool", "write the annotations in a dataset format", ()),
    ("tool", "actions", _T + "interactions:ActionsTool", "action segments: find, describe, edit, jump", ()),
    ("tool", "captions", _T + "captions:CaptionsTool", "the current object's caption here: edit it, Describe", ()),
    (
        "tool",
        "text",
        _T + "text:TextTool",
        "a phrase -> candidate boxes -> objects; re-detection while propagating",
        (),
    ),
]
