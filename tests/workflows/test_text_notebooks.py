"""Notebook 04 once more with a tiny OWLv2 folder through ``AW_GROUNDER`` (the grounder route end to end); the
offline default runs of 04 and 05 are tests/test_notebooks.py's."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.vlm import build_tiny_owlv2

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_text_to_masklets.ipynb"


@pytest.mark.slow
def test_text_notebook_with_a_tiny_owlv2(tmp_path, monkeypatch):
    folder = build_tiny_owlv2(tmp_path / "owlv2")
    monkeypatch.setenv("AW_GROUNDER", f"owlv2:{folder}")
    nb = nbformat.read(shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "owlv2 -> object" in text and (tmp_path / "text_out" / "bikes_blurred.mp4").stat().st_size > 0
