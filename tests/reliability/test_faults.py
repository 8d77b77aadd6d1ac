"""Faults lose nothing: kill -9 during export, render and propagation; a full disk; stale and held locks.

Subprocesses signal where they are through files or stdout, and the test waits on those conditions
(never on a time) before it kills them.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, AnnotatorError, Project, ProjectError
from annotator_widgets.export import save_coco

from .cases import frames, snapshot, start_mask

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 120  # an upper bound for a subprocess to reach its checkpoint on a loaded machine


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def _spawn(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen[str], prefix: str) -> str:
    """Read the child's stdout until a line starts with ``prefix`` (the child flushes every line)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return line.strip()
    proc.wait(WAIT_S)
    raise AssertionError(f"the child ended before {prefix!r}: {proc.stderr.read() if proc.stderr else ''}")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(WAIT_S) == -signal.SIGKILL


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A saved project with masks on every frame of a 12-frame clip (closed: children open it)."""
    path = tmp_path / "project ✓.awp"
    with AnnotationSession(frames(), project=path, segmenter="classic") as s:
        s.add_mask(0, None, start_mask())
        s.run()
    yield path


# A child that blocks right before the atomic rename that would publish ``out``, and says so.
_BLOCK_BEFORE_PUBLISH = """
import os, sys, threading
real_replace = os.replace
def blocked(src, dst, *a, **k):
    if os.path.basename(str(dst)) == os.path.basename(OUT):
        print("publishing", src, flush=True)
        threading.Event().wait()
    return real_replace(src, dst, *a, **k)
os.replace = blocked
"""


def test_kill_during_export_keeps_the_previous_export(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "export ü" / "annotations.json"
    out.parent.mkdir()
    with Project.open(project, readonly=True) as p:
        save_coco(p, out)
    before = out.read_bytes()
    proc = _spawn(
        f"OUT = {str(out)!r}\n"
        + _BLOCK_BEFORE_PUBLISH
        + f"""
from annotator_widgets import Project
from annotator_widgets.export import save_coco
p = Project.open({str(project)!r}, readonly=True)
save_coco(p, OUT)
"""
    )
    line = _wait_for_line(proc, "publishing")
    partial = Path(line.split(" ", 1)[1])
    assert partial.exists() and partial.name != out.name  # the new export was written under another name...
    _kill(proc)
    assert out.read_bytes() == before  # ...and the killed one never replaced the previous export
    json.loads(out.read_text())
    assert [p.name for p in out.parent.iterdir() if p.name == out.name] == [out.name]


def test_kill_during_render_keeps_the_previous_video(project: Path, tmp_path: Path) -> None:
    from annotator_widgets.render.video import render_video
    from annotator_widgets.video import open_video

    out = tmp_path / "render dir" / "overlay.mp4"
    with Project.open(project, readonly=True) as p:
        render_video(p, open_video(frames()), out)
    before = out.read_bytes()
    assert len(before) > 0
    proc = _spawn(
        f"OUT = {str(out)!r}\n"
        + _BLOCK_BEFORE_PUBLISH
        + f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.reliability.cases import frames
from annotator_widgets import Project
from annotator_widgets.render.video import render_video
from annotator_widgets.video import open_video
p = Project.open({str(project)!r}, readonly=True)
render_video(p, open_video(frames()), OUT, effect="blur")
"""
    )
    _wait_for_line(proc, "publishing")
    _kill(proc)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir() if p.name == out.name] == [out.name]


