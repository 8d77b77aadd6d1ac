"""The identity tracker: synthetic landmark tracks (no model), then the real crossing clip through MediaPipe."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator_widgets import registry
from annotator_widgets.data import CrossingClip
from annotator_widgets.errors import PromptError
from annotator_widgets.metrics import count_id_switches, match_ground_truth
from annotator_widgets.pose_tracking import PersonTracker, select_people, track_people
from annotator_widgets.progress import Cancelled
from annotator_widgets.types import PersonPose
from tests.support.people import crossing_clip, pose_bundle

# A standing person in shoulder widths, origin at mid-shoulder, x towards the image's right.
_TEMPLATE = np.zeros((33, 2), np.float32)
_TEMPLATE[0] = (0, -0.9)  # nose
_TEMPLATE[1:4] = [(0.1, -1.0), (0.15, -1.0), (0.2, -1.0)]  # left eye
_TEMPLATE[4:7] = [(-0.1, -1.0), (-0.15, -1.0), (-0.2, -1.0)]  # right eye
_TEMPLATE[7:9] = [(0.3, -0.95), (-0.3, -0.95)]  # ears
_TEMPLATE[9:11] = [(0.1, -0.75), (-0.1, -0.75)]  # mouth
_TEMPLATE[11:13] = [(0.5, 0.0), (-0.5, 0.0)]  # shoulders
_TEMPLATE[13:15] = [(0.6, 0.6), (-0.6, 0.6)]  # elbows
_TEMPLATE[15:23] = [(0.6, 1.1), (-0.6, 1.1)] * 4  # wrists and hands
_TEMPLATE[23:25] = [(0.3, 1.2), (-0.3, 1.2)]  # hips
_TEMPLATE[25:27] = [(0.3, 1.9), (-0.3, 1.9)]  # knees
_TEMPLATE[27:33] = [(0.3, 2.6), (-0.3, 2.6)] * 3  # ankles, heels, feet


def person(
    x: float,
    y: float = 150.0,
    width: float = 60.0,
    frame: int = 0,
    noise: float = 1.0,
    rng: np.random.Generator | None = None,
) -> PersonPose:
    """A synthetic pose whose shoulders are centred on (x, y), ``width`` pixels apart."""
    rng = rng or np.random.default_rng(0)
    lm = np.ones((33, 3), np.float32)
    lm[:, :2] = _TEMPLATE * width + (x, y) + rng.normal(0, noise, (33, 2))
    return PersonPose(frame, 99, lm)


def ids_by_x(poses: list[PersonPose]) -> dict[int, float]:
    return {p.person_id: float(p.landmarks[11:13, 0].mean()) for p in poses}


def test_stable_ids_when_detections_come_in_any_order() -> None:
    rng = np.random.default_rng(1)
    tracker = PersonTracker()
    for f in range(30):
        dets = [person(100 + 2 * f, rng=rng), person(300, rng=rng), person(500 - 3 * f, rng=rng)]
        rng.shuffle(dets)
        out = tracker.update(dets, frame=f)
        xs = ids_by_x(out)
        assert sorted(xs) == [1, 2, 3]
        assert xs[1] == pytest.approx(100 + 2 * f, abs=5)
        assert xs[2] == pytest.approx(300, abs=5)
        assert xs[3] == pytest.approx(500 - 3 * f, abs=5)
        assert all(p.frame == f for p in out)


def test_crossing_with_occlusion_keeps_ids() -> None:
    """Two people walk past each other; the one behind is not detected while hidden."""
    rng = np.random.default_rng(2)
    tracker = PersonTracker()
    for f in range(50):
        a, b = 100 + 8 * f, 500 - 8 * f  # meet near frame 25
        dets = [person(a, 150, rng=rng)]
        if abs(a - b) > 40:  # b hidden behind a while they overlap
            dets.append(person(b, 160, rng=rng))
        rng.shuffle(dets)
        xs = ids_by_x(tracker.update(dets, frame=f))
        assert xs[1] == pytest.approx(a, abs=5), f
        if 2 in xs:
            assert xs[2] == pytest.approx(b, abs=5), f
    assert tracker.next_id == 3


def test_lost_person_is_reidentified_and_new_person_gets_new_id() -> None:
    rng = np.random.default_rng(3)
    tracker = PersonTracker(max_lost=20)
    for f in range(10):
        tracker.update([person(100 + 5 * f, rng=rng), person(500, rng=rng)], frame=f)
    for f in range(10, 22):  # person 1 occluded for 12 frames, still walking
        assert [p.person_id for p in tracker.update([person(500, rng=rng)], frame=f)] == [2]
    out = tracker.update([person(100 + 5 * 22, rng=rng), person(500, rng=rng), person(320, 60, rng=rng)], frame=22)
    xs = ids_by_x(out)
    assert xs[1] == pytest.approx(210, abs=5)
    assert xs[2] == pytest.approx(500, abs=5)
    assert xs[3] == pytest.approx(320, abs=5)  # a newcomer


def test_person_lost_longer_than_max_lost_comes_back_with_a_new_id() -> None:
    tracker = PersonTracker(max_lost=5)
    tracker.update([person(100)], frame=0)
    assert tracker.update([], frame=3) == []
    assert tracker.track_ids == [1]
    tracker.update([], frame=10)
    assert tracker.track_ids == []
    assert [p.person_id for p in tracker.update([person(100)], frame=11)] == [2]


def test_far_jump_is_gated() -> None:
    tracker = PersonTracker(gate=1.0)
    tracker.update([person(100)], frame=0)
    out = tracker.update([person(400)], frame=1)  # 5 shoulder widths in one frame
    assert [p.person_id for p in out] == [2]


def test_duplicate_fit_of_one_person_is_dropped() -> None:
    tracker = PersonTracker()
    out = tracker.update([person(200, noise=0.5), person(201, noise=0.5)], frame=0)
    assert len(out) == 1


def _color_frame(people: list[tuple[float, tuple[int, int, int]]], width: float) -> np.ndarray:
    """Clothes: a coloured block below each person's shoulders."""
    img = np.full((400, 640, 3), 40, np.uint8)
    for x, color in people:
        cv2.rectangle(img, (int(x - 0.4 * width), 150), (int(x + 0.4 * width), int(150 + 1.3 * width)), color, -1)
    return img


