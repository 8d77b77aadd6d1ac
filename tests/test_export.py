import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator_widgets import AnnotatorError, Project, Source
from annotator_widgets.export import load_coco, save_coco, save_masks_png, to_coco

VIDEO = {"frames": 8, "width": 40, "height": 30, "fps": 10.0, "name": "clip.mp4"}


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p.awp", VIDEO) as p:
        cup = p.add_object(name="red mug", category="cup")
        person = p.add_object(name="alice", category="person")
        for f in range(0, 8, 2):
            m = np.zeros((30, 40), bool)
            m[5 + f : 15 + f, 3:9] = True
            p.put_mask(f, cup.obj_id, m, score=0.8, source="propagated")
            m2 = np.zeros((30, 40), bool)
            m2[2:4, 10 + f : 20 + f] = True
            m2[20:25, 30:35] = True  # a second piece of the same object
            p.put_mask(f, person.obj_id, m2, score=0.5)
        p.put_mask(1, cup.obj_id, np.zeros((30, 40), bool))  # absent on frame 1
        yield p


def test_coco_is_valid_for_pycocotools_and_keeps_ids(project):
    data = to_coco(project)
    assert [c["name"] for c in data["categories"]] == ["cup", "person"]
    assert len(data["images"]) == 4 and len(data["annotations"]) == 8  # the empty mask is left out
    for ann in data["annotations"]:
        rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
        assert int(coco_mask.area(rle)) == ann["area"]
        assert [int(v) for v in coco_mask.toBbox(rle)] == ann["bbox"]
        truth = project.annotation(ann["image_id"] - 1, ann["track_id"])
        assert (coco_mask.decode(rle).astype(bool) == truth.mask).all()
    assert {t["name"] for t in data["tracks"]} == {"red mug", "alice"}


def test_coco_output_is_deterministic(project, tmp_path):
    a = save_coco(project, tmp_path / "a.json").read_bytes()
    b = save_coco(project, tmp_path / "b.json").read_bytes()
    assert a == b and b"time" not in a


def test_coco_round_trip_into_a_new_project(project, tmp_path):
    path = save_coco(project, tmp_path / "coco.json")
    with Project.create(tmp_path / "q.awp", VIDEO) as q:
        mapping = load_coco(q, path)
        assert len(mapping) == 2
        for ann in project.iter_annotations():
            if ann.rle.is_empty:
                continue
            got = q.annotation(ann.frame, mapping[ann.obj_id])
            assert got.rle == ann.rle and got.source is Source.IMPORTED
        assert {o.name for o in q.objects()} == {"red mug", "alice"}
        assert q.undo() == "import COCO" and q.mask_frames() == []


def test_coco_import_rejects_wrong_sizes_and_polygons(project, tmp_path):
    data = to_coco(project)
    with Project.create(tmp_path / "small.awp", {"frames": 8, "width": 20, "height": 30}) as q:
        with pytest.raises(AnnotatorError, match="size differs"):
            load_coco(q, data)
        data["annotations"][0]["segmentation"] = [[1, 2, 3, 4, 5, 6]]
        with pytest.raises(AnnotatorError, match="RLE"):
            load_coco(q, data)
        with pytest.raises(AnnotatorError, match="not a COCO"):
            load_coco(q, {"foo": 1})
    assert json.loads(json.dumps(to_coco(project)))  # JSON-able


def test_label_pngs(project, tmp_path):
    import cv2

    paths = save_masks_png(project, tmp_path / "masks")
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png", "000004.png", "000006.png"]
    label = cv2.imread(str(paths[2]), cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and set(np.unique(label)) == {0, 1, 2}
    assert (label == 1).sum() == project.annotation(2, 1).area
