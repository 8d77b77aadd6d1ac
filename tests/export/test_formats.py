"""The one table of formats: every exporter and importer is a registry part; every export repeats its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from annotator_widgets import registry
from annotator_widgets.export import ExportFormat, Importer

EXPORTERS = ["actions", "binary-png", "coco", "coco-dataset", "cvat", "davis", "mot", "mots", "png", "yolo", "yolo-seg"]
IMPORTERS = ["coco", "cvat", "davis", "mot", "yolo"]
# which importer reads each exporter's output back (name, and whether it yields masks or box prompts)
READ_BACK = {
    "coco": ("coco", "masks"),
    "coco-dataset": ("coco", "masks"),
    "cvat": ("cvat", "masks"),
    "davis": ("davis", "masks"),
    "png": ("png", "masks"),
    "yolo-seg": ("yolo", "masks"),
    "mots": ("mots", "masks"),
    "yolo": ("yolo", "boxes"),
    "mot": ("mot", "boxes"),
}


def _digest(paths: list[Path], root: Path) -> dict[str, str]:
    files = sorted(
        {p for p in paths if p.is_file()} | ({p for p in root.rglob("*") if p.is_file()} if root.is_dir() else set())
    )
    return {
        p.relative_to(root.parent).as_posix().split("/", 1)[-1]: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
    }


def test_the_table_lists_every_format():
    assert set(EXPORTERS) <= set(registry.names("exporter"))
    assert set(IMPORTERS) <= set(registry.names("importer"))
    for name in EXPORTERS:
        fmt = registry.lookup("exporter", name)
        assert isinstance(fmt, ExportFormat) and fmt.name == name and fmt.target in ("file", "folder")
    for name in IMPORTERS:
        assert isinstance(registry.lookup("importer", name), Importer)


@pytest.mark.parametrize("name", EXPORTERS)
def test_export_twice_gives_identical_bytes(generated, tmp_path, name):
    fmt = registry.lookup("exporter", name)
    options = {"yaml_path": "."} if name.startswith("yolo") else {}
    a = fmt.save(generated.project, fmt.default_path(tmp_path / "a"), **options)
    b = fmt.save(generated.project, fmt.default_path(tmp_path / "b"), **options)
    da, db = _digest(a, fmt.default_path(tmp_path / "a")), _digest(b, fmt.default_path(tmp_path / "b"))
    assert da == db and len(da) >= 1
    again = fmt.save(generated.project, fmt.default_path(tmp_path / "a"), **options)  # over the earlier export
    assert _digest(again, fmt.default_path(tmp_path / "a")) == da


@pytest.mark.parametrize("name", sorted(READ_BACK))
def test_every_export_reads_back_with_the_same_ids(generated, empty_like, tmp_path, name):
    fmt = registry.lookup("exporter", name)
    out = fmt.save(generated.project, fmt.default_path(tmp_path))
    importer_name, kind = READ_BACK[name]
    source = out[0] if fmt.target == "file" else fmt.default_path(tmp_path)
    dst = empty_like()
    report = registry.lookup("importer", importer_name).load(dst, source)
    assert report.remapped == {} and set(report.objects) == {3, 7, 12, 40}
    for (frame, oid), truth in generated.truth.items():
        if kind == "masks":
            assert (dst.annotation(frame, oid).mask == truth).all()
        else:
            assert dst.prompt(frame, oid).box is not None
    assert len(dst.history()) == 1  # one undo step


def test_a_missing_readers_venv_fails_with_the_fix(tmp_path, monkeypatch):
    from tests.support.readers import datumaro_read

    monkeypatch.setenv("AW_READERS_PYTHON", str(tmp_path / "nowhere" / "python"))
    with pytest.raises(pytest.fail.Exception, match="make readers"):
        datumaro_read(tmp_path, "cvat")
