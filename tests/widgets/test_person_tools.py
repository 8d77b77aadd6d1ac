"""The annotator's person and region tools, kernel-side, with the real MediaPipe model on the two-person crossing clip.

Browser events are simulated through the widgets' own handlers (as in test_annotator.py);
the video (640x360) is shown at half size, so one CSS pixel is two video pixels. Ground
truth (who is where) comes from the clip, never from the tracker under test.
"""

from __future__ import annotations

import doctest
import importlib
import threading
import time

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, VideoAnnotator
from annotator_widgets.errors import PromptError
from annotator_widgets.metrics import match_ground_truth
from annotator_widgets.progress import Cancelled
from annotator_widgets.types import ObjectInfo
from annotator_widgets.view import ObjectTimeline
from annotator_widgets.widgets.timeline import Timeline
from annotator_widgets.workflows.people import PERSON, nearest_person
from tests.support.people import crossing_clip, pose_bundle

N = 16
CSS = (320, 180)  # the canvas as the page shows it: half the video's size


@pytest.fixture(scope="module")
def bundle() -> str:
    return str(pose_bundle())


@pytest.fixture(scope="module")
def people():
    """The first 16 frames of the 60-frame crossing clip: both people apart and detected (from frame 1)."""
    return crossing_clip(num_frames=60, seed=0)


@pytest.fixture
def ann(people, disc, bundle, tmp_path):
    session = AnnotationSession(people.frames[:N], project=tmp_path / "people.awp", segmenter=disc)
    widget = VideoAnnotator(session, max_display_side=320)
    widget.tools["person"].model = bundle
    yield widget
    widget.close()
    session.close()


def mouse(ann, kind, x, y, *, button=0):
    """An ipyevents mouse event at VIDEO pixel (x, y), sent as CSS pixels of the half-size canvas."""
    event = {
        "type": kind, "button": button, "relativeX": x / 2, "relativeY": y / 2,
        "boundingRectWidth": CSS[0], "boundingRectHeight": CSS[1],
    }  # fmt: skip
    (ann.mouse_move_events if kind == "mousemove" else ann.mouse_events)._dom_handlers(event)


def click(ann, x, y):
    mouse(ann, "mousedown", x, y)
    mouse(ann, "mouseup", x, y)


def drag(ann, x0, y0, x1, y1):
    mouse(ann, "mousedown", x0, y0)
    mouse(ann, "mousemove", (x0 + x1) / 2, (y0 + y1) / 2)
    mouse(ann, "mousemove", x1, y1)
    mouse(ann, "mouseup", x1, y1)


def key(ann, name):
    ann.key_events._dom_handlers({"type": "keydown", "key": name})


def face(people, person, frame):
    """Ground truth: the centre of a person's face (video pixels)."""
    x, y = people.tracks[person][frame]
    return float(x), float(y)


