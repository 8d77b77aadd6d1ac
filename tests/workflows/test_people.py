"""The people workflows headless: tracks stored as objects, prompts from poses, picking a person by a click,
seeding a region, tracking everybody - with the real MediaPipe model on the two-person crossing clip.

Ground truth (who is where) comes from the clip, never from the tracker under test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, Box, Project
from annotator_widgets.data import CrossingClip
from annotator_widgets.errors import NotFoundError, PromptError, SessionBusyError
from annotator_widgets.metrics import match_ground_truth
from annotator_widgets.progress import Cancelled
from annotator_widgets.types import PersonPose
from annotator_widgets.workflows.people import (
    PERSON,
    person_at,
    pick_person,
    pose_to_prompt,
    seed_region,
    segment_people,
    store_tracks,
    track_everybody,
)
from tests.support.people import crossing_clip, pose_bundle


def _pose(x: float, y: float, frame: int = 0, pid: int = 1, vis: float = 1.0) -> PersonPose:
    """A small upright person: nose at (x, y - 40), shoulders at y, hips at y + 70."""
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 2] = x, y + 20, vis
    lm[0] = (x, y - 40, vis)
    lm[2], lm[5] = (x + 8, y - 48, vis), (x - 8, y - 48, vis)
    lm[11], lm[12] = (x + 30, y, vis), (x - 30, y, vis)
    lm[23], lm[24] = (x + 18, y + 70, vis), (x - 18, y + 70, vis)
    return PersonPose(frame, pid, lm)


def test_pose_to_prompt_points_lie_inside_the_person() -> None:
    pose = _pose(200, 150, frame=3, pid=7)
    prompt = pose_to_prompt(pose)
    assert (prompt.frame, prompt.obj_id, prompt.box) == (3, 7, None)
    assert len(prompt.points) == 5 and all(p.positive for p in prompt.points)
    box = pose.box(0.5)
    assert all(box.x0 <= p.x <= box.x1 and box.y0 <= p.y <= box.y1 for p in prompt.points)
    assert (prompt.points[0].x, prompt.points[0].y) == (200, 110)  # the nose first
    # hidden hips: no belly point; nothing visible: the most visible landmark
    pose.landmarks[23:25, 2] = 0.1
    assert len(pose_to_prompt(pose).points) == 4
    faint = _pose(50, 50, vis=0.2)
    faint.landmarks[5, 2] = 0.3
    assert [(p.x, p.y) for p in pose_to_prompt(faint).points] == [(42, 2)]


def test_pose_to_prompt_box_has_a_margin_and_stays_in_the_frame() -> None:
    pose = _pose(200, 150)
    inner = pose.box(0.5)
    box = pose_to_prompt(pose, "box", margin=0.1).box
    assert box.x0 == pytest.approx(inner.x0 - 0.1 * (inner.x1 - inner.x0))
    assert box.y1 == pytest.approx(inner.y1 + 0.1 * (inner.y1 - inner.y0))
    clipped = pose_to_prompt(_pose(10, 150), "box", size=(640, 360)).box
    assert clipped.x0 == 0
    with pytest.raises(PromptError, match="kind"):
        pose_to_prompt(pose, "mask")  # type: ignore[arg-type]
    with pytest.raises(PromptError, match="inside the frame"):
        pose_to_prompt(_pose(900, 150), size=(640, 360))
    edge = pose_to_prompt(_pose(625, 150), size=(640, 360))  # the right shoulder point leaves the frame
    assert all(p.x < 640 for p in edge.points) and len(edge.points) == 4


def test_store_tracks_makes_objects_and_keeps_other_poses(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.awp", {"frames": 5, "width": 640, "height": 360}) as project:
        referee = project.add_object(name="referee", category=PERSON)
        project.put_poses(0, [_pose(500, 150, pid=referee.obj_id)])
        tracks = [[_pose(100 + 10 * f, 150, f, 1), _pose(300, 150, f, 2)] for f in range(4)] + [[]]
        objects = store_tracks(project, tracks, names={2: "goalkeeper"})
        assert sorted(objects) == [1, 2]
        assert [o.obj_id for o in objects.values()] == [2, 3]  # fresh global ids, never the track ids
        assert objects[2].name == "goalkeeper" and objects[1].name == "person 1"
        assert all(o.category == PERSON for o in objects.values())
        assert [p.frame for p in project.iter_poses(2)] == [0, 1, 2, 3]
        assert project.iter_poses(2).__next__().landmarks[11, 0] == pytest.approx(130)
        assert sorted(p.person_id for p in project.poses(0)) == [1, 2, 3]  # the referee's pose stays
        project.undo()  # one step
        assert [o.obj_id for o in project.objects()] == [referee.obj_id]
        assert [p.person_id for p in project.poses(0)] == [referee.obj_id]


# ---------------------------------------------------------------------------- real people, real segmenter


@pytest.fixture(scope="module")
def bundle() -> Path:
    return pose_bundle()


@pytest.fixture(scope="module")
def clip() -> CrossingClip:
    return crossing_clip(num_frames=60, seed=0)


@pytest.fixture
def session(clip: CrossingClip, tmp_path: Path) -> Iterator[AnnotationSession]:
    s = AnnotationSession(clip.frames[:16], tmp_path / "people.awp", segmenter="classic")
    yield s
    s.close()


def _share(mask: np.ndarray, gt: np.ndarray) -> float:
    return float((mask & gt).sum() / max(1, mask.sum()))


class Scripted:
    """A pose estimator that returns the given poses on every frame and counts its calls."""

    def __init__(self, poses: list[PersonPose] | None = None) -> None:
        self.poses = poses or []
        self.calls = 0

    def detect(self, frame: np.ndarray, timestamp_ms: int = 0) -> list[PersonPose]:
        self.calls += 1
        return list(self.poses)

    def close(self) -> None:
        pass


def face(clip: CrossingClip, person: int, frame: int) -> tuple[float, float]:
    """Ground truth: the centre of a person's face (video pixels)."""
    x, y = clip.tracks[person][frame]
    return float(x), float(y)


