"""Kernel-side tests of the annotator: browser events are simulated through the widgets' own handlers."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from annotator_widgets.errors import BackendError
from annotator_widgets.widgets import SHORTCUTS, Geometry, VideoAnnotator, help_text
from annotator_widgets.widgets.shortcuts import ANNOTATOR_SHORTCUTS

# the canvas is 160x90 for a 320x180 video: one CSS pixel is two video pixels
SCALE = 2.0


def mouse(ann, kind, x, y, *, button=0, shift=False, css=(160, 90)):
    """Feed an ipyevents mouse event (CSS pixels relative to the displayed canvas)."""
    event = {
        "type": kind, "button": button, "shiftKey": shift, "relativeX": x, "relativeY": y,
        "boundingRectWidth": css[0], "boundingRectHeight": css[1],
    }  # fmt: skip
    handlers = ann.mouse_move_events if kind == "mousemove" else ann.mouse_events
    handlers._dom_handlers(event)


def click(ann, x, y, **kw):
    mouse(ann, "mousedown", x, y, **kw)
    mouse(ann, "mouseup", x, y, **kw)


def key(ann, name, *, shift=False, ctrl=False):
    ann.key_events._dom_handlers({"type": "keydown", "key": name, "shiftKey": shift, "ctrlKey": ctrl})


def points(ann, frame=0):
    return [(pr.obj_id, p.x, p.y, p.label) for pr in ann.session.prompts(frame) for p in pr.points]


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize(
    "name",
    ["canvas", "geometry", "keys", "shortcuts", "stats", "timeline", "annotator", "tools.points", "tools.region"],
)
def test_docstring_examples(name):
    module = importlib.import_module(f"annotator_widgets.widgets.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# -- coordinates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("video", "max_side", "display"),
    [((1280, 720), 960, (960, 540)), ((640, 360), 960, (640, 360)), ((321, 999), 500, (161, 500))],
)
def test_geometry_fits_and_round_trips(video, max_side, display):
    g = Geometry.fit(video, max_side)
    assert g.display_size == display
    for xv, yv in [(0, 0), (video[0] / 3, video[1] / 2), (video[0] - 1, video[1] - 1)]:
        css = g.video_to_css(xv, yv, display[0] / 2, display[1] / 2)  # the page shows it at half size
        back = g.css_to_video(*css, display[0] / 2, display[1] / 2)
        assert back == pytest.approx((xv, yv), abs=0.06)
    assert g.to_video(-5, 10**6) == (0.0, round(video[1] - 0.1, 1))  # clamped inside the frame


def test_pose_skeletons_are_drawn_at_display_scale(annotator):
    from annotator_widgets.types import PersonPose

    annotator.redraw()
    before = annotator.canvas.last_image.copy()  # the composite picture on screen
    person = annotator.session.add_object("walker", "person")
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 2] = np.linspace(100, 220, 33), np.linspace(40, 160, 33), 1.0
    annotator.session.project.put_poses(0, [PersonPose(0, person.obj_id, lm)])
    annotator.redraw()
    changed = np.abs(annotator.canvas.last_image.astype(int) - before.astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert xs.size  # landmarks x 100..220, y 40..160 in video pixels: 50..110, 20..80 on the half-size canvas
    assert xs.min() >= 44 and xs.max() <= 116 and ys.min() >= 14 and ys.max() <= 86


def test_masks_are_computed_at_video_resolution_and_shown_downscaled(annotator):
    masks = annotator.click(100, 60)
    assert masks[1].shape == (180, 320)
    assert annotator.canvas.widget.width == 160 and annotator.canvas.widget.height == 90
    shown = annotator.geometry.mask(masks[1])
    assert shown.shape == (90, 160) and shown[30, 50] and not shown[0, 0]


# -- clicks ---------------------------------------------------------------------------------------------


def test_click_on_scaled_canvas_prompts_in_video_pixels(annotator, disc):
    click(annotator, 50, 30)
    assert points(annotator) == [(1, 100.0, 60.0, 1)]
    assert disc.prompts[-1].points[0].x == 100.0
    assert annotator.session.masks(0)[1][60, 100]
    assert annotator.error == "" and "positive point at (100, 60)" in annotator.status
    # the page may shrink the canvas further (a narrow notebook): CSS 80x45 -> video x4
    click(annotator, 25, 20, css=(80, 45))
    assert points(annotator)[-1] == (1, 100.0, 80.0, 1)


def test_click_sends_one_update_with_marker_first(annotator):
    annotator.add_object("cup")
    sent = annotator.canvas.sent
    updates = annotator.stats.counter("updates")
    click(annotator, 40, 40)
    assert annotator.canvas.sent == sent + 2  # the instant marker, then the frame with its mask
    assert annotator.stats.counter("updates") == updates + 1
    summary = annotator.stats.summary()
    assert summary["update_bytes"]["max"] > 0 and summary["click_ms"]["n"] == 1


@pytest.mark.parametrize(("button", "shift"), [(2, False), (0, True)])
def test_right_click_and_shift_click_add_negative_points(annotator, button, shift):
    click(annotator, 50, 30)
    click(annotator, 52, 30, button=button, shift=shift)
    assert [p[3] for p in points(annotator)] == [1, 0]
    annotator.tools["points"].label = 0  # with the toggle on negative, the modifier gives a positive point
    click(annotator, 54, 30, button=button, shift=shift)
    assert points(annotator)[-1][3] == 1


def test_middle_click_does_nothing(annotator):
    click(annotator, 50, 30, button=1)
    assert points(annotator) == []


def test_first_click_creates_an_object(annotator):
    assert annotator.session.project.objects() == []
    click(annotator, 50, 30)
    assert [o.obj_id for o in annotator.session.project.objects()] == [1]
    assert annotator.current_object == 1


@pytest.mark.parametrize(("keyname", "expected"), [("t", 0), ("-", 0), ("+", 1), ("=", 1)])
def test_keys_set_the_point_label(annotator, keyname, expected):
    points_tool = annotator.tools["points"]
    points_tool.label = 1 - expected
    key(annotator, keyname)
    assert points_tool.label == expected
    assert points_tool.bar.label.value == expected


def test_negative_toggle_then_click(annotator):
    click(annotator, 50, 30)
    key(annotator, "t")
    click(annotator, 55, 30)
    assert [p[3] for p in points(annotator)] == [1, 0]
    annotator.tools["points"].bar.label.value = 1  # the toggle buttons drive the same trait
    assert annotator.tools["points"].label == 1


def test_box_drag_prompts_a_box_in_video_pixels(annotator):
    assert annotator.mouse_move_events.watched_events == []  # hovering sends nothing
    mouse(annotator, "mousedown", 10, 10)
    assert annotator.mouse_move_events.watched_events == ["mousemove"]
    mouse(annotator, "mousemove", 40, 30)
    mouse(annotator, "mousemove", 60, 50)
    assert annotator.dragging
    mouse(annotator, "mouseup", 60, 50)
    assert not annotator.dragging and annotator.mouse_move_events.watched_events == []
    (prompt,) = annotator.session.prompts(0)
    assert prompt.box.xyxy == (20.0, 20.0, 120.0, 100.0)
    assert prompt.points == ()
    assert annotator.session.masks(0)[prompt.obj_id][50, 50]


def test_drag_in_any_direction_and_tiny_moves_are_clicks(annotator):
    mouse(annotator, "mousedown", 60, 50)
    mouse(annotator, "mouseup", 10, 10)
    assert annotator.session.prompts(0)[0].box.xyxy == (20.0, 20.0, 120.0, 100.0)
    mouse(annotator, "mousedown", 70, 70)
    mouse(annotator, "mouseup", 72, 71)  # under the drag threshold: a click where the press was
    assert points(annotator) == [(1, 140.0, 140.0, 1)]


def test_leaving_the_canvas_drops_a_drag(annotator):
    mouse(annotator, "mousedown", 10, 10)
    mouse(annotator, "mousemove", 40, 30)
    mouse(annotator, "mouseleave", 200, 30)
    mouse(annotator, "mouseup", 40, 30)
    assert annotator.session.prompts(0) == []


# -- objects --------------------------------------------------------------------------------------------


def test_object_panel_add_select_hide_recolour_remove(annotator):
    panel = annotator.objects_panel
    panel.name.value, panel.category.value = "cup", "kitchen"
    panel.add_button.click()
    panel.name.value = "dog"
    panel.add_button.click()
    objs = annotator.session.project.objects()
    assert [(o.obj_id, o.name, o.category) for o in objs] == [(1, "cup", "kitchen"), (2, "dog", "kitchen")]
    assert annotator.current_object == 2
    panel.row(1)["select"].value = True
    assert annotator.current_object == 1
    assert panel.row(1)["select"].button_style == "info" and panel.row(2)["select"].button_style == ""
    click(annotator, 50, 30)
    assert points(annotator)[0][0] == 1
    panel.row(1)["hide"].value = True
    assert annotator.session.project.object(1).hidden
    panel.row(2)["swatch"].value = "#102030"
    assert annotator.session.project.object(2).color == (16, 32, 48)
    annotator.set_color(2, "orange")
    assert annotator.session.project.object(2).color == (255, 165, 0)
    with pytest.raises(Exception, match="not a colour"):
        annotator.set_color(2, "blurple")
    panel.row(1)["remove"].click()
    assert [o.obj_id for o in annotator.session.project.objects()] == [2]
    assert annotator.session.prompts(0) == []
    key(annotator, "z")  # undo brings it back with its prompt
    assert [o.obj_id for o in annotator.session.project.objects()] == [1, 2]
    assert points(annotator)[0][0] == 1


def test_object_panel_renames_the_current_object(annotator):
    """The first click makes an unnamed object: the panel's name and class boxes with Rename name it (one undo
    step); an empty box keeps that field; nothing typed, or no current object, is an error in the status line."""
    panel = annotator.objects_panel
    click(annotator, 50, 30)
    (obj,) = annotator.session.project.objects()
    assert (obj.name, obj.category) == ("", "")
    panel.name.value, panel.category.value = "cyclist", "person"
    panel.rename_button.click()
    obj = annotator.session.project.object(obj.obj_id)
    assert (obj.name, obj.category) == ("cyclist", "person") and annotator.error == ""
    assert panel.row(obj.obj_id)["select"].description == f"{obj.obj_id} cyclist"
    assert (panel.name.value, panel.category.value) == ("", "")
    panel.category.value = "rider"  # the class only: the name stays
    panel.rename_button.click()
    assert (annotator.session.project.object(obj.obj_id).category, panel.name.value) == ("rider", "")
    assert annotator.session.project.object(obj.obj_id).name == "cyclist"
    panel.rename_button.click()  # nothing typed
    assert "nothing to rename" in annotator.error
    key(annotator, "z")
    assert annotator.session.project.object(obj.obj_id).category == "person"
    assert annotator.session.prompts(0)[0].obj_id == obj.obj_id  # the prompt is untouched
    annotator.current_object = None
    panel.name.value = "bike"
    panel.rename_button.click()
    assert "no current object" in annotator.error


def test_a_second_annotator_or_code_on_the_session_shows_when_the_pointer_comes_back(annotator):
    """Two annotators on one session (or code in a cell) change the project: the other one showed the old
    masks, objects and timeline until the person clicked in it; it catches up when the pointer enters it."""
    from annotator_widgets import VideoAnnotator

    other = VideoAnnotator(annotator.session, max_display_side=160)
    try:
        before = annotator.canvas.last_image.copy()
        click(other, 50, 30)  # an object and its mask, made in the other annotator
        assert list(annotator.objects_panel.rows.children) == []
        assert np.array_equal(annotator.canvas.last_image, before)  # not redrawn yet
        mouse(annotator, "mouseenter", 10, 10)
        (obj,) = annotator.session.objects
        assert annotator.objects_panel.row(obj.obj_id)["select"].description == obj.label
        assert not np.array_equal(annotator.canvas.last_image, before)  # the mask is shown
        assert [r.obj_id for r in annotator._rows] == [obj.obj_id]  # the timeline's rows
        # code in a cell: a new object shows on the next entry; an entry with nothing new draws nothing
        made = annotator.session.add_object(name="from code")
        mouse(annotator, "mouseenter", 10, 10)
        assert made.obj_id in [o.obj_id for o in annotator.session.objects]
        assert annotator.objects_panel.row(made.obj_id)["select"].description == made.label
        assert annotator.catch_up() is False
        assert points(annotator)[0][0] == obj.obj_id and not annotator.pointer.pressed  # not a click
    finally:
        other.close()


def test_from_video_run_again_on_the_same_project_replaces_the_earlier_annotator(clip, tmp_path):
    """A notebook cell with ``from_video(video, "clip.awp")`` run twice: the second run failed with a ProjectError
    (the first annotator, still alive in the kernel, holds the write lock); it now closes the earlier one and shows
    the same stored work. A session the person made is never closed for them."""
    from annotator_widgets import AnnotationSession, VideoAnnotator
    from annotator_widgets.errors import ProjectError
    from tests.widgets.conftest import DiscSegmenter

    path = tmp_path / "again.awp"
    first = VideoAnnotator.from_video(clip.frames, path, segmenter=DiscSegmenter(), max_display_side=160)
    first.click(100, 60)
    second = VideoAnnotator.from_video(clip.frames, str(path), segmenter=DiscSegmenter(), max_display_side=160)
    try:
        assert first.comm is None  # closed, with its session
        (obj,) = second.session.objects
        assert [(p.x, p.y) for p in second.session.prompts(0)[0].points] == [(100.0, 60.0)]
        assert second.session.masks(0)[obj.obj_id].any()
        second.click(200, 100)
        assert len(second.session.prompts(0)[0].points) == 2
        second.close()
        third = VideoAnnotator.from_video(clip.frames, path, segmenter=DiscSegmenter(), max_display_side=160)
        assert len(third.session.prompts(0)[0].points) == 2  # closed by hand first: opened as usual
        third.close()
        mine = AnnotationSession(clip.frames, project=tmp_path / "mine.awp", segmenter=DiscSegmenter())
        shown = VideoAnnotator(mine, max_display_side=160)
        with pytest.raises(ProjectError, match="already open"):
            VideoAnnotator.from_video(clip.frames, tmp_path / "mine.awp", segmenter=DiscSegmenter())
        assert shown.comm is not None
        shown.close()
        mine.close()
    finally:
        second.close()


def test_clearing_a_frame_with_nothing_on_it_says_so(annotator):
    """``c`` on a frame where the object has no prompt or mask said "cleared object 1" and wrote nothing, so the
    next ``z`` undid the step before it (in the browser: a whole propagation) instead of the "clear"."""
    click(annotator, 50, 30)
    annotator.frame = 5  # the fake segmenter has not propagated: nothing here
    key(annotator, "c")
    assert "nothing to clear: object 1 has no prompt or mask on frame 5" in annotator.status
    key(annotator, "C")
    assert "nothing to clear: every object" in annotator.status
    annotator.frame = 0
    key(annotator, "c")
    assert annotator.status == "cleared object 1 on frame 0" and annotator.session.prompts(0) == []
    key(annotator, "z")
    assert len(annotator.session.prompts(0)) == 1  # the clear was the step undone


def test_the_status_line_is_under_the_video_above_the_tools_bars(make_annotator):
    """Errors and messages go to the status line; below the tools' bars it was out of sight in the browser
    (about 700 px under the canvas with the default tools) whenever the video was in view."""
    ann = make_annotator(160)
    rows = list(ann.children)
    bars = [t.widget for t in ann.tools.values() if t.widget is not None]
    assert len(bars) >= 5  # the default tools
    assert rows.index(ann.status_line) == rows.index(ann.propagation_bar.widget) + 1
    assert all(rows.index(ann.status_line) < rows.index(b) for b in bars)


def test_no_live_widget_refers_to_a_closed_one(annotator):
    """A live box holding a closed widget leaves the whole annotator "Loading widget..." after a page reload."""
    from ipywidgets.widgets.widget import _instances

    annotator.add_object("a")
    annotator.add_object("b")
    annotator.remove_object(1)
    annotator.undo()
    annotator.hide_object(2)
    for widget in list(_instances.values()):
        for child in getattr(widget, "children", ()):
            assert child.comm is not None, f"{widget!r} holds the closed {child!r}"


def test_number_keys_pick_objects_and_n_makes_one(annotator):
    key(annotator, "n")
    key(annotator, "n")
    assert annotator.current_object == 2
    key(annotator, "1")
    assert annotator.current_object == 1
    key(annotator, "7")
    assert "there are 2 objects" in annotator.error


# -- editing --------------------------------------------------------------------------------------------


def test_undo_redo_and_clear_frame(annotator):
    click(annotator, 50, 30)
    click(annotator, 60, 30)
    key(annotator, "z")
    assert len(points(annotator)) == 1
    key(annotator, "Z", shift=True, ctrl=True)
    assert len(points(annotator)) == 2
    annotator.toolbar.undo.click()
    annotator.toolbar.redo.click()
    assert len(points(annotator)) == 2
    key(annotator, "c")
    assert points(annotator) == [] and annotator.session.masks(0) == {}
    assert "cleared object 1 on frame 0" in annotator.status
    annotator.toolbar.undo.click()
    assert len(points(annotator)) == 2


def test_opacity_and_masks_toggle(annotator):
    annotator.toolbar.opacity.value = 0.8
    assert annotator.opacity == 0.8
    key(annotator, "m")
    assert annotator.opacity == 0.0
    key(annotator, "m")
    assert annotator.opacity == 0.8


# -- navigation -----------------------------------------------------------------------------------------


def test_navigation_buttons_keys_slider_and_timeline(annotator):
    nav = annotator.navigation
    nav.next.click()
    assert annotator.frame == 1 and nav.slider.value == 1 and nav.label.value == "1 / 11"
    key(annotator, "ArrowRight", shift=True)
    assert annotator.frame == 11  # clamped
    key(annotator, "Home")
    key(annotator, "d")
    key(annotator, "ArrowLeft")
    assert annotator.frame == 0
    nav.slider.value = 5
    assert annotator.frame == 5
    tl = annotator.timeline
    tl.widget[1]._mouse_down_callbacks(tl.x_of(8) + 1, 5)  # ipycanvas' own mouse callbacks
    tl.widget[1]._mouse_move_callbacks(tl.x_of(9) + 1, 5)
    tl.widget[1]._mouse_up_callbacks(tl.x_of(9) + 1, 5)
    tl.widget[1]._mouse_move_callbacks(tl.x_of(3) + 1, 5)  # not pressed: hovering does not seek
    assert annotator.frame == 9


def test_jump_between_prompted_frames(annotator):
    annotator.seek(3)
    annotator.click(100, 60)
    annotator.seek(7)
    annotator.click(100, 60)
    annotator.seek(0)
    key(annotator, "]")
    assert annotator.frame == 3
    annotator.navigation.next_prompted.click()
    assert annotator.frame == 7
    key(annotator, "]")
    assert annotator.frame == 7 and "no later frame with prompts" in annotator.status
    key(annotator, "[")
    assert annotator.frame == 3


def test_play_advances_in_a_worker_and_stops_at_the_end(annotator):
    annotator.play(fps=300)
    wait_for(lambda: not annotator.playing)
    assert annotator.frame == 11
    assert annotator.stats.summary()["frame_ms"]["n"] >= 2
    key(annotator, " ")  # from the last frame, play starts over
    wait_for(lambda: not annotator.playing)
    assert annotator.frame == 11


def test_seeking_while_playing_pauses(annotator):
    annotator.play(fps=2)
    key(annotator, "End")
    assert not annotator.playing and annotator.frame == 11
    time.sleep(0.7)
    assert annotator.frame == 11


def test_pause_stops_playback(annotator):
    annotator.play(fps=2)
    assert annotator.playing and annotator.navigation.play.value
    annotator.navigation.play.value = False
    assert not annotator.playing
    frame = annotator.frame
    time.sleep(0.7)
    assert annotator.frame == frame < 11


# -- propagation ----------------------------------------------------------------------------------------


def test_propagate_forward_streams_and_fills_the_timeline(annotator, disc):
    disc.scores = {5: 0.2, 6: 0.3}
    disc.empty_frames = {9}
    annotator.seek(2)
    annotator.click(100, 60)
    job = annotator.propagation_bar.forward.click() or annotator.job
    assert job.wait(20) and job.error is None
    assert job.frames == list(range(2, 12))
    bar = annotator.propagation_bar
    assert (bar.progress.value, bar.progress.max) == (10, 10) and bar.cancel.disabled
    assert not annotator.busy and "propagated forward from frame 2: 10/10" in annotator.status
    assert annotator.frame == 11  # the canvas followed the propagation
    (row,) = annotator.timeline_rows
    assert row.mask_frames() == list(range(2, 12))
    assert row.prompt_frames() == [2]
    assert row.low_frames(annotator.low_score) == [5, 6, 9]
    assert annotator.timeline.rows[0].mask_frames() == list(range(2, 12))  # what the strip shows
    annotator.seek(0)
    key(annotator, "l")
    assert annotator.frame == 5
    key(annotator, "l")
    key(annotator, "l")
    assert annotator.frame == 9


@pytest.mark.parametrize(
    ("keyname", "direction", "frames"),
    [("b", "backward", [6, 5, 4, 3, 2, 1, 0]), ("p", "both", [6, 7, 8, 9, 10, 11, 5, 4, 3, 2, 1, 0])],
)
def test_propagate_backward_and_both_from_the_current_frame(annotator, keyname, direction, frames):
    annotator.seek(6)
    annotator.click(100, 60)
    key(annotator, keyname)
    job = annotator.job
    assert job.direction == direction and job.wait(20)
    assert job.frames == frames


def test_cancel_keeps_done_frames_and_the_widget_stays_responsive(annotator, disc):
    disc.gate = threading.Semaphore(0)
    annotator.click(100, 60)
    job = annotator.propagate("forward")
    disc.gate.release(3)
    wait_for(lambda: len(job.frames) == 3)
    assert annotator.busy and not job.done
    assert not annotator.propagation_bar.cancel.disabled and annotator.propagation_bar.forward.disabled
    # the kernel keeps serving the widget while the worker waits
    annotator.navigation.next.click()
    assert annotator.frame >= 1
    click(annotator, 20, 20)
    assert "while propagating" in annotator.error
    annotator.propagation_bar.cancel.click()
    disc.gate.release(100)
    assert job.wait(20)
    assert job.cancelled and job.error is None
    assert 3 <= len(job.frames) < 12
    assert annotator.session.project.mask_frames(1) == job.frames
    assert not annotator.busy and "cancelled" in annotator.status
    assert annotator.propagation_bar.cancel.disabled and not annotator.propagation_bar.forward.disabled
    click(annotator, 20, 20)  # works again
    assert annotator.error == ""


def test_escape_cancels_a_propagation(annotator, disc):
    disc.gate = threading.Semaphore(0)
    annotator.click(100, 60)
    job = annotator.propagate("forward")
    disc.gate.release(1)
    wait_for(lambda: len(job.frames) == 1)
    key(annotator, "Escape")
    disc.gate.release(100)
    assert job.wait(20) and job.cancelled


def test_propagating_without_prompts_is_an_error_in_the_status(annotator):
    annotator.propagation_bar.forward.click()
    assert "nothing to propagate" in annotator.error
    assert not annotator.busy and annotator.job is None


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [BackendError("model fell over", hint="restart it"), RuntimeError("CUDA boom")])
def test_a_failing_segmenter_shows_in_the_status_and_the_widget_keeps_working(annotator, disc, exc):
    annotator.add_object("cup")
    disc.fail = exc
    sent = annotator.canvas.sent
    click(annotator, 50, 30)  # must not raise
    assert annotator.error and str(exc.args[0]) in annotator.error
    assert "⚠" in annotator.status_line.value
    assert annotator.canvas.sent == sent + 2  # the marker, then its removal
    assert annotator.session.prompts(0) == []
    disc.fail = None
    click(annotator, 50, 30)
    assert annotator.error == "" and len(points(annotator)) == 1
    assert "⚠" not in annotator.status_line.value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"mode": "tiles"}, "unknown drawing mode"), ({"max_display_side": 0}, "at least 16 pixels")],
)
def test_bad_settings_are_clear_errors(annotator, kwargs, message):
    with pytest.raises(Exception, match=message):
        VideoAnnotator(annotator.session, **kwargs)


def test_public_methods_raise(annotator):
    with pytest.raises(Exception, match="outside the 320x180 frame"):
        annotator.click(400, 10)
    with pytest.raises(Exception, match="fps must be positive"):
        annotator.play(fps=0)


# -- reconnects, stats, Colab, dependencies -------------------------------------------------------------


def test_client_ready_redraws_after_forgetting_the_canvas_selection(annotator, monkeypatch):
    from ipycanvas.canvas import COMMANDS

    annotator.click(100, 60)
    frame_layer = annotator.canvas.widget[0]
    mgr = frame_layer._canvas_manager
    mgr._current_canvas = frame_layer  # what the kernel believes, while a reloaded page has nothing selected
    batches = []
    monkeypatch.setattr(mgr, "_send_custom", lambda commands, buffers=(): batches.append(commands))
    annotator.canvas.widget[-1]._client_ready_callbacks()  # the new page says it is ready
    first = batches[0]
    assert first[0] == [COMMANDS["switchCanvas"], [f"IPY_MODEL_{frame_layer.model_id}"]]
    assert first[1][0] == COMMANDS["putImageData"]


def test_acknowledgements_drive_flow_control(annotator):
    import io

    from PIL import Image

    canvas = annotator.canvas
    annotator.redraw()
    assert canvas.in_flight >= 1
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), ((canvas.sent >> 16) & 255, (canvas.sent >> 8) & 255, canvas.sent & 255)).save(buf, "PNG")
    canvas._ack.set_state({"image_data": memoryview(buf.getvalue())})  # what the browser sends after drawing
    assert canvas.in_flight == 0 and canvas.wait_for_client(1, timeout=0.01)
    assert annotator.stats.summary()["ack_ms"]["n"] == 1


def test_layers_mode_sends_the_frame_only_when_it_changes(clip, disc, tmp_path):
    from annotator_widgets import AnnotationSession

    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=disc)
    ann = VideoAnnotator(session, max_display_side=160, mode="layers")
    try:
        ann.click(100, 60)
        masks_only = ann.stats.values("update_bytes")[-1]
        ann.next_frame()
        with_frame = ann.stats.values("update_bytes")[-1]
        ann.click(120, 60)
        assert 0 < ann.stats.values("update_bytes")[-1] < with_frame
        assert 0 < masks_only < with_frame
    finally:
        ann.close()
        session.close()


def test_colab_custom_widget_manager_is_enabled(monkeypatch, annotator):
    from annotator_widgets.widgets import _deps

    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(_deps, "_colab_enabled", False)
    VideoAnnotator(annotator.session, max_display_side=64).close()
    assert calls == [1]


def test_missing_widget_libraries_name_the_extra():
    code = "import sys; sys.modules['ipycanvas'] = None; from annotator_widgets import VideoAnnotator"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "MissingDependencyError" in out.stderr and "annotator-widgets[widgets]" in out.stderr


def test_every_shortcut_has_an_action_and_help(annotator):
    text = help_text()
    for s in ANNOTATOR_SHORTCUTS:
        assert callable(getattr(VideoAnnotator, s.action)), s.action
    for tool in annotator.tools.values():
        for s in tool.shortcuts:
            assert callable(getattr(tool, s.action)), (tool.name, s.action)
    assert len(SHORTCUTS) == len(ANNOTATOR_SHORTCUTS) + sum(len(t.shortcuts) for t in annotator.tools.values())
    for s in SHORTCUTS:
        assert s.help in text
    assert "right-click" in text and "drag" in text
    keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(keys) == len(set(keys)), "a key is bound twice"


def test_the_bar_counts_the_cut_scan_before_the_first_frame_and_cancel_stops_it(annotator):
    """Prompts far apart: the shot cuts between them are scanned before the first frame; the bar says so, and
    Cancel stops the scan (nothing propagated)."""
    annotator.seek(0)
    annotator.click(100, 60)
    annotator.seek(11)
    annotator.click(100, 60)
    scanner = annotator.session._cut_scan
    release, real = threading.Event(), scanner.ensure

    def ensure(a, b):  # a slow scan: each step waits for the test
        assert release.wait(20), "the test never released the scan"
        return real(a, b)

    scanner.ensure = ensure
    scanner.scanned, scanner.cuts = [], []  # (nothing scanned yet)
    annotator.seek(0)
    job = annotator.propagate("forward")
    wait_for(lambda: annotator.propagation_bar.progress_label.value.startswith("shot cuts: 0/12"))
    assert annotator.busy and not job.frames
    annotator.propagation_bar.cancel.click()
    release.set()
    assert job.wait(20) and job.frames == [] and job.cancelled
    assert annotator.session.project.mask_frames() == [0, 11]  # the two prompted frames only