@pytest.mark.parametrize("use_color", [True, False])
def test_torso_colours_resolve_people_who_changed_places_unseen(use_color: bool) -> None:
    """Red and blue stand side by side, vanish for 6 frames, and come back having changed places."""
    red, blue, w = (230, 30, 30), (30, 30, 230), 40.0
    tracker = PersonTracker()
    for f in range(6):
        img = _color_frame([(200, red), (260, blue)], w)
        tracker.update([person(200, width=w), person(260, width=w)], img if use_color else None, frame=f)
    img = _color_frame([(208, blue), (252, red)], w)
    xs = ids_by_x(tracker.update([person(208, width=w), person(252, width=w)], img if use_color else None, frame=12))
    if use_color:  # the colours win over the small difference in position
        assert xs == {1: pytest.approx(252, abs=3), 2: pytest.approx(208, abs=3)}
    else:  # positions alone pick the nearer ones
        assert xs == {1: pytest.approx(208, abs=3), 2: pytest.approx(252, abs=3)}


def test_select_people() -> None:
    small, big = person(100, width=40), person(400, width=90)
    assert select_people([small, big], "largest") == [big]
    assert select_people([small, big], (110, 120)) == [small]  # near the small one's nose
    assert select_people([small, big], "all") == [small, big]
    assert select_people([], "largest") == []
    with pytest.raises(PromptError):
        select_people([small], "tallest")  # type: ignore[arg-type]
    with pytest.raises(PromptError):
        select_people([small], (1, 2, 3))  # type: ignore[arg-type]


def test_start_with_a_selection_follows_only_that_person() -> None:
    tracker = PersonTracker()
    out = tracker.start([person(100, width=40), person(400, width=90)], "largest", frame=0)
    assert [(p.person_id, round(ids_by_x(out)[1])) for p in out] == [(1, 400)]
    out = tracker.update([person(102, width=40), person(405, width=90), person(250)], frame=1)
    assert list(ids_by_x(out)) == [1]
    assert ids_by_x(out)[1] == pytest.approx(405, abs=5)
    with pytest.raises(PromptError, match="no person"):
        PersonTracker().start([], (10, 10))


