"""MOT boxes and MOTS masks, read by Datumaro and pycocotools; importing boxes as prompts, masks as masks."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotator_widgets import AnnotatorError
from annotator_widgets.export.mot import save_mot, save_mots, to_mots
from annotator_widgets.export.mot_import import import_mot
from tests.support.readers import datumaro_read

from .conftest import GAP, OBJECTS, H, T, W

CLASSES = ["cup", "person", "ring", "toy"]


def _box(m: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(m)
    return [int(xs.min()), int(ys.min()), int(xs.max() + 1 - xs.min()), int(ys.max() + 1 - ys.min())]


def test_gt_txt_rows_and_sequence_files(generated, tmp_path):
    paths = save_mot(generated.project, tmp_path / "seq")
    assert {p.relative_to(tmp_path / "seq").as_posix() for p in paths} == {"seqinfo.ini", "gt/gt.txt", "gt/labels.txt"}
    ini = (tmp_path / "seq" / "seqinfo.ini").read_text()
    assert f"seqLength={T}\n" in ini and f"imWidth={W}\n" in ini and "frameRate=10\n" in ini
    assert (tmp_path / "seq" / "gt" / "labels.txt").read_text().split("\n")[:4] == CLASSES
    rows = [r.split(",") for r in (tmp_path / "seq" / "gt" / "gt.txt").read_text().splitlines()]
    assert len(rows) == len(generated.truth) and all(len(r) == 9 for r in rows)
    for r in rows:
        frame, oid = int(r[0]) - 1, int(r[1])  # 1-based frames
        assert [int(v) for v in r[2:6]] == _box(generated.truth[(frame, oid)])
        assert CLASSES[int(r[7]) - 1] == OBJECTS[oid][1] and r[6] == "1" and r[8] == "1"
    assert not any(int(r[0]) - 1 in GAP and r[1] == "3" for r in rows)


def test_datumaro_reads_tracks_and_boxes(generated, tmp_path):
    save_mot(generated.project, tmp_path / "seq")
    got = datumaro_read(tmp_path / "seq", "mot_seq")
    assert got["labels"][:4] == CLASSES and len(got["items"]) == T
    boxes = {
        (int(item["id"]) - 1, a["attributes"]["track_id"]): (a["bbox"], a["label"])
        for item in got["items"]
        for a in item["annotations"]
    }
    assert set(boxes) == set(generated.truth)
    for (frame, oid), (bbox, label) in boxes.items():
        assert bbox == _box(generated.truth[(frame, oid)]) and label == OBJECTS[oid][1]


def test_mots_rows_decode_with_pycocotools(generated, tmp_path):
    save_mots(generated.project, tmp_path / "mots")
    rows = (tmp_path / "mots" / "gt" / "gt.txt").read_text().splitlines()
    assert len(rows) == len(generated.truth)
    for row in rows:
        frame, oid, cls, h, w, counts = row.split(" ")
        mask = coco_mask.decode({"size": [int(h), int(w)], "counts": counts.encode()}).astype(bool)
        assert (int(h), int(w)) == (H, W) and CLASSES[int(cls) - 1] == OBJECTS[int(oid)][1]
        assert (mask == generated.truth[(int(frame) - 1, int(oid))]).all()


def test_mots_removes_overlaps_higher_id_wins(empty_like):
    p = empty_like()
    a, b = p.add_object(obj_id=2), p.add_object(obj_id=9)
    m1, m2 = np.zeros((H, W), bool), np.zeros((H, W), bool)
    m1[0:10, 0:10] = True
    m2[5:15, 5:15] = True
    p.put_mask(0, a.obj_id, m1)
    p.put_mask(0, b.obj_id, m2)
    rows = {int(r.split()[1]): r.split()[5] for r in to_mots(p)}
    low = coco_mask.decode({"size": [H, W], "counts": rows[2].encode()}).astype(bool)
    high = coco_mask.decode({"size": [H, W], "counts": rows[9].encode()}).astype(bool)
    assert not (low & high).any() and (high == m2).all() and (low == (m1 & ~m2)).all()


def test_boxes_import_as_prompts_and_masks_as_masks(generated, empty_like, tmp_path):
    save_mot(generated.project, tmp_path / "seq")
    dst = empty_like()
    report = import_mot(dst, tmp_path / "seq")
    assert sorted(report.objects.items()) == [(oid, oid) for oid in sorted(OBJECTS)]
    assert report.remapped == {} and report.prompts == len(generated.truth) and report.annotations == 0
    for (frame, oid), m in generated.truth.items():
        x, y, w, h = _box(m)
        assert dst.prompt(frame, oid).box.xyxy == (x, y, x + w, y + h)
    assert {o.obj_id: o.category for o in dst.objects()} == {k: v[1] for k, v in OBJECTS.items()}
    assert dst.undo() == "import MOT" and dst.stats()["prompts"] == 0

    save_mots(generated.project, tmp_path / "mots")
    dst2 = empty_like()
    report = import_mot(dst2, tmp_path / "mots" / "gt" / "gt.txt")
    assert report.annotations == len(generated.truth) and report.remapped == {}
    for (frame, oid), m in generated.truth.items():
        assert (dst2.annotation(frame, oid).mask == m).all()


def test_ignored_rows_clipped_boxes_and_mismatches(generated, empty_like, tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("1,5,-4,2,10,6,1,-1,1\n2,5,3,3,4,4,0,-1,1\n")
    dst = empty_like()
    report = import_mot(dst, gt)
    assert dst.prompt(0, 5).box.xyxy == (0, 2, 6, 8) and report.prompts == 1
    assert any("ignored" in n for n in report.notes)
    save_mot(generated.project, tmp_path / "seq")
    for size in ((W, H, T + 3), (W + 1, H, T)):
        other = empty_like(*size)
        with pytest.raises(AnnotatorError, match=r"frames|frame size"):
            import_mot(other, tmp_path / "seq")
        assert other.stats()["objects"] == 0
    gt.write_text("1,5,a,b\n")
    with pytest.raises(AnnotatorError, match="malformed") as bad:
        import_mot(empty_like(), gt)
    assert "'1,5,a,b'" in str(bad.value)  # the row, and the layout it should have had
    assert bad.value.hint is not None and "frame,id,x,y,w,h" in bad.value.hint