def test_track_everybody_says_when_nobody_is_found_and_cancel_stores_nothing(session: AnnotationSession) -> None:
    with pytest.raises(NotFoundError, match="no person found in 16 frames"):
        track_everybody(session, estimator=Scripted())
    stop = threading.Event()
    est = Scripted([_pose(200, 150)])
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, text: str) -> None:
        seen.append((done, total, text))
        if done == 3:
            stop.set()

    with pytest.raises(Cancelled, match="pose was cancelled"):
        track_everybody(session, estimator=est, progress=progress, cancel=stop)
    assert est.calls == 3 and seen == [(i, 16, f"pose {i}/16") for i in (1, 2, 3)]
    assert session.project.objects() == [] and not session.can_undo  # nothing stored, no empty undo step
    objects = track_everybody(session, estimator=est, cancel=lambda: False)
    assert [o.obj_id for o in objects.values()] == [1] and session.project.pose_frames(1) == list(range(16))


def test_workflows_refuse_to_run_during_a_propagation(session: AnnotationSession) -> None:
    session.add_box(0, None, (10, 10, 60, 60))
    run = session.propagate()  # the session is busy from here until the run is closed
    try:
        for call in (
            lambda: track_everybody(session, estimator=Scripted([_pose(200, 150)])),
            lambda: pick_person(session, 0, 200, 150, estimator=Scripted([_pose(200, 150)])),
            lambda: seed_region(session, 0, (0, 0, 640, 360), poses=[_pose(200, 150)]),
        ):
            with pytest.raises(SessionBusyError):
                call()
    finally:
        run.close()
    assert [o.obj_id for o in session.objects] == [1]


def test_pick_person_selects_a_stored_person_without_running_a_model(session: AnnotationSession) -> None:
    with session.project.group("two people"):
        a, b = session.add_object("a", PERSON), session.add_object("b", PERSON)
        session.project.put_poses(5, [_pose(150, 150, 5, a.obj_id), _pose(450, 150, 5, b.obj_id)])
    never = Scripted()
    assert pick_person(session, 5, 450, 120, estimator=never) == b
    assert person_at(session, 5, 150, 200) == a and person_at(session, 5, 300, 20) is None
    assert never.calls == 0
    with pytest.raises(NotFoundError, match="no person near the click on frame 5") as err:
        pick_person(session, 5, 300, 20, estimator=Scripted([_pose(450, 150)]), run_up=3)
    assert err.value.given == (300, 20)  # failed after the run-up (frames 2..5), before tracking the video


def test_seed_region_with_given_poses_makes_new_people_and_says_when_nobody_is_inside(
    session: AnnotationSession,
) -> None:
    people = [_pose(150, 150, pid=1), _pose(450, 150, pid=2)]
    with pytest.raises(NotFoundError, match="no person meets the region on frame 4"):
        seed_region(session, 4, Box(560, 0, 640, 40), poses=people)
    seeded = seed_region(session, 4, (0, 0, 300, 360), poses=people, propagate=False)
    assert [(o.obj_id, o.category) for o in seeded] == [(1, PERSON)]  # the placeholder id 1 is not an object id
    assert [p.person_id for p in session.project.poses(4)] == [1]
    with pytest.raises(PromptError, match="outside"):
        seed_region(session, 4, (700, 0, 800, 40), poses=people)
    session.undo()  # seeding was one step
    assert session.objects == [] and session.prompts() == []


