"""Closed-vocabulary COCO detectors (DETR, RT-DETR) answering class names: "person", "people", "cup".

For workflows that want every person in a region (a people detector's boxes meeting a zone), a
COCO detector is faster and surer than an open-vocabulary grounder. Phrases must name one of the
model's classes (``config.id2label``), ignoring articles and plurals, or a common synonym
(``"people"``, ``"man"``, ``"pedestrians"`` -> person; ``"bike"`` -> bicycle; ``"phone"`` -> cell
phone...); anything else is a :class:`~annotator_widgets.errors.PromptError` suggesting the class
named by the phrase's last word and an open-vocabulary grounder.

Scores follow each model's training, as transformers' post-processing does:

* DETR: softmax over the classes plus "no object"; a box answers a phrase only when the phrase's
  class is the box's best class.
* RT-DETR (focal loss): a sigmoid per class; a box's score for a phrase is its best sigmoid over
  the phrase's classes, and it answers its best phrase.

Boxes are normalised ``cx, cy, w, h`` of the image: x scales by the width, y by the height.

Example:
    >>> from annotator_widgets.backends.grounders.coco import coco_classes
    >>> coco_classes(["people", "a cup"], {0: "person", 1: "cup", 2: "car"})
    [[0], [1]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...errors import PromptError
from .._optional import require
from ._base import HfGrounder
from .postprocess import Candidates, cxcywh_to_xyxy, normalize, sigmoid

__all__ = ["DetrGrounder", "RtDetrGrounder", "coco_classes"]

#: other words for COCO class names (singular, lower case)
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ("people", "man", "men", "woman", "women", "boy", "girl", "child", "children", "kid", "human"), "person"
    ),
    **dict.fromkeys(("pedestrian", "player", "adult", "persons"), "person"),
    "bike": "bicycle",
    "motorbike": "motorcycle",
    "plane": "airplane",
    "aeroplane": "airplane",
    "television": "tv",
    "tvmonitor": "tv",
    "sofa": "couch",
    "phone": "cell phone",
    "mobile phone": "cell phone",
    "smartphone": "cell phone",
    "cellphone": "cell phone",
    "table": "dining table",
    "plant": "potted plant",
    "mug": "cup",
    "purse": "handbag",
    "ball": "sports ball",
    "automobile": "car",
}


def coco_classes(phrases: list[str], id2label: Mapping[Any, str]) -> list[list[int]]:
    """The class ids each phrase names, or :class:`PromptError` for a phrase that names none.

    Example:
        >>> coco_classes(["the blue bottle"], {0: "person", 44: "bottle"})
        Traceback (most recent call last):
        ...
        annotator_widgets.errors.PromptError: a COCO detector knows class names only ... ask for 'bottle' ...
    """
    by_name: dict[str, list[int]] = {}
    for idx, label in id2label.items():
        if str(label).strip().lower() in ("", "n/a"):  # DETR's unused COCO ids
            continue
        by_name.setdefault(normalize(str(label)), []).append(int(idx))
    out = []
    for phrase in phrases:
        key = normalize(phrase)
        key = SYNONYMS.get(key, key)
        ids = by_name.get(normalize(key))
        if not ids:
            words = key.split()
            guess = SYNONYMS.get(words[-1], words[-1]) if words else ""
            known = sorted(n for n in by_name if n)
            hint = f"ask for {guess!r} (any {guess}) " if normalize(guess) in by_name else ""
            raise PromptError(
                "a COCO detector knows class names only",
                given=phrase,
                hint=f"{hint}or use an open-vocabulary grounder such as 'owlv2' for descriptions; "
                f"classes: {', '.join(known[:12])}{'...' if len(known) > 12 else ''}",
            )
        out.append(ids)
    return out


class DetrGrounder(HfGrounder):
    """DETR (``DetrForObjectDetection``, COCO classes); default threshold 0.5.

    ``facebook/detr-resnet-50`` uses a timm ResNet backbone: it needs ``pip install timm``.
    """

    part = "detr"
    family = "DETR"
    classes: ClassVar[dict[str, str]] = {"detr": "DetrForObjectDetection"}
    default_model = "facebook/detr-resnet-50"
    default_threshold = 0.5
    processor_class = "AutoImageProcessor"

    def _check_config(self, config: Any) -> None:
        backbone = getattr(config, "backbone_config", None)
        if getattr(config, "use_timm_backbone", False) or getattr(backbone, "model_type", "") == "timm_backbone":
            require("timm", "vlm", purpose=f"{self.family}'s timm ResNet backbone")

    def _predict(self, image: np.ndarray, phrases: list[str]) -> Candidates:
        wanted = coco_classes(phrases, self.config.id2label)
        inputs = self.processor(images=image, return_tensors="pt")
        out = self.model(**self._to_device(inputs))
        height, width = image.shape[:2]
        boxes = cxcywh_to_xyxy(self._numpy(out.pred_boxes[0]), (width, height))
        return Candidates.from_matrix(boxes, self._matrix(out.logits[0].float(), wanted))

    def _matrix(self, logits: Any, wanted: list[list[int]]) -> np.ndarray:
        """(queries, phrases) scores; -1 where a query cannot answer a phrase."""
        probs = self._numpy(logits.softmax(-1)[:, :-1])  # the last class is "no object"
        best = probs.argmax(axis=1)
        score = probs.max(axis=1)
        return np.stack([np.where(np.isin(best, ids), score, -1.0) for ids in wanted], axis=1)


class RtDetrGrounder(DetrGrounder):
    """RT-DETR and RT-DETRv2 (``RTDetrForObjectDetection``, COCO classes, no timm); default threshold 0.5."""

    part = "rt-detr"
    family = "RT-DETR"
    classes: ClassVar[dict[str, str]] = {
        "rt_detr": "RTDetrForObjectDetection",
        "rt_detr_v2": "RTDetrV2ForObjectDetection",
    }
    default_model = "PekingU/rtdetr_r18vd"
    default_threshold = 0.5

    def _check_config(self, config: Any) -> None:
        pass

    def _matrix(self, logits: Any, wanted: list[list[int]]) -> np.ndarray:
        if not getattr(self.config, "use_focal_loss", True):
            return super()._matrix(logits, wanted)
        probs = sigmoid(self._numpy(logits))
        return np.stack([probs[:, ids].max(axis=1) for ids in wanted], axis=1)
