"""What the widgets draw from: the session's frame view, its timeline and its object verbs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import RLE, Annotation, AnnotationSession, PersonPose, Project
from annotator_widgets.errors import ProjectError, PromptError
from annotator_widgets.view import LOST, LOW, MASK, NONE, FrameView, FrameViews, frame_view, frame_views


@pytest.fixture
def session(tmp_path: Path) -> Iterator[AnnotationSession]:
    s = AnnotationSession(np.zeros((6, 40, 60, 3), np.uint8), tmp_path / "v.awp", segmenter="classic")
    yield s
    s.close()


def _mask(x0: int, x1: int) -> RLE:
    m = np.zeros((40, 60), bool)
    m[5:20, x0:x1] = True
    return RLE.from_mask(m)


def test_view_holds_one_frames_records_and_flags_weak_and_lost_masks(session: AnnotationSession) -> None:
    cup, dog, cat, man = (session.add_object(name) for name in ("cup", "dog", "cat", "man"))
    empty = RLE.from_mask(np.zeros((40, 60), bool))
    # the click first (on a frame with no mask it is a click-only prompt), then the masks the view is about
    session.add_points(2, cup.obj_id, [(5, 10)])
    session.project.put_annotations(
        [
            Annotation(2, cup.obj_id, _mask(0, 10), 0.9),
            Annotation(2, dog.obj_id, _mask(20, 30), 0.2),
            Annotation(2, cat.obj_id, empty, 0.8),
            Annotation(2, man.obj_id, _mask(40, 50), None),  # a drawn mask has no score: not weak
            Annotation(3, dog.obj_id, _mask(20, 30), 0.1),
        ]
    )
    session.project.put_poses(2, [PersonPose(2, man.obj_id, np.ones((33, 3), np.float32) * 10)])
    view = session.view(2, low_score=0.5)
    assert isinstance(view, FrameView) and view.frame == 2
    assert [o.obj_id for o in view.objects] == [1, 2, 3, 4] and view.object(2) == dog and view.object(9) is None
    assert sorted(view.annotations) == [1, 2, 3, 4] and view.annotations[2].score == pytest.approx(0.2)
    assert view.low == {dog.obj_id} and view.lost == {cat.obj_id}
    assert session.view(2, low_score=0.1).low == frozenset()  # the threshold decides
    assert [(p.obj_id, len(p.points)) for p in view.prompts] == [(cup.obj_id, 1)]
    assert [p.person_id for p in view.poses] == [man.obj_id]
    masks = view.masks()
    assert masks[dog.obj_id][10, 25] and not masks[cat.obj_id].any()
    assert session.view(4).annotations == {} and session.view(4).poses == ()
    # a snapshot: it cannot be changed, and later edits do not reach it
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.frame = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        view.annotations[9] = view.annotations[1]  # type: ignore[index]
    session.remove_object(dog.obj_id)
    assert dog.obj_id in view.annotations and dog.obj_id not in session.view(2).annotations


@pytest.mark.parametrize(("frame", "low_score", "message"), [(6, 0.5, "out of range"), (0, 1.5, "low_score")])
def test_view_rejects_bad_arguments(session: AnnotationSession, frame: int, low_score: float, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        session.view(frame, low_score=low_score)


def test_timeline_has_a_row_per_object_with_scores_prompts_and_poses(session: AnnotationSession) -> None:
    cup, man = session.add_object("cup"), session.add_object("man", "person")
    session.add_points(1, cup.obj_id, [(5, 10)])  # before the masks: a click-only prompt
    session.project.put_annotations(
        [
            Annotation(1, cup.obj_id, _mask(0, 10), 0.9),
            Annotation(2, cup.obj_id, _mask(0, 10), 0.3),
            Annotation(3, cup.obj_id, RLE.from_mask(np.zeros((40, 60), bool)), 0.9),
        ]
    )
    for f in (2, 3):
        session.project.put_poses(f, [PersonPose(f, man.obj_id, np.ones((33, 3), np.float32) * 10)])
    rows = session.timeline()
    assert [(r.obj_id, r.label, r.color, r.hidden) for r in rows] == [
        (cup.obj_id, cup.label, cup.color, False),
        (man.obj_id, man.label, man.color, False),
    ]
    cup_row, man_row = rows
    assert cup_row.info == cup
    assert cup_row.states(0.5).tolist() == [NONE, MASK, LOW, LOST, NONE, NONE]
    assert cup_row.mask_frames() == [1, 2, 3] and cup_row.low_frames(0.5) == [2, 3]
    assert cup_row.prompt_frames() == [1] and cup_row.posed is None
    assert man_row.pose_frames() == [2, 3] and man_row.mask_frames() == []


def test_object_verbs_change_objects_undoably_without_touching_the_project(session: AnnotationSession) -> None:
    cup = session.add_object("cup")
    assert session.object(cup.obj_id) == cup
    changed = session.update_object(cup.obj_id, hidden=True, color=(1, 2, 3), name="mug", category="kitchen")
    assert (changed.hidden, changed.color, changed.name, changed.category) == (True, (1, 2, 3), "mug", "kitchen")
    assert session.object(cup.obj_id) == changed and session.view(0).objects == (changed,)
    assert session.undo() == f"edit object {cup.obj_id}"  # one step
    assert session.object(cup.obj_id) == cup
    with pytest.raises(ProjectError, match="unknown object field"):
        session.update_object(cup.obj_id, size=3)
    with pytest.raises(PromptError, match="color"):
        session.update_object(cup.obj_id, color=(300, 0, 0))
    with pytest.raises(ProjectError, match="no such object"):
        session.object(99)
    session.add_points(4, cup.obj_id, [(5, 10)])
    session.add_points(2, cup.obj_id, [(5, 10)])
    assert session.prompt_frames() == [2, 4] and session.prompt_frames(cup.obj_id) == [2, 4]


def test_view_holds_detections_captions_warnings_hands_and_covering_actions(session: AnnotationSession) -> None:
    from annotator_widgets.types import ActionSegment, Box, Caption, Detection, HandPose, MaskWarning

    man, cup = session.add_object("man", "person"), session.add_object("cup")
    p = session.project
    cand, taken, turned = p.put_detections(
        2,
        [
            Detection(2, Box(1, 1, 9, 9), 0.8, "cup", "owl"),
            Detection(2, Box(20, 5, 30, 15), 0.6, "cup", "owl", obj_id=cup.obj_id),
            Detection(2, Box(40, 5, 50, 15), 0.4, "cup", "owl"),
        ],
    )
    p.reject_detection(turned)
    p.put_detections(3, [Detection(3, Box(1, 1, 9, 9), 0.9, "cup")])
    p.put_caption(Caption(2, cup.obj_id, "a red cup"))
    p.put_caption(Caption(2, 0, "a kitchen"))
    p.put_caption(Caption(3, cup.obj_id, "elsewhere"))
    p.put_warning(MaskWarning(2, cup.obj_id, "empty_mask", "gone"))
    p.put_hands(2, [HandPose(2, man.obj_id, "left", np.ones((21, 3), np.float32))])
    inside = p.add_action(ActionSegment(1, 3, "holds", man.obj_id, cup.obj_id, "holds the cup"))
    p.add_action(ActionSegment(3, 5, "drinks", man.obj_id, cup.obj_id))  # starts after frame 2
    p.add_action(ActionSegment(0, 2, "reaches", man.obj_id, cup.obj_id))  # stop excluded: ends before frame 2
    view = session.view(2)
    assert list(view.detections) == [cand, taken]  # best first; the rejected one left out
    assert view.detections[taken].obj_id == cup.obj_id and view.detections[cand].obj_id is None
    assert {k: c.text for k, c in view.captions.items()} == {0: "a kitchen", cup.obj_id: "a red cup"}
    assert [(w.obj_id, w.kind) for w in view.warnings] == [(cup.obj_id, "empty_mask")]
    assert [(h.person_id, h.handedness) for h in view.hands] == [(man.obj_id, "left")]
    assert list(view.actions) == [inside] and view.actions[inside].description == "holds the cup"
    assert sorted(a.label for a in session.view(3).actions.values()) == ["drinks"]
    empty = session.view(5)
    assert (dict(empty.detections), dict(empty.captions), empty.warnings, empty.hands, dict(empty.actions)) == (
        {},
        {},
        (),
        (),
        {},
    )
    with pytest.raises(TypeError):
        view.captions[9] = view.captions[0]  # type: ignore[index]


def _same(a: object, b: object) -> bool:
    """Equal values, arrays and records compared field by field (poses and hands hold arrays), in the same order."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return isinstance(b, tuple | list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _fill_every_kind(session: AnnotationSession) -> None:
    """Records of every kind the view shows on frames 1-3 of the 6 (frames 0, 4 and 5 hold none but the actions)."""
    from annotator_widgets.types import ActionSegment, Box, Caption, Detection, HandPose, MaskWarning

    man, cup, dog = session.add_object("man", "person"), session.add_object("cup"), session.add_object("dog")
    p = session.project
    session.add_points(1, cup.obj_id, [(5, 10)])
    session.add_points(3, dog.obj_id, [(25, 10)], [0])
    session.add_points(3, cup.obj_id, [(5, 12)])
    p.put_annotations(
        [
            Annotation(f, oid, _mask(x, x + 10), score)
            for f, oid, x, score in [(1, cup.obj_id, 0, 0.9), (1, dog.obj_id, 20, 0.2), (2, cup.obj_id, 0, None)]
        ]
        + [Annotation(3, dog.obj_id, RLE.from_mask(np.zeros((40, 60), bool)), 0.7)]
    )
    for f in (1, 2):
        p.put_poses(f, [PersonPose(f, man.obj_id, np.full((33, 3), f, np.float32), np.ones((33, 3), np.float32))])
        p.put_hands(f, [HandPose(f, man.obj_id, "left", np.full((21, 3), f, np.float32))])
    p.put_hands(2, [HandPose(2, None, "right", np.ones((21, 3), np.float32))])
    _, _, turned = p.put_detections(
        2,
        [
            Detection(2, Box(1, 1, 9, 9), 0.4, "cup", "owl"),
            Detection(2, Box(20, 5, 30, 15), 0.6, "cup", "owl", obj_id=cup.obj_id),
            Detection(2, Box(40, 5, 50, 15), 0.8, "cup", "owl"),
        ],
    )
    p.reject_detection(turned)
    p.put_detections(3, [Detection(3, Box(1, 1, 9, 9), 0.9, "dog")])
    p.put_caption(Caption(1, cup.obj_id, "a red cup"))
    p.put_caption(Caption(1, 0, "a kitchen"))
    p.put_caption(Caption(2, dog.obj_id, "a dog"))
    p.put_warning(MaskWarning(3, dog.obj_id, "empty_mask", "gone"))
    p.put_warning(MaskWarning(1, dog.obj_id, "tiny_mask", "small"))
    p.add_action(ActionSegment(1, 3, "holds", man.obj_id, cup.obj_id, "holds the cup"))
    p.add_action(ActionSegment(0, 6, "stands", man.obj_id))
    p.add_action(ActionSegment(3, 4, "drops", man.obj_id, cup.obj_id))


