"""The detector route of seed_region (seed 002): people whose detector box meets a region become objects prompted with
their boxes, the detections are stored, all of it one undo step, then propagated; nobody meeting the region is a
clear error that creates nothing.

A scripted grounder (a test double answering "person" with a generated clip's true boxes, registered as a part) checks
the flow end to end with the classic segmenter; a tiny random DETR, built in code and loaded through the real grounder,
checks the real path (random boxes: the plumbing, not the quality).
"""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video, registry
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import NotFoundError
from annotator_widgets.types import Box
from annotator_widgets.workflows.people import seed_region
from annotator_widgets.workflows.people_detect import meets
from tests.support.scripted import register_scripted
from tests.support.vlm import build_tiny_detr


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=16, size=(128, 96), num_objects=2, seed=7)


@pytest.fixture
def session(clip, tmp_path):
    s = AnnotationSession(open_video(clip.frames, fps=30.0), project=tmp_path / "p.awp", segmenter="classic")
    yield s
    s.close()


@pytest.fixture
def people(clip):
    """A "person" detector double: objects 1 and 2 of the clip are the people, with scores 0.8 and 0.7."""

    def script(frame):
        return [("person", tuple(float(v) for v in clip.boxes[o][frame]), 0.9 - 0.1 * o) for o in (1, 2)]

    built = register_scripted(clip.frames, script, name="people-test")
    yield built
    registry.unregister("grounder", "people-test")


def _box(clip, oid, frame=0):
    return Box(*(float(v) for v in clip.boxes[oid][frame]))


def test_people_meeting_the_region_become_box_prompted_objects_and_are_tracked(clip, session, people):
    one, two = _box(clip, 1), _box(clip, 2)
    assert not meets(one, two), "the clip's people must not overlap on frame 0 for this test"
    region = Box(one.x0 + 1, one.y0 + 1, one.x0 + 4, one.y0 + 4)  # a small region inside person 1 only
    done = []
    seeded = seed_region(session, 0, region, detector="people-test", progress=lambda i, n, t: done.append((i, n)))
    (obj,) = seeded
    assert obj.category == "person" and obj.name == "person"
    (p,) = session.prompts(0)
    assert p.obj_id == obj.obj_id and p.box == one and p.points == ()
    (det,) = session.project.detections(0).values()
    assert (det.obj_id, det.box, det.model, det.label) == (obj.obj_id, one, "people-test", "person")
    assert det.score == pytest.approx(0.8)
    assert people[-1].calls == [0] and people[-1].closed  # asked once, about frame 0; a spec's model is closed
    assert done[0] == (1, 1) and len(done) > 1  # the detection, then the propagated frames
    # tracked through the clip by the box prompt: the masks follow person 1
    ious = []
    for t in range(len(clip.frames)):
        got, want = session.project.annotation(t, obj.obj_id).mask, clip.masks[1][t]
        ious.append((got & want).sum() / max(1, (got | want).sum()))
    assert float(np.mean(ious)) > 0.5
    # the seeding (object, prompt, detection) is one undo step, before the propagation's
    while session.objects:
        session.undo()
    assert session.project.detections(0) == {} and session.prompts(0) == []


def test_a_region_over_both_people_seeds_both_without_propagating(clip, session, people):
    w, h = session.video.size
    seeded = seed_region(session, 5, (0, 0, w, h), detector="people-test", propagate=False)
    assert [o.obj_id for o in seeded] == [1, 2]
    assert {p.box for p in session.prompts(5)} == {_box(clip, 1, 5), _box(clip, 2, 5)}
    assert session.project.mask_frames(1) == [5]


def test_nobody_meeting_the_region_is_a_clear_error_and_creates_nothing(clip, session, people):
    w, h = session.video.size
    taken = [_box(clip, o) for o in (1, 2)]
    corner = next(
        Box(x, y, x + 6, y + 6)
        for x in range(0, w - 6, 3)
        for y in range(0, h - 6, 3)
        if not any(meets(Box(x, y, x + 6, y + 6), b) for b in taken)
    )
    with pytest.raises(NotFoundError, match=r"no person found by people-test meets the region on frame 0") as err:
        seed_region(session, 0, corner, detector="people-test")
    assert "found 2 elsewhere (best score 0.80)" in str(err.value) and "pose route" in str(err.value)
    assert session.objects == [] and session.project.detections(0) == {} and not session.project.can_undo


def test_tiny_detr_through_the_real_grounder(clip, session, tmp_path):
    folder = build_tiny_detr(tmp_path / "detr")
    grounder = registry.resolve(
        "grounder", f"detr:{folder}", device="cpu", dtype="float32", threshold=0.0, nms_iou=1.0, min_size=0.0, top_k=3
    )
    w, h = session.video.size
    said = grounder.detect(clip.frames[2], ["person"])
    assert said, "the tiny DETR must answer 'person' somewhere for this test"
    seeded = seed_region(session, 2, (0, 0, w, h), detector=grounder, propagate=False)
    dets = session.project.detections(2)
    assert len(seeded) == len(dets) == len(said) <= 3
    assert {d.obj_id for d in dets.values()} == {o.obj_id for o in seeded}
    assert all(d.model == grounder.name.split(":")[0] or d.model == grounder.name for d in dets.values())
    boxes = {p.obj_id: p.box for p in session.prompts(2)}
    for d in dets.values():
        assert boxes[d.obj_id] == d.box and 0 <= d.box.x0 < d.box.x1 <= w and 0 <= d.box.y0 < d.box.y1 <= h
    assert all(np.isfinite(d.score) for d in dets.values())
    again = grounder.detect(clip.frames[2], ["person"])  # a ready grounder is not closed by the workflow
    assert [g.score for g in again] == pytest.approx([g.score for g in said], abs=1e-4)
    grounder.close()
