"""notebooks/06_find_and_track runs headless with a tiny random CLIP (AW_SCORER) and with its offline stand-in.

tests/test_notebooks.py runs every notebook without AW_SCORER (the stand-in path: no weights here);
this test runs it through the real CLIP loading code with a tiny model saved to a folder, and checks
that the notebook used it and that the tracked object and the rendered video exist.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.vlm_text import build_tiny_clip

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "06_find_and_track.ipynb"


def _run(tmp_path: Path, env: dict[str, str]) -> str:
    ipynb = shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(ipynb, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the test process's environment
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )


@pytest.mark.slow
def test_the_notebook_runs_with_a_tiny_clip_through_the_real_loading_code(tmp_path):
    folder = build_tiny_clip(tmp_path / "tiny-clip")
    text = _run(tmp_path, {"AW_SCORER": f"clip:{folder}", "AW_THRESHOLD": "0.0"})
    assert f"scorer: clip:{folder} threshold: 0.0" in text and "stand-in" not in text
    assert "first on frame 0" in text  # threshold 0: the first frame scanned passes
    assert "masks on 40 frames" in text
    assert (tmp_path / "find_out" / "found_and_tracked.mp4").stat().st_size > 0