def test_frame_views_read_several_frames_equal_to_frame_view_frame_by_frame(session: AnnotationSession) -> None:
    _fill_every_kind(session)
    p = session.project
    views = frame_views(p, [5, 3, 0, 1, 2, 3, 4], low_score=0.3)
    assert list(views) == [0, 1, 2, 3, 4, 5]  # each frame once, in order
    for f, view in views.items():
        one = frame_view(p, f, low_score=0.3)
        for name in (fld.name for fld in dataclasses.fields(FrameView)):
            assert _same(getattr(view, name), getattr(one, name)), (f, name)
        assert (view.low, view.lost) == (one.low, one.lost)
    # the fixture is what it says: every kind on some frame, frames with none
    assert all(getattr(views[1], k) for k in ("annotations", "prompts", "poses", "captions", "warnings", "hands"))
    assert list(views[2].detections) and views[3].lost and not views[4].annotations and not views[0].prompts
    assert _same(views[2].detections, p.detections(2)) and len(views[2].detections) == 2  # the rejected left out


def _queries(project: Project) -> list[str]:
    """The statements the project's connection runs from now on (SQLite's trace callback)."""
    seen: list[str] = []
    project._store._conn.set_trace_callback(seen.append)  # type: ignore[union-attr]
    return seen


def test_frame_views_read_each_kind_of_record_once_for_all_frames(session: AnnotationSession) -> None:
    _fill_every_kind(session)
    p = session.project
    seen = _queries(p)
    frame_view(p, 1)
    per_frame = len(seen)
    seen.clear()
    frame_views(p, range(6))
    assert len(seen) == per_frame  # not 6 x per_frame
    seen.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("annotator_widgets.project_base.FRAMES_PER_QUERY", 4)
        frame_views(p, range(6))
    # the two chunks of frames: the objects and actions once, each per-frame kind twice
    assert len(seen) == 2 * per_frame - 2


