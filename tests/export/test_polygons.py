"""Exact pixel-edge polygons: traced, bridged and rasterised back pixel for pixel, checked by pycocotools too."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask

from annotator_widgets import AnnotatorError
from annotator_widgets.export.polygons import (
    mask_to_polygon,
    mask_to_rings,
    polygon_area,
    polygon_to_mask,
    polygons_to_mask,
)


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_any_mask_round_trips_exactly(mask):
    rings = mask_to_rings(mask)
    assert sum(polygon_area(r) for r in rings) == pytest.approx(mask.sum())  # outlines enclose exactly the pixels
    for r in rings:
        assert (r == np.round(r)).all()  # vertices on pixel corners
        assert ((np.diff(np.vstack([r, r[:1]]), axis=0) == 0).any(axis=1)).all()  # every edge is axis-aligned
    poly = mask_to_polygon(mask)
    h, w = mask.shape
    assert (polygon_to_mask(poly, (h, w)) == mask).all()
    if mask.any():  # pycocotools rasterises the bridged polygon to the same pixels
        rle = coco_mask.merge(coco_mask.frPyObjects([poly.ravel().tolist()], h, w))
        assert (coco_mask.decode(rle).astype(bool) == mask).all()


def test_holes_parts_and_corner_touching_pixels():
    m = np.zeros((12, 12), bool)
    m[1:9, 1:9] = True
    m[3:6, 3:6] = False  # a hole
    m[10, 10] = m[11, 11] = True  # two pixels touching at a corner
    rings = mask_to_rings(m)
    areas = sorted(polygon_area(r) for r in rings)
    assert areas == [-9.0, 2.0, 64.0]
    assert (polygon_to_mask(mask_to_polygon(m), m.shape) == m).all()
    assert mask_to_rings(np.zeros((4, 4), bool)) == [] and mask_to_polygon(np.zeros((3, 3))).shape == (0, 2)


def test_tolerance_keeps_the_outline_within_bounds():
    m = np.zeros((200, 300), np.uint8)
    cv2.ellipse(m, (150, 100), (120, 70), 15, 0, 360, 1, -1)
    m = m.astype(bool)
    exact = mask_to_rings(m)[0]
    rough = mask_to_rings(m, tolerance=2.0)[0]
    assert len(rough) < len(exact) / 5
    got = polygon_to_mask(rough, m.shape)
    inside = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    outside = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5)
    assert inside[m & ~got].max(initial=0) <= 3 and outside[got & ~m].max(initial=0) <= 3


def test_rasteriser_matches_pycocotools_on_arbitrary_polygons():
    rng = np.random.default_rng(1)
    for _ in range(50):
        pts = rng.uniform(-3, 43, (int(rng.integers(3, 9)), 2))
        ours = polygons_to_mask([pts], (40, 40))
        theirs = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([pts.ravel().tolist()], 40, 40)))
        # the two sample differently only along the outline (pycocotools rounds the outline to a 1/5 px grid)
        assert (ours != theirs.astype(bool)).sum() <= 0.1 * max(1, ours.sum()) + 8
    with pytest.raises(AnnotatorError, match="finite"):
        polygon_to_mask(np.array([[0, 0], [np.nan, 1], [2, 2]]), (4, 4))