def test_kill_during_propagation_keeps_every_committed_frame_and_the_lock_goes(tmp_path: Path) -> None:
    path = tmp_path / "long.awp"
    proc = _spawn(
        f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.reliability.cases import frames, start_mask
from annotator_widgets import AnnotationSession
s = AnnotationSession(frames(400), project={str(path)!r}, segmenter="classic", writer_queue=2)
s.add_mask(0, None, start_mask())
for step in s.propagate():
    print("saved", s.progress.saved, s.progress.last_saved, flush=True)
"""
    )
    saved, last = 0, None
    while saved < 20:
        _, n, last_s = _wait_for_line(proc, "saved").split()
        saved, last = int(n), (None if last_s == "None" else int(last_s))
    _kill(proc)
    assert last is not None
    # the killed process still "holds" the lock file: it must not lock the user out
    assert (Path(str(path) + ".lock")).exists()
    with Project.open(path) as p:
        assert tuple(p._store._conn.execute("PRAGMA integrity_check").fetchone()) == ("ok",)
        stored = set(p.mask_frames())
        assert set(range(last + 1)) <= stored  # every frame reported saved is there
        assert len(stored) < 400  # it really was killed part-way
        assert p.prompts() and p.history()[-1].label.startswith("propagate")


def test_a_stale_lock_from_a_killed_process_does_not_lock_the_user_out(project: Path) -> None:
    proc = _spawn(
        f"""
from annotator_widgets import Project
p = Project.open({str(project)!r})
print("holding", flush=True)
import sys; sys.stdin.read()
"""
    )
    _wait_for_line(proc, "holding")
    lock = Path(str(project) + ".lock")
    assert lock.read_text().strip() == str(proc.pid)
    _kill(proc)
    with Project.open(project) as p:  # the OS dropped the dead holder's lock
        assert p.mask_frames() == list(range(12))
    assert lock.read_text().strip() == str(os.getpid())


def test_a_second_opener_gets_a_clear_error(project: Path) -> None:
    proc = _spawn(
        f"""
from annotator_widgets import Project
p = Project.open({str(project)!r})
print("holding", flush=True)
import sys; sys.stdin.read()
p.close()
print("closed", flush=True)
"""
    )
    try:
        _wait_for_line(proc, "holding")
        with pytest.raises(ProjectError) as info:
            Project.open(project)
        assert str(proc.pid) in str(info.value) and info.value.hint and "readonly=True" in info.value.hint
        with pytest.raises(ProjectError):
            AnnotationSession(frames(), project=project, segmenter="classic")
        with Project.open(project, readonly=True) as p:  # reading is still allowed
            assert p.mask_frames() == list(range(12))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        _wait_for_line(proc, "closed")
        proc.wait(WAIT_S)
    with Project.open(project) as p:
        assert p.mask_frames() == list(range(12))


class _FullDisk:
    """A test double for the project's SQLite connection: once ``armed``, writes fail as on a full disk
    (SQLite reports ENOSPC as ``OperationalError: database or disk is full``)."""

    WRITES = ("INSERT", "UPDATE", "REPLACE", "DELETE")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.armed = False

    def _check(self, sql: str) -> None:
        if self.armed and sql.lstrip().upper().startswith(self.WRITES):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _full_disk(project: Project) -> _FullDisk:
    """Put the test double under the project's store (its rows and its undo log)."""
    store = project._store
    disk = _FullDisk(store._conn)
    store._conn = store._undo._conn = disk  # type: ignore[assignment]
    return disk


def test_a_full_disk_during_a_prompt_is_explained_and_changes_nothing(project: Path) -> None:
    with AnnotationSession(frames(), project=project, segmenter="classic") as s:
        disk = _full_disk(s.project)
        before = snapshot(s.project)
        disk.armed = True
        with pytest.raises(ProjectError) as info:
            s.add_points(3, 1, [(30, 24)])
        assert info.value.hint and "disk is full" in info.value.hint
        assert snapshot(s.project) == before
        disk.armed = False
        assert s.add_points(3, 1, [(30, 24)])[1].any()  # space freed: the session goes on
        assert len(s.project.history()) == len(before[0]) + 1


def test_a_full_disk_during_propagation_keeps_what_was_saved(project: Path) -> None:
    with AnnotationSession(frames(), project=project, segmenter="classic", writer_queue=1) as s:
        s.clear_frame(5)
        s.add_points(5, 1, [(30, 24)])
        s.project.delete_masks(obj_id=1)  # nothing stored after frame 5: every propagated frame is a write
        for f in range(6):
            s.project.put_mask(f, 1, np.ones((48, 64), bool))
        disk = _full_disk(s.project)
        run = s.propagate("forward", start=5)
        next(run)
        while s.progress.saved < 2:  # wait until the writer committed two frames
            next(run)
        disk.armed = True
        with pytest.raises(ProjectError) as info:
            for _ in run:
                pass
        assert "disk" in str(info.value)
        saved = s.progress.saved
        disk.armed = False
    with Project.open(project) as p:
        assert tuple(p._store._conn.execute("PRAGMA integrity_check").fetchone()) == ("ok",)
        kept = p.mask_frames()
        assert kept == list(range(len(kept))) and len(kept) >= 7  # every frame saved before the disk filled
        assert p.prompt(5, 1) is not None
        assert saved >= 2


def test_a_full_disk_during_export_and_render_keeps_the_previous_outputs(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator_widgets.render import video as render_video_module
    from annotator_widgets.video import open_video

    out, film = tmp_path / "coco.json", tmp_path / "film.mp4"
    with Project.open(project, readonly=True) as p:
        save_coco(p, out)
        render_video_module.render_video(p, open_video(frames()), film)
        old_json, old_film = out.read_bytes(), film.read_bytes()

        def full(*args: Any, **kwargs: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(render_video_module._Writer, "write", full)
        with pytest.raises(AnnotatorError) as info:
            render_video_module.render_video(p, open_video(frames()), film)
        assert info.value.hint and "disk is full" in info.value.hint
        monkeypatch.setattr("annotator_widgets.export._io.os.replace", full)
        with pytest.raises(AnnotatorError) as info:
            save_coco(p, out)
        assert info.value.hint and "disk is full" in info.value.hint
    assert out.read_bytes() == old_json and film.read_bytes() == old_film
    assert sorted(x.name for x in tmp_path.iterdir() if "partial" in x.name) == []
    assert np.array_equal(np.frombuffer(old_json[:1], np.uint8), np.frombuffer(b"{", np.uint8))
