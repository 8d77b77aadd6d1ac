"""Schema 2's records on a Project: detections, captions, warnings, hands, embeddings, action edits, object meta."""

import numpy as np
import pytest

from annotator_widgets import ActionSegment, Box, Project, ProjectError, Prompt
from annotator_widgets.types import Caption, Detection, HandPose, MaskWarning

VIDEO = {"frames": 20, "width": 64, "height": 48, "fps": 25.0, "path": "/videos/clip.mp4"}


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p.awp", VIDEO) as p:
        yield p


def _mask(w: int) -> np.ndarray:
    m = np.zeros((48, 64), bool)
    m[:w, :w] = True
    return m


def _hand(frame: int, person: int | None, side: str = "left", x: float = 10.0) -> HandPose:
    lm = np.column_stack([np.full(21, x), np.arange(21, dtype=float), np.ones(21)])
    return HandPose(frame, person, side, lm, world_landmarks=lm / 100, score=0.9)


def test_detections_keep_stable_ids_filter_accept_reject_and_undo(project, tmp_path):
    mug = project.add_object(name="mug").obj_id
    a, b = project.put_detections(
        3,
        [Detection(3, Box(1, 1, 9, 9), 0.4, "mug", "owlv2"), Detection(3, Box(20, 20, 30, 30), 0.9, "mug", "owlv2")],
    )
    (c,) = project.put_detections(5, [Detection(5, Box(0, 0, 5, 5), 0.7, "cup", "gdino", meta={"k": 1})])
    assert list(project.detections(3)) == [b, a]  # best score first
    assert list(project.detections(label="cup")) == [c] and project.detection(c).meta == {"k": 1}
    assert list(project.detections(model="owlv2", obj_id=None)) == [b, a]
    assert project.accept_detection(a, mug).obj_id == mug
    assert list(project.detections(obj_id=mug)) == [a]
    project.reject_detection(b)
    assert list(project.detections(3)) == [a] and list(project.detections(3, rejected=True)) == [b]
    # a re-run replaces only the model's open candidates; accepted and rejected ones stay
    (d,) = project.put_detections(3, [Detection(3, Box(2, 2, 8, 8), 0.5, "mug", "owlv2")], replace_model="owlv2")
    assert sorted(project.detections(3, rejected=None)) == [a, b, d]
    assert [i for i, _ in project.iter_detections()] == [d, a, c]
    assert project.undo() == "detections on frame 3"
    assert sorted(project.detections(3, rejected=None)) == [a, b]
    project.undo()  # the rejection
    project.undo()  # the acceptance
    assert project.detection(a).obj_id is None and project.detection(b) in project.detections(3).values()
    project.redo()
    (e,) = project.put_detections(4, [Detection(4, Box(1, 1, 2, 2), 0.1, "mug")])
    assert e > d  # ids are never reused, even after undo
    with pytest.raises(ProjectError, match="another frame"):
        project.put_detections(4, [Detection(5, Box(1, 1, 2, 2), 0.1, "mug")])
    with pytest.raises(ProjectError, match="no such detection"):
        project.detection(999)
    project.close()
    with Project.open(tmp_path / "p.awp", readonly=True) as again:
        assert again.detection(a).obj_id == mug and again.detection(c).box == Box(0, 0, 5, 5)


def test_a_person_editing_a_model_caption_marks_it_edited_and_models_do_not_overwrite_it(project):
    obj = project.add_object(name="dog").obj_id
    project.put_caption(Caption(2, 0, "a park", model="blip"))
    project.put_caption(Caption(2, obj, "a dog runs", model="florence2", prompt="<CAPTION>"))
    edited = project.put_caption(Caption(2, obj, "a brown dog runs"))
    assert (edited.edited, edited.model, edited.prompt) == (True, "florence2", "<CAPTION>")
    assert project.put_caption(Caption(2, obj, "a cat", model="florence2")).text == "a brown dog runs"
    assert project.put_caption(Caption(2, obj, "a cat", model="florence2"), overwrite_edited=True).text == "a cat"
    assert [c.obj_id for c in project.captions(frame=2)] == [0, obj]
    assert [c.text for c in project.captions(obj_id=0)] == ["a park"]
    project.undo()
    assert project.caption(2, obj).text == "a brown dog runs"
    assert project.delete_caption(2) and project.caption(2) is None and not project.delete_caption(2)
    project.undo()
    assert project.caption(2).text == "a park"


