"""Grounders: text -> boxes on one image (the ``grounder`` parts), one model family per module.

* :mod:`.owl` - OWLv2 (``"owlv2"``, the default) and OWL-ViT (``"owlvit"``): open-vocabulary detection.
* :mod:`.grounding_dino` - Grounding DINO (``"grounding-dino"``) and MM-Grounding-DINO (``"mm-grounding-dino"``).
* :mod:`.florence2` - Florence-2 (``"florence2"``): phrase grounding, open-vocabulary detection, object detection.
* :mod:`.coco` - COCO detectors answering class names: DETR (``"detr"``) and RT-DETR (``"rt-detr"``).
* :mod:`.postprocess` - what all of them do after the model: pixels, clipping, threshold, NMS, top-k.

Specs name a part and optionally a hub id or folder: ``"owlv2"``, ``"owlv2:/models/owlv2"``,
``"grounding-dino:IDEA-Research/grounding-dino-base"``. Options (threshold, nms_iou, top_k,
min_size, device, dtype) go to the constructor, data (image, phrases) to ``detect``.

Nothing heavy is imported here: torch and transformers load when a grounder is built.

Example:
    >>> from annotator_widgets import registry
    >>> "owlv2" in registry.names("grounder")
    True
"""
