import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from annotator_widgets import ActionSegment, Box, PersonPose, Point, Project, ProjectError, Prompt, Source
from annotator_widgets.rle import RLE

VIDEO = {"frames": 50, "width": 64, "height": 48, "fps": 25.0, "path": "/videos/clip.mp4"}


def _mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((48, 64), bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p.awp", VIDEO) as p:
        yield p


def test_create_reopen_keeps_everything(tmp_path):
    path = tmp_path / "p.awp"
    with Project.create(path, VIDEO) as p:
        a = p.add_object(name="mug", category="cup")
        p.put_prompt(Prompt(3, a.obj_id, points=(Point(5, 6), Point(7, 8, 0)), box=Box(1, 2, 30, 40)))
        p.put_mask(3, a.obj_id, _mask(1, 2, 30, 40), score=0.75, source=Source.PROMPTED)
        p.put_poses(3, [PersonPose(3, a.obj_id, np.ones((33, 3)), np.zeros((33, 3)), 0.9)])
        aid = p.add_action(ActionSegment(2, 9, "grab", person_id=a.obj_id, description="grabs the mug"))
    with Project.open(path) as p:
        assert p.video_info == VIDEO
        assert p.objects()[0].name == "mug" and p.objects()[0].category == "cup"
        prompt = p.prompt(3, 1)
        assert [pt.label for pt in prompt.points] == [1, 0] and prompt.box == Box(1, 2, 30, 40)
        ann = p.annotation(3, 1)
        assert ann.score == 0.75 and ann.source is Source.PROMPTED and ann.box == Box(1, 2, 30, 40)
        assert (ann.mask == _mask(1, 2, 30, 40)).all()
        assert p.poses(3)[0].landmarks.shape == (33, 3)
        assert p.actions()[aid].description == "grabs the mug"


def test_pose_frames_per_person_and_for_anybody(project):
    a, b = project.add_object(category="person"), project.add_object(category="person")
    assert project.pose_frames() == [] and project.pose_frames(a.obj_id) == []
    for f in (7, 2, 4):
        project.put_poses(f, [PersonPose(f, a.obj_id, np.ones((33, 3)))])
    project.put_poses(4, [PersonPose(4, a.obj_id, np.ones((33, 3))), PersonPose(4, b.obj_id, np.ones((33, 3)))])
    project.put_poses(9, [PersonPose(9, b.obj_id, np.ones((33, 3)))])
    assert project.pose_frames(a.obj_id) == [2, 4, 7]
    assert project.pose_frames(b.obj_id) == [4, 9]
    assert project.pose_frames() == [2, 4, 7, 9]
    project.remove_object(a.obj_id)
    assert project.pose_frames() == [4, 9] and project.pose_frames(a.obj_id) == []


def test_lookups_never_create_records(project):
    assert project.get_object(7) is None
    assert project.annotation(0, 7) is None
    assert project.prompt(0, 7) is None
    assert project.annotations(0) == {}
    assert project.stats()["objects"] == 0
    with pytest.raises(ProjectError, match="no such object"):
        project.object(7)


def test_object_ids_are_never_reused(project):
    a = project.add_object()
    b = project.add_object()
    project.remove_object(b.obj_id)
    project.undo()
    project.undo()
    c = project.add_object()
    assert (a.obj_id, b.obj_id, c.obj_id) == (1, 2, 3)
    with pytest.raises(ProjectError, match="in use"):
        project.add_object(obj_id=1)


def test_undo_redo_across_objects_and_frames(project):
    a = project.add_object(name="a")
    b = project.add_object(name="b")
    project.put_mask(0, a.obj_id, _mask(0, 0, 10, 10))
    project.put_mask(5, b.obj_id, _mask(5, 5, 20, 20))
    project.put_mask(0, a.obj_id, _mask(0, 0, 20, 20))
    assert project.annotation(0, 1).area == 400
    assert project.undo() == "mask object 1 on frame 0"
    assert project.annotation(0, 1).area == 100
    project.undo()
    assert project.annotation(5, 2) is None
    assert project.redo() == "mask object 2 on frame 5"
    assert project.annotation(5, 2).area == 225
    project.redo()
    assert project.annotation(0, 1).area == 400
    assert project.redo() is None
    # a new step after undo clears the redo stack
    project.undo()
    project.update_object(a.obj_id, name="renamed")
    assert not project.can_redo
    assert project.annotation(0, 1).area == 100


def test_remove_object_is_one_undo_step(project):
    a = project.add_object()
    for f in range(5):
        project.put_mask(f, a.obj_id, _mask(f, f, f + 10, f + 10))
    project.put_prompt(Prompt(0, a.obj_id, points=(Point(3, 3),)))
    project.remove_object(a.obj_id)
    assert project.objects() == [] and project.mask_frames() == [] and project.prompts() == []
    assert project.undo() == "remove object 1"
    assert project.mask_frames(a.obj_id) == [0, 1, 2, 3, 4]
    assert len(project.prompts()) == 1


def test_group_spans_transactions_and_undoes_together(project):
    a = project.add_object()
    project.put_mask(2, a.obj_id, _mask(0, 0, 5, 5))
    with project.group("propagate"):
        for f in range(10):
            with project.transaction("frame"):
                project.put_mask(f, a.obj_id, _mask(0, 0, 8, 8), source="propagated")
    assert [h.label for h in project.history()][-1] == "propagate"
    project.undo()
    assert project.mask_frames() == [2]
    assert project.annotation(2, 1).area == 25
    project.redo()
    assert project.mask_frames() == list(range(10))


def test_failed_transaction_rolls_back(project):
    a = project.add_object()
    with pytest.raises(RuntimeError), project.transaction("two masks"):
        project.put_mask(0, a.obj_id, _mask(0, 0, 5, 5))
        raise RuntimeError("boom")
    assert project.annotation(0, a.obj_id) is None
    assert project.history()[-1].label.startswith("add object")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda p: p.put_mask(0, 1, np.zeros((10, 10), bool)), "10x10"),
        (lambda p: p.put_mask(99, 1, _mask(0, 0, 2, 2)), "out of range"),
        (lambda p: p.put_mask(0, 42, _mask(0, 0, 2, 2)), "no such object"),
        (lambda p: p.update_object(1, colour=(1, 2, 3)), "unknown object field"),
        (lambda p: p.remove_action(5), "no such action"),
    ],
)
def test_bad_edits_raise_project_error(project, call, fragment):
    project.add_object()
    with pytest.raises(ProjectError, match=fragment):
        call(project)


