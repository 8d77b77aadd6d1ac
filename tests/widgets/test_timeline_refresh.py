"""The timeline after clicks and edits: never stale, and the strip redraws only the rows that changed."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets.types import ObjectInfo
from annotator_widgets.view import ObjectTimeline, timeline
from annotator_widgets.widgets.timeline import Timeline

from .test_annotator import click, key


def assert_shows_fresh(ann) -> None:
    """What the strip shows (and the annotator keeps) equals a fresh read of the project."""
    fresh = timeline(ann.session.project)
    for shown in (ann.timeline.rows, ann._rows):
        assert [r.info for r in shown] == [r.info for r in fresh]
        for got, want in zip(shown, fresh, strict=True):
            np.testing.assert_array_equal(got.score, want.score)
            np.testing.assert_array_equal(got.prompted, want.prompted)
            assert (got.posed is None) == (want.posed is None)


def test_the_strip_follows_clicks_undo_redo_propagation_and_notebook_writes(annotator, disc):
    disc.scores = {5: 0.2}
    click(annotator, 50, 30)
    assert_shows_fresh(annotator)
    annotator.seek(2)
    click(annotator, 60, 40)
    assert_shows_fresh(annotator)
    key(annotator, "z")  # undo
    assert_shows_fresh(annotator)
    annotator.toolbar.redo.click()
    assert_shows_fresh(annotator)
    job = annotator.propagation_bar.forward.click() or annotator.job
    assert job.wait(20) and job.error is None
    assert_shows_fresh(annotator)
    assert annotator.timeline.rows[0].mask_frames() == [0, *range(2, 12)]  # forward from frame 2
    annotator.toolbar.undo.click()  # the whole propagation
    assert_shows_fresh(annotator)
    panel = annotator.objects_panel
    panel.name.value = "dog"
    panel.add_button.click()
    annotator.seek(4)
    click(annotator, 20, 20)
    assert_shows_fresh(annotator)
    annotator.session.project.update_object(1, name="cup")  # rename
    annotator.session.project.put_mask(7, 1, np.ones((180, 320), bool), score=0.1)  # notebook code
    annotator.seek(3)
    click(annotator, 30, 30)  # the next refresh shows them
    assert_shows_fresh(annotator)
    assert annotator.timeline.rows[0].label.endswith("cup") and annotator.timeline.rows[0].score[7] < 0.2
    panel.row(2)["remove"].click()
    assert_shows_fresh(annotator)
    key(annotator, "z")
    assert_shows_fresh(annotator)


class Raster:
    """Layer 0 of a timeline as a browser paints it (rectangles and label boxes; text as a block)."""

    def __init__(self, strip: Timeline) -> None:
        self.strip = strip
        self.pixels = np.zeros((200, strip.width, 3), np.uint8)
        self.rects = 0
        layer = strip.widget[0]
        layer.clear = lambda: self.pixels.fill(0)
        layer.fill_rect = lambda x, y, w, h: self.paint(x, y, w, h, self.style())
        layer.fill_text = lambda text, x, y: self.paint(x, y - 8, 5 * len(text), 8, self.style())
        layer.fill_styled_rects = self.styled

    def style(self) -> tuple[int, ...]:
        s = self.strip.widget[0].fill_style
        if s.startswith("#"):
            return tuple(int(s[i : i + 2], 16) for i in (1, 3, 5))
        return tuple(int(v) for v in s[4:-1].split(","))

    def paint(self, x, y, w, h, color) -> None:
        x0, y0 = max(0, round(x)), max(0, round(y))
        self.pixels[y0 : max(y0 + 1, round(y + h)), x0 : max(x0 + 1, round(x + w))] = color

    def styled(self, xs, ys, ws, hs, colors) -> None:
        self.rects += len(xs)
        for x, y, w, h, c in zip(xs, ys, ws, hs, colors, strict=True):
            self.paint(x, y, w, h, tuple(c))


def row(obj_id: int, score, prompted=(), posed=None, hidden=False) -> ObjectTimeline:
    score = np.array(score, np.float32)
    flags = np.zeros(score.size, bool)
    flags[list(prompted)] = True
    pose = None if posed is None else np.isin(np.arange(score.size), posed)
    return ObjectTimeline(ObjectInfo(obj_id, f"o{obj_id}", hidden=hidden), score, flags, pose)


NAN = np.nan
ROWS = [
    row(1, [0.9, 0.9, 0.2, NAN, -1, 0.9, 0.9, 0.9], prompted=[0]),
    row(2, [NAN, 0.9, 0.9, 0.9, 0.9, 0.4, 0.9, NAN], posed=[1, 2, 3]),
    row(3, [0.9] * 8, prompted=[5], hidden=True),
]
CHANGES = [
    ("same rows", ROWS),
    ("equal copies", [row(1, r.score, r.prompt_frames()) if r.obj_id == 1 else r for r in ROWS]),
    ("a mask lost", [ROWS[0], row(2, [NAN, 0.9, -1, 0.9, 0.9, 0.4, 0.9, NAN], posed=[1, 2, 3]), ROWS[2]]),
    ("a prompt gone", [ROWS[0], ROWS[1], row(3, [0.9] * 8, hidden=True)]),
    ("unhidden", [ROWS[0], ROWS[1], row(3, [0.9] * 8)]),
    ("masks gone", [row(1, [NAN] * 8), ROWS[1], ROWS[2]]),
]


@pytest.mark.parametrize(("name", "rows"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_partial_redraw_paints_what_a_whole_one_does(name, rows):
    strip = Timeline(8, 230)
    raster = Raster(strip)
    strip.update(ROWS)
    before = raster.pixels.copy()
    raster.rects = 0
    strip.update(rows)
    changed = [i for i, (a, b) in enumerate(zip(ROWS, rows, strict=True)) if a is not b]
    partial = raster.pixels.copy()
    strip.redraw()  # everything drawn again
    np.testing.assert_array_equal(partial, raster.pixels)
    if name in ("same rows", "equal copies"):
        assert raster.rects > 0 and (partial == before).all()
    if name == "same rows":
        raster.rects = 0
        strip.update(rows)
        assert raster.rects == 0  # nothing sent
    assert changed or name == "same rows"


def test_rows_coming_or_going_redraw_the_whole_strip():
    strip = Timeline(8, 230)
    raster = Raster(strip)
    strip.update(ROWS)
    strip.update(ROWS[:2])
    partial = raster.pixels.copy()
    strip.redraw()
    np.testing.assert_array_equal(partial, raster.pixels)
    assert strip.widget.height == strip._height(2)
