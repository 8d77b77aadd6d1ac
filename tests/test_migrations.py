"""Upgrading a real schema-1 project (tests/data/project_v1.awp, written by the code of commit edcdac4)."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotator_widgets import Project, ProjectError, project_migrations
from annotator_widgets.project_schema import SCHEMA

DATA = Path(__file__).parent / "data"
V1 = DATA / "project_v1.awp"


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_project_v1", DATA / "make_project_v1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _load_maker()
EXPECTED = json.loads((DATA / "project_v1.expected.json").read_text())


def _as_v2(state: dict) -> dict:
    """What a schema-1 state reads as after the upgrade: action stops become excluded (+1)."""
    out = copy.deepcopy(state)
    for values in out["actions"].values():
        values[1] += 1
    return out


@pytest.fixture
def v1(tmp_path) -> Path:
    path = tmp_path / "old.awp"
    shutil.copyfile(V1, path)
    return path


def _version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
    finally:
        con.close()


def _integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_the_committed_file_is_a_closed_schema_1_project():
    assert _version(V1) == 1
    assert not Path(str(V1) + "-wal").exists() and V1.stat().st_size < 32_000
    assert EXPECTED["start"]["next_obj_id"] == 5 > max(o[0] for o in EXPECTED["start"]["objects"])


def test_open_upgrades_and_keeps_everything(v1):
    original = v1.read_bytes()
    with Project.open(v1) as p:
        assert _version(v1) == 2
        state = MAKER.snapshot(p)
        assert state == _as_v2(EXPECTED["start"])
        assert p.video_info == EXPECTED["video"] and p.next_object_id == 5
        assert [pr.text for pr in p.prompts()] == ["", ""] and all(o.meta == {} for o in p.objects())
        assert p.actions()[1].frames == range(2, 7)  # schema 1's inclusive 2..6
        assert p.prompt(2, 2).mask.area == 160 and p.prompt(2, 1).box.xyxy == (2, 3, 14, 12)
        assert p.get_object(4) is None and p.add_object().obj_id == 5
    backup = Path(str(v1) + ".v1.bak")
    assert backup.read_bytes() == original


def test_every_old_undo_step_still_undoes_and_redoes_exactly(v1):
    with Project.open(v1) as p:
        walk = MAKER.walk_history(p)
    for name in ("start", "redone"):
        assert walk[name] == _as_v2(EXPECTED[name]), name
    for name in ("after_undo", "after_redo"):
        assert len(walk[name]) == len(EXPECTED[name]) == 19
        for i, (got, want) in enumerate(zip(walk[name], EXPECTED[name], strict=True)):
            assert got == _as_v2(want), f"{name}[{i}]"


def test_the_new_id_counters_clear_every_old_id(v1):
    with Project.open(v1) as p:
        while p.undo() is not None:
            pass
        assert p.actions() == {}
        # a new step would drop the redo stack, but the undone action's id still is never handed out again
        assert p.get_meta("next_action_id") == "3"  # action 2 exists only as a row image


def _shape(path: Path) -> dict:
    con = sqlite3.connect(path)
    try:
        out = {}
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            columns = [tuple(r[1:]) for r in con.execute(f"PRAGMA table_xinfo({name})")]
            indexes = sorted(
                (r[1], tuple(c[2] for c in con.execute(f"PRAGMA index_info({r[1]})")))
                for r in con.execute(f"PRAGMA index_list({name})")
            )
            out[name] = (columns, indexes)
        return out
    finally:
        con.close()


def test_an_upgraded_file_has_the_shape_of_a_new_one(v1, tmp_path):
    Project.open(v1).close()
    Project.create(tmp_path / "new.awp", EXPECTED["video"]).close()
    assert _shape(v1) == _shape(tmp_path / "new.awp")
    assert set(_shape(v1)) == {t.name for t in SCHEMA.tables} | {"meta", "history", "changes"}


def test_opening_an_upgraded_file_again_changes_nothing(v1):
    Project.open(v1).close()
    backup = Path(str(v1) + ".v1.bak")
    upgraded, stamp = v1.read_bytes(), backup.stat().st_mtime_ns
    with Project.open(v1) as p:
        history = p.history()
    with Project.open(v1) as p:
        assert p.history() == history
    assert v1.read_bytes() == upgraded and backup.stat().st_mtime_ns == stamp
    assert sorted(f.name for f in v1.parent.iterdir()) == ["old.awp", "old.awp.lock", "old.awp.v1.bak"]


def test_a_file_from_a_newer_version_is_refused_and_left_alone(v1):
    con = sqlite3.connect(v1)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    before = v1.read_bytes()
    for readonly in (False, True):
        with pytest.raises(ProjectError) as info:
            Project.open(v1, readonly=readonly)
        text = str(info.value)
        assert "newer annotator_widgets" in text and "schema 99" in text and "reads schema 2" in text
        assert "upgrade annotator_widgets" in text and "not changed" in text
    assert v1.read_bytes() == before and not Path(str(v1) + ".v99.bak").exists()


def test_a_reader_is_told_to_upgrade_an_old_file(v1):
    before = v1.read_bytes()
    with pytest.raises(ProjectError, match=r"schema 1 and needs an upgrade to schema 2.*Project.open\(path\)"):
        Project.open(v1, readonly=True)
    assert v1.read_bytes() == before and not Path(str(v1) + ".v1.bak").exists()


def test_a_migration_failing_midway_leaves_the_file_untouched(v1, monkeypatch):
    before = v1.read_bytes()
    real = project_migrations.create_table
    calls = []

    def failing(conn, table):
        calls.append(table.name)
        if len(calls) == 3:  # objects, prompts and actions are already rebuilt, two tables created
            raise OSError("disk full (injected)")
        real(conn, table)

    monkeypatch.setattr(project_migrations, "create_table", failing)
    with pytest.raises(ProjectError, match="failed; the file was not changed") as info:
        Project.open(v1)
    assert "disk full (injected)" in str(info.value) and "old.awp.v1.bak" in str(info.value)
    assert calls == ["detections", "captions", "warnings"]
    assert v1.read_bytes() == before and _version(v1) == 1 and _integrity(v1) == "ok"
    assert not Path(str(v1) + "-wal").exists() or Path(str(v1) + "-wal").stat().st_size == 0
    monkeypatch.undo()
    with Project.open(v1) as p:  # the lock was released and the next try succeeds
        assert MAKER.snapshot(p) == _as_v2(EXPECTED["start"])


def test_a_schema_1_one_frame_action_becomes_a_one_frame_range(v1):
    con = sqlite3.connect(v1)
    con.execute("UPDATE actions SET stop=start")  # the released ActionSegment(start, end) with end == start
    con.commit()
    con.close()
    with Project.open(v1) as p:
        assert [list(a.frames) for a in p.actions().values()] == [[2]]


_KILLED = textwrap.dedent(
    """
    import os, sys
    from annotator_widgets import Project, project_migrations
    from annotator_widgets.store import migrations, store

    path, where = sys.argv[1], sys.argv[2]
    connect = store._connect

    def small_cache(p, **kw):  # spill uncommitted pages into the WAL, as a big project would
        conn = connect(p, **kw)
        conn.execute("PRAGMA cache_size=2")
        return conn

    def stop_here(tag):
        wal = path + "-wal"
        print(tag, os.path.getsize(wal) if os.path.exists(wal) else 0, flush=True)
        sys.stdin.readline()  # wait to be killed

    rewrite = project_migrations.rewrite_images

    def rewrite_then_stop(conn, tbl, change, **kw):
        n = rewrite(conn, tbl, change, **kw)
        if tbl == "poses" and where == "midway":
            stop_here("midway")
        return n

    store._connect = small_cache
    project_migrations.rewrite_images = rewrite_then_stop
    if where == "committed":
        migrations._report_done = lambda *a: stop_here("committed")
    Project.open(path)
    """
)


@pytest.mark.parametrize("where", ["midway", "committed"])
def test_kill_9_during_migration_leaves_the_old_or_the_new_version(v1, where):
    before = v1.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(v1), where], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        tag, wal_bytes = proc.stdout.readline().split()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert tag == where and int(wal_bytes) > 0  # the killed transaction had reached the disk
    if where == "midway":
        assert v1.read_bytes() == before  # uncommitted pages only ever go to the WAL
    assert _integrity(v1) == "ok"
    assert _version(v1) == (1 if where == "midway" else 2)
    assert Path(str(v1) + ".v1.bak").read_bytes() == before
    with Project.open(v1) as p:  # the dead process's lock is gone; the upgrade runs now or is already done
        assert MAKER.snapshot(p) == _as_v2(EXPECTED["start"])
    assert _version(v1) == 2
