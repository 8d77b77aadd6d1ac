"""Notebooks are code: sources in sync, outputs stripped, every notebook executed headless."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/*.py sources are missing"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_matches_source_and_has_no_outputs(source):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"run `make notebooks` to create {ipynb.name}"
    nb = nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{ipynb.name} has outputs committed"
    from_source = jupytext.read(source)
    assert [c.source for c in from_source.cells] == [c.source for c in nb.cells], (
        f"{ipynb.name} is out of date: run `make notebooks`"
    )


@pytest.mark.slow
@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless(source, tmp_path):
    ipynb = shutil.copy(source.with_suffix(".ipynb"), tmp_path / source.with_suffix(".ipynb").name)
    nb = nbformat.read(ipynb, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