def _above_the_frame(x: float) -> PersonPose:
    """A person cut by the top edge: legs inside the frame, every landmark a prompt uses above it."""
    pose = _pose(x, -80, pid=3)
    pose.landmarks[25:33, 1] = 30  # knees, ankles, feet inside: the box meets the frame
    return pose


def test_seed_region_skips_a_person_with_no_prompt_landmark_inside_the_frame(
    session: AnnotationSession, caplog: pytest.LogCaptureFixture
) -> None:
    edge, inside = _above_the_frame(450), _pose(150, 150, pid=1)
    with pytest.raises(PromptError, match="none of the person's landmarks lies inside the frame"):
        pose_to_prompt(edge, "points", size=session.video.size)  # why this person cannot be prompted
    with caplog.at_level("WARNING", logger="annotator_widgets.workflows.people"):
        seeded = seed_region(session, 4, (0, 0, 640, 360), poses=[edge, inside], propagate=False)
    assert [o.obj_id for o in seeded] == [1]  # the other person is seeded, not aborted
    assert [p.obj_id for p in session.prompts(4)] == [1] and len(session.objects) == 1
    assert any("skipping a person on frame 4" in r.getMessage() for r in caplog.records)
    with pytest.raises(NotFoundError, match=r"with a landmark inside the frame \(1 lie wholly outside it\)"):
        seed_region(session, 5, (0, 0, 640, 360), poses=[edge], propagate=False)
    assert len(session.objects) == 1  # nothing made for the skipped person
    # segmenting everybody stored on a frame skips them too; asking for them by id says why not
    cut = session.add_object(name=PERSON, category=PERSON)
    session.project.put_poses(4, [*session.project.poses(4), replace(_above_the_frame(450), person_id=cut.obj_id)])
    assert sorted(segment_people(session, 4)) == [1]
    with pytest.raises(PromptError, match="inside the frame"):
        segment_people(session, 4, [cut.obj_id])


# ---------------------------------------------------------------------------- the real pose model


@pytest.mark.slow
def test_seed_region_seeds_only_people_meeting_the_region(
    bundle: Path, clip: CrossingClip, session: AnnotationSession
) -> None:
    from annotator_widgets.backends.pose import MediaPipePoseEstimator

    frame = 8
    with MediaPipePoseEstimator(bundle, num_poses=2, min_pose_detection_confidence=0.3, running_mode="image") as est:
        with pytest.raises(NotFoundError, match="no person meets the region"):
            seed_region(session, frame, Box(560, 0, 640, 40), estimator=est)  # empty corner
        assert session.project.objects() == []
        left = Box(0, 0, clip.tracks[1][frame, 0] + 20, 360)  # meets the astronaut only
        seeded = seed_region(session, frame, left, estimator=est)
    assert [(o.obj_id, o.category) for o in seeded] == [(1, PERSON)]
    [pose] = session.project.poses(frame)
    assert pose.person_id == 1 and match_ground_truth([pose], clip, frame) == {1: 1}
    [prompt] = session.project.prompts(frame=frame)
    box = pose.box(0.5)
    assert prompt.obj_id == 1 and prompt.points
    assert all(box.x0 <= p.x <= box.x1 and box.y0 <= p.y <= box.y1 for p in prompt.points)
    assert np.mean([clip.masks[1][frame][int(p.y), int(p.x)] for p in prompt.points]) >= 0.6
    # propagated to the end in the same call, under the same id
    assert session.project.mask_frames(1) == list(range(frame, 16))
    for f in (frame, 15):
        mask = session.annotations(f)[1].mask
        assert _share(mask, clip.masks[1][f]) > _share(mask, clip.masks[2][f])
    # without detection only the stored people count: seeding again over everything adds nobody
    assert [o.obj_id for o in seed_region(session, frame, Box(0, 0, 640, 360), detect=False, propagate=False)] == [1]
    assert [o.obj_id for o in session.project.objects()] == [1]


