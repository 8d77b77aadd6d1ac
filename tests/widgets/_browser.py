"""Plumbing shared by the browser test modules: one notebook page per module, pixels, coordinates."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest


def png(data: bytes) -> np.ndarray:
    """A PNG screenshot as an int16 RGB array (signed, for differences)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def open_notebook(jupyter_lab: Any, chromium: Any, name: str, setup: str) -> Iterator[Any]:
    """Write a notebook (``setup`` then ``ann``), open it in a new page, run it, yield the page."""
    from tests.support.jupyter import NotebookPage, write_notebook

    write_notebook(jupyter_lab.root / name, [setup, "ann"])
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    notebook = NotebookPage(page, jupyter_lab, name).open()
    notebook.run_all()
    page.wait_for_selector(".aw-canvas", timeout=30000)
    yield notebook
    page.close()


def keep_evidence_on_failure(nb: Any, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    """After a failed test, save a screenshot and the server log under the test's tmp dir."""
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shot = nb.screenshot(tmp_path / "failure.png")
        (tmp_path / "server.log").write_text(nb.lab.log_tail(20000))
        print(f"screenshot of the failure: {shot}")


def to_page(nb: Any, x: float, y: float, size: tuple[int, int]) -> tuple[float, float]:
    """Video pixel -> page coordinates, through the canvas' bounding box (``size`` = video width, height)."""
    canvas = nb.page.locator(".aw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]