def test_a_batch_of_captions_is_one_step_and_keeps_edits_as_one_at_a_time_would(project):
    obj = project.add_object(name="dog").obj_id
    project.put_caption(Caption(1, obj, "a dog", model="blip"))
    project.put_caption(Caption(1, obj, "my dog"))  # a person's edit
    project.put_caption(Caption(2, obj, "a dog sits", model="blip"))
    steps = len(project.history())
    batch = [Caption(f, obj, f"new {f}", model="blip") for f in (1, 2, 3)] + [Caption(3, 0, "a park", model="blip")]
    got = project.put_captions(batch, label="describe object")
    assert [c.text for c in got] == ["my dog", "new 2", "new 3", "a park"] and got[0].edited
    assert [c.text for c in project.captions()] == ["my dog", "new 2", "a park", "new 3"]  # by frame, then object
    assert len(project.history()) == steps + 1 and project.history()[-1].label == "describe object"
    project.undo()
    assert [c.text for c in project.captions()] == ["my dog", "a dog sits"]
    with pytest.raises(ProjectError, match="no such object"):  # checked before anything is written
        project.put_captions([Caption(1, 0, "a park", model="blip"), Caption(1, 99, "x", model="blip")])
    assert [c.text for c in project.captions()] == ["my dog", "a dog sits"]


def test_a_batch_of_captions_longer_than_one_query_keeps_every_edit(tmp_path, monkeypatch):
    import annotator_widgets.project_base as base

    monkeypatch.setattr(base, "FRAMES_PER_QUERY", 3)  # the old captions are read over several queries
    with Project.create(tmp_path / "long.awp", {**VIDEO, "frames": 12}) as project:
        obj = project.add_object(name="dog").obj_id
        for f in (0, 4, 8, 11):
            project.put_caption(Caption(f, obj, f"a dog {f}", model="blip"))
            project.put_caption(Caption(f, obj, f"my dog {f}"))  # a person's edit on frames in every chunk
        got = project.put_captions([Caption(f, obj, f"new {f}", model="blip") for f in range(12)])
        assert [c.text for c in got] == [f"my dog {f}" if f in (0, 4, 8, 11) else f"new {f}" for f in range(12)]
        assert all(c.edited for c in got if c.frame in (0, 4, 8, 11))


def test_warnings_are_cleared_when_the_mask_is_replaced(project):
    obj = project.add_object().obj_id
    project.put_mask(4, obj, np.zeros((48, 64), bool))
    project.put_warning(MaskWarning(4, obj, "empty_mask", "the prompt gave an empty mask"))
    project.put_warning(MaskWarning(6, obj, "small_mask"))
    assert [(w.frame, w.kind) for w in project.warnings(obj_id=obj)] == [(4, "empty_mask"), (6, "small_mask")]
    project.put_mask(4, obj, _mask(10))
    assert project.warnings(frame=4) == [] and len(project.warnings()) == 1
    project.undo()  # the new mask goes and the warning comes back with the old one
    assert [w.kind for w in project.warnings(frame=4)] == ["empty_mask"]
    with pytest.raises(ProjectError, match="no such object"):
        project.put_warning(MaskWarning(1, 99, "empty_mask"))


def test_hands_per_frame_stream_per_person_and_round_trip(project):
    alice = project.add_object(name="alice").obj_id
    project.put_hands(1, [_hand(1, alice, "left"), _hand(1, None, "right", 30.0)])
    project.put_hands(2, [_hand(2, alice, "right")])
    got = project.hands(1)
    assert [(h.person_id, h.handedness) for h in got] == [(alice, "left"), (None, "right")]
    np.testing.assert_array_equal(got[1].landmarks, _hand(1, None, "right", 30.0).landmarks)
    np.testing.assert_allclose(got[0].world_landmarks, _hand(1, alice).world_landmarks)
    assert [h.frame for h in project.iter_hands(person_id=alice)] == [1, 2] and project.hand_frames() == [1, 2]
    project.put_hands(1, [_hand(1, alice, "left")])  # replaces the frame
    assert len(project.hands(1)) == 1
    project.undo()
    assert len(project.hands(1)) == 2


def test_embeddings_are_a_cache_outside_the_history(project):
    steps = len(project.history())
    assert project.put_embeddings("clip", 3, {"det:1": np.arange(4), "det:2": np.ones(4)}) == 2
    got = project.embeddings("clip", 3)
    assert list(got) == ["det:1", "det:2"] and got["det:1"].dtype == np.float32
    np.testing.assert_array_equal(got["det:1"], [0, 1, 2, 3])
    assert project.embeddings("clip", 4) == {} and len(project.history()) == steps and not project.can_undo
    with pytest.raises(ProjectError, match="finite 1-D"):
        project.put_embeddings("clip", 3, {"x": np.array([np.nan])})
    assert project.delete_embeddings("clip") == 2 and project.embeddings("clip", 3) == {}


