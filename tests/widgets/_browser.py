"""Plumbing shared by the browser test modules: one notebook page per module, pixels, coordinates."""

from __future__ import annotations

import io
import time
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


# -- "drawn": what the user sees is what the kernel sent last ------------------------------------------------

_GRID = (24, 16)  # blocks across and down: block means are insensitive to JPEG noise, not to a changed picture

_JS_BLOCKS = """
([idx, gx, gy]) => {
  const c = document.querySelectorAll('.aw-canvas')[idx];
  if (!c || !c.width || !c.height) return null;
  const w = c.width, h = c.height;
  const data = c.getContext('2d').getImageData(0, 0, w, h).data;
  const out = [];
  for (let j = 0; j < gy; j++) {
    const y0 = Math.floor(j * h / gy), y1 = Math.floor((j + 1) * h / gy);
    for (let i = 0; i < gx; i++) {
      const x0 = Math.floor(i * w / gx), x1 = Math.floor((i + 1) * w / gx);
      const s = [0, 0, 0];
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
        const k = 4 * (y * w + x);
        s[0] += data[k]; s[1] += data[k + 1]; s[2] += data[k + 2];
      }
      const n = Math.max(1, (y1 - y0) * (x1 - x0));
      out.push([s[0] / n, s[1] / n, s[2] / n]);
    }
  }
  return out;
}
"""

_KERNEL_BLOCKS = """
def _aw_blocks(img, gx, gy):
    import numpy as np
    if img is None:
        return None
    h, w = img.shape[:2]
    ys = [int(np.floor(j * h / gy)) for j in range(gy + 1)]
    xs = [int(np.floor(i * w / gx)) for i in range(gx + 1)]
    f = img.astype(np.float64)
    cells = [(j, i) for j in range(gy) for i in range(gx)]
    return [f[ys[j]:ys[j + 1], xs[i]:xs[i + 1]].reshape(-1, 3).mean(axis=0).tolist() for j, i in cells]
"""


def wait_drawn(
    nb: Any, name: str = "ann", idle: str = "not ann.busy", timeout: float = 60.0, tol: float = 10.0
) -> None:
    """Wait until no job runs and the page's canvas shows the picture the kernel sent last.

    Compares block means of the canvas pixels in the page with those of the kernel's
    last composite image (``FrameCanvas.last_image``): this waits on what the user sees,
    not on the acknowledgement counters (an acknowledgement lost on the way never hangs it).
    """
    from tests.support.jupyter import NotebookError

    nb.kernel(_KERNEL_BLOCKS)
    deadline = time.monotonic() + timeout
    worst: Any = None
    idx = 0
    while time.monotonic() < deadline:
        state = nb.kernel_json(f"[bool({idle}), _aw_blocks({name}.canvas.last_image, {_GRID[0]}, {_GRID[1]})]")
        seen = nb.page.evaluate(_JS_BLOCKS, [idx, *_GRID])
        if state[0] and state[1] is not None and seen is not None:
            worst = float(np.abs(np.asarray(state[1]) - np.asarray(seen)).max())
            if worst <= tol:
                return
        time.sleep(0.05)
    raise NotebookError("the canvas never showed the kernel's last picture", given=f"largest block difference {worst}")
