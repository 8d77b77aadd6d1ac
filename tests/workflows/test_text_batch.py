"""The batch's text step (`annotator-widgets batch ... --text faces`): phrases -> objects -> propagation with
re-detection, on an encoded real-people clip, with the offline face route."""

from __future__ import annotations

import json

import numpy as np
import pytest

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


def test_text_step_counts_the_seed_frame_once(tmp_path):
    clip = crossing_clip(num_frames=60)
    path = write_video(clip.frames[:12], tmp_path / "walk.mp4", fps=clip.fps)
    text = {"phrases": "faces", "every": 5, "frame": 4}  # seeded on frame 4: forward 4..11, backward 4..0
    result = run_video(path, tmp_path / "out", Settings(segmenter="classic", direction="none", options={"text": text}))
    assert result.status == "done", result.error
    with Project.open(tmp_path / "out" / "project.awp", readonly=True) as p:
        assert min(f for o in p.objects() for f in p.prompt_frames(o.obj_id)) == 4
    assert result.frames_computed == 12  # was 13: frame 4 counted by both passes


def _cut_video(tmp_path):
    """Two faces walking for 8 frames, then a cut to a scene with no face (synthetic blobs), 8 frames."""
    from annotator_widgets.data import synthetic_clip

    clip = crossing_clip(num_frames=60)
    other = synthetic_clip(8, (640, 360), 2, seed=3).frames
    return write_video(np.concatenate([clip.frames[:8], other]), tmp_path / "cut.mp4", fps=clip.fps)


@pytest.mark.parametrize("cuts", [True, False])
def test_text_step_stops_at_a_cut_unless_told_not_to(tmp_path, cuts):
    path = _cut_video(tmp_path)
    text = {"phrases": "faces", "every": 5}
    options = {"text": text} if cuts else {"text": text, "cuts": False}
    result = run_video(path, tmp_path / "out", Settings(segmenter="classic", direction="none", options=options))
    assert result.status == "done", result.error
    with Project.open(tmp_path / "out" / "project.awp", readonly=True) as p:
        faces = [o.obj_id for o in p.objects()]
        assert len(faces) == 2
        frames = {f for oid in faces for f in p.mask_frames(oid)}
        warned = sorted((w.frame, w.obj_id) for w in p.warnings() if w.kind == "shot_cut")
    if cuts:
        assert frames == set(range(8))  # no face mask carried onto the scene after the cut
        assert warned == [(7, oid) for oid in faces]
    else:
        assert max(frames) >= 8 and warned == []  # the old behaviour: carried across


def test_a_shot_after_a_cut_is_labelled_from_its_first_frame(tmp_path):
    """Faces, a cut, the same people over another background: the second shot's faces are found on the next key
    frame (10) and propagated back to the cut (8), never across it."""
    from annotator_widgets.data import synthetic_clip

    clip = crossing_clip(num_frames=60)
    back = synthetic_clip(16, (640, 360), 2, seed=4).frames
    people = (clip.masks[1] | clip.masks[2])[:16, ..., None]
    frames = np.concatenate([clip.frames[:8], np.where(people, clip.frames[:16], back)[8:]])
    path = write_video(frames, tmp_path / "cut.mp4", fps=clip.fps)
    text = {"phrases": "faces", "every": 5}
    result = run_video(path, tmp_path / "out", Settings(segmenter="classic", direction="none", options={"text": text}))
    assert result.status == "done", result.error
    with Project.open(tmp_path / "out" / "project.awp", readonly=True) as p:
        shots = {}
        for o in p.objects():
            seen = [f for f in p.mask_frames(o.obj_id) if not p.annotations(f)[o.obj_id].rle.is_empty]
            shots[o.obj_id] = {f >= 8 for f in seen}
        covered = set(p.mask_frames())
    assert all(len(s) == 1 for s in shots.values())  # no object in both shots
    assert sum(s == {True} for s in shots.values()) == 2  # the two faces of the second shot
    assert covered == set(range(16))  # frames 8 and 9, before the key frame 10, too
    assert result.frames_computed == 16
