"""Supply chain: checkpoints are verified by sha256 before use, torch.load never unpickles code,
and project files hold no pickles."""

from __future__ import annotations

import ast
import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import annotator_widgets
from annotator_widgets import AnnotationSession, CheckpointError
from annotator_widgets import checkpoints as ck

from .cases import frames, start_mask

PACKAGE = Path(annotator_widgets.__file__).parent
PICKLE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                out.append((path, node))
    return out


def test_every_torch_load_is_weights_only() -> None:
    loads = [
        (p, c) for p, c in _calls("load") if isinstance(c.func, ast.Attribute) and ast.unparse(c.func.value) == "torch"
    ]
    assert loads, "expected at least the SAM2 checkpoint loader"
    for path, call in loads:
        kw = {k.arg: k.value for k in call.keywords}
        assert "weights_only" in kw and ast.literal_eval(kw["weights_only"]) is True, f"{path}:{call.lineno}"


def test_no_pickle_anywhere_in_the_package() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & PICKLE_MODULES, f"{path}:{node.lineno} imports {names & PICKLE_MODULES}"
    for path, call in _calls("load"):
        kw = {k.arg: k.value for k in call.keywords}
        if "allow_pickle" in kw:
            assert ast.literal_eval(kw["allow_pickle"]) is False, f"{path}:{call.lineno}"


def test_a_project_file_holds_no_pickle(tmp_path: Path) -> None:
    path = tmp_path / "p.awp"
    with AnnotationSession(frames(6), project=path, segmenter="classic") as s:
        s.add_mask(0, None, start_mask())
        s.add_points(2, None, [(30, 20)])
        s.run()
        s.undo()
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        seen = 0
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes | str):
                        data = value.encode() if isinstance(value, str) else value
                        seen += 1
                        # pickle protocols 2..5 start with PROTO (0x80) and the version byte
                        assert not (len(data) > 1 and data[0] == 0x80 and data[1] in (2, 3, 4, 5)), (table, data[:16])
                        assert b"cnumpy\n" not in data and b"__reduce__" not in data, table
        assert seen > 10
    finally:
        conn.close()


@pytest.fixture
def toy_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ck.ENV_CACHE, str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    names: list[str] = []

    def add(name: str, data: bytes, sha: str | None) -> Path:
        ck.register(ck.Checkpoint(name=name, filename=f"{name}.pt", sha256=sha))
        names.append(name)
        path = tmp_path / "cache" / f"{name}.pt"
        path.write_bytes(data)
        return path

    yield add
    for n in names:
        ck.REGISTRY.pop(n, None)


def test_a_checkpoint_whose_hash_does_not_match_is_refused_with_both_hashes(toy_cache) -> None:
    good = b"published weights" * 100
    expected = hashlib.sha256(good).hexdigest()
    path = toy_cache("toy_pinned", good, expected)
    assert ck.verify("toy_pinned") == path and ck.fetch("toy_pinned", progress=False) == path
    path.write_bytes(b"tampered weights" * 100)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    for check in (lambda: ck.verify("toy_pinned"), lambda: ck.fetch("toy_pinned", progress=False)):
        with pytest.raises(CheckpointError) as info:
            check()
        assert expected in str(info.value) and actual in str(info.value)
        assert info.value.hint and "fetch it again" in info.value.hint


def test_a_recorded_hash_catches_a_file_changed_after_download(toy_cache) -> None:
    path = toy_cache("toy_recorded", b"x" * 4096, None)
    Path(str(path) + ".sha256").write_text(f"{hashlib.sha256(b'x' * 4096).hexdigest()}  toy_recorded.pt\n")
    assert ck.verify("toy_recorded") == path
    path.write_bytes(b"y" * 4096)
    with pytest.raises(CheckpointError, match="wrong sha256"):
        ck.verify("toy_recorded")


def test_sam2_verifies_a_registry_checkpoint_before_torch_load(toy_cache, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SAM2 backend resolves a registry name through verify(): a tampered file never reaches torch.load."""
    from annotator_widgets.backends import sam2_meta

    good = b"weights" * 100
    path = toy_cache("sam2_toy", good, hashlib.sha256(good).hexdigest())
    entry = ck.REGISTRY["sam2_toy"]
    ck.REGISTRY["sam2_toy"] = type(entry)(**{**entry.__dict__, "family": "sam2", "config": "configs/x.yaml"})
    path.write_bytes(b"evil" * 100)
    import torch

    def no_load(*a: object, **k: object) -> None:
        raise AssertionError("torch.load reached with an unverified file")

    monkeypatch.setattr(torch, "load", no_load)
    with pytest.raises(CheckpointError, match="wrong sha256"):
        sam2_meta._resolve_files("sam2_toy", None, None)
    assert np.array_equal(np.frombuffer(path.read_bytes(), np.uint8)[:4], np.frombuffer(b"evil", np.uint8))