def test_embeddings_of_many_frames_are_written_together_and_checked_first(project):
    vectors = {2: {"a": np.ones(3)}, 5: {"b": np.arange(3), "c": np.zeros(3)}}
    assert project.put_embeddings_many("clip", vectors) == 3 and project.embedding_frames("clip") == {2, 5}
    np.testing.assert_array_equal(project.embeddings("clip", 5)["b"], [0, 1, 2])
    with pytest.raises(ProjectError, match="finite 1-D"):  # nothing of a bad batch is written
        project.put_embeddings_many("clip", {7: {"d": np.ones(3)}, 8: {"e": np.ones((2, 2))}})
    with pytest.raises(ProjectError):
        project.put_embeddings_many("clip", {10**6: {"f": np.ones(3)}})
    assert project.embedding_frames("clip") == {2, 5} and project.embedding_frames("other") == set()
    assert not project.can_undo


def test_embeddings_of_many_frames_are_read_in_one_call_as_frame_by_frame(project, monkeypatch):
    import annotator_widgets.project_base as base

    monkeypatch.setattr(base, "FRAMES_PER_QUERY", 3)  # several queries: the chunks join up
    project.put_embeddings_many("clip", {f: {f"k{f}": np.full(3, f), "z": np.ones(3)} for f in range(0, 20, 2)})
    project.put_embeddings("other", 3, {"k3": np.zeros(3)})
    got = project.embeddings_many("clip", [*range(0, 20, 3), 19, 0])
    assert sorted(got) == [0, 6, 12, 18]  # only frames holding vectors; nothing created
    for f in got:
        one = project.embeddings("clip", f)
        assert list(got[f]) == list(one) and all(np.array_equal(got[f][k], one[k]) for k in one)
    assert project.embeddings_many("clip", []) == {} and project.embeddings_many("other", [2]) == {}


def test_update_action_moves_relabels_and_undoes_with_a_stable_id(project):
    aid = project.add_action(ActionSegment(2, 7, "grab", description="picks it up"))
    assert project.update_action(aid, stop=10, label="hold").stop == 10
    assert project.action(aid) == ActionSegment(2, 10, "hold", description="picks it up")
    with pytest.raises(ProjectError, match="stop is excluded"):
        project.update_action(aid, stop=21)
    with pytest.raises(ProjectError, match="unknown action field"):
        project.update_action(aid, colour="red")
    project.undo()
    assert project.action(aid) == ActionSegment(2, 7, "grab", description="picks it up")
    assert list(project.actions()) == [aid]
    assert project.add_action(ActionSegment(19, 20, "last frame")) > aid  # stop == num_frames is fine


def test_object_meta_prompt_text_and_remove_object_unlinks_or_drops_its_records(project):
    mug = project.add_object(name="mug", meta={"source": "owlv2"}).obj_id
    assert project.update_object(mug, meta={"phrase": "red mug"}).meta == {"phrase": "red mug"}
    project.put_prompt(Prompt(1, mug, box=Box(1, 1, 9, 9), text="red mug"))
    assert project.prompt(1, mug).text == "red mug"
    (det,) = project.put_detections(1, [Detection(1, Box(1, 1, 9, 9), 0.8, "red mug", "owlv2", obj_id=mug)])
    project.put_caption(Caption(1, mug, "a red mug"))
    project.put_mask(1, mug, _mask(8))
    project.put_warning(MaskWarning(1, mug, "small_mask"))
    project.put_hands(1, [_hand(1, mug)])
    project.remove_object(mug)
    assert project.detection(det).obj_id is None and project.hands(1)[0].person_id is None
    assert project.captions() == [] and project.warnings() == [] and project.prompts() == []
    project.undo()
    assert project.detection(det).obj_id == mug and project.hands(1)[0].person_id == mug
    assert project.caption(1, mug).text == "a red mug" and len(project.warnings()) == 1
    assert project.get_object(mug).meta == {"phrase": "red mug"}
    with pytest.raises(ProjectError, match="JSON"):
        project.update_object(mug, meta={"x": object()})


def test_object_annotations_of_many_frames_are_the_per_frame_ones(project):
    a, b = project.add_object().obj_id, project.add_object().obj_id
    mask = np.zeros((project.size[1], project.size[0]), bool)
    for f in (1, 3, 4, 9):
        mask[f : f + 3, 2 : 5 + f] = True
        project.put_mask(f, a, mask)
    project.put_mask(2, b, mask)
    got = project.object_annotations(a, [9, 2, 3, 3, 1, 0])
    assert list(got) == [1, 3, 9]  # frames holding the object's mask only, in frame order; nothing created
    for f, ann in got.items():
        assert ann == project.annotation(f, a)
    assert project.object_annotations(b, [1, 2]).keys() == {2} and project.object_annotations(a, []) == {}
