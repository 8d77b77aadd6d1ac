"""The COCO dataset folder (annotations/ + images/): read by Datumaro as a whole dataset, and by our importer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator_widgets import AnnotatorError, registry
from annotator_widgets.export import import_coco
from annotator_widgets.export.coco_dataset import save_coco_dataset
from annotator_widgets.video import open_video
from tests.support.readers import datumaro_read

from .conftest import OBJECTS, T


def test_datumaro_imports_the_folder_with_frames_masks_and_keypoints(generated, tmp_path):
    root = tmp_path / "coco"
    paths = save_coco_dataset(generated.project, root, images=True, image_format="png")
    rel = {p.relative_to(root).as_posix() for p in paths}
    assert {"annotations/instances_default.json", "annotations/person_keypoints_default.json"} <= rel
    assert {f"images/default/frame_{f:06d}.png" for f in range(T)} <= rel
    got = datumaro_read(root, "coco")  # the whole folder: Datumaro finds both files and the frames
    frames = open_video(generated.frames_folder)
    items = {it["attributes"]["id"] - 1: it for it in got["items"]}
    assert sorted(items) == list(range(T))
    masks = 0
    for frame, item in items.items():
        rgb = frames[frame].reshape(-1, 3).mean(axis=0)
        assert item["image_mean"] == pytest.approx(rgb[::-1].tolist())  # the frame itself (BGR as Datumaro reads)
        for a in item["annotations"]:
            if a["type"] == "mask":
                truth = generated.truth[(frame, a["attributes"]["track_id"])]
                decoded = coco_mask.decode({"size": a["size"], "counts": a["rle"].encode()}).astype(bool)
                assert (decoded == truth).all() and a["label"] == OBJECTS[a["attributes"]["track_id"]][1]
                masks += 1
    assert masks == len(generated.truth)
    # Datumaro takes one task per folder import (it names the keypoints file a conflicting source and skips it):
    # the keypoints file reads on its own, in the same folder, with its frames
    got = datumaro_read(root / "annotations" / "person_keypoints_default.json", "coco_person_keypoints")
    points = [a for it in got["items"] for a in it["annotations"] if a["type"] == "points"]
    assert len(points) == len(range(0, T, 2)) and all(it["image_mean"] is not None for it in got["items"])


def test_the_instances_file_has_no_keypoints_and_names_the_frames_it_holds(generated, tmp_path):
    root = tmp_path / "coco"
    save_coco_dataset(generated.project, root, subset="train")
    data = json.loads((root / "annotations" / "instances_train.json").read_text())
    assert all("keypoints" not in a for a in data["annotations"]) and len(data["annotations"]) == len(generated.truth)
    assert {im["file_name"] for im in data["images"]} == {f"frame_{f:06d}.jpg" for f in range(T)}
    kp = json.loads((root / "annotations" / "person_keypoints_train.json").read_text())
    assert kp["annotations"] and all("keypoints" in a for a in kp["annotations"])
    assert (root / "images" / "train").is_dir() and not list((root / "images" / "train").iterdir())  # no frames


def test_a_project_without_poses_writes_no_keypoints_file(empty_like, tmp_path):
    p = empty_like()
    mug = p.add_object(name="mug", category="cup")
    p.put_mask(2, mug.obj_id, np.ones((p.size[1], p.size[0]), bool))
    paths = save_coco_dataset(p, tmp_path / "coco")
    assert [x.relative_to(tmp_path / "coco").as_posix() for x in paths] == ["annotations/instances_default.json"]


def test_the_importer_reads_a_dataset_folder_back(generated, empty_like, tmp_path):
    fmt = registry.lookup("exporter", "coco-dataset")
    assert fmt.target == "folder" and fmt.writes_images
    fmt.save(generated.project, tmp_path / "coco")
    dst = empty_like()
    report = registry.lookup("importer", "coco").load(dst, tmp_path / "coco")
    assert report.remapped == {} and set(report.objects) == {3, 7, 12, 40}
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()


def test_a_folder_with_several_or_no_instances_files_is_refused(generated, empty_like, tmp_path):
    save_coco_dataset(generated.project, tmp_path / "coco")
    save_coco_dataset(generated.project, tmp_path / "other", subset="val")
    (tmp_path / "other" / "annotations" / "instances_val.json").rename(
        tmp_path / "coco" / "annotations" / "instances_val.json"
    )
    with pytest.raises(AnnotatorError, match=r"one annotations/instances_<subset>\.json, it holds 2") as err:
        import_coco(empty_like(), tmp_path / "coco")
    assert "instances_default.json" in str(err.value)  # the hint names a file to pass instead
    with pytest.raises(AnnotatorError, match="it holds none"):
        import_coco(empty_like(), tmp_path)


def test_bad_options_and_a_foreign_folder_are_refused(generated, tmp_path):
    with pytest.raises(AnnotatorError, match="subset"):
        save_coco_dataset(generated.project, tmp_path / "a", subset="../x")
    with pytest.raises(AnnotatorError, match="jpg or png"):
        save_coco_dataset(generated.project, tmp_path / "a", image_format="gif")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(AnnotatorError, match="holds files no export wrote"):
        save_coco_dataset(generated.project, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
