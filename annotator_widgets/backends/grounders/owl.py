"""OWLv2 and OWL-ViT: open-vocabulary detection, every phrase a text query of one forward pass.

Each image patch predicts one box and a logit per query; a box answers the phrase it scores best
(sigmoid of the logit, as transformers' post-processing does). Box coordinates are normalised
``cx, cy, w, h``:

* OWLv2's processor pads the image at the bottom and right to a square before resizing, so its
  boxes are fractions of the padded square: both axes scale by ``max(height, width)``. Boxes can
  reach past the image (and into the padding); they are clipped.
* OWL-ViT resizes without padding: x scales by the width, y by the height.

Queries are truncated to the tokenizer's 16 tokens.

Example:
    >>> from annotator_widgets.backends.grounders.owl import Owlv2Grounder  # doctest: +SKIP
    >>> owl = Owlv2Grounder(threshold=0.2)  # google/owlv2-base-patch16-ensemble  # doctest: +SKIP
    >>> owl.detect(frame, ["a face", "a red dress"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._base import HfGrounder
from .postprocess import Candidates, cxcywh_to_xyxy, sigmoid

__all__ = ["OwlVitGrounder", "Owlv2Grounder"]


class Owlv2Grounder(HfGrounder):
    """OWLv2 (``Owlv2ForObjectDetection``); the default grounder. Default threshold 0.1 (OWLv2 scores run low)."""

    part = "owlv2"
    family = "OWLv2"
    classes: ClassVar[dict[str, str]] = {"owlv2": "Owlv2ForObjectDetection"}
    default_model = "google/owlv2-base-patch16-ensemble"
    default_threshold = 0.1
    #: OWLv2 pads to a square before resizing: boxes are fractions of the longer side
    pads_to_square = True

    def _predict(self, image: np.ndarray, phrases: list[str]) -> Candidates:
        inputs = self.processor(text=[phrases], images=image, truncation=True, return_tensors="pt")
        out = self.model(**self._to_device(inputs))
        height, width = image.shape[:2]
        scale = (max(height, width),) * 2 if self.pads_to_square else (width, height)
        boxes = cxcywh_to_xyxy(self._numpy(out.pred_boxes[0]), scale)
        scores = sigmoid(self._numpy(out.logits[0]))  # float64: no ties where the logits differ
        return Candidates.from_matrix(boxes, scores[:, : len(phrases)])


class OwlVitGrounder(Owlv2Grounder):
    """OWL-ViT (``OwlViTForObjectDetection``), the first OWL; default threshold 0.1."""

    part = "owlvit"
    family = "OWL-ViT"
    classes: ClassVar[dict[str, str]] = {"owlvit": "OwlViTForObjectDetection"}
    default_model = "google/owlvit-base-patch32"
    default_threshold = 0.1
    pads_to_square = False