class FakeEstimator:
    """A PoseEstimator that replays synthetic detections (MediaPipe's order shuffled)."""

    def __init__(self, per_frame: list[list[PersonPose]]) -> None:
        self.per_frame = per_frame
        self.calls: list[int] = []
        self.i = 0

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> list[PersonPose]:
        self.calls.append(timestamp_ms)
        out = list(self.per_frame[self.i])
        self.i += 1
        np.random.default_rng(self.i).shuffle(out)
        return out

    def close(self) -> None:
        pass


def test_track_people_selection_tracks_forward_and_backward() -> None:
    n = 20
    per_frame = [[person(100 + 5 * f), person(500 - 5 * f, width=80)] for f in range(n)]
    per_frame[15].append(person(300, 40))  # a passer-by, not selected
    video = np.zeros((n, 360, 640, 3), np.uint8)
    est = FakeEstimator(per_frame)
    out = track_people(video, estimator=est, select=(100 + 5 * 10, 150 - 0.9 * 60), frame=10)
    assert est.calls == sorted(est.calls) and len(set(est.calls)) == n  # increasing timestamps
    assert [len(f) for f in out] == [1] * n
    for f, poses in enumerate(out):
        assert poses[0].person_id == 1 and poses[0].frame == f
        assert ids_by_x(poses)[1] == pytest.approx(100 + 5 * f, abs=5)


def test_track_people_all_from_a_middle_frame_numbers_everybody() -> None:
    n = 12
    per_frame = [[person(100 + 5 * f)] + ([person(500)] if f < 4 else []) for f in range(n)]
    out = track_people(np.zeros((n, 360, 640, 3), np.uint8), estimator=FakeEstimator(per_frame), frame=6)
    assert [sorted(p.person_id for p in f) for f in out] == [[1, 2]] * 4 + [[1]] * 8


def test_track_people_rejects_bad_arguments() -> None:
    video = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(PromptError, match="out of range"):
        track_people(video, estimator=FakeEstimator([[]] * 3), frame=5)
    with pytest.raises(PromptError, match="no person"):
        track_people(video, estimator=FakeEstimator([[]] * 3), select="largest")
    with pytest.raises(PromptError, match="unknown threshold"):
        track_people(video, min_detection=0.3)


def test_track_people_reports_each_frame_and_stops_when_cancelled() -> None:
    n = 6
    per_frame = [[person(100 + 5 * f)] for f in range(n)]
    video = np.zeros((n, 64, 64, 3), np.uint8)
    seen: list[tuple[int, int, str]] = []
    track_people(video, estimator=FakeEstimator(per_frame), progress=lambda *a: seen.append(a))
    assert seen == [(i, n, f"pose {i}/{n}") for i in range(1, n + 1)]
    stop = threading.Event()
    est = FakeEstimator(per_frame)
    with pytest.raises(Cancelled, match="pose was cancelled"):
        track_people(video, estimator=est, progress=lambda done, total, text: done == 2 and stop.set(), cancel=stop)
    assert len(est.calls) == 2  # stopped right after the frame in hand
    with pytest.raises(Cancelled):  # a callable works too, and nothing runs once it says stop
        track_people(video, estimator=(est := FakeEstimator(per_frame)), cancel=lambda: True)
    assert est.calls == []


def test_track_people_builds_a_pose_part_by_name_and_closes_only_what_it_built() -> None:
    n = 4
    per_frame = [[person(100 + 5 * f)] for f in range(n)]
    built: list[FakeEstimator] = []

    class Replay(FakeEstimator):
        closed = False

        def __init__(self, **options: object) -> None:
            super().__init__(per_frame)
            self.options = options
            built.append(self)

        def close(self) -> None:
            self.closed = True

    registry.register("pose", "replay-test", Replay)
    try:
        video = np.zeros((n, 64, 64, 3), np.uint8)
        out = track_people(video, estimator="replay-test", num_poses=3, min_pose_detection_confidence=0.4)
        assert [[p.person_id for p in f] for f in out] == [[1]] * n
        [est] = built
        assert est.options == {"num_poses": 3, "running_mode": "video", "min_pose_detection_confidence": 0.4}
        assert est.closed  # built here: closed here
        mine = Replay()
        track_people(video, estimator=mine)
        assert not mine.closed and len(mine.calls) == n  # the caller's instance is used as is
    finally:
        registry.unregister("pose", "replay-test")


