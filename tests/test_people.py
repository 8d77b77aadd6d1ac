"""People in projects and sessions: tracks stored as objects, prompts from poses, region seeding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, Box, Project
from annotator_widgets.data import CrossingClip
from annotator_widgets.errors import PromptError
from annotator_widgets.metrics import match_ground_truth
from annotator_widgets.people import PERSON, pose_to_prompt, seed_region, segment_people, store_tracks
from annotator_widgets.types import PersonPose
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


@pytest.mark.slow
def test_seed_region_seeds_only_people_meeting_the_region(
    bundle: Path, clip: CrossingClip, session: AnnotationSession
) -> None:
    from annotator_widgets.backends.pose import MediaPipePoseEstimator

    frame = 8
    with MediaPipePoseEstimator(bundle, num_poses=2, min_pose_detection_confidence=0.3, running_mode="image") as est:
        assert seed_region(session, frame, Box(560, 0, 640, 40), estimator=est) == []  # empty corner
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
    # stored people keep their ids: seeding again over everything adds nobody new
    assert [o.obj_id for o in seed_region(session, frame, Box(0, 0, 640, 360), propagate=False)] == [1]
    assert [o.obj_id for o in session.project.objects()] == [1]


@pytest.mark.slow
def test_seed_region_with_everybody_propagates_them_together(
    bundle: Path, clip: CrossingClip, session: AnnotationSession
) -> None:
    from annotator_widgets.backends.pose import MediaPipePoseEstimator

    with MediaPipePoseEstimator(bundle, num_poses=2, min_pose_detection_confidence=0.3, running_mode="image") as est:
        seeded = session.seed_region(8, (0, 0, 640, 360), estimator=est, direction="both")
    assert [o.obj_id for o in seeded] == [1, 2]
    for f in (0, 8, 15):
        assert sorted(session.annotations(f)) == [1, 2]


@pytest.mark.slow
def test_track_and_store_then_segment_people(bundle: Path, clip: CrossingClip, session: AnnotationSession) -> None:
    objects = session.track_people(num_poses=2, model=str(bundle), min_pose_detection_confidence=0.3)
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
    with pytest.raises(PromptError, match="no pose stored"):
        segment_people(session, frame, [99])
