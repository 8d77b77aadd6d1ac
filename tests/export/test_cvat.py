"""CVAT for video 1.1 XML, read by Datumaro (polygons rasterised by pycocotools); round trip through the importer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator_widgets import AnnotatorError
from annotator_widgets.export.cvat import CvatTag, save_cvat, to_cvat
from annotator_widgets.export.cvat_import import import_cvat
from tests.support.readers import datumaro_read

from .conftest import ABSENT, GAP, OBJECTS, H, T, W


def _shapes(xml: str) -> dict[int, list[dict[str, str]]]:
    root = ET.fromstring(xml)
    return {int(t.get("id")): [dict(p.attrib) for p in t.iter("polygon")] for t in root.iter("track")}


def test_meta_tracks_and_flags(generated):
    xml = to_cvat(generated.project)
    root = ET.fromstring(xml)
    task = root.find("meta/task")
    assert root.findtext("version") == "1.1" and task.findtext("size") == str(T)
    assert task.findtext("original_size/width") == str(W) and task.findtext("mode") == "interpolation"
    assert sorted(label.findtext("name") for label in task.iter("label")) == ["cup", "person", "ring", "toy"]
    tracks = {int(t.get("id")): t.get("label") for t in root.iter("track")}
    assert tracks == {oid: cat for oid, (_, cat) in OBJECTS.items()}
    shapes = _shapes(xml)
    mug = {int(s["frame"]): s for s in shapes[3]}
    assert mug[GAP[0]]["outside"] == "1" and GAP[1] not in mug  # the gap after frame 4 ends the run
    assert mug[GAP[1] + 1]["outside"] == "0" and mug[GAP[1] + 1]["keyframe"] == "1"
    ball = {int(s["frame"]): s for s in shapes[7]}
    assert ball[ABSENT[0]]["outside"] == "1" and ball[ABSENT[1]]["outside"] == "1"  # empty masks: known absent
    assert all(s["keyframe"] == "1" for track in shapes.values() for s in track)  # keyframes="all"
    assert all(s["outside"] == "0" for s in shapes[40])  # visible to the last frame: nothing after it


def test_keyframes_prompted_marks_prompts_edits_and_run_starts(generated):
    shapes = _shapes(to_cvat(generated.project, keyframes="prompted"))
    donut = {int(s["frame"]): s["keyframe"] for s in shapes[40]}
    assert [f for f, k in donut.items() if k == "1"] == [0, 4]  # the first shape and the edited frame
    mug = {int(s["frame"]): s["keyframe"] for s in shapes[3]}
    assert mug[0] == "1" and mug[1] == "0" and mug[GAP[0]] == "1" and mug[GAP[1] + 1] == "1"


def test_datumaro_reads_tracks_and_polygons_exactly(generated, tmp_path):
    save_cvat(generated.project, tmp_path / "cvat" / "annotations.xml")
    got = datumaro_read(tmp_path / "cvat" / "annotations.xml", "cvat")
    assert got["labels"] == ["cup", "person", "ring", "toy"]
    seen = 0
    for item in got["items"]:
        frame = item["attributes"]["frame"]
        for a in item["annotations"]:
            attrs = a["attributes"]
            if attrs["outside"]:
                continue
            oid = attrs["track_id"]
            assert a["type"] == "polygon" and a["label"] == OBJECTS[oid][1] and attrs["name"] == OBJECTS[oid][0]
            rle = coco_mask.merge(coco_mask.frPyObjects([a["points"]], H, W))
            assert (coco_mask.decode(rle).astype(bool) == generated.truth[(frame, oid)]).all()
            seen += 1
    assert seen == len(generated.truth)


def test_round_trip_keeps_ids_names_and_masks(generated, empty_like, tmp_path):
    path = save_cvat(generated.project, tmp_path / "a.xml")
    dst = empty_like()
    report = import_cvat(dst, path)
    assert report.objects == {oid: oid for oid in OBJECTS} and report.remapped == {}
    assert {o.obj_id: (o.name, o.category) for o in dst.objects()} == OBJECTS
    assert report.annotations == len(generated.truth)
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()
    assert dst.undo() == "import CVAT" and dst.stats()["objects"] == 0


def test_track_zero_is_remapped_and_other_shapes_are_noted(empty_like):
    xml = f"""<annotations><version>1.1</version><meta><task><size>{T}</size>
      <original_size><width>{W}</width><height>{H}</height></original_size></task></meta>
      <track id="0" label="car"><box frame="2" outside="0" keyframe="1" occluded="0" xtl="1" ytl="2" xbr="11" ybr="12"/>
      <box frame="3" outside="1" keyframe="1" occluded="0" xtl="1" ytl="2" xbr="11" ybr="12"/></track>
      <track id="4" label="lane"><polyline frame="0" outside="0" keyframe="1" occluded="0" points="1,1;5,5"/></track>
    </annotations>"""
    dst = empty_like()
    report = import_cvat(dst, xml.encode())
    new = report.remapped[0]
    assert dst.prompt(2, new).box.xyxy == (1, 2, 11, 12) and dst.prompt(3, new) is None
    assert any("polyline" in n for n in report.notes)


def test_frame_count_and_size_mismatch_raise_before_writing(generated, empty_like):
    xml = to_cvat(generated.project).encode()
    for size in ((W, H, T - 1), (W, H + 4, T)):
        dst = empty_like(*size)
        with pytest.raises(AnnotatorError, match=r"frames|frame size"):
            import_cvat(dst, xml)
        assert dst.stats()["objects"] == 0 and dst.history() == []
    with pytest.raises(AnnotatorError, match="not a readable CVAT"):
        import_cvat(empty_like(), b"<annotations><track")


def test_tag_hook_and_byte_identical_exports(generated, tmp_path):
    tags = [CvatTag(5, "hold", {"person": "12"}), CvatTag(2, "hold")]
    xml = to_cvat(generated.project, tags=tags)
    root = ET.fromstring(xml)
    assert [(t.get("frame"), t.get("label")) for t in root.iter("tag")] == [("2", "hold"), ("5", "hold")]
    assert [label.findtext("type") for label in root.iter("label") if label.findtext("name") == "hold"] == ["tag"]
    a = save_cvat(generated.project, tmp_path / "a.xml").read_bytes()
    b = save_cvat(generated.project, tmp_path / "b.xml").read_bytes()
    assert a == b and np.frombuffer(a, np.uint8).size > 0
