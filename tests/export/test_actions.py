"""Action segments as JSON and CSV (frames and seconds), the same records COCO writes, CVAT tags on request."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from annotator_widgets import AnnotatorError, Project, registry
from annotator_widgets.export.actions import COLUMNS, save_actions, to_actions
from annotator_widgets.export.coco import to_coco
from annotator_widgets.export.cvat import to_cvat
from annotator_widgets.types import ActionSegment


def test_json_records_match_the_project_and_cocos_actions(generated, tmp_path):
    fmt = registry.lookup("exporter", "actions")
    (path,) = fmt.save(generated.project, fmt.default_path(tmp_path))
    doc = json.loads(path.read_text())
    assert path.suffix == ".json" and doc["video"]["fps"] == 10.0
    (rec,) = doc["actions"]
    assert (rec["label"], rec["person_id"], rec["object_id"]) == ("hold", 12, 3)
    assert (rec["start_frame"], rec["stop_frame"], rec["start_s"], rec["stop_s"]) == (2, 7, 0.2, 0.7)
    assert rec["description"] == "alice holds the mug" and rec["object"] == "red mug"
    (coco,) = to_coco(generated.project)["actions"]
    for key in ("start_frame", "stop_frame", "start_s", "stop_s", "person_id", "description"):
        assert coco[key] == rec[key]


def test_csv_has_one_row_per_segment_and_reads_back(generated, tmp_path):
    generated.project.add_action(ActionSegment(5, 9, "throw", 12, 7, 'says "hi", then, throws', 0.5, {"hand": "both"}))
    path = save_actions(generated.project, tmp_path / "out.CSV")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 2
    assert rows[1]["description"] == 'says "hi", then, throws' and rows[1]["hand"] == "both"
    assert [(r["start_frame"], r["stop_s"]) for r in rows] == [("2", "0.7"), ("5", "0.9")]


def test_unknown_fps_gives_no_seconds(tmp_path):
    p = Project.create(tmp_path / "p.awp", {"frames": 10, "width": 4, "height": 4})
    p.add_action(ActionSegment(1, 3, "touch"))
    (rec,) = to_actions(p)
    assert rec["start_s"] is None and rec["person_id"] is None and rec["object"] == ""
    assert save_actions(p, tmp_path / "a.csv").read_text().splitlines()[1].split(",")[8:10] == ["", ""]


def test_writing_over_a_folder_is_a_clear_error_and_leaves_nothing(generated, tmp_path):
    (tmp_path / "taken.json").mkdir()
    with pytest.raises(AnnotatorError, match="cannot write"):
        save_actions(generated.project, tmp_path / "taken.json")
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]


def test_cvat_tags_only_on_request_with_declared_attributes(generated):
    plain = ET.fromstring(to_cvat(generated.project))
    assert list(plain.iter("tag")) == []
    root = ET.fromstring(to_cvat(generated.project, actions=True))
    tags = list(root.iter("tag"))
    assert [int(t.get("frame")) for t in tags] == [2, 3, 4, 5, 6] and {t.get("label") for t in tags} == {"hold"}
    attrs = {a.get("name"): a.text for a in tags[0].iter("attribute")}
    assert attrs["person_id"] == "12" and attrs["object_id"] == "3" and attrs["description"] == "alice holds the mug"
    (label,) = [lb for lb in root.iter("label") if lb.findtext("name") == "hold"]
    assert label.findtext("type") == "tag"
    assert sorted(a.findtext("name") for a in label.iter("attribute")) == sorted(attrs)
