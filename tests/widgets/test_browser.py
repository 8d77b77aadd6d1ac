"""The annotator in a real browser: JupyterLab + Debian's chromium driven by Playwright.

One notebook for the module: a 640x360 synthetic clip shown on a 480x270 canvas
(display scale 0.75) with the classic segmenter (real masks, no weights). Clicks go
to known VIDEO coordinates converted through the canvas' bounding box; the kernel is
asked what the session received, and canvas screenshots show what the user sees.
On failure a screenshot and the server log tail are saved under the test's tmp dir.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ._browser import keep_evidence_on_failure, open_notebook, png, wait_drawn
from ._browser import to_page as _to_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "annotator.ipynb"
W, H = 640, 360

SETUP = '''
import time
import numpy as np
from annotator_widgets import AnnotationSession, VideoAnnotator
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.data import synthetic_clip


class SlowSegmenter(ClassicSegmenter):
    """The classic segmenter, with an adjustable pause per propagated frame (to test Cancel)."""

    delay = 0.0

    def propagate(self, start, max_frames=None, reverse=False):
        for out in super().propagate(start, max_frames, reverse):
            time.sleep(self.delay)
            yield out


clip = synthetic_clip(num_frames=24, size=(640, 360), num_objects=2, seed=1)
seg = SlowSegmenter()
session = AnnotationSession(clip.frames, segmenter=seg)
ann = VideoAnnotator(session, max_display_side=480)


def inside(obj, frame=0):
    """A pixel of the object near its centre (video coordinates)."""
    ys, xs = np.nonzero(clip.masks[obj][frame])
    i = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return [float(xs[i]), float(ys[i])]


def background(frame=0):
    """A pixel far from every object."""
    dist = np.ones((360, 640), bool)
    for m in clip.masks.values():
        dist &= ~m[frame]
    dist[:40], dist[-40:], dist[:, :40], dist[:, -40:] = False, False, False, False
    import cv2
    d = cv2.distanceTransform(dist.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(np.argmax(d), d.shape)
    return [float(x), float(y)]


def points(frame=0):
    return [[p.obj_id, q.x, q.y, q.label] for p in session.prompts(frame) for q in p.points]


def reset():
    ann.cancel()
    ann.pause()
    seg.delay = 0.0
    for o in session.project.objects():
        session.remove_object(o.obj_id)
    ann.tools['points'].label = 1
    ann.frame = 0
    ann.redraw()
'''


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
    """Wait until no job runs and the canvas in the page shows the kernel's last picture."""
    wait_drawn(nb, idle="not session.busy")


def canvas_box(nb) -> dict[str, float]:
    canvas = nb.page.locator(".aw-canvas")
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def to_page(nb, x: float, y: float) -> tuple[float, float]:
    """Video pixel -> page coordinates, through the canvas' bounding box (the display scale is 0.75)."""
    return _to_page(nb, x, y, (W, H))


def canvas_pixels(nb) -> np.ndarray:
    return png(nb.page.locator(".aw-canvas").screenshot())


def click_video(nb, x: float, y: float, **kwargs) -> None:
    nb.page.mouse.click(*to_page(nb, x, y), **kwargs)


