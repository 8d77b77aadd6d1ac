"""Atomic writes: no half-written output under a final name after an error or a kill; clear errors."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotator_widgets import AnnotatorError
from annotator_widgets.export._io import MARKER, atomic_folder, atomic_path, write_text
from annotator_widgets.export.coco import save_coco
from annotator_widgets.export.mot import save_mot

ROOT = Path(__file__).resolve().parents[2]


def test_a_failing_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "ds", "demo") as folder:
        (folder / "x.txt").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_export_keeps_the_previous_one(generated, tmp_path, monkeypatch):
    save_mot(generated.project, tmp_path / "seq")
    before = (tmp_path / "seq" / "gt" / "gt.txt").read_bytes()

    def broken(*args, **kwargs):
        yield "1,1,0,0,1,1,1,1,1"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("annotator_widgets.export.mot.iter_mot", broken)
    with pytest.raises(AnnotatorError, match="disk is full"):
        save_mot(generated.project, tmp_path / "seq")
    assert (tmp_path / "seq" / "gt" / "gt.txt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("seq")) == ["seq"]


def test_a_killed_export_leaves_only_partial_names(generated, tmp_path):
    generated.project.close()
    script = textwrap.dedent(
        f"""
        import os, signal
        from annotator_widgets import Project
        import annotator_widgets.export.mot as mot
        real = mot.iter_mot
        def dying(project, **kw):
            for i, row in enumerate(real(project, **kw)):
                if i == 5:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield row
        mot.iter_mot = dying
        p = Project.open({str(generated.project.path)!r}, readonly=True)
        mot.save_mot(p, {str(tmp_path / "seq")!r})
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    names = [p.name for p in tmp_path.iterdir() if p.name.startswith("seq")]
    assert len(names) == 1 and names[0].startswith("seq.partial-")
    assert not (tmp_path / "seq").exists()


def test_read_only_destination_is_explained(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(AnnotatorError, match="read-only") as err:
        write_text(tmp_path / "sub" / "a.json", "{}")
    assert str(tmp_path / "sub") in str(err.value) and "choose a folder you can write to" in str(err.value)


def test_a_file_where_a_folder_should_be(generated, tmp_path):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(AnnotatorError, match="a file stands where a folder is needed"):
        save_mot(generated.project, tmp_path / "taken")
    with pytest.raises(AnnotatorError, match="a file stands where a folder is needed"):
        save_coco(generated.project, tmp_path / "taken" / "coco.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(AnnotatorError, match="a folder stands where the file should go"):
        save_coco(generated.project, tmp_path / "dir.json")
    assert (tmp_path / "taken").read_text() == "mine"


def test_folders_an_export_did_not_write_are_kept(generated, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(AnnotatorError, match="overwrite=True"):
        save_mot(generated.project, mine)
    assert (mine / "thesis.tex").read_text() == "precious"
    save_mot(generated.project, tmp_path / "seq")
    save_mot(generated.project, tmp_path / "seq")  # an earlier export is replaced
    assert (tmp_path / "seq" / MARKER).is_file()
    save_mot(generated.project, mine, overwrite=True)
    assert not (mine / "thesis.tex").exists() and (mine / "gt" / "gt.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["frames", "mine", "seq"]
