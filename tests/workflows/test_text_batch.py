"""The batch's text step (`annotator-widgets batch ... --text faces`): phrases -> objects -> propagation with
re-detection, on an encoded real-people clip, with the offline face route."""

from __future__ import annotations

import json

from annotator_widgets import Project
from annotator_widgets.batch import Settings
from annotator_widgets.batch.pipeline import run_video
from annotator_widgets.cli import main
from annotator_widgets.data import write_video
from tests.support.people import crossing_clip


def test_text_step_finds_tracks_and_exports(tmp_path):
    clip = crossing_clip(num_frames=60)
    path = write_video(clip.frames[:12], tmp_path / "walk.mp4", fps=clip.fps)
    settings = Settings(
        segmenter="classic", direction="none", formats=("coco",), options={"text": {"phrases": "faces", "every": 5}}
    )
    result = run_video(path, tmp_path / "out", settings)
    assert result.status == "done", result.error
    (awp,) = (tmp_path / "out").rglob("*.awp")
    with Project.open(awp, readonly=True) as p:
        objs = p.objects()
        assert [o.name for o in objs] == ["faces", "faces"]
        assert all(len(p.mask_frames(o.obj_id)) == 12 for o in objs)
        linked = {d.obj_id for d in p.detections(5).values()}
        assert linked == {o.obj_id for o in objs}  # re-detected on frame 5, matched to the same objects
    (coco,) = (tmp_path / "out").rglob("coco*.json")
    assert len(json.loads(coco.read_text())["annotations"]) == 24


def test_cli_text_option(tmp_path):
    clip = crossing_clip(num_frames=60)
    path = write_video(clip.frames[:6], tmp_path / "walk.mp4", fps=clip.fps)
    rc = main(
        [
            "batch",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--segmenter",
            "classic",
            "--propagate",
            "none",
            "--text",
            "faces",
            "--redetect-every",
            "3",
            "--quiet",
        ]
    )
    assert rc == 0
    (awp,) = (tmp_path / "out").rglob("*.awp")
    with Project.open(awp, readonly=True) as p:
        assert [o.name for o in p.objects()] == ["faces", "faces"]
        assert sorted(p.mask_frames()) == list(range(6))