@pytest.mark.slow
def test_seed_region_finds_new_people_beside_the_stored_ones(
    bundle: Path, clip: CrossingClip, session: AnnotationSession
) -> None:
    frame = 8
    pose_options = {"model": str(bundle), "num_poses": 2}  # the registry's "mediapipe" part, in video mode
    [astronaut] = seed_region(session, frame, (0, 0, clip.tracks[1][frame, 0] + 20, 360), **pose_options)
    seen: list[tuple[int, int, str]] = []
    seeded = seed_region(session, frame, (0, 0, 640, 360), progress=lambda *a: seen.append(a), **pose_options)
    assert astronaut in seeded and len(seeded) == 2  # the stored person keeps its id, the other one is new
    ids = match_ground_truth(session.project.poses(frame), clip, frame)
    assert ids == {1: astronaut.obj_id, 2: seeded[1].obj_id}
    assert sorted(p.obj_id for p in session.prompts(frame)) == [o.obj_id for o in seeded]
    for f in (frame, 15):  # propagated together
        assert sorted(session.masks(f)) == [o.obj_id for o in seeded]
    # the run-up (frames 0..8), then the propagation (frames 8..15), reported as they happen
    assert [d for d, _, text in seen if text.startswith("finding people")] == list(range(1, 10))
    assert [(d, t) for d, t, text in seen if text.startswith("propagate")][-1] == (8, 8)


@pytest.mark.slow
def test_track_everybody_then_segment_people(bundle: Path, clip: CrossingClip, session: AnnotationSession) -> None:
    seen: list[tuple[int, int, str]] = []
    objects = track_everybody(session, num_poses=2, model=str(bundle), progress=lambda *a: seen.append(a))
    assert seen == [(i, 16, f"pose {i}/16") for i in range(1, 17)]
    assert len(objects) == 2 and all(o.category == PERSON for o in objects.values())
    frame = 6
    poses = session.project.poses(frame)
    gt_to_obj = match_ground_truth(poses, clip, frame)
    assert sorted(gt_to_obj.values()) == sorted(o.obj_id for o in objects.values())
    masks = segment_people(session, frame)
    assert sorted(masks) == sorted(gt_to_obj.values())
    for gt, obj in gt_to_obj.items():
        other = 3 - gt
        assert _share(masks[obj], clip.masks[gt][frame]) > _share(masks[obj], clip.masks[other][frame])
    prompts = {p.obj_id: p for p in session.project.prompts(frame=frame)}
    assert sorted(prompts) == sorted(masks) and all(p.points for p in prompts.values())
    boxed = segment_people(session, frame, [gt_to_obj[2]], kind="box")
    assert gt_to_obj[2] in boxed and session.project.prompt(frame, gt_to_obj[2]).box is not None
    with pytest.raises(PromptError, match="object 99 has no pose on frame 6"):
        segment_people(session, frame, [99])
    # tracking again keeps everybody's ids
    again = track_everybody(session, num_poses=2, model=str(bundle))
    assert sorted(o.obj_id for o in again.values()) == sorted(o.obj_id for o in objects.values())
    assert match_ground_truth(session.project.poses(frame), clip, frame) == gt_to_obj


@pytest.mark.slow
def test_pick_person_with_the_run_up_tracks_the_clicked_person_and_keeps_ids(
    bundle: Path, clip: CrossingClip, session: AnnotationSession
) -> None:
    pose_options = {"model": str(bundle), "num_poses": 2}
    seen: list[tuple[int, int, str]] = []
    grace = pick_person(session, 6, *face(clip, 2, 6), progress=lambda *a: seen.append(a), **pose_options)
    assert grace.category == PERSON and [o.obj_id for o in session.objects] == [grace.obj_id]
    assert match_ground_truth(session.project.poses(6), clip, 6) == {2: grace.obj_id}  # the one clicked
    frames = session.project.pose_frames(grace.obj_id)
    assert len(frames) >= 14  # tracked forward and backward from the click
    assert all(match_ground_truth(session.project.poses(f), clip, f).get(1) is None for f in frames)
    # the run-up (frames 0..6) found her before the whole video was tracked
    assert [text for _, _, text in seen][:7] == [f"finding people {i}/7" for i in range(1, 8)]
    assert [(d, t) for d, t, text in seen if text.startswith("pose")] == [(i, 16) for i in range(1, 17)]
    # stored now: a click on her on another frame selects her at once; the other person is tracked and added
    never = Scripted()
    assert pick_person(session, 10, *face(clip, 2, 10), estimator=never) == grace and never.calls == 0
    astronaut = pick_person(session, 10, *face(clip, 1, 10), **pose_options)
    assert astronaut.obj_id != grace.obj_id
    assert match_ground_truth(session.project.poses(10), clip, 10) == {1: astronaut.obj_id, 2: grace.obj_id}
    # tracking everybody afterwards keeps both ids (no duplicates)
    track_everybody(session, **pose_options)
    assert [o.obj_id for o in session.objects] == sorted([grace.obj_id, astronaut.obj_id])
    assert match_ground_truth(session.project.poses(10), clip, 10) == {1: astronaut.obj_id, 2: grace.obj_id}
