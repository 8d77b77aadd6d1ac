"""COCO for video, read by pycocotools, supervision and Datumaro; round trip through the importer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import supervision as sv
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from annotator_widgets import AnnotatorError
from annotator_widgets.export import import_coco, load_coco, save_coco, to_coco
from annotator_widgets.export.coco import KEYPOINT_NAMES
from annotator_widgets.landmarks import POSE_CONNECTIONS
from annotator_widgets.types import Caption
from tests.support.readers import datumaro_read

from .conftest import OBJECTS, H, T, W


def test_pycocotools_reads_masks_tracks_and_video_fields(generated, tmp_path):
    path = save_coco(generated.project, tmp_path / "coco.json")
    coco = COCO(str(path))
    data = json.loads(path.read_text())
    assert data["videos"] == [{"id": 1, "name": "frames", "width": W, "height": H, "length": T, "fps": 10.0}]
    masks = [a for a in data["annotations"] if "segmentation" in a]
    assert len(masks) == len(generated.truth)  # the two empty masks are left out
    for ann in masks:
        truth = generated.truth[(ann["frame_index"], ann["track_id"])]
        assert (coco.annToMask(ann).astype(bool) == truth).all()
        rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())
        assert [int(v) for v in coco_mask.toBbox(rle)] == ann["bbox"] and ann["area"] == truth.sum()
        image = coco.imgs[ann["image_id"]]
        assert image["frame_index"] == ann["frame_index"] and image["video_id"] == ann["video_id"] == 1
    cats = {c["name"]: c["id"] for c in data["categories"]}
    assert sorted(cats) == ["cup", "person", "ring", "toy"]
    assert {t["id"]: (t["name"], t["category_id"]) for t in data["tracks"]} == {
        oid: (name, cats[cat]) for oid, (name, cat) in OBJECTS.items()
    }


def test_pose_keypoints_in_coco_keypoint_format(generated, tmp_path):
    path = save_coco(generated.project, tmp_path / "coco.json")
    data = json.loads(path.read_text())
    person = next(c for c in data["categories"] if c["name"] == "person")
    assert person["keypoints"] == KEYPOINT_NAMES and len(KEYPOINT_NAMES) == 33
    assert person["keypoints"][:3] == ["nose", "left_eye_inner", "left_eye"]
    assert person["skeleton"] == [[a + 1, b + 1] for a, b in POSE_CONNECTIONS]
    kps = [a for a in data["annotations"] if "keypoints" in a]
    assert [a["frame_index"] for a in kps] == list(range(0, T, 2)) and {a["track_id"] for a in kps} == {12}
    coco = COCO(str(path))
    results = coco.loadRes([{k: a[k] for k in ("image_id", "category_id", "keypoints", "score")} for a in kps])
    for a in kps:
        pose = generated.project.poses(a["frame_index"])[0]
        got = np.asarray(a["keypoints"], float).reshape(-1, 3)
        lm = pose.landmarks
        assert got[32].tolist() == [0, 0, 0]  # outside the frame: not labelled
        want_v = np.where(lm[:32, 2] >= 0.5, 2, 1)
        assert (got[:32, 2] == want_v).all() and a["num_keypoints"] == 32
        assert np.allclose(got[:32, :2], lm[:32, :2], atol=0.006)
    # pycocotools computed boxes from the keypoints it read: they lie within the frame
    assert all(r["bbox"][0] >= 0 and r["bbox"][0] + r["bbox"][2] <= W for r in results.anns.values())


def test_actions_are_video_level_records_with_stop_excluded(generated, tmp_path):
    data = to_coco(generated.project)
    assert data["actions"] == [
        {
            "id": 1,
            "video_id": 1,
            "label": "hold",
            "description": "alice holds the mug",
            "person_id": 12,
            "object_id": 3,
            "start_frame": 2,
            "stop_frame": 7,
            "start_s": 0.2,
            "stop_s": 0.7,
            "score": None,
        }
    ]
    assert "stop_frame excluded" in data["info"]["conventions"]


def test_caption_hook_adds_caption_records(generated):
    data = to_coco(generated.project, captions=[Caption(3, 7, "a red ball", model="tiny"), Caption(11, 0, "a room")])
    assert [(c["frame_index"], c["track_id"], c["caption"]) for c in data["captions"]] == [
        (3, 7, "a red ball"),
        (11, None, "a room"),
    ]
    assert "captions" not in to_coco(generated.project)


def test_supervision_reads_the_masks(generated, tmp_path):
    path = save_coco(generated.project, tmp_path / "coco.json", keypoints=False)
    ds = sv.DetectionDataset.from_coco(str(tmp_path), str(path), force_masks=True)
    assert ds.classes == ["cup", "person", "ring", "toy"]
    data = json.loads(path.read_text())
    frame_of = {im["file_name"]: im["frame_index"] for im in data["images"]}
    seen = 0
    for image_path, det in ds.annotations.items():  # read without loading images (none are exported)
        frame = frame_of[image_path.rsplit("/", 1)[-1]]
        truths = {oid: m for (f, oid), m in generated.truth.items() if f == frame}
        assert len(det) == len(truths)
        for mask, cls in zip(det.mask, det.class_id, strict=True):
            match = [oid for oid, m in truths.items() if (m == mask).all()]
            assert len(match) == 1 and ds.classes[cls] == OBJECTS[match[0]][1]
            seen += 1
    assert seen == len(generated.truth)


def test_datumaro_reads_instances_and_keypoints(generated, tmp_path):
    root = tmp_path / "coco"
    (root / "images" / "default").mkdir(parents=True)
    save_coco(generated.project, root / "annotations" / "instances_default.json", keypoints=False)
    got = datumaro_read(root / "annotations" / "instances_default.json", "coco_instances")
    masks = [(it, a) for it in got["items"] for a in it["annotations"] if a["type"] == "mask"]
    assert len(masks) == len(generated.truth)
    for item, a in masks:
        truth = generated.truth[(item["attributes"]["id"] - 1, a["attributes"]["track_id"])]
        decoded = coco_mask.decode({"size": a["size"], "counts": a["rle"].encode()}).astype(bool)
        assert (decoded == truth).all() and a["label"] == OBJECTS[a["attributes"]["track_id"]][1]
    save_coco(generated.project, root / "annotations" / "person_keypoints_default.json", masks=False)
    got = datumaro_read(root / "annotations" / "person_keypoints_default.json", "coco_person_keypoints")
    points = [a for it in got["items"] for a in it["annotations"] if a["type"] == "points"]
    assert len(points) == len(range(0, T, 2)) and got["labels"] == ["person"]
    assert all(len(p["points"]) == 66 and p["visibility"][32] == 0 for p in points)


def test_round_trip_keeps_ids_masks_and_actions(generated, empty_like, tmp_path):
    path = save_coco(generated.project, tmp_path / "coco.json")
    dst = empty_like()
    report = import_coco(dst, path)
    assert report.objects == {oid: oid for oid in OBJECTS} and report.remapped == {}
    assert report.annotations == len(generated.truth) and any("keypoint" in n for n in report.notes)
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()
    assert {o.obj_id: (o.name, o.category) for o in dst.objects()} == OBJECTS
    assert [(a.start, a.stop, a.person_id, a.obj_id) for a in dst.actions().values()] == [(2, 7, 12, 3)]
    assert dst.undo() == "import COCO" and dst.stats()["objects"] == 0 and dst.stats()["masks"] == 0


def test_taken_ids_are_remapped_and_reported(generated, empty_like):
    dst = empty_like()
    dst.add_object(name="already here", obj_id=7)
    report = import_coco(dst, to_coco(generated.project))
    assert report.remapped == {7: 41} and report.objects[7] == 41
    assert dst.object(7).name == "already here" and dst.object(41).name == "ball"
    assert load_coco(empty_like(), to_coco(generated.project)) == {oid: oid for oid in OBJECTS}


@pytest.mark.parametrize(
    ("size", "message"), [((W, H + 1, T), "frame size"), ((W, H, T + 1), "frames"), ((W + 2, H, T), "frame size")]
)
def test_mismatched_video_raises_before_writing(generated, empty_like, size, message):
    dst = empty_like(*size)
    with pytest.raises(AnnotatorError, match=message):
        import_coco(dst, to_coco(generated.project))
    assert dst.stats()["objects"] == 0 and dst.history() == []


def test_polygon_segmentations_import_and_bad_input_is_explained(empty_like):
    dst = empty_like()
    data = {
        "images": [{"id": 1, "width": W, "height": H, "frame_index": 4}],
        "annotations": [{"id": 1, "image_id": 1, "segmentation": [[2, 3, 12, 3, 12, 9, 2, 9]], "track_id": 5}],
        "categories": [],
    }
    import_coco(dst, data)
    want = np.zeros((H, W), bool)
    want[3:9, 2:12] = True
    assert (dst.annotation(4, 5).mask == want).all()
    with pytest.raises(AnnotatorError, match="not a COCO"):
        import_coco(dst, {"foo": 1})
    data["annotations"][0]["segmentation"] = "nonsense"
    with pytest.raises(AnnotatorError, match="RLE dict or a list of polygons"):
        import_coco(dst, data)


def test_export_twice_is_byte_identical(generated, tmp_path):
    a = save_coco(generated.project, tmp_path / "a.json").read_bytes()
    b = save_coco(generated.project, tmp_path / "b.json").read_bytes()
    assert a == b and b"time" not in a and b"date" not in a
