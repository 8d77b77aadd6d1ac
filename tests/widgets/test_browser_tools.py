"""The Effects and Export tools in a real browser (JupyterLab + chromium): the strength slider, moved with the
keyboard on its handle, re-renders the canvas inside the masks only; the Export button writes and says so; under
this narrow (320 px) video the navigation buttons are shown whole; with 30 objects the object list scrolls and the
status line stays under the video."""

from __future__ import annotations

import numpy as np
import pytest

from ._browser import keep_evidence_on_failure, open_notebook, png

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "tools.ipynb"

SETUP = """
import tempfile, pathlib
import numpy as np
from annotator_widgets import RLE, Annotation, AnnotationSession, VideoAnnotator
from annotator_widgets.data import synthetic_clip

clip = synthetic_clip(num_frames=6, size=(320, 180), num_objects=1, seed=2)
folder = pathlib.Path(tempfile.mkdtemp())
session = AnnotationSession(clip.frames, project=folder / "tools.awp", segmenter="classic")
obj = session.add_object("thing")
box = np.zeros((180, 320), bool)
box[40:120, 100:220] = True
session.project.put_annotations([Annotation(f, obj.obj_id, RLE.from_mask(box), 0.9) for f in range(6)])
ann = VideoAnnotator(session, tools=["points", "effects", "export"], max_display_side=320)
"""


@pytest.fixture(scope="module")
def nb(jupyter_lab, chromium):
    yield from open_notebook(jupyter_lab, chromium, NOTEBOOK, SETUP)


@pytest.fixture(autouse=True)
def evidence(nb, request, tmp_path):
    yield
    keep_evidence_on_failure(nb, request, tmp_path)


def drawn(nb) -> None:
    nb.wait_kernel(
        "ann.canvas.acked >= ann.canvas.sent and ann.tools['effects'].latest.drawn >= "
        "ann.tools['effects'].latest.requested"
    )


def canvas_pixels(nb) -> np.ndarray:
    canvas = nb.page.locator(".aw-canvas")
    canvas.scroll_into_view_if_needed()
    return png(canvas.screenshot())


def test_moving_the_strength_slider_changes_the_canvas_inside_the_masks(nb):
    nb.kernel("ann.tool = 'effects'")
    drawn(nb)
    before = canvas_pixels(nb)
    handle = nb.page.locator(".aw-effect-strength .noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(6):
        nb.page.keyboard.press("ArrowRight")  # 0.6 -> 0.9 in steps of 0.05
    assert nb.wait_kernel("ann.tools['effects'].strength > 0.85")
    drawn(nb)
    after = canvas_pixels(nb)
    sy, sx = before.shape[0] / 180, before.shape[1] / 320  # canvas screenshot pixels per video pixel
    diff = np.abs(after - before).sum(axis=2)
    inside = diff[int(45 * sy) : int(115 * sy), int(105 * sx) : int(215 * sx)]
    outside = np.ones_like(diff, bool)
    outside[int(34 * sy) : int(126 * sy), int(94 * sx) : int(226 * sx)] = False
    assert inside.mean() > 5 and diff[outside].mean() < 1.5


def test_clicking_export_writes_and_shows_what_was_written(nb):
    nb.page.locator(".aw-export").scroll_into_view_if_needed()
    nb.page.locator(".aw-export").click()
    nb.page.wait_for_selector(".aw-written :text('written')", timeout=60000)
    text = nb.page.locator(".aw-written").inner_text()
    assert "tools.json" in text and "masks on 6 frames" in text
    assert nb.kernel_json("(folder / 'tools.json').exists()")


_JS_CUT_BUTTONS = """
() => Array.from(document.querySelectorAll('.aw-navigation button')).map(
  b => [b.title, b.getBoundingClientRect().width, b.scrollWidth])
"""


def test_navigation_buttons_are_whole_under_a_narrow_video(nb):
    """The navigation row is as wide as the canvas: under a 320 px video its buttons were squeezed to half
    their width (the chevrons showed as '<.'); they keep their width and the slider wraps instead."""
    nb.page.locator(".aw-navigation").scroll_into_view_if_needed()
    buttons = nb.page.evaluate(_JS_CUT_BUTTONS)
    assert len(buttons) == 5
    cut = [(title, width, need) for title, width, need in buttons if width + 0.5 < need]
    assert cut == []
    slider = nb.page.locator(".aw-navigation .widget-slider").bounding_box()
    canvas = nb.page.locator(".aw-canvas").bounding_box()
    assert slider["width"] >= 100 and slider["x"] + slider["width"] <= canvas["x"] + canvas["width"] + 10


def test_with_many_objects_the_list_scrolls_and_the_status_stays_near_the_video(nb):
    """30 objects (people tracked on bikes.mp4 made 21-31) made the object panel ~900 px tall: the row beside the
    video grew with it and pushed the propagation bar and the status line far below the video."""
    nb.kernel("extra = [session.add_object(f'p{i}', 'person') for i in range(30)]; ann.refresh('thirty more')")
    try:
        nb.page.locator(".aw-status", has_text="thirty more").wait_for(timeout=30000)
        rows = nb.page.locator(".aw-object-rows").bounding_box()
        nav = nb.page.locator(".aw-navigation").bounding_box()
        status = nb.page.locator(".aw-status").bounding_box()
        assert rows["height"] <= 340
        heights = nb.page.evaluate(
            "() => Array.from(document.querySelector('.aw-object-rows').children)"
            ".map(r => r.getBoundingClientRect().height)"
        )
        assert len(heights) == 31 and min(heights) >= 24  # whole rows, the list scrolls: not squeezed to slivers
        assert status["y"] - (nav["y"] + nav["height"]) < 150  # the propagation bar between them
    finally:
        nb.kernel("[session.remove_object(o.obj_id) for o in extra]; ann.refresh()")
