"""The annotator notebook runs headless (nbclient: a real kernel, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_annotator.py"


@pytest.mark.slow
def test_annotator_notebook_runs_headless(tmp_path):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nb = jupytext.read(NOTEBOOK)
    assert not any(cell.get("outputs") for cell in nb.cells), "commit notebooks without outputs"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    client.execute()
    text = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "propagated forward from frame 0: 40/40 frames" in text
    assert "redone: propagate forward" in text
    widget_views = [
        out for cell in nb.cells for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]  # fmt: skip
    assert widget_views, "the annotator was not displayed"
