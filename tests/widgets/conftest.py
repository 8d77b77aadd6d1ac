"""Fixtures of the widget tests: a deterministic fake segmenter, annotators, and one JupyterLab + chromium.

The browser fixtures start one JupyterLab server and one chromium per test session
(they are only created when a ``browser`` test asks for them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ipycanvas")
pytest.importorskip("ipyevents")

from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import BackendError


class DiscSegmenter:
    """A fake segmenter with known answers (the session's protocol, no model).

    A prompt's mask is the union of discs of ``radius`` around its positive points
    (minus discs around negative points), or its box filled. Propagation copies each
    object's last mask to every frame, with ``scores[frame]`` (default 0.9) and an
    empty mask on ``empty_frames``. ``gate`` (a semaphore) makes propagation wait for
    a permit per frame; ``fail`` makes prompts raise.
    """

    name = "disc"

    def __init__(self, radius: int = 12) -> None:
        self.radius = radius
        self.scores: dict[int, float] = {}
        self.empty_frames: set[int] = set()
        self.gate: threading.Semaphore | None = None
        self.fail: BaseException | None = None
        self.prompts: list[Any] = []
        self._masks: dict[int, np.ndarray] = {}
        self._size = (0, 0)
        self._n = 0

    def start(self, video: Any) -> None:
        self._size = video.size
        self._n = len(video)

    def _mask(self, prompt: Any) -> np.ndarray:
        w, h = self._size
        yy, xx = np.mgrid[0:h, 0:w]
        m = np.zeros((h, w), bool)
        if prompt.box is not None:
            b = prompt.box
            m[int(b.y0) : int(np.ceil(b.y1)), int(b.x0) : int(np.ceil(b.x1))] = True
        for p in prompt.points:
            disc = (xx - p.x) ** 2 + (yy - p.y) ** 2 <= self.radius**2
            m = m | disc if p.positive else m & ~disc
        return m

    def set_prompt(self, prompt: Any) -> dict[int, ObjectMask]:
        if self.fail is not None:
            raise self.fail
        self.prompts.append(prompt)
        self._masks[prompt.obj_id] = self._mask(prompt)
        return {oid: ObjectMask(m, 1.0) for oid, m in self._masks.items()}

    def remove_object(self, obj_id: int) -> None:
        self._masks.pop(obj_id, None)

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        count = (start if reverse else self._n - 1 - start) if max_frames is None else max_frames
        step = -1 if reverse else 1
        for k in range(count + 1):
            f = start + step * k
            if not 0 <= f < self._n:
                return
            if self.gate is not None and not self.gate.acquire(timeout=20):
                raise BackendError("test gate was never opened", given=f)
            objs = {}
            for oid, m in self._masks.items():
                mask = np.zeros_like(m) if f in self.empty_frames else m
                objs[oid] = ObjectMask(mask, self.scores.get(f, 0.9))
            yield SegmenterFrame(f, objs)

    def reset(self) -> None:
        self._masks.clear()

    def close(self) -> None:
        self._masks.clear()


@pytest.fixture
def clip():
    """12 frames of 320x180 with two objects."""
    return synthetic_clip(num_frames=12, size=(320, 180), num_objects=2, seed=3)


@pytest.fixture
def disc() -> DiscSegmenter:
    return DiscSegmenter()


@pytest.fixture
def make_annotator(clip, disc, tmp_path):
    """Annotators of ``clip`` with the fake segmenter, shown at ``max_display_side``; closed after the test."""
    from annotator_widgets import AnnotationSession, VideoAnnotator

    made = []

    def make(max_display_side: int):
        session = AnnotationSession(clip.frames, project=tmp_path / f"p{len(made)}.awp", segmenter=disc)
        ann = VideoAnnotator(session, max_display_side=max_display_side)
        made.append((ann, session))
        return ann

    yield make
    for ann, session in made:
        ann.close()
        session.close()


@pytest.fixture
def annotator(make_annotator):
    """An annotator shown at half size (320x180 video on a 160x90 canvas) with the fake segmenter."""
    return make_annotator(160)


# -- browser ---------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item (for screenshots on failure)."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory):
    """One JupyterLab server for the whole test session."""
    from tests.support.jupyter import JupyterLab

    lab = JupyterLab(tmp_path_factory.mktemp("lab"))
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def chromium():
    """One headless chromium (Debian's, through Playwright) for the whole test session."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.support.jupyter import CHROMIUM, launch_browser

    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}; fix: `make chromium` (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = launch_browser(pw)
        yield browser
        browser.close()
