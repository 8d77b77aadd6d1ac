"""The prompt records of ``annotate --prompts`` / ``batch --prompts-format json``: checked first, applied as written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, AnnotatorError, Project, PromptError
from annotator_widgets.cli import main
from annotator_widgets.data import synthetic_clip, write_video
from annotator_widgets.prompt_records import apply_prompt_records, read_prompt_records


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    clip = synthetic_clip(num_frames=4, size=(96, 72), num_objects=1, seed=2)
    return clip, write_video(clip.frames, tmp_path_factory.mktemp("v") / "v.mp4", fps=10)


def _write(tmp_path, data) -> str:
    path = tmp_path / "prompts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[{", "not JSON"),
        ({"frame": 0, "points": [[1, 2]]}, "must hold a list of records"),
        ([[0, 1, 2]], "not a JSON object"),
        ([{"frame": 0, "point": [[1, 2]]}], "unknown keys"),
        ([{"obj_id": 1, "points": [[1, 2]]}], "whole 0-based frame"),
        ([{"frame": "0", "points": [[1, 2]]}], "whole 0-based frame"),
        ([{"frame": 0, "obj_id": 0, "points": [[1, 2]]}], "obj_id must be"),
        ([{"frame": 0, "obj_id": 1, "name": "mug"}], "neither points nor a box"),
    ],
)
def test_a_bad_file_is_a_clear_error_that_names_the_record_and_the_layout(tmp_path, data, message):
    with pytest.raises(AnnotatorError, match=message) as err:
        read_prompt_records(_write(tmp_path, data))
    assert '"frame": 0' in (err.value.hint or "")  # the error shows what a record looks like


def test_annotate_refuses_a_bad_file_before_creating_the_project(tmp_path, clip_video, capsys):
    _, video = clip_video
    prompts = _write(tmp_path, {"frame": 0, "obj_id": 1, "points": [[40, 30]]})  # one record, not a list
    project = tmp_path / "p.awp"
    argv = ["-q", "annotate", str(video), "--project", str(project), "--prompts", prompts, "--segmenter", "classic"]
    assert main(argv) == 2
    assert "must hold a list of records" in capsys.readouterr().err
    assert not project.exists()
    missing = ["-q", "annotate", str(video), "--project", str(project), "--prompts", str(tmp_path / "nope.json")]
    assert main(missing) == 2
    assert "the prompts file does not exist" in capsys.readouterr().err


def test_records_create_named_objects_with_or_without_an_id(tmp_path, clip_video):
    clip, video = clip_video
    ys, xs = np.nonzero(clip.masks[1][0])
    center = [float(xs.mean()), float(ys.mean())]
    box = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]
    records = [
        {"frame": 0, "name": "blob", "category": "shape", "points": [center]},  # no obj_id: a new object, named
        {"frame": 0, "obj_id": 7, "name": "boxed", "box": box},
        {"frame": 2, "obj_id": 7, "points": [center], "labels": [1]},  # the same object on another frame
    ]
    with AnnotationSession(video, tmp_path / "p.awp", "classic", show_progress=False) as session:
        ids = apply_prompt_records(session, read_prompt_records(_write(tmp_path, records)))
        assert ids[1] == ids[2] == 7 and ids[0] != 7
    with Project.open(tmp_path / "p.awp", readonly=True) as p:
        objs = {o.obj_id: o for o in p.objects()}
        assert (objs[ids[0]].name, objs[ids[0]].category) == ("blob", "shape")
        assert objs[7].name == "boxed" and len(objs) == 2
        assert sorted((pr.frame, pr.obj_id) for pr in p.prompts()) == sorted([(0, ids[0]), (0, 7), (2, 7)])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"frame": 9, "obj_id": 2, "points": [[40, 30]]}, "record 1: frame out of range for a 4-frame video"),
        ({"frame": 1, "obj_id": 2, "points": [[40, 30, 5]]}, "record 1: each point must be two numbers"),
        ({"frame": 1, "obj_id": 2, "points": [[40, 30]], "labels": [2]}, "record 1: point labels"),
        ({"frame": 1, "obj_id": 2, "box": [50, 10, 20, 30]}, "record 1: "),
    ],
)
def test_a_bad_value_changes_nothing_and_names_its_record(tmp_path, clip_video, bad, message):
    _, video = clip_video
    good = {"frame": 0, "obj_id": 1, "name": "ok", "points": [[40, 30]]}
    records = read_prompt_records(_write(tmp_path, [good, bad]))
    session = AnnotationSession(video, tmp_path / "p.awp", "classic", show_progress=False)
    with session:
        with pytest.raises(PromptError, match=message):
            apply_prompt_records(session, records)
        assert session.objects == [] and session.project.prompts() == []  # not even the good record's object


def test_the_readme_example_is_a_valid_prompts_file(tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    match = re.search(r"`prompts\.json` is a list of records[^`]*`(\[.*?\])`", readme, flags=re.S)
    assert match, "the README no longer shows a prompts.json example"
    records = read_prompt_records(_write(tmp_path, match.group(1).replace("\n", " ")))
    assert [r["frame"] for r in records] == [0, 0] and records[1]["box"] == [40, 60, 200, 220]


def test_annotate_without_prompts_on_a_new_project_asks_for_them(tmp_path, clip_video, capsys):
    _, video = clip_video
    project = tmp_path / "p.awp"
    assert main(["-q", "annotate", str(video), "--project", str(project), "--segmenter", "classic"]) == 2
    assert "pass --prompts prompts.json" in capsys.readouterr().err
    assert not project.exists()


def test_annotate_says_which_segmenter_ran(tmp_path, clip_video, capsys):
    clip, video = clip_video
    ys, xs = np.nonzero(clip.masks[1][0])
    prompts = _write(tmp_path, [{"frame": 0, "obj_id": 1, "points": [[float(xs.mean()), float(ys.mean())]]}])
    argv = ["-q", "annotate", str(video), "--project", str(tmp_path / "p.awp"), "--prompts", prompts]
    assert main([*argv, "--segmenter", "classic", "--propagate", "none"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["segmenter"] == "classic" and line["prompts"] == 1