def wait_for(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def finish(job, timeout=120):
    assert job.wait(timeout), f"{job} did not finish"
    return job


def track(ann):
    ann.tools["person"].bar.track.click()
    return finish(ann.task)


def who(ann, people, frame):
    """Ground-truth person -> object id, from the poses stored on ``frame``."""
    return match_ground_truth(ann.session.project.poses(frame), people, frame)


def near(img, color, tol=40):
    return (np.abs(img.astype(int) - np.array(color)).max(axis=2) <= tol).nonzero()


@pytest.mark.parametrize("name", ["jobs", "tools.person"])
def test_docstring_examples(name):
    module = importlib.import_module(f"annotator_widgets.widgets.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow  # the real pose model
def test_track_people_makes_person_objects_with_skeletons_in_their_colours(ann, people):
    job = track(ann)
    assert job.error is None and not ann.busy and ann.error == ""
    objects = ann.session.project.objects()
    assert [o.category for o in objects] == [PERSON, PERSON]
    assert "tracked 2 people over 16 frames" in ann.status
    assert ann.propagation_bar.progress.value == ann.propagation_bar.progress.max == N  # one step per frame
    ann.seek(6)
    ids = who(ann, people, 6)
    assert sorted(ids) == [1, 2] and sorted(ids.values()) == [o.obj_id for o in objects]
    colours = {ids[1]: (255, 0, 255), ids[2]: (0, 255, 255)}
    for oid, rgb in colours.items():
        ann.set_color(oid, rgb)
    img = ann.canvas.last_image  # the composite picture on screen
    assert img.shape == (180, 320, 3)
    for gt, oid in ids.items():
        ys, xs = near(img, colours[oid])
        assert xs.size > 30, f"no skeleton drawn in object {oid}'s colour"
        fx, fy = face(people, gt, 6)  # its skeleton is around its own face (canvas = video / 2), not the other's
        assert np.median(np.abs(xs * 2 - fx)) < 60 and np.median(np.abs(ys * 2 - fy)) < 120
    assert near(ann.session.video.frame(6)[::2, ::2], colours[ids[1]])[0].size < 5  # not in the picture itself
    ann.hide_object(ids[1])  # a hidden person's skeleton is hidden too
    shown = ann.canvas.last_image
    assert near(shown, colours[ids[1]])[0].size < 5 and near(shown, colours[ids[2]])[0].size > 30
    # the timeline shows per person where the pose was found
    for row in ann.timeline_rows:
        assert row.posed is not None and row.posed.shape == (N,)
        assert row.pose_frames() == ann.session.project.pose_frames(row.obj_id)
        assert len(row.pose_frames()) >= N - 2
    assert ann.timeline.rows and all(r.posed is not None for r in ann.timeline.rows)
    for _ in range(3):  # the hiding and the two colours, then the whole tracking is one undo step
        key(ann, "z")
    assert ann.session.project.objects() != []
    key(ann, "z")
    assert "undone: store 2 tracked people" in ann.status
    assert ann.session.project.objects() == [] and ann.session.project.pose_frames() == []


@pytest.mark.slow  # the real pose model
def test_person_click_selects_the_person_under_it(ann, people):
    track(ann)
    key(ann, "o")
    assert ann.tool == "person" and "aw-tool-person" in ann.canvas.surface._dom_classes
    ann.seek(8)
    ids = who(ann, people, 8)
    for person in (2, 1, 2):
        click(ann, *face(people, person, 8))
        assert ann.current_object == ids[person] and ann.error == ""
        assert f"person {ids[person]} selected" in ann.status
    x, y = face(people, 1, 8)
    click(ann, x, y + 60)  # the chest is the person too
    assert ann.current_object == ids[1]
    assert len(ann.session.project.objects()) == 2 and ann.session.prompts(8) == []  # selecting adds nothing
    key(ann, "Escape")
    assert ann.tool == "points"
    click(ann, x, y)  # the usual clicks prompt the selected person
    assert [(p.obj_id, len(p.points)) for p in ann.session.prompts(8)] == [(ids[1], 1)]


@pytest.mark.slow  # the real pose model
def test_click_where_nobody_is_tracked_tracks_that_person_from_that_frame(ann, people):
    ann.seek(6)
    key(ann, "o")
    click(ann, *face(people, 2, 6))
    job = finish(ann.task)
    [obj] = ann.session.project.objects()
    assert job.result() == obj.obj_id == ann.current_object and obj.category == PERSON and ann.error == ""
    assert who(ann, people, 6) == {2: obj.obj_id}  # the person clicked, not the other one
    frames = ann.session.project.pose_frames(obj.obj_id)
    assert len(frames) >= N - 2  # tracked forward and backward from the click
    for f in frames:
        assert who(ann, people, f).get(1) is None  # never on the other person
    assert [r.pose_frames() for r in ann.timeline_rows] == [frames]
    assert f"person {obj.obj_id} tracked from frame 6" in ann.status
    # now stored: a click on the same person on another frame selects at once; the other person gets tracked
    ann.seek(10)
    click(ann, *face(people, 2, 10))
    assert ann.task is job and ann.current_object == obj.obj_id
    click(ann, *face(people, 1, 10))
    other = finish(ann.task).result()
    assert other != obj.obj_id and who(ann, people, 10) == {1: other, 2: obj.obj_id}
    # tracking everybody afterwards keeps both ids (no duplicates)
    track(ann)
    assert [o.obj_id for o in ann.session.project.objects()] == sorted([obj.obj_id, other])
    assert who(ann, people, 10) == {1: other, 2: obj.obj_id}
    # Segment person (s): the current person's mask from its landmarks
    ann.select_object(obj.obj_id)
    key(ann, "s")
    mask = ann.session.masks(10)[obj.obj_id]
    share = {gt: (mask & people.masks[gt][10]).sum() / mask.sum() for gt in (1, 2)}
    assert share[2] > 0.8 and share[1] < 0.2, share
    assert "mask of" in ann.status and ann.session.prompts(10)[0].obj_id == obj.obj_id


@pytest.mark.slow  # the real pose model
def test_region_drag_seeds_only_people_meeting_it_and_propagates_them(ann, people):
    ann.seek(8)
    key(ann, "r")
    assert ann.tool == "region"
    right = float(people.tracks[1][8, 0]) + 20  # meets the astronaut (person 1), not Grace Hopper
    drag(ann, 2, 2, right, 358)
    finish(ann.task)
    finish(ann.job)  # then all seeded people are propagated together
    [obj] = ann.session.project.objects()
    assert obj.category == PERSON and who(ann, people, 8) == {1: obj.obj_id}
    assert [p.obj_id for p in ann.session.prompts(8)] == [obj.obj_id]
    assert ann.session.project.mask_frames(obj.obj_id) == list(range(8, N))
    assert "propagated forward from frame 8" in ann.status and not ann.busy
    # a region where nobody is: an error in the status, nothing added
    drag(ann, 560, 4, 636, 40)
    finish(ann.task)
    assert "no person meets the region" in ann.error and not ann.busy
    assert len(ann.session.project.objects()) == 1
    # everybody: the stored person keeps its id, the other one is found and added, both propagate
    ann.seek(8)
    drag(ann, 2, 2, 638, 358)
    finish(ann.task)
    finish(ann.job)
    ids = who(ann, people, 8)
    assert ids[1] == obj.obj_id and len(ann.session.project.objects()) == 2
    assert ann.session.project.mask_frames(ids[2]) == list(range(8, N))


class GatedEstimator:
    """Finds nobody, one frame per permit (to hold a job mid-way)."""

    def __init__(self, gate: threading.Semaphore) -> None:
        self.gate = gate

    def detect(self, frame, timestamp_ms=0):
        assert self.gate.acquire(timeout=20), "test gate never opened"
        return []

    def close(self):
        pass


def test_cancel_stops_tracking_keeps_nothing_and_blocks_edits_meanwhile(annotator, monkeypatch):
    ann = annotator
    gate = threading.Semaphore(2)
    person = ann.tools["person"]
    person.estimator = GatedEstimator(gate)  # an instance is used as is
    person.bar.track.click()
    job = ann.task
    assert ann.busy and person.bar.track.disabled and not ann.propagation_bar.cancel.disabled
    ann.mouse_events._dom_handlers({"type": "mousedown", "button": 0, "relativeX": 50, "relativeY": 30})
    ann.mouse_events._dom_handlers({"type": "mouseup", "button": 0, "relativeX": 50, "relativeY": 30})
    assert "cannot add a point while tracking people" in ann.error
    wait_for(lambda: job.done_count == 2)  # the gate holds it on the third frame
    key(ann, "Escape")
    gate.release(N)
    finish(job)
    assert isinstance(job.error, Cancelled) and job.done_count == 3  # stopped after the frame in hand
    assert "tracking people cancelled" in ann.status and not ann.busy and not person.bar.track.disabled
    assert ann.session.project.objects() == []


@pytest.mark.slow  # the real pose model
def test_errors_show_in_the_status_line(ann, people):
    key(ann, "s")
    assert "no person selected" in ann.error
    cup = ann.add_object("cup")
    key(ann, "s")
    assert f"object {cup.obj_id} has no pose on frame 0" in ann.error
    ann.seek(6)
    key(ann, "o")
    click(ann, 320, 20)  # nobody up there
    job = finish(ann.task)
    assert "no person near the click on frame 6" in ann.error and job.done_count <= 7  # failed before tracking
    assert [o.obj_id for o in ann.session.project.objects()] == [cup.obj_id]
    ann.tools["person"].model = "/nowhere/pose.task"
    track(ann)
    assert "tracking people failed" in ann.error and "pose model not found" in ann.error and not ann.busy
    with pytest.raises(PromptError, match="click tool"):
        ann.tool = "lasso"
    with pytest.raises(PromptError, match="num_people"):
        ann.tools["person"].num_people = 0
    with pytest.raises(PromptError, match="threshold"):
        ann.tools["person"].threshold = 1.5


def test_tool_keys_toggle_and_the_help_lists_them(annotator):
    from annotator_widgets.widgets import help_text

    ann = annotator
    assert ann.tool == "points" and "aw-tool-points" in ann.canvas.surface._dom_classes
    for name, tool in [("o", "person"), ("o", "points"), ("r", "region"), ("o", "person"), ("Escape", "points")]:
        key(ann, name)
        assert ann.tool == tool and ann.toolbar.tool.value == tool
        assert f"aw-tool-{tool}" in ann.canvas.surface._dom_classes
    ann.toolbar.tool.value = "region"  # the picker drives the same state
    assert ann.tool == "region"
    text = help_text()
    assert "o: person clicks" in text and "r: region drags" in text and "drag (region mode)" in text


def test_nearest_person_needs_the_click_on_the_person():
    from annotator_widgets.types import PersonPose

    def person(pid, x):
        lm = np.zeros((33, 3), np.float32)
        lm[:, 0], lm[:, 1], lm[:, 2] = x + np.linspace(-30, 30, 33), np.linspace(100, 220, 33), 1.0
        return PersonPose(0, pid, lm)

    poses = [person(1, 100), person(2, 300)]
    assert nearest_person(poses, 110, 150).person_id == 1
    assert nearest_person(poses, 290, 150).person_id == 2
    assert nearest_person(poses, 200, 150) is None and nearest_person(poses, 100, 330) is None
    assert nearest_person([], 100, 100) is None


def test_timeline_draws_a_pose_band_on_posed_frames(monkeypatch):
    tl = Timeline(10, 330)
    calls = []
    layer = tl.widget[0]
    monkeypatch.setattr(layer, "fill_styled_rects", lambda *args: calls.append(args), raising=False)
    posed = np.zeros(10, bool)
    posed[2:6] = True
    info = ObjectInfo(1, "person", color=(200, 0, 100))
    row = ObjectTimeline(info, np.full(10, np.nan, np.float32), np.zeros(10, bool), posed)
    tl.update([row])
    xs, _, ws, hs, colors = calls[-1]
    band = [i for i, c in enumerate(colors) if tuple(c) == (227, 127, 177)]  # halfway to white
    assert len(band) == 1
    (i,) = band
    assert xs[i] == pytest.approx(tl.x_of(2)) and ws[i] == pytest.approx(tl.x_of(6) - tl.x_of(2))
    assert hs[i] == Timeline.POSE_H
    tl.update([ObjectTimeline(ObjectInfo(1, "cup", color=(200, 0, 100)), row.score, row.prompted)])
    assert not any(tuple(c) == (227, 127, 177) for c in calls[-1][4])
    tl.close()
