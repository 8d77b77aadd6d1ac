"""The batch propagation step on a video with a shot cut: it stops there (both ways), resumes per shot after a
kill, and crosses the cut with ``options["cuts"] = False`` (``--no-cuts``)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.batch import Settings, run_video
from annotator_widgets.cli import main
from annotator_widgets.data import synthetic_clip, write_video

A, B = 8, 10  # shot lengths: the cut is at frame A


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cut")
    a = synthetic_clip(A, (160, 120), 1, seed=0)
    b = synthetic_clip(B, (160, 120), 1, seed=1)
    path = write_video(np.concatenate([a.frames, b.frames]), folder / "clip.mp4")
    prompts = [  # object 1 in the first shot, object 2 in the second
        {"frame": 3, "obj_id": 1, "box": [float(v) for v in a.boxes[1][3]]},
        {"frame": A + 4, "obj_id": 2, "box": [float(v) for v in b.boxes[1][4]]},
    ]
    (folder / "clip.json").write_text(json.dumps(prompts))
    return path, Settings(segmenter="classic", prompts=str(folder / "{stem}.json"), formats=("coco",))


def _state(path):
    with Project.open(path, readonly=True) as p:
        frames = {o.obj_id: p.mask_frames(o.obj_id) for o in p.objects()}
        warned = sorted((w.frame, w.obj_id) for w in p.warnings() if w.kind == "shot_cut")
        masks = {(a.frame, a.obj_id): a.rle.counts for a in p.iter_annotations()}
    return frames, warned, masks


def test_batch_propagation_stops_at_the_cut(video, tmp_path):
    path, settings = video
    result = run_video(path, tmp_path / "out", settings)
    assert result.status == "done", result.error
    frames, warned, _ = _state(tmp_path / "out" / "project.awp")
    assert frames == {1: list(range(A)), 2: list(range(A, A + B))}
    assert warned == [(A - 1, 1), (A, 2)]  # object 1 forward up to the cut, object 2 backward down to it
    assert result.frames_computed == A + B - 2  # every frame but the two prompted ones


def test_batch_resumes_in_the_second_shot(video, tmp_path):
    path, settings = video
    reference = run_video(path, tmp_path / "ref", settings)
    cancel = threading.Event()

    def progress(event):
        if event["event"] == "frame" and event["done"] >= A + 2:  # in the second shot's forward pass
            cancel.set()

    first = run_video(path, tmp_path / "out", settings, progress, cancel)
    second = run_video(path, tmp_path / "out", settings)
    assert first.status == "failed" and second.status == "done", second.error
    assert second.frames_recomputed == 0
    assert first.frames_computed + second.frames_computed == reference.frames_computed
    assert _state(tmp_path / "out" / "project.awp") == _state(tmp_path / "ref" / "project.awp")


def test_no_cuts_crosses_the_cut(video, tmp_path):
    path, settings = video
    folder = tmp_path / "out"
    args = ["batch", str(path), "--out", str(folder), "--segmenter", "classic", "--prompts", settings.prompts]
    rc = main([*args, "--no-cuts", "--quiet"])
    assert rc == 0
    (awp,) = folder.rglob("project.awp")
    frames, warned, _ = _state(awp)
    assert frames[1] == list(range(A + B)) and min(frames[2]) < A and warned == []  # both carried across