def test_click_adds_a_point_and_the_mask_appears(nb):
    # ipycanvas' own mouse messages must not reach the kernel (the canvas ignores the pointer; the box takes it)
    nb.kernel("canvas_hits = []; ann.canvas.widget.on_mouse_move(lambda x, y: canvas_hits.append((x, y)))")
    nb.kernel("ann.canvas.widget.on_mouse_down(lambda x, y: canvas_hits.append((x, y)))")
    before = canvas_pixels(nb)
    x, y = nb.kernel_json("inside(1)")
    nb.page.mouse.move(*to_page(nb, x - 30, y - 30), steps=5)
    click_video(nb, x, y)
    pts = nb.wait_kernel("points()")
    drawn(nb)
    assert nb.kernel_json("len(canvas_hits)") == 0
    ((obj, px, py, label),) = pts
    assert label == 1 and obj == nb.kernel_json("ann.current_object")
    assert abs(px - x) <= 1.5 and abs(py - y) <= 1.5  # CSS pixels were mapped back to video pixels
    after = canvas_pixels(nb)
    # the overlay changed over the object (canvas pixels = video pixels * 0.75), not far away from it
    gt = nb.kernel_json("[[int(v) for v in np.argwhere(clip.masks[1][0][::4, ::4])[::7].ravel()]]")[0]
    inside_px = np.array(gt).reshape(-1, 2) * 4 * 0.75
    changed = [np.abs(after[int(r), int(c)] - before[int(r), int(c)]).sum() > 40 for r, c in inside_px]
    assert np.mean(changed) > 0.6
    bx, by = nb.kernel_json("background()")
    r, c = int(by * 0.75), int(bx * 0.75)
    assert np.abs(after[r - 3 : r + 4, c - 3 : c + 4] - before[r - 3 : r + 4, c - 3 : c + 4]).mean() < 6
    area = nb.kernel_json("int(session.masks(0)[ann.current_object].sum())")
    truth = nb.kernel_json("int(clip.masks[1][0].sum())")
    assert 0.5 * truth < area < 1.5 * truth


def test_key_toggle_makes_the_next_click_negative(nb):
    x, y = nb.kernel_json("inside(1)")
    click_video(nb, x, y)
    nb.wait_kernel("len(points()) == 1")
    nb.page.keyboard.press("t")  # the pointer is over the canvas
    assert nb.wait_kernel("ann.tools['points'].label == 0")
    bx, by = nb.kernel_json("background()")
    click_video(nb, bx, by)
    pts = nb.wait_kernel("points() if len(points()) == 2 else None")
    assert [p[3] for p in pts] == [1, 0]
    assert abs(pts[1][1] - bx) <= 1.5 and abs(pts[1][2] - by) <= 1.5
    nb.page.keyboard.press("t")
    assert nb.wait_kernel("ann.tools['points'].label == 1")


def test_right_click_and_shift_click_are_negative(nb):
    x, y = nb.kernel_json("inside(1)")
    click_video(nb, x, y)
    nb.wait_kernel("len(points()) == 1")
    bx, by = nb.kernel_json("background()")
    click_video(nb, bx, by, button="right")
    nb.wait_kernel("len(points()) == 2")
    nb.page.keyboard.down("Shift")
    click_video(nb, bx - 20, by)
    nb.page.keyboard.up("Shift")
    pts = nb.wait_kernel("points() if len(points()) == 3 else None")
    assert [p[3] for p in pts] == [1, 0, 0]


def test_drag_draws_a_box_prompt(nb):
    x0, y0, x1, y1 = nb.kernel_json("[float(v) for v in clip.boxes[2][0]]")
    page = nb.page
    page.mouse.move(*to_page(nb, x0, y0))
    page.mouse.down()
    page.mouse.move(*to_page(nb, (x0 + x1) / 2, (y0 + y1) / 2), steps=4)
    time.sleep(0.2)  # moves are watched once the kernel has seen the press
    page.mouse.move(*to_page(nb, x1, y1), steps=4)
    assert nb.wait_kernel("ann.dragging")  # the rubber band follows the pointer
    page.mouse.up()
    box = nb.wait_kernel("list(session.prompts(0)[0].box.xyxy) if session.prompts(0) else None")
    assert np.allclose(box, [x0, y0, x1, y1], atol=2.0)
    drawn(nb)
    iou = nb.kernel_json(
        "float((session.masks(0)[ann.current_object] & clip.masks[2][0]).sum()"
        " / (session.masks(0)[ann.current_object] | clip.masks[2][0]).sum())"
    )
    assert iou > 0.7