def test_session_views_are_kept_until_any_write_to_the_project(session: AnnotationSession, tmp_path: Path) -> None:
    from annotator_widgets.types import Caption

    _fill_every_kind(session)
    p = session.project
    seen = _queries(p)
    first = session.views(range(6))
    read = len(seen)
    assert session.view(2) is first[2] and session.views([1, 3])[3] is first[3]
    assert len(seen) == read  # asked again: no query
    assert session.view(1).low == {3} and session.view(1, low_score=0.95).low == {2, 3}  # another threshold
    assert len(seen) == read  # the same records
    # a write between two views is seen: through the project, an undo, a redo, a rolled-back transaction
    p.put_caption(Caption(2, 0, "a garden"))
    assert session.view(2).captions[0].text == "a garden"
    p.undo()
    assert 0 not in session.view(2).captions
    p.redo()
    assert session.view(2).captions[0].text == "a garden"
    with pytest.raises(KeyError), p.transaction("fails"):
        p.put_caption(Caption(2, 0, "a beach"))
        assert session.view(2).captions[0].text == "a beach"  # its own transaction's write, read inside it
        raise KeyError("rolled back")
    assert session.view(2).captions[0].text == "a garden"
    session.remove_object(2)
    assert 2 not in session.view(2).captions and session.view(2).object(2) is None


