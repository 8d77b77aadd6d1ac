"""The kept timeline rows (annotator_widgets.timelines) equal a fresh read; an edit re-reads only its rows."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import RLE, Annotation, Project
from annotator_widgets.errors import PromptError
from annotator_widgets.store.journal import ChangeJournal
from annotator_widgets.timelines import Timelines
from annotator_widgets.types import PersonPose, Point, Prompt
from annotator_widgets.view import timeline

W, H = 64, 48


def make_project(path, frames: int, objects: int = 5) -> Project:
    """``objects`` objects with a mask on every frame (scores vary, some empty), built in one transaction."""
    project = Project.create(path, {"frames": frames, "width": W, "height": H})
    full = np.zeros((H, W), bool)
    full[10:30, 10:40] = True
    rle, empty = RLE.from_mask(full), RLE.from_mask(np.zeros((H, W), bool))
    ids = [project.add_object(name=f"o{k}").obj_id for k in range(objects)]
    anns = [
        Annotation(f, oid, empty if f % 97 == 5 else rle, 0.3 if f % 13 == 0 else 0.9)
        for oid in ids
        for f in range(frames)
    ]
    project.put_annotations(anns)
    return project


def mask(x0: int = 5) -> np.ndarray:
    out = np.zeros((H, W), bool)
    out[5:20, x0 : x0 + 10] = True
    return out


def assert_fresh(rows, project: Project) -> None:
    fresh = timeline(project)
    assert [r.info for r in rows] == [r.info for r in fresh]
    for got, want in zip(rows, fresh, strict=True):
        np.testing.assert_array_equal(got.score, want.score)  # (NaN equals NaN here)
        np.testing.assert_array_equal(got.prompted, want.prompted)
        assert (got.posed is None) == (want.posed is None), got.obj_id
        if want.posed is not None:
            np.testing.assert_array_equal(got.posed, want.posed)


def pose(frame: int, person: int) -> PersonPose:
    return PersonPose(frame, person, np.full((33, 3), 0.5, np.float32))


# each step changes the project the way a user (or notebook code) does; after each the kept rows are checked
STEPS = {
    "click": lambda p: p.put_prompt(Prompt(7, 2, (Point(3, 4),))) and p.put_mask(7, 2, mask(), score=0.8),
    "box on a new frame": lambda p: p.put_mask(250, 1, mask(20), score=0.2),
    "empty mask": lambda p: p.put_mask(8, 3, np.zeros((H, W), bool), score=0.9),
    "undo": lambda p: p.undo(),
    "redo": lambda p: p.redo(),
    "undo twice": lambda p: (p.undo(), p.undo()),
    "delete masks of one frame": lambda p: p.delete_masks(frame=9),
    "delete an object's masks": lambda p: p.delete_masks(obj_id=4),
    "undo the big delete": lambda p: p.undo(),
    "rename": lambda p: p.update_object(1, name="cup"),
    "hide": lambda p: p.update_object(3, hidden=True),
    "add object": lambda p: p.add_object(name="new"),
    "remove object": lambda p: p.remove_object(2),
    "undo remove": lambda p: p.undo(),
    "pose": lambda p: p.put_poses(4, [pose(4, 1)]),
    "pose gone": lambda p: p.put_poses(4, []),
    "delete prompt": lambda p: p.delete_prompt(7),
    "caption (not on the timeline)": lambda p: p.set_meta("note", '"x"'),
}


@pytest.mark.parametrize("reads_between", [True, False], ids=["read after each", "read at the end"])
def test_rows_equal_a_fresh_read_after_every_kind_of_change(tmp_path, reads_between):
    project = make_project(tmp_path / "p.awp", 300)
    timelines = Timelines(project, max_frames_per_object=64)
    assert_fresh(timelines.rows(), project)
    for name, step in STEPS.items():
        step(project)
        if reads_between:
            rows = timelines.rows()
            assert_fresh(rows, project)
            assert timelines.last_read in ("changes", "kept"), name  # every change here was known
    assert_fresh(timelines.rows(), project)
    project.close()


def test_a_rolled_back_transaction_is_read_again(tmp_path):
    project = make_project(tmp_path / "p.awp", 50, objects=2)
    timelines = Timelines(project)
    before = timelines.rows()
    with pytest.raises(ZeroDivisionError), project.transaction("fails"):
        project.put_mask(3, 1, mask(), score=0.1)
        assert timelines.rows()[0].score[3] == pytest.approx(0.1)  # read inside: the write is seen
        raise ZeroDivisionError
    rows = timelines.rows()
    assert_fresh(rows, project)
    assert rows[0].score[3] == before[0].score[3]
    project.close()


def test_rows_nothing_touched_are_returned_as_they_were(tmp_path):
    project = make_project(tmp_path / "p.awp", 100, objects=3)
    timelines = Timelines(project)
    first = timelines.rows()
    project.put_mask(5, 2, mask(), score=0.4)
    second = timelines.rows()
    assert second[0] is first[0] and second[2] is first[2] and second[1] is not first[1]
    assert timelines.rows()[1] is second[1] and timelines.last_read == "kept"
    with pytest.raises(ValueError):
        second[1].score[0] = 0.0  # shared: read-only
    project.close()


def test_an_unknown_change_reads_everything(tmp_path):
    project = make_project(tmp_path / "p.awp", 40, objects=2)
    timelines = Timelines(project)
    timelines.rows()
    mark = project.change_mark
    for _ in range(20_000):  # more rows than the journal remembers (16384)
        project._store._journal.record("masks", (0, 1))
    assert project.changes_since(mark) is None
    project.put_mask(1, 1, mask(), score=0.2)
    assert_fresh(timelines.rows(), project)
    assert timelines.last_read == "all"
    project.close()


def test_a_read_only_project_sees_another_writers_commits(tmp_path):
    path = tmp_path / "p.awp"
    writer = make_project(path, 30, objects=2)
    reader = Project.open(path, readonly=True)
    timelines = Timelines(reader)
    timelines.rows()
    writer.put_mask(4, 2, mask(), score=0.1)
    rows = timelines.rows()
    assert timelines.last_read == "all" and rows[1].score[4] == pytest.approx(0.1)
    assert_fresh(rows, reader)
    reader.close()
    writer.close()


def test_max_frames_per_object_is_checked(tmp_path):
    project = make_project(tmp_path / "p.awp", 5, objects=1)
    with pytest.raises(PromptError, match="max_frames_per_object"):
        Timelines(project, max_frames_per_object=0)
    project.close()


class RowCounter:
    """Counts the mask rows the store hands out (every read of the project goes through query or pages)."""

    def __init__(self, project: Project) -> None:
        self.rows = 0
        store = project._store
        query, pages = store.query, store.pages

        def counted_query(sql, args=()):
            out = query(sql, args)
            self.rows += len(out) if " masks" in sql else 0
            return out

        def counted_pages(sql, *a, **kw):
            for page in pages(sql, *a, **kw):
                self.rows += len(page) if " masks" in sql else 0
                yield page

        store.query, store.pages = counted_query, counted_pages


def test_an_edit_reads_as_many_mask_rows_on_a_long_video_as_on_a_short_one(tmp_path):
    counts = {}
    for frames in (300, 10_000):
        project = make_project(tmp_path / f"p{frames}.awp", frames)
        timelines = Timelines(project)
        counter = RowCounter(project)
        timelines.rows()
        assert counter.rows == 5 * frames  # the first read reads every mask row
        counter.rows = 0
        project.put_prompt(Prompt(150, 3, (Point(3, 4),)))
        project.put_annotations([Annotation(150, oid, RLE.from_mask(mask()), 0.7) for oid in (1, 2, 3, 4, 5)])
        timelines.rows()
        project.undo()
        timelines.rows()
        counts[frames] = counter.rows
        assert_fresh(timelines.rows(), project)
        project.close()
    assert counts[300] == counts[10_000] <= 10, counts


def test_the_journal_names_undone_and_redone_rows(tmp_path):
    project = make_project(tmp_path / "p.awp", 10, objects=1)
    mark = project.change_mark
    project.put_mask(2, 1, mask(), score=0.5)
    project.undo()
    named = {(t, k) for t, k in project.changes_since(mark) or [] if t == "masks"}
    assert named == {("masks", (2, 1))}
    assert project.changes_since(project.change_mark) == []
    project.close()


def test_journal_since_a_mark_in_the_future_is_unknown():
    journal = ChangeJournal(max_entries=4)
    assert journal.since(1) is None and journal.since(0) == []


def test_a_rollback_of_rows_no_longer_remembered_makes_earlier_marks_unknown():
    journal = ChangeJournal(max_entries=2)
    before = journal.mark
    for f in range(3):
        journal.record("masks", (f, 1))
    journal.rolled_back(before)  # three rows taken back, two remembered: which ones is not known
    assert journal.since(before) is None and journal.since(before + 2) is None
    assert journal.since(journal.mark) == []
    journal.record("masks", (9, 1))
    assert journal.since(journal.mark - 1) == [("masks", (9, 1))]
