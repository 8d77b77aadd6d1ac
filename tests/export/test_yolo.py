"""YOLO detection and segmentation, read by supervision and Datumaro; round trip through the importer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv

from annotator_widgets import AnnotatorError
from annotator_widgets.export.polygons import mask_to_rings, polygon_to_mask
from annotator_widgets.export.yolo import save_yolo, to_yolo
from annotator_widgets.export.yolo_import import import_yolo
from annotator_widgets.rle import mask_iou
from tests.support.readers import datumaro_read

from .conftest import OBJECTS, H, T, W

CLASSES = ["cup", "person", "ring", "toy"]


def _frame(name: str) -> int:
    return int(name.rsplit("/", 1)[-1].split(".")[0].split("_")[-1])


def test_layout_yaml_and_track_ids(generated, tmp_path):
    out = tmp_path / "yolo"
    paths = save_yolo(generated.project, out, images=True)
    rel = {p.relative_to(out).as_posix() for p in paths}
    assert {f"labels/train/frame_{f:06d}.txt" for f in range(T)} <= rel
    assert {f"images/train/frame_{f:06d}.jpg" for f in range(T)} <= rel and "data.yaml" in rel
    yml = (out / "data.yaml").read_text()
    assert f'path: "{out.resolve()}"' in yml and 'train: "images/train"' in yml and 'val: "images/train"' in yml
    assert '  0: "cup"\n  1: "person"\n  2: "ring"\n  3: "toy"\n' in yml
    for f in range(T):
        lines = (out / "labels" / "train" / f"frame_{f:06d}.txt").read_text().splitlines()
        ids = [int(v) for v in (out / "tracks" / "train" / f"frame_{f:06d}.txt").read_text().split()]
        assert ids == sorted(oid for (g, oid) in generated.truth if g == f) and len(ids) == len(lines)
        for line, oid in zip(lines, ids, strict=True):
            assert CLASSES[int(line.split()[0])] == OBJECTS[oid][1]
            assert all(len(v.split(".")[1]) == 6 for v in line.split()[1:])  # six decimals


def test_supervision_reads_segmentation(generated, tmp_path):
    out = tmp_path / "yolo"
    save_yolo(generated.project, out, images=True)
    ds = sv.DetectionDataset.from_yolo(
        str(out / "images" / "train"), str(out / "labels" / "train"), str(out / "data.yaml"), force_masks=True
    )
    assert ds.classes == CLASSES and len(ds.annotations) == T
    kernel = np.ones((3, 3), np.uint8)
    for path, det in ds.annotations.items():
        frame = _frame(path)
        truths = [m for (f, _), m in sorted(generated.truth.items()) if f == frame]
        assert len(det) == len(truths)
        for got, truth in zip(det.mask, truths, strict=True):
            # supervision fills polygons with cv2.fillPoly, vertices taken as pixel centres (truncated):
            # it sees the exact outline grown by at most a pixel, plus the one-pixel bridges
            assert (got | ~truth).all()
            grown = cv2.dilate(truth.astype(np.uint8), kernel).astype(bool)
            assert (got & ~grown).sum() <= 2 * (H + W)
            assert mask_iou(got, truth) > 0.6


def test_datumaro_reads_detection_boxes(generated, tmp_path):
    out = tmp_path / "yolo"
    save_yolo(generated.project, out, task="detect", images=True)
    got = datumaro_read(out, "yolo")
    assert got["labels"] == CLASSES and len(got["items"]) == T
    for item in got["items"]:
        frame = _frame(item["id"])
        truths = sorted((oid, m) for (f, oid), m in generated.truth.items() if f == frame)
        assert item["size"] == [H, W] and len(item["annotations"]) == len(truths)
        for a, (oid, m) in zip(item["annotations"], truths, strict=True):
            ys, xs = np.nonzero(m)
            want = [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
            assert np.allclose(a["bbox"], want, atol=1e-3) and a["label"] == OBJECTS[oid][1]


def test_segmentation_round_trip_is_exact_with_ids(generated, empty_like, tmp_path):
    save_yolo(generated.project, tmp_path / "yolo")
    dst = empty_like()
    report = import_yolo(dst, tmp_path / "yolo")
    assert report.objects == {3: 3, 7: 7, 12: 12, 40: 40} and report.remapped == {}
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()  # IoU 1.0, holes and parts included
    assert {o.obj_id: o.category for o in dst.objects()} == {k: v[1] for k, v in OBJECTS.items()}
    assert dst.undo() == "import YOLO" and dst.stats()["masks"] == 0


def test_donut_is_one_bridged_polygon_that_keeps_its_hole(generated):
    rings = mask_to_rings(generated.truth[(0, 40)])
    assert len(rings) == 3  # ring, square, hole
    frame0 = to_yolo(generated.project)["frames"][0]
    line = frame0.lines[frame0.track_ids.index(40)]
    poly = np.asarray(line.split()[1:], float).reshape(-1, 2) * (W, H)
    assert (polygon_to_mask(poly, (H, W)) == generated.truth[(0, 40)]).all()


def test_detection_round_trip_gives_box_prompts(generated, empty_like, tmp_path):
    save_yolo(generated.project, tmp_path / "det", task="detect")
    dst = empty_like()
    report = import_yolo(dst, tmp_path / "det")
    assert report.prompts == len(generated.truth) and report.annotations == 0
    for (frame, oid), m in generated.truth.items():
        ys, xs = np.nonzero(m)
        box = dst.prompt(frame, oid).box
        assert np.allclose(box.xyxy, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), atol=1e-3)


def test_tolerance_simplifies_within_bounds(generated):
    exact = to_yolo(generated.project)["frames"]
    rough = to_yolo(generated.project, tolerance=1.5)["frames"]
    n_exact = sum(len(line.split()) for f in exact for line in f.lines)
    n_rough = sum(len(line.split()) for f in rough for line in f.lines)
    assert n_rough < 0.7 * n_exact
    for f in rough:
        for line, oid in zip(f.lines, f.track_ids, strict=True):
            poly = np.asarray(line.split()[1:], float).reshape(-1, 2) * (W, H)
            got, truth = polygon_to_mask(poly, (H, W)), generated.truth[(f.frame, oid)]
            # every pixel that changed lies within the tolerance (+1 px for sampling centres) of the outline
            inside = cv2.distanceTransform(np.pad(truth, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
            outside = cv2.distanceTransform((~truth).astype(np.uint8), cv2.DIST_L2, 5)
            assert inside[truth & ~got].max(initial=0) <= 2.5 and outside[got & ~truth].max(initial=0) <= 2.5
            assert mask_iou(got, truth) > 0.6


def test_without_track_files_every_line_is_an_object(generated, empty_like, tmp_path):
    save_yolo(generated.project, tmp_path / "yolo")
    for p in (tmp_path / "yolo" / "tracks" / "train").iterdir():
        p.unlink()
    report = import_yolo(empty_like(), tmp_path / "yolo")
    assert len(report.objects) == len(generated.truth) == len(report.remapped)


def test_image_of_another_size_is_refused(generated, empty_like, tmp_path):
    save_yolo(generated.project, tmp_path / "yolo", images=True)
    dst = empty_like(W * 2, H * 2)
    with pytest.raises(AnnotatorError, match="frame size"):
        import_yolo(dst, tmp_path / "yolo")
    assert dst.stats()["objects"] == 0