def test_tracker_imports_no_mediapipe() -> None:
    code = (
        "import sys, annotator_widgets.pose_tracking, annotator_widgets.workflows.people; "
        "assert 'mediapipe' not in sys.modules, 'mediapipe imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# ---------------------------------------------------------------------------- the real crossing clip


@pytest.fixture(scope="module")
def bundle() -> Path:
    return pose_bundle()


@pytest.fixture(scope="module")
def clip() -> CrossingClip:
    return crossing_clip(num_frames=60, seed=0)


def test_crossing_clip_really_crosses(clip: CrossingClip) -> None:
    t1, t2 = clip.tracks[1][:, 0], clip.tracks[2][:, 0]
    assert t1[0] < t2[0] and t1[-1] > t2[-1]  # swapped sides
    assert len(clip.crossing_frames()) >= 10  # the cut-outs overlap for a while
    assert clip.visible[2].min() < 0.1  # the one behind is hidden at some point
    assert clip.masks[1].any(axis=(1, 2)).all() and clip.masks[2].any(axis=(1, 2)).all()


@pytest.mark.slow
def test_crossing_clip_through_mediapipe_keeps_ids(bundle: Path, clip: CrossingClip) -> None:
    import annotator_widgets as aw

    out = aw.track_people(clip.video(), num_poses=2, model=str(bundle), min_pose_detection_confidence=0.3)
    assert len(out) == clip.num_frames
    both = sum(len(set(match_ground_truth(f, clip, i))) == 2 for i, f in enumerate(out))
    assert both >= 0.4 * clip.num_frames  # MediaPipe finds both busts on many frames
    assert count_id_switches(out, clip) <= 2  # at most one short confusion while they overlap
    matches = [match_ground_truth(f, clip, i) for i, f in enumerate(out)]
    first = {pid: next(m[pid] for m in matches if pid in m) for pid in (1, 2)}
    last = {pid: next(m[pid] for m in reversed(matches) if pid in m) for pid in (1, 2)}
    assert first == last and first[1] != first[2]  # each keeps its id after the crossing
    assert {p.person_id for f in out for p in f} == {1, 2}


@pytest.mark.slow
def test_crossing_clip_select_by_click_follows_that_person(bundle: Path, clip: CrossingClip) -> None:
    from annotator_widgets.pose_tracking import track_people

    frame = 45  # after the crossing; tracked backward through it and forward to the end
    x, y = clip.tracks[2][frame]
    out = track_people(
        clip.frames, model=str(bundle), select=(float(x), float(y)), frame=frame, min_pose_detection_confidence=0.3
    )
    assert {p.person_id for f in out for p in f} == {1}
    hits = [match_ground_truth(f, clip, i).get(2) for i, f in enumerate(out)]
    wrong = [i for i, f in enumerate(out) if f and match_ground_truth(f, clip, i).get(1) == 1]
    assert hits.count(1) >= 0.5 * clip.num_frames
    assert len(wrong) <= 2


def test_track_people_gives_each_shot_its_own_ids_across_cuts() -> None:
    """Two people walk on one shot; after a cut (frame 6) two others stand where they were: by position alone they
    would inherit the ids (who-is-who carried across a cut); with the cut each shot numbers its own people, and
    the same holds tracking backward from a later frame."""
    n, cut = 12, 6
    per_frame = [[person(100 + 5 * f), person(500 - 5 * f, width=80)] for f in range(cut)]
    per_frame += [[person(130 + 5 * f, width=80), person(470 - 5 * f)] for f in range(n - cut)]
    video = np.zeros((n, 360, 640, 3), np.uint8)
    merged = track_people(video, estimator=FakeEstimator(per_frame))
    assert {p.person_id for f in merged for p in f} == {1, 2}  # without cuts: carried across
    for start in (0, 9):
        out = track_people(video, estimator=FakeEstimator(per_frame), frame=start, cuts=[cut])
        before = {p.person_id for f in out[:cut] for p in f}
        after = {p.person_id for f in out[cut:] for p in f}
        assert len(before) == len(after) == 2 and not before & after, start
        assert all(len({p.person_id for p in f}) == 2 for f in out)  # each shot's two people keep their ids
        assert all({p.person_id for p in f} == after for f in out[cut:])
