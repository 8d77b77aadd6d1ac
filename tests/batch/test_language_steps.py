"""The batch's actions step after tracking people and a phrase (`auto --track-people --actions`), on real people
cut-outs with the pose model from the wheel: it runs through the session, stores segments, exports them."""

from __future__ import annotations

import json

from annotator_widgets import Project
from annotator_widgets.batch import Settings
from annotator_widgets.batch.pipeline import run_video
from annotator_widgets.data import write_video
from tests.support.people import crossing_clip


def test_people_text_and_actions_steps_run_in_order_and_export(tmp_path):
    clip = crossing_clip(num_frames=60)
    path = write_video(clip.frames[:8], tmp_path / "walk.mp4", fps=clip.fps)
    settings = Settings(
        segmenter="classic",
        track_people=True,
        formats=("coco", "actions"),
        options={"text": {"phrases": "faces", "every": 4}, "actions": {"hands": None, "captioner": None}},
    )
    events: list[dict] = []
    result = run_video(path, tmp_path / "out", settings, progress=events.append)
    assert result.status == "done", result.error
    steps = [e["step"] for e in events if e.get("event") == "step"]
    assert steps == ["track_people", "text", "actions", "export"]  # the text step propagates: no plain propagate
    (found,) = [e for e in events if e.get("event") == "actions"]
    with Project.open(tmp_path / "out" / "project.awp", readonly=True) as p:
        names = sorted(o.name or o.category for o in p.objects())
        assert names.count("faces") == 2 and len(names) >= 3  # the two faces and the tracked people
        assert len(p.actions()) == found["segments"]
        assert all(p.get_meta(f"batch.step.{s}") == "done" for s in ("track_people", "text", "actions"))
    (actions,) = (tmp_path / "out").rglob("actions*.json")
    assert isinstance(json.loads(actions.read_text()), dict | list)
