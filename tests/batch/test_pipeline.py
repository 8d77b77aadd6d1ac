"""The pipeline on one video: resume with and without an exact segmenter resume, settings digests, added steps."""

from __future__ import annotations

import json
import threading

import pytest

from annotator_widgets import Project
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.batch import STEPS, Settings, Step, add_step, run_video
from annotator_widgets.data import synthetic_clip, write_video
from annotator_widgets.errors import AnnotatorError

FRAMES = 16


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    clip = synthetic_clip(num_frames=FRAMES, size=(96, 64), num_objects=2, seed=11)
    path = write_video(clip.frames, folder / "clip.mp4")
    # prompts on a middle frame: both passes (forward, then backward) run
    prompts = [{"frame": 5, "obj_id": o, "box": [float(v) for v in clip.boxes[o][5]]} for o in (1, 2)]
    (folder / "clip.json").write_text(json.dumps(prompts))
    return path, Settings(segmenter="classic", prompts=str(folder / "{stem}.json"), formats=("coco",))


@pytest.fixture(scope="module")
def reference(video, tmp_path_factory):
    """An uninterrupted run: its folder."""
    path, settings = video
    out = tmp_path_factory.mktemp("ref")
    ref = run_video(path, out, settings)
    assert ref.status == "done" and ref.frames_computed == FRAMES - 1 and ref.frames_recomputed == 0
    return out


class _NoResume(ClassicSegmenter):
    """The classic segmenter as one that cannot restore its state (as SAM2 cannot)."""

    def resume_from(self, frame, objects, reverse=False):
        return False


def _masks(path):
    with Project.open(path, readonly=True) as project:
        return {(a.frame, a.obj_id): (a.rle.counts, a.score, a.source) for a in project.iter_annotations()}


def _interrupted(video, settings, out, stop_after, segmenter=None):
    """Run, cancel after ``stop_after`` saved frames, run again; returns both results."""
    cancel = threading.Event()

    def progress(event):
        if event["event"] == "frame" and event["done"] >= stop_after:
            cancel.set()

    first = run_video(video, out, settings, progress, cancel, segmenter=segmenter)
    second = run_video(video, out, settings, segmenter=segmenter)
    return first, second


@pytest.mark.parametrize("stop_after", [3, 13])  # in the forward pass, in the backward pass
def test_resume_computes_only_missing_frames(video, reference, tmp_path, stop_after):
    path, settings = video
    first, second = _interrupted(path, settings, tmp_path / "cut", stop_after)
    assert first.status == "failed" and first.error.startswith("cancelled")
    assert second.status == "done" and second.frames_recomputed == 0
    assert first.frames_computed + second.frames_computed == FRAMES - 1
    assert _masks(tmp_path / "cut" / "project.awp") == _masks(reference / "project.awp")
    assert (tmp_path / "cut" / "coco.json").read_bytes() == (reference / "coco.json").read_bytes()


def test_a_segmenter_that_cannot_resume_recomputes_and_says_so(video, reference, tmp_path):
    path, settings = video
    first, second = _interrupted(path, settings, tmp_path / "cut", 6, segmenter=_NoResume())
    assert second.status == "done" and second.frames_recomputed == first.frames_computed > 0
    assert _masks(tmp_path / "cut" / "project.awp") == _masks(reference / "project.awp")


def test_settings_digest_follows_settings_and_prompt_content(video, tmp_path):
    path, settings = video
    assert Settings.from_json(settings.to_json()) == settings
    assert Settings(segmenter="classic", formats=("yolo",)).digest() != Settings(segmenter="classic").digest()
    before = settings.digest(path)
    prompts = settings.prompts_for(path)
    text = prompts.read_text()
    try:
        prompts.write_text(text.replace('"frame": 5', '"frame": 6', 1))
        assert settings.digest(path) != before
    finally:
        prompts.write_text(text)
    with pytest.raises(AnnotatorError, match="exporter"):
        Settings(formats=("nope",))


def test_an_added_step_runs_in_its_place(video, tmp_path):
    path, settings = video
    seen = []

    def count_prompts(ctx):
        seen.append((len(ctx.session.project.prompts()), len(ctx.session.project.mask_frames())))

    add_step(Step("probe", lambda s: True, count_prompts), before="propagate")
    try:
        assert run_video(path, tmp_path / "out", settings).status == "done"
        assert seen == [(2, 1)]  # after the import (2 prompts on one frame), before propagation
        assert run_video(path, tmp_path / "out", settings).status == "done"
        assert seen == [(2, 1)]  # marked done in the project: not run again on the same project
    finally:
        STEPS.remove(next(s for s in STEPS if s.name == "probe"))


def test_track_people_step_stores_each_person_with_poses(tmp_path):
    """The batch's people step is the widget's Track people (workflows.people.track_everybody) on a real clip."""
    from tests.support.people import crossing_clip, pose_bundle

    pose_bundle()  # built by make models; fails with the fix when missing
    clip = crossing_clip(num_frames=20, seed=0)
    path = write_video(clip.frames, tmp_path / "crossing.mp4")
    settings = Settings(segmenter="classic", track_people=True, formats=("coco",))
    result = run_video(path, tmp_path / "out", settings)
    assert result.status == "done", result.error
    projects = list((tmp_path / "out").rglob("*.awp"))
    assert len(projects) == 1
    with Project.open(projects[0], readonly=True) as project:
        people = [o for o in project.objects() if o.category == "person"]
        assert len(people) == 2
        posed = {o.obj_id: len(project.pose_frames(o.obj_id)) for o in people}
        assert all(n >= 12 for n in posed.values()), posed  # one is hidden behind the other for a few frames
        # each person got a masklet from their landmarks, with the pose track's id
        masked = {o.obj_id: len(project.mask_frames(o.obj_id)) for o in people}
        assert all(n >= 15 for n in masked.values()), masked
