"""Track my action end to end on a generated clip with a known interaction interval.

The clip (tests/support/interaction_clip.py) is a real person cut-out (scikit-image's astronaut)
with a ball that comes into their hand, is held while wobbling between the thresholds, and is
thrown away; a second object blips through the hand region in about two frames, a third stays
far away. The poses are **scripted** (the interaction logic is the subject here, not the pose
model) and the masks are the true discs with 1 px of radius noise. The hand-model path runs the
real MediaPipe hand landmarker; the descriptions run a tiny random-init SmolVLM built in code.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.errors import PromptError, SessionBusyError
from annotator_widgets.export.actions import save_actions, to_actions
from annotator_widgets.export.coco import to_coco
from annotator_widgets.export.cvat import to_cvat
from annotator_widgets.interactions import InteractionParams
from annotator_widgets.types import ActionSegment
from annotator_widgets.workflows.actions import (
    DEFAULT_QUESTION,
    _update_action,
    action_crop,
    describe_actions,
    find_interactions,
    key_frame,
)
from tests.support.interaction_clip import BALL, BLIP, FAR, PERSON, interaction_clip, store

PARAMS = InteractionParams()


@pytest.fixture(scope="module")
def clip():
    return interaction_clip(num_frames=60, hold=(22, 40))


@pytest.fixture
def session(clip, tmp_path):
    s = AnnotationSession(open_video(clip.frames, fps=clip.fps), project=tmp_path / "p.awp", segmenter="classic")
    store(s.project, clip)
    yield s
    s.close()


def _auto(project):
    return {aid: s for aid, s in project.actions().items() if s.meta.get("auto")}


def test_the_held_interval_is_found_within_three_frames_without_flicker(session, clip):
    done = []
    ids = find_interactions(session, progress=lambda i, n: done.append((i, n)))
    segs = session.project.actions()
    assert sorted(ids) == sorted(segs)
    ball = [s for s in segs.values() if (s.person_id, s.obj_id) == (PERSON, BALL)]
    assert len(ball) == 1, f"one segment expected for the held ball, got {[(s.start, s.stop) for s in ball]}"
    (seg,) = ball
    assert abs(seg.start - clip.hold[0]) <= 3 and abs(seg.stop - clip.hold[1]) <= 3, (seg.start, seg.stop, clip.hold)
    assert seg.meta["hand"] == "left" and seg.label == "interaction" and 0.5 < seg.score <= 1.0
    assert seg.start <= key_frame(seg) < seg.stop
    assert not [s for s in segs.values() if s.obj_id in (BLIP, FAR)]  # the 2-frame blip and the far object
    assert all(s.stop - s.start >= PARAMS.min_frames for s in segs.values())
    assert done[-1] == (60, 60) and len(done) == 60
    # one undo step for the whole run
    assert session.project.history()[-1].label == "find interactions"
    session.project.undo()
    assert session.project.actions() == {}


def test_without_hysteresis_the_same_clip_flickers(session, clip):
    """The wobble in the held interval is real: a single threshold without bridging splits it."""
    flat = InteractionParams(enter=0.25, leave=0.25, min_frames=1, max_gap=0)
    find_interactions(session, objects=[BALL], params=flat)
    assert len(session.project.actions()) > 3


def test_a_rerun_replaces_its_own_segments_and_keeps_what_a_person_made_or_edited(session, clip):
    find_interactions(session)
    (aid,) = _auto(session.project)
    # a person moves the segment's start and says so; another person-made segment for the far object
    edited = _update_action(
        session.project, aid, start=clip.hold[0], meta={"hand": "left", "auto": True, "edited": True}
    )
    manual = session.project.add_action(ActionSegment(2, 9, "waves at", PERSON, FAR, "waving"))
    find_interactions(session)
    segs = session.project.actions()
    assert segs[edited].start == clip.hold[0] and segs[edited].meta["edited"] is True
    assert segs[manual].description == "waving"
    assert len(segs) == 2  # no new automatic segment was laid over the edited one
    # an untouched automatic segment is replaced, not duplicated
    session.project.remove_action(edited)
    find_interactions(session)
    find_interactions(session)
    assert len(_auto(session.project)) == 1 and manual in session.project.actions()


def test_a_frame_range_only_touches_segments_inside_it(session, clip):
    find_interactions(session)
    before = dict(session.project.actions())
    assert find_interactions(session, start=0, stop=15) == []  # nothing happens early on
    assert session.project.actions() == before  # the segment outside the range is kept


def test_cancel_stores_nothing_and_keeps_earlier_segments(session):
    find_interactions(session)
    before = dict(session.project.actions())
    stop = threading.Event()

    def progress(i, n):
        if i == 10:
            stop.set()

    assert find_interactions(session, progress=progress, cancel=stop) == []
    assert session.project.actions() == before


def test_bad_requests_are_clear_errors(session):
    with pytest.raises(PromptError, match="unknown person"):
        find_interactions(session, persons=[99])
    with pytest.raises(PromptError, match="no \\(person, object\\) pair"):
        find_interactions(session, persons=[PERSON], objects=[PERSON])
    with pytest.raises(PromptError, match="empty frame range"):
        find_interactions(session, start=30, stop=30)
    assert session._busy.acquire(blocking=False)  # what a running propagation holds
    try:
        with pytest.raises(SessionBusyError):
            find_interactions(session)
    finally:
        session._busy.release()


def test_the_real_hand_landmarker_path_runs_and_keeps_the_result(session, clip):
    """hands="mediapipe": the hand model searches around the pose wrists every frame. The clip's drawn
    hand is a plain ellipse, not a hand the model recognises, so the body model's hand landmarks decide."""
    find_interactions(session, objects=[BALL])
    base = [(s.start, s.stop) for s in session.project.actions().values()]
    find_interactions(session, objects=[BALL], hands="mediapipe")
    assert [(s.start, s.stop) for s in session.project.actions().values()] == base


