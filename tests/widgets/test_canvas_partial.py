"""Composite mode sends only the rectangle that changed when the frame on screen is redrawn (issue #13).

The browser is simulated: every picture drawn on layer 0 is decoded and pasted into an array at its
offset, as ``putImageData`` does. After any sequence of updates that array must equal what a full
redraw of the latest composite shows.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from annotator_widgets.widgets import _ipycanvas_compat as compat

from . import test_annotator as ui

CSS = (320, 180)  # shown at video size: CSS, display and video pixels coincide


def click(ann, x, y, **kw):
    ui.click(ann, x, y, css=CSS, **kw)


class Screen:
    """Layer 0 as a browser holds it: each drawn JPEG decoded and pasted at its offset.

    ``seams`` marks the pixels next to a pasted rectangle's edge (one inside, one outside): there the
    decoder's chroma smoothing sees other neighbours than in a whole picture.
    """

    def __init__(self, canvas) -> None:
        self.canvas = canvas
        w, h = canvas.geometry.display_size
        self.pixels = np.zeros((h, w, 3), np.uint8)
        self.seams = np.zeros((h, w), bool)
        self.drawn: list[tuple[int, int, int, int]] = []  # (x0, y0, width, height) of each picture
        self.bytes: list[int] = []

    def put(self, layer, arr, buf, x=0, y=0) -> None:
        if layer is not self.canvas.widget[0]:
            return
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert rgb.shape == arr.shape
        h, w = rgb.shape[:2]
        self.pixels[y : y + h, x : x + w] = rgb
        self.seams[y + 1 : y + h - 1, x + 1 : x + w - 1] = False
        ring = np.zeros_like(self.seams)
        ring[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1] = True
        ring[y + 1 : y + h - 1, x + 1 : x + w - 1] = False
        self.seams |= ring
        if self.last_was_whole_at(x, y, w, h):
            self.seams[:] = False
        self.drawn.append((int(x), int(y), w, h))
        self.bytes.append(len(buf))

    def last_was_whole_at(self, x, y, w, h) -> bool:
        return (x, y, w, h) == (0, 0, *self.canvas.geometry.display_size)

    @property
    def last_was_whole(self) -> bool:
        return self.last_was_whole_at(*self.drawn[-1])


def full_redraw(canvas) -> np.ndarray:
    """What the screen shows after sending the latest composite as a whole picture."""
    buf = compat.encode(canvas.last_image, canvas.jpeg_quality)
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture
def big(make_annotator):
    """An annotator shown at video size (320x180) with the fake segmenter (radius 12 discs)."""
    return make_annotator(320)


@pytest.fixture
def screen(big, monkeypatch) -> Screen:
    scr = Screen(big.canvas)
    monkeypatch.setattr(compat, "put_encoded", scr.put)
    big.canvas.widget[-1]._client_ready_callbacks()  # a page shows the widget: it draws a whole picture
    return scr


def assert_same_as_full_redraw(scr: Screen, canvas) -> None:
    full = full_redraw(canvas).astype(int)
    diff = np.abs(scr.pixels.astype(int) - full).max(axis=2)
    # the rectangles' blocks are encoded exactly as in the whole picture: identical pixels, except next to
    # a rectangle's edge, where the decoder's chroma smoothing differs (by a few levels on average)
    assert not diff[~scr.seams].any(), np.argwhere(diff & ~scr.seams)[:5]
    assert diff.mean() < 0.5, diff.mean()
    # and the screen is as far from the composite as a whole picture (JPEG's loss)
    composite = canvas.last_image.astype(int)
    assert np.abs(scr.pixels - composite).mean() <= np.abs(full - composite).mean() + 0.05


def test_clicks_send_only_the_changed_rectangle_and_the_screen_matches_a_full_redraw(big, screen):
    assert screen.last_was_whole
    whole_bytes = screen.bytes[-1]
    big.add_object("a")
    for x, y in [(60, 50), (70, 56), (250, 120)]:
        click(big, x, y)
        assert not screen.last_was_whole
        x0, y0, w, h = screen.drawn[-1]
        assert x0 % 16 == 0 and y0 % 16 == 0 and w * h < 320 * 180 / 2
        assert x0 <= x - 12 and y0 <= y - 12 and x0 + w > x + 12 and y0 + h > y + 12  # covers the new disc
        assert screen.bytes[-1] < whole_bytes
        assert_same_as_full_redraw(screen, big.canvas)
    big.add_object("b")
    click(big, 200, 40)
    click(big, 60, 50, button=2)  # a negative point on the first object
    big.undo()
    assert big.stats.counter("partial_updates") >= 5
    assert_same_as_full_redraw(screen, big.canvas)


def test_an_unchanged_picture_sends_no_image_but_is_acknowledged(big, screen):
    n, sent = len(screen.drawn), big.canvas.sent
    big.redraw()
    assert len(screen.drawn) == n and big.canvas.sent == sent + 1  # the ack stamp still goes out


def test_a_new_frame_is_a_whole_picture(big, screen):
    big.add_object("a")
    click(big, 60, 50)
    big.frame = 1
    assert screen.last_was_whole
    assert_same_as_full_redraw(screen, big.canvas)


def test_a_large_change_is_a_whole_picture(big, screen):
    big.add_object("a")
    click(big, 60, 50)
    assert not screen.last_was_whole
    ui.mouse(big, "mousedown", 4, 4, css=CSS)  # a box over most of the frame: its mask covers it
    ui.mouse(big, "mousemove", 300, 170, css=CSS)
    ui.mouse(big, "mouseup", 300, 170, css=CSS)
    assert big.session.prompts(0)[-1].box is not None
    assert screen.last_was_whole
    assert_same_as_full_redraw(screen, big.canvas)


def watchdog_steps_in(flow, *, lost: bool) -> None:
    """An update in flight and no answer for longer than the timeout: the real watchdog check pings, then gives up."""
    flow.acknowledge(flow.sent)  # a browser has answered what was sent (the watchdog only runs after a first answer)
    flow._draw(flow.stamp)  # one more update goes out and is never answered
    later = [0.0]
    flow._clock = lambda: time.monotonic() + later[0]
    try:
        later[0] += 10 * flow.timeout
        flow.check()  # a ping
        if lost:
            later[0] += 10 * flow.timeout
            flow.check()  # still no answer: the updates in flight are given up as lost
    finally:
        flow._clock = time.monotonic
    assert flow.resyncs == (2 if lost else 1)


@pytest.mark.parametrize("event", ["show_image", "reconnect", "lost_ack", "ping"])
def test_after_anything_that_may_desynchronise_the_screen_the_picture_is_whole(big, screen, event):
    big.add_object("a")
    click(big, 60, 50)
    assert not screen.last_was_whole
    if event == "show_image":
        big.canvas.show_image(big.frame, np.zeros((180, 320, 3), np.uint8))
    elif event == "reconnect":
        big.canvas.widget[-1]._client_ready_callbacks()  # a new page (blank canvas) is ready: the redraw is whole
    else:  # the ack channel's watchdog asks the browser again / gives the updates in flight up as lost
        watchdog_steps_in(big.canvas.flow, lost=event == "lost_ack")
        assert big.stats.counter("ack_lost" if event == "lost_ack" else "ack_pings") >= 1
    if event != "reconnect":
        click(big, 250, 120)
    assert screen.last_was_whole
    assert_same_as_full_redraw(screen, big.canvas)
    click(big, 200, 40)
    assert not screen.last_was_whole  # back to partial updates once the whole picture was sent


def test_layers_mode_is_unchanged(clip, disc, tmp_path, monkeypatch):
    from annotator_widgets import AnnotationSession, VideoAnnotator

    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=disc)
    ann = VideoAnnotator(session, max_display_side=320, mode="layers")
    try:
        scr = Screen(ann.canvas)
        monkeypatch.setattr(compat, "put_encoded", scr.put)
        ann.redraw()
        ann.add_object("a")
        click(ann, 60, 50)
        assert ann.stats.counter("partial_updates") == 0
    finally:
        ann.close()
        session.close()
