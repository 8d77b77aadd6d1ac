"""The annotator's people tools in a real browser: JupyterLab + Debian's chromium driven by Playwright.

One notebook for the module: the two-person crossing clip (640x360, real portrait
cut-outs, ground truth known) on a 480x270 canvas with the classic segmenter and the
real MediaPipe pose model. The page's buttons and the mouse do the work; the kernel
is asked what happened, and screenshots show what the user sees.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ._browser import keep_evidence_on_failure, open_notebook, png
from ._browser import to_page as _to_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "people.ipynb"
W, H = 640, 360

SETUP = """
import numpy as np
from annotator_widgets import AnnotationSession, VideoAnnotator
from annotator_widgets.metrics import match_ground_truth
from tests.support.people import crossing_clip, pose_bundle

clip = crossing_clip(num_frames=60, seed=0)
session = AnnotationSession(clip.frames[:16], segmenter="classic")
ann = VideoAnnotator(session, max_display_side=480)
ann.tools["person"].model = str(pose_bundle())


def face(person, frame):
    return [float(v) for v in clip.tracks[person][frame]]


def who(frame):
    return {str(k): v for k, v in match_ground_truth(session.project.poses(frame), clip, frame).items()}


def reset():
    ann.cancel()
    for o in session.project.objects():
        session.remove_object(o.obj_id)
    ann.tool = "points"
    ann.frame = 0
    ann.redraw()
"""


@pytest.fixture(scope="module")
def nb(jupyter_lab, chromium):
    yield from open_notebook(jupyter_lab, chromium, NOTEBOOK, SETUP)


@pytest.fixture(autouse=True)
def fresh(nb, request, tmp_path):
    """Start each test from an empty project on frame 0; on failure keep a screenshot and the server log."""
    nb.kernel("reset()")
    drawn(nb)
    yield
    keep_evidence_on_failure(nb, request, tmp_path)


def drawn(nb) -> None:
    """Wait until the browser has drawn every update the kernel sent and no job runs."""
    nb.wait_kernel("ann.canvas.acked >= ann.canvas.sent and not ann.busy", timeout=60)


def to_page(nb, x: float, y: float) -> tuple[float, float]:
    """Video pixel -> page coordinates."""
    return _to_page(nb, x, y, (W, H))


def button(nb, text: str):
    return nb.page.locator(".aw-people button").filter(has_text=re.compile(rf"^\s*{text}\s*$"))


def count_near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 60) -> int:
    return int((np.abs(img - np.array(rgb)).max(axis=2) <= tol).sum())


def test_track_people_then_click_a_person(nb):
    button(nb, "Track people").click()
    nb.wait_kernel("len(session.project.objects()) == 2 and not ann.busy", timeout=120)
    nb.page.locator(".aw-status", has_text="tracked 2 people").wait_for(timeout=30_000)
    nb.kernel("ann.seek(8)")
    ids = nb.kernel_json("who(8)")
    assert sorted(ids) == ["1", "2"]
    # skeletons in the people's colours: recolour them to colours the picture does not hold
    nb.kernel(f"ann.set_color({ids['1']}, (255, 0, 255)); ann.set_color({ids['2']}, (0, 255, 255))")
    drawn(nb)
    shot = png(nb.page.locator(".aw-canvas").screenshot())
    assert count_near(shot, (255, 0, 255)) > 30 and count_near(shot, (0, 255, 255)) > 30
    timeline = png(nb.page.locator(".aw-timeline").screenshot())
    assert count_near(timeline, (255, 127, 255), 30) > 20  # the pose band, halfway to white
    # person mode from the toolbar toggle, then a click on each person's face selects that person
    nb.page.locator(".aw-toolbar button").filter(has_text=re.compile(r"^\s*person\s*$")).click()
    assert nb.wait_kernel("ann.tool == 'person'")
    for person in ("2", "1"):
        x, y = nb.kernel_json(f"face({person}, 8)")
        nb.page.mouse.click(*to_page(nb, x, y))
        assert nb.wait_kernel(f"ann.current_object == {ids[person]}")
    nb.page.locator(".aw-status", has_text=f"person {ids['1']} selected").wait_for(
        timeout=30_000
    )  # the DOM follows the kernel
    assert nb.kernel_json("len(session.project.objects())") == 2
    # Segment person: a mask for the selected person, mostly on that person
    button(nb, "Segment person").click()
    share = nb.wait_kernel(
        f"float((session.masks(8)[{ids['1']}] & clip.masks[1][8]).sum() / session.masks(8)[{ids['1']}].sum())"
        f" if {ids['1']} in session.masks(8) else None"
    )
    assert share > 0.7


def test_region_drag_seeds_the_people_in_it(nb):
    nb.kernel("ann.seek(8)")
    drawn(nb)
    x1 = nb.kernel_json("face(1, 8)")[0] + 20
    page = nb.page
    page.mouse.move(*to_page(nb, 4, 4))
    page.keyboard.press("r")  # the pointer is over the canvas
    assert nb.wait_kernel("ann.tool == 'region'")
    page.mouse.down()
    page.mouse.move(*to_page(nb, x1 / 2, 180), steps=4)
    nb.wait_kernel("ann.dragging")
    page.mouse.move(*to_page(nb, x1, 356), steps=4)
    page.mouse.up()
    nb.wait_kernel("len(session.project.mask_frames()) == 8 and not ann.busy", timeout=120)
    ((obj, category),) = nb.kernel_json("[[o.obj_id, o.category] for o in session.project.objects()]")
    assert category == "person" and nb.kernel_json("who(8)") == {"1": obj}
    assert nb.kernel_json(f"session.project.mask_frames({obj})") == list(range(8, 16))
    page.locator(".aw-status", has_text="propagated forward from frame 8").wait_for(
        timeout=30_000
    )  # the DOM follows the kernel