def test_exports_carry_the_person_id_frames_and_seconds(session, clip, tmp_path):
    find_interactions(session)
    (rec,) = to_actions(session.project)
    assert rec["person_id"] == PERSON and rec["object_id"] == BALL and rec["object"] == "ball"
    assert rec["start_s"] == pytest.approx(rec["start_frame"] / clip.fps) and rec["hand"] == "left"
    # the same id is the person's pose track and masklet
    assert session.project.pose_frames(PERSON) and session.project.mask_frames(PERSON)
    coco = to_coco(session.project)
    assert [(a["person_id"], a["start_frame"]) for a in coco["actions"]] == [(PERSON, rec["start_frame"])]
    csv_text = save_actions(session.project, tmp_path / "a.csv").read_text()
    assert csv_text.splitlines()[1].split(",")[3:8] == [
        "1",
        "2",
        "ball",
        str(rec["start_frame"]),
        str(rec["stop_frame"]),
    ]
    xml = to_cvat(session.project, actions=True)
    n = rec["stop_frame"] - rec["start_frame"]
    assert xml.count('<tag frame="') == n and '<attribute name="person_id">1</attribute>' in xml


# -- descriptions --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smolvlm(tmp_path_factory):
    from tests.support.vlm_text import build_tiny_smolvlm

    return build_tiny_smolvlm(tmp_path_factory.mktemp("smolvlm") / "model")


class _Spy:
    """Records what reaches a real captioner (the batches and questions), and passes it on."""

    def __init__(self, model):
        self.model, self.name, self.calls = model, model.name, []

    def describe(self, images, prompts):
        self.calls.append(([im.shape for im in images], list(prompts)))
        return self.model.describe(images, prompts)

    def close(self):
        self.model.close()