def test_views_of_a_read_only_project_see_the_writers_commits(session: AnnotationSession) -> None:
    from annotator_widgets.types import Caption

    _fill_every_kind(session)
    with Project.open(session.project.path, readonly=True) as reader:
        views = FrameViews(reader, max_frames=2)
        assert views.get(1).captions[0].text == "a kitchen" and views.get(1) is views.get(1)
        session.project.put_caption(Caption(1, 0, "a garden"))  # another connection commits
        assert views.get(1).captions[0].text == "a garden"
        views.many([0, 1, 2, 3])  # more than it keeps: the latest ones stay
        seen = _queries(reader)
        views.get(3)
        assert seen == ["PRAGMA data_version"]
    with pytest.raises(PromptError, match="max_frames"):
        FrameViews(session.project, max_frames=0)


def test_a_view_read_inside_a_transaction_beside_another_reader_does_not_deadlock(session: AnnotationSession) -> None:
    """A thread inside a project transaction holds the store's lock; a reader in another thread (the read-ahead)
    waiting for it must not hold the views' lock meanwhile, or the first thread's view would wait for it forever."""
    import threading
    import time

    from annotator_widgets.types import Caption

    _fill_every_kind(session)
    p = session.project
    inside, other_started, done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def writer() -> None:
        with p.transaction("edit"):
            p.put_caption(Caption(4, 0, "a yard"))
            inside.set()
            assert other_started.wait(10)
            time.sleep(0.2)  # let the other reader reach the store's lock (held here) first
            seen["inside"] = session.view(4).captions[0].text
        done.set()

    def reader() -> None:
        assert inside.wait(10)
        other_started.set()
        seen["other"] = sorted(session.views(range(6)))

    threads = [threading.Thread(target=f, daemon=True) for f in (writer, reader)]
    for t in threads:
        t.start()
    assert done.wait(20), "deadlock: the view inside the transaction waited for the other reader"
    for t in threads:
        t.join(10)
    assert seen == {"inside": "a yard", "other": [0, 1, 2, 3, 4, 5]}
    assert session.view(4).captions[0].text == "a yard"