def test_scrubbing_with_keys_and_the_timeline(nb):
    first = canvas_pixels(nb)
    x, y = to_page(nb, W / 2, H / 2)
    nb.page.mouse.move(x, y)
    nb.page.keyboard.press("ArrowRight")
    assert nb.wait_kernel("ann.frame == 1")
    drawn(nb)
    second = canvas_pixels(nb)
    assert np.abs(second - first).mean() > 2  # the picture changed (objects and background move)
    timeline = nb.page.locator(".aw-timeline")
    timeline.scroll_into_view_if_needed()
    box = timeline.bounding_box()
    target = nb.kernel_json("ann.timeline.x_of(15) + 2")  # timeline canvas pixels
    nb.page.mouse.click(box["x"] + target * box["width"] / nb.kernel_json("ann.timeline.width"), box["y"] + 6)
    assert nb.wait_kernel("ann.frame == 15")
    drawn(nb)
    assert nb.page.locator(".aw-navigation").inner_text().count("15 / 23") == 1


def test_propagate_shows_progress_and_cancel_stops_it(nb):
    x, y = nb.kernel_json("inside(1)")
    click_video(nb, x, y)
    nb.wait_kernel("len(points()) == 1")
    nb.kernel("seg.delay = 0.25")
    nb.page.locator(".aw-propagation button", has_text="Forward").click()
    nb.wait_kernel("session.progress.done >= 3", timeout=30)
    # the progress bar moved and the canvas follows the propagated frames
    nb.page.wait_for_function(  # the DOM follows the kernel's progress updates
        "() => parseFloat(document.querySelector('.aw-propagation .progress-bar')?.style.width) > 0", timeout=30_000
    )
    assert nb.wait_kernel("ann.frame >= 2")
    nb.page.locator(".aw-propagation button", has_text="Cancel").click()
    nb.wait_kernel("not ann.busy", timeout=30)
    done, total, cancelled = nb.kernel_json("[session.progress.done, session.progress.total, ann.job.cancelled]")
    assert cancelled and 3 <= done < total == 24
    assert nb.kernel_json("session.project.mask_frames(ann.current_object)") == list(range(done))
    nb.page.locator(".aw-status", has_text="cancelled").wait_for(timeout=30_000)


def test_reload_redraws_the_canvas(nb):
    x, y = nb.kernel_json("inside(2)")
    click_video(nb, x, y)
    nb.wait_kernel("len(points()) == 1")
    drawn(nb)
    before = canvas_pixels(nb)
    nb.save()
    # the state that loses the redraw (ipycanvas #322): the kernel's canvas manager last drew on the frame
    # layer, so it would not select that layer again for the page that connects next
    nb.kernel("ann.canvas.widget[0]._canvas_manager._current_canvas = ann.canvas.widget[0]")
    nb.reload()
    nb.page.wait_for_selector(".aw-canvas", state="attached", timeout=30000)
    canvas_box(nb)
    deadline = time.monotonic() + 20
    after = canvas_pixels(nb)
    while time.monotonic() < deadline and np.abs(after - before).mean() > 3:
        time.sleep(0.3)
        after = canvas_pixels(nb)
    assert after.std() > 10  # not blank
    assert np.abs(after - before).mean() <= 3  # the same picture, mask included


def test_playback_answers_every_few_frames_and_ends_with_everything_answered(nb):
    # a fixed window of 4: the browser answers every 3rd frame; no watchdog ping within the test (30 s), so only
    # the answers (and the one asked for when playback stops) bring the kernel to "everything drawn"
    nb.kernel("ann.play_in_flight = 4; ann.canvas.flow.timeout = 30.0; ann.stats.reset()")
    try:
        nb.kernel("ann.play(fps=30)")
        assert nb.wait_kernel("not ann.playing and not ann._player.running", timeout=60)
        assert nb.wait_kernel("ann.canvas.acked == ann.canvas.sent", timeout=20)
        shown, answers, pings, lost, every = nb.kernel_json(
            "[ann._player.shown, len(ann.stats.values('ack_ms')), ann.stats.counter('ack_pings'),"
            " ann.stats.counter('ack_lost'), ann.canvas.flow.every]"
        )
    finally:
        nb.kernel("ann.play_in_flight = None; ann.canvas.flow.timeout = 1.0")
    assert shown >= 6 and pings == 0 and lost == 0
    assert answers < shown  # fewer answers than frames...
    assert every == 1  # ...and at rest every update asks again
    drawn(nb)
    assert nb.page.locator(".aw-navigation").inner_text().count("23 / 23") == 1  # the slider and label caught up
