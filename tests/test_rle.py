import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator_widgets.errors import AnnotatorError
from annotator_widgets.rle import RLE, decode_counts, encode_counts, mask_iou


def _random_masks(n: int = 200):
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(1, 70, 2))
        kind = i % 4
        if kind == 0:
            m = rng.random((h, w)) < rng.random()
        elif kind == 1:
            m = np.zeros((h, w), bool)
            m[rng.integers(0, h) :, rng.integers(0, w) :] = True
        elif kind == 2:
            m = np.ones((h, w), bool)
        else:
            m = np.zeros((h, w), bool)
        yield m


def test_matches_pycocotools_exactly():
    for m in _random_masks():
        ours = RLE.from_mask(m)
        ref = coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours.counts == ref["counts"].decode()
        assert (ours.to_mask() == m).all()
        assert ours.area == int(coco_mask.area(ref)) == int(m.sum())
        if m.any():
            x0, y0, x1, y1 = ours.bbox
            assert (x0, y0, x1 - x0, y1 - y0) == tuple(int(v) for v in coco_mask.toBbox(ref))
        else:
            assert ours.bbox is None


def test_large_counts_round_trip():
    counts = np.array([0, 5_000_000, 3, 2_000_000_000, 7, 1], np.int64)
    assert (decode_counts(encode_counts(counts)) == counts).all()


def test_coco_dict_round_trip_and_uncompressed_input():
    m = np.zeros((30, 40), bool)
    m[5:25, 10:12] = True
    rle = RLE.from_mask(m)
    again = RLE.from_coco(rle.to_coco())
    assert again == rle
    uncompressed = {"size": [30, 40], "counts": [int(c) for c in rle.counts_array]}
    assert RLE.from_coco(uncompressed) == rle


@pytest.mark.parametrize(
    "bad",
    [{"size": [2, 2], "counts": [1, 1]}, {"counts": "abc"}, {"size": [2, 2], "counts": "~~~"}, "not a dict"],
)
def test_bad_coco_input_raises(bad):
    with pytest.raises(AnnotatorError):
        RLE.from_coco(bad)


def test_non_2d_mask_raises_with_shape():
    with pytest.raises(AnnotatorError, match=r"\(1, 4, 4\)"):
        RLE.from_mask(np.zeros((1, 4, 4), bool))


def test_iou():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :5] = True
    b[:, 2:7] = True
    assert mask_iou(RLE.from_mask(a), b) == pytest.approx(30 / 70)
    assert mask_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert RLE.empty((4, 5)).is_empty