def test_second_writer_is_refused_and_readers_allowed(tmp_path):
    path = tmp_path / "p.awp"
    p = Project.create(path, VIDEO)
    p.add_object(name="x")
    with pytest.raises(ProjectError, match="already open for writing"):
        Project.open(path)
    code = f"from annotator_widgets import Project; Project.open({str(path)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "already open for writing" in out.stderr
    with Project.open(path, readonly=True) as reader:
        assert reader.objects()[0].name == "x"
        with pytest.raises(ProjectError, match="read-only"):
            reader.add_object()
    p.close()
    Project.open(path).close()


def test_not_a_project_and_newer_schema(tmp_path):
    junk = tmp_path / "junk.awp"
    junk.write_text("hello")
    with pytest.raises(ProjectError, match="not an annotator_widgets project"):
        Project.open(junk)
    with pytest.raises(ProjectError, match="not found"):
        Project.open(tmp_path / "missing.awp")
    path = tmp_path / "new.awp"
    Project.create(path, VIDEO).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(ProjectError, match="newer"):
        Project.open(path)
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(path, VIDEO)


def test_track_summary_marks_missing_empty_and_scores(project):
    a = project.add_object()
    project.put_mask(1, a.obj_id, _mask(0, 0, 4, 4), score=0.3)
    project.put_mask(2, a.obj_id, np.zeros((48, 64), bool), score=0.9)
    s = project.track_summary(a.obj_id)
    assert np.isnan(s[0]) and s[1] == pytest.approx(0.3) and s[2] == -1


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from annotator_widgets import Project
    p = Project.create(sys.argv[1], {"frames": 100000, "width": 640, "height": 360})
    ids = [p.add_object().obj_id for _ in range(3)]
    print("ready", flush=True)
    with p.group("propagate"):
        for f in range(100000):
            with p.transaction("frame"):
                for oid in ids:
                    m = np.zeros((360, 640), bool)
                    m[(f * oid) % 300 : (f * oid) % 300 + 50, oid * 100 : oid * 100 + 60] = True
                    p.put_mask(f, oid, m, score=f / 100000)
            print(f, flush=True)
    """
)


def test_kill_9_while_writing_keeps_every_committed_frame(tmp_path):
    path = tmp_path / "crash.awp"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    reported = -1
    deadline = time.time() + 60
    while reported < 150 and time.time() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert reported >= 150
    with Project.open(path) as p:  # the dead writer's lock is gone
        frames = p.mask_frames()
        assert frames[: reported + 1] == list(range(reported + 1))
        for f in (0, reported // 2, reported):
            for oid in (1, 2, 3):
                m = np.zeros((360, 640), bool)
                m[(f * oid) % 300 : (f * oid) % 300 + 50, oid * 100 : oid * 100 + 60] = True
                ann = p.annotation(f, oid)
                assert (ann.mask == m).all() and ann.score == pytest.approx(f / 100000)
        # the partial propagation is still one undo step
        assert p.undo() == "propagate"
        assert p.mask_frames() == []


def test_meta_and_history_entries(project):
    project.set_meta("ui", json.dumps({"opacity": 0.5}))
    assert json.loads(project.get_meta("ui")) == {"opacity": 0.5}
    project.add_object()
    entry = project.history()[-1]
    assert entry.done and entry.changes == 1
    assert RLE.from_mask(_mask(0, 0, 1, 1)).area == 1