def test_action_crop_is_the_union_of_person_and_object_boxes_with_a_margin(session, clip):
    find_interactions(session)
    (seg,) = session.project.actions().values()
    f = key_frame(seg)
    crop = action_crop(session.project, clip.frames[f], seg, margin=0.1)
    boxes = [session.project.annotation(f, oid).box.xyxy for oid in (PERSON, BALL)]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = 0.1 * max(x1 - x0, y1 - y0)
    rx0, ry0 = max(0, int(np.floor(x0 - pad))), max(0, int(np.floor(y0 - pad)))
    rx1, ry1 = min(640, int(np.ceil(x1 + pad))), min(360, int(np.ceil(y1 + pad)))
    assert crop.shape == (ry1 - ry0, rx1 - rx0, 3)
    assert np.array_equal(crop, clip.frames[f][ry0:ry1, rx0:rx1])


def test_describe_actions_asks_per_segment_in_batches_and_stores_the_answers(session, smolvlm):
    from annotator_widgets.backends.captioners_chat import SmolVlmCaptioner

    find_interactions(session)
    session.project.add_action(ActionSegment(2, 9, "waves at", PERSON, FAR))
    session.project.add_action(ActionSegment(44, 50, "throws", PERSON, BLIP))
    spy = _Spy(SmolVlmCaptioner(smolvlm, max_new_tokens=6))
    done = []
    before = sorted(session.project.actions())
    got = describe_actions(session, spy, batch_size=2, progress=lambda i, n: done.append((i, n)))
    segs = session.project.actions()
    assert sorted(got) == sorted(segs) == before and len(got) == 3  # described segments keep their ids
    assert all(segs[aid].description == text for aid, text in got.items())
    assert [len(shapes) for shapes, _ in spy.calls] == [2, 1] and done == [(2, 3), (3, 3)]
    questions = sorted(q for _, prompts in spy.calls for q in prompts)
    assert questions == sorted(DEFAULT_QUESTION.format(object=o) for o in ("ball", "plant", "frisbee"))
    assert session.project.history()[-1].label == "describe actions"
    session.project.undo()  # one undo step restores every description
    assert all(s.description == "" for s in session.project.actions().values())
    spy.close()


def test_describe_actions_from_a_spec_cancel_keeps_finished_batches(session, smolvlm):
    for start in (2, 12, 44):
        session.project.add_action(ActionSegment(start, start + 6, "touches", PERSON, BALL))
    stop = threading.Event()
    got = describe_actions(session, f"smolvlm:{smolvlm}", batch_size=2, progress=lambda i, n: stop.set(), cancel=stop)
    assert len(got) == 2  # the first batch is stored, the second never ran
    described = [s for s in session.project.actions().values() if s.description]
    assert len(described) == len([t for t in got.values() if t])
    with pytest.raises(PromptError, match="placeholder"):
        describe_actions(session, f"smolvlm:{smolvlm}", question="What about {thing}?")


class _WholeFrameHands:
    """A test double of a hand estimator without ``detect_in_boxes``: one left hand at a fixed place, reported
    on frame 0 as ``detect`` does (the real estimator's ``detect`` is tested in tests/test_hands.py)."""

    name = "scripted-hands"

    def __init__(self, xy):
        self.xy, self.calls = xy, []

    def detect(self, frame, timestamp_ms=0):
        from annotator_widgets.types import HandPose

        self.calls.append(timestamp_ms)
        pts = np.zeros((21, 3), np.float32)
        pts[:, :2] = self.xy
        return [HandPose(0, None, "left", pts)]

    def close(self):
        pass


def test_a_whole_frame_hand_estimator_is_given_to_the_person_and_decides(session, clip):
    """Hands found on the whole frame are moved to the frame being measured, given to the person by their
    wrist, and replace the body model's hand: a hand held where the ball never comes finds nothing."""
    far_hand = (clip.hand[0] + 5, clip.hand[1] + 80)  # near the wrist (assigned), 80 px below the ball's path
    est = _WholeFrameHands(far_hand)
    find_interactions(session, objects=[BALL], hands=est)
    assert est.calls == [round(f * 1000 / clip.fps) for f in range(60)]
    assert session.project.actions() == {}
    find_interactions(session, objects=[BALL])  # the body model's hand touches the ball
    assert len(session.project.actions()) == 1
