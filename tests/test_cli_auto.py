"""`annotator-widgets auto`: a phrase -> masklets on every video -> exports, with key-frame grounding and
re-detection both ways (offline face route on real people cut-outs), and `annotator-widgets checkpoints`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.batch import Settings
from annotator_widgets.batch.pipeline import run_video
from annotator_widgets.cli import main
from annotator_widgets.data import write_video
from tests.support.people import _background, crossing_clip


@pytest.fixture(scope="module")
def late_faces(tmp_path_factory):
    """7 frames of the empty background, then 8 frames with two people: faces first show on frame 7."""
    clip = crossing_clip(num_frames=60)
    h, w = clip.frames.shape[1:3]
    empty = np.repeat(_background((w, h))[None].astype(np.uint8), 7, axis=0)
    frames = np.concatenate([empty, clip.frames[:8]])
    return write_video(frames, tmp_path_factory.mktemp("late") / "late.mp4", fps=clip.fps)


def _nonempty_frames(p: Project, obj_id: int) -> set[int]:
    return {f for f in p.mask_frames(obj_id) if not p.annotations(f)[obj_id].rle.is_empty}


def test_auto_grounds_on_the_first_key_frame_that_shows_the_phrase_and_propagates_both_ways(late_faces, tmp_path):
    rc = main(
        [
            "auto",
            str(late_faces),
            "--text",
            "faces",
            "--out",
            str(tmp_path / "out"),
            "--segmenter",
            "classic",
            "--redetect-every",
            "5",
            "--format",
            "coco,mot",
            "--quiet",
        ]
    )
    assert rc == 0
    (awp,) = (tmp_path / "out").rglob("*.awp")
    with Project.open(awp, readonly=True) as p:
        objs = p.objects()
        assert [o.name for o in objs] == ["faces", "faces"]
        assert p.prompt_frames() == [10]  # key frames 0 and 5 show nothing, 10 shows both faces
        for o in objs:
            # backward from frame 10 reaches the frames where they first show (7..9), forward to the end
            assert set(range(7, 15)) <= _nonempty_frames(p, o.obj_id)
    (coco,) = (tmp_path / "out").rglob("coco*.json")
    assert len(json.loads(coco.read_text())["annotations"]) >= 16
    assert list((tmp_path / "out").rglob("mot*"))


def test_a_resumed_text_step_does_not_ground_again(late_faces, tmp_path):
    settings = Settings(segmenter="classic", formats=("coco",), options={"text": {"phrases": "faces", "every": 5}})
    out = tmp_path / "out"
    events: list[dict] = []
    assert run_video(late_faces, out, settings, progress=events.append).status == "done"
    frames = [e for e in events if e.get("event") == "frame"]
    assert frames and all(0 < e["done"] <= e["total"] for e in frames)  # what the progress bars need
    from annotator_widgets.cli_batch import _Printer

    printer = _Printer("bars", 1)
    for e in frames:
        printer(e)
    printer.close()
    with Project.open(out / "project.awp") as p:
        ids = [o.obj_id for o in p.objects()]
        p.set_meta("batch.step.text", "")  # as if killed after the objects were made, before the step finished
    assert run_video(late_faces, out, settings).status == "done"
    with Project.open(out / "project.awp", readonly=True) as p:
        assert [o.obj_id for o in p.objects()] == ids  # no duplicates
        assert p.prompt_frames() == [10]


def test_a_video_where_no_key_frame_shows_the_phrase_is_done_and_says_so(tmp_path):
    frames = np.repeat(_background((320, 180))[None].astype(np.uint8), 6, axis=0)
    path = write_video(frames, tmp_path / "empty.mp4", fps=10)
    events: list[dict] = []
    settings = Settings(segmenter="classic", formats=("coco",), options={"text": {"phrases": "faces", "every": 2}})
    result = run_video(path, tmp_path / "out", settings, progress=events.append)
    assert result.status == "done", result.error
    warnings = [e for e in events if e.get("event") == "warning"]
    assert warnings and "faces" in warnings[0]["message"]
    with Project.open(tmp_path / "out" / "project.awp", readonly=True) as p:
        assert p.objects() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--actions"], "--track-people"),
        (["--grounder", "no-such-grounder"], "no-such-grounder"),
        (["--redetect-every", "0"], "whole number"),
        (["--grounder", "owlv2", "--concept", "sam3"], "not allowed"),
    ],
)
def test_auto_bad_arguments_exit_2_with_the_reason(extra, message, tmp_path, capsys):
    rc = main(["auto", "v.mp4", "--text", "faces", "--out", str(tmp_path), *extra])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_auto_settings_route_from_the_arguments():
    from annotator_widgets.cli import _parser
    from annotator_widgets.cli_auto import auto_settings

    def settings(*extra: str) -> Settings:
        return auto_settings(_parser().parse_args(["auto", "v.mp4", "--text", "a mug", "--out", "o", *extra]))

    assert settings().options["text"]["route"] == "auto"
    assert settings("--grounder", "owlvit").options["text"]["route"] == "grounder:owlvit"
    assert settings("--concept", "sam3:/m").options["text"]["route"] == "concept:sam3:/m"
    s = settings("--track-people", "--actions", "--redetect-every", "4", "--direction", "forward")
    assert s.track_people and s.options["actions"] == {"hands": None, "captioner": None}
    assert s.options["text"]["every"] == 4 and s.options["text"]["direction"] == "forward"
    assert "cuts" not in settings().options  # stops at cuts by default (and the digest is as before)
    assert settings("--no-cuts").options["cuts"] is False


def test_checkpoints_subcommand(capsys):
    assert main(["checkpoints", "list"]) == 0
    assert "sam2.1_hiera_tiny" in capsys.readouterr().out
    assert main(["checkpoints", "path", "no-such-checkpoint"]) == 2  # an unknown name: 2, as other bad names
    assert "no-such-checkpoint" in capsys.readouterr().err