def _assert_views_fresh(views: Mapping[int, FrameView], p: Project, step: str) -> None:
    for f, view in views.items():
        one = frame_view(p, f)
        for name in (fld.name for fld in dataclasses.fields(FrameView)):
            assert _same(getattr(view, name), getattr(one, name)), (step, f, name)


def test_kept_views_equal_a_fresh_read_after_every_kind_of_change(session: AnnotationSession) -> None:
    """The views are brought up to date from the rows written (the change journal): after each change a user (or
    notebook code) makes, every view asked for equals a fresh read."""
    from annotator_widgets.types import ActionSegment, Box, Caption, Detection, HandPose, MaskWarning

    _fill_every_kind(session)
    p = session.project
    steps = {
        "click": lambda: session.add_points(2, 2, [(30, 20)]),
        "mask": lambda: p.put_annotations([Annotation(4, 1, _mask(5, 9), 0.4)]),
        "undo": p.undo,
        "redo": p.redo,
        "pose": lambda: p.put_poses(3, [PersonPose(3, 1, np.full((33, 3), 3, np.float32))]),
        "hand": lambda: p.put_hands(5, [HandPose(5, None, "left", np.ones((21, 3), np.float32))]),
        "caption": lambda: p.put_caption(Caption(2, 0, "a garden")),
        "warning": lambda: p.put_warning(MaskWarning(2, 2, "tiny_mask", "small")),
        "detection": lambda: p.put_detections(4, [Detection(4, Box(1, 1, 9, 9), 0.7, "cup")]),
        "action": lambda: p.add_action(ActionSegment(4, 6, "waves", 1)),
        "rename": lambda: p.update_object(2, name="mug"),
        "delete masks of a frame": lambda: p.delete_masks(frame=1),
        "delete prompt": lambda: p.delete_prompt(3),
        "remove object": lambda: session.remove_object(3),
        "undo remove": p.undo,
        "meta (no view shows it)": lambda: p.set_meta("note", '"x"'),
    }
    for name, step in steps.items():
        session.views(range(6))
        step()
        _assert_views_fresh(session.views(range(6)), p, name)


def test_a_write_on_one_frame_drops_that_frames_view_only(session: AnnotationSession) -> None:
    """A click during playback re-reads the frame it wrote, not the frames the read-ahead already holds."""
    from annotator_widgets.types import Caption

    _fill_every_kind(session)
    p = session.project
    views = FrameViews(p)
    before = views.many(range(6))
    p.put_annotations([Annotation(4, 1, _mask(5, 9), 0.4)])
    p.put_caption(Caption(2, 0, "a garden"))
    seen = _queries(p)
    after = views.many(range(6))
    assert [f for f in range(6) if after[f] is not before[f]] == [2, 4]
    assert views.dropped == 2
    assert after[4].annotations[1].score == pytest.approx(0.4) and after[2].captions[0].text == "a garden"
    # the two frames read again together: one query per kind of record, as for one frame
    seen.clear()
    frame_views(p, [2, 4])
    together = len(seen)
    p.put_caption(Caption(0, 0, "a yard"))
    p.put_caption(Caption(5, 0, "a road"))
    seen.clear()
    views.many(range(6))
    assert len(seen) == together
    # an object's change shows on every frame: all read again
    p.update_object(1, name="woman")
    again = views.many(range(6))
    assert all(again[f] is not after[f] for f in range(6)) and again[3].object(1).name == "woman"
