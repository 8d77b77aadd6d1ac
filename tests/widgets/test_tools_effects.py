"""The Effects tool, kernel-side: live preview from stored masks (only inside them, following the slider, stale
previews dropped), and Render to an MP4 that plays inline (progress, cancel, nothing half-written)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import RLE, Annotation, AnnotationSession, VideoAnnotator
from annotator_widgets.video import open_video
from annotator_widgets.widgets import _ipycanvas_compat as compat
from annotator_widgets.widgets.tools.effects import EffectsTool, LatestOnly

BOX = (slice(40, 120), slice(100, 220))  # rows, columns of the stored mask (video pixels, 320x180)


@pytest.fixture
def ann(clip, disc, tmp_path):
    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=disc)
    cup = session.add_object("cup", "thing")
    session.add_object("ball", "toy")
    mask = np.zeros((180, 320), bool)
    mask[BOX] = True
    session.project.put_annotations([Annotation(f, cup.obj_id, RLE.from_mask(mask), 0.9) for f in range(12)])
    widget = VideoAnnotator(session, tools=["points", "effects"], max_display_side=160)
    yield widget
    widget.close()
    session.close()


@pytest.fixture
def sent(monkeypatch):
    """Every image the canvas encodes (display size, before JPEG)."""
    images: list[np.ndarray] = []
    encode = compat.encode
    monkeypatch.setattr(compat, "encode", lambda arr, q: images.append(arr.copy()) or encode(arr, q))
    return images


def _inside(ann, margin: int) -> np.ndarray:
    """The stored mask at display size, grown by ``margin`` display pixels."""
    m = np.zeros((90, 160), bool)
    m[max(0, 20 - margin) : 60 + margin, max(0, 50 - margin) : 110 + margin] = True
    return m


def test_preview_changes_the_canvas_only_inside_the_masks_and_follows_the_slider(ann, sent):
    tool = ann.tools["effects"]
    assert isinstance(tool, EffectsTool) and ann.tool == "points"
    plain = ann.geometry.frame(ann.session.video.frame(0)).astype(int)
    tool.strength = 0.3  # moving a control makes the tool active and previews
    assert ann.tool == "effects" and tool.wait_preview(20)
    weak = sent[-1].astype(int)
    diff = np.abs(weak - plain).sum(axis=2)
    assert diff[_inside(ann, 0)].mean() > 5  # the blur changed the cup
    assert not diff[~_inside(ann, 2)].any()  # and nothing outside it (2 px: the downscale's reach)
    tool.strength = 1.0
    assert tool.wait_preview(20)
    strong = np.abs(sent[-1].astype(int) - plain).sum(axis=2)
    assert strong[_inside(ann, 0)].mean() > diff[_inside(ann, 0)].mean() * 1.3  # the slider drives it
    assert not strong[~_inside(ann, 2)].any()
    tool.dilate = 10  # dilate grows the changed region (10 video px = 5 display px)
    assert tool.wait_preview(20)
    grown = np.abs(sent[-1].astype(int) - plain).sum(axis=2)
    assert grown[~_inside(ann, 2)].any() and not grown[~_inside(ann, 7)].any()
    # another frame while the tool is active: the preview, drawn synchronously by the annotator
    ann.seek(3)
    other = np.abs(sent[-1].astype(int) - ann.geometry.frame(ann.session.video.frame(3)).astype(int)).sum(axis=2)
    assert other[_inside(ann, 0)].mean() > 5 and not other[~_inside(ann, 7)].any()
    # objects: only the ball (no masks) -> nothing changes; back to points: the mask overlay again
    tool.which = "toy"
    assert tool.wait_preview(20) and np.array_equal(sent[-1], ann.geometry.frame(ann.session.video.frame(3)))
    ann.tool = "points"
    assert not np.array_equal(sent[-1], ann.geometry.frame(ann.session.video.frame(3)))  # overlays


def test_the_objects_choice_lists_categories_and_names_and_current(ann):
    tool = ann.tools["effects"]
    assert list(tool.which_choice.options) == ["all", "current", "thing", "toy", "cup", "ball"]
    ann.current_object = 1
    assert tool.settings()["objects"] == "all"
    tool.which = "current"
    assert tool.settings()["objects"] == [1]
    ann.add_object("dog", "animal")
    assert "animal" in tool.which_choice.options


def test_the_objects_choice_follows_a_rename_without_the_tool_active(ann):
    """The Effects bar is shown whatever tool is active; after a click made an object and Rename named it, its
    class and name were missing from *objects* until the effects tool was switched on."""
    tool = ann.tools["effects"]
    assert ann.tool == "points"
    ann.click(20, 20)
    oid = ann.current_object
    ann.objects_panel.name.value, ann.objects_panel.category.value = "kite", "sky"
    ann.objects_panel.rename_button.click()
    assert ann.session.object(oid).category == "sky"
    assert {"sky", "kite"} <= set(tool.which_choice.options)
    tool.which_choice.value = "sky"
    assert tool.settings()["objects"] == "sky"


def test_stale_previews_are_dropped_not_queued(ann, sent, monkeypatch):
    tool = ann.tools["effects"]
    gate, entered = threading.Event(), threading.Event()
    real, seen = tool.preview, []

    def slow(frame=None, rgb=None):
        seen.append(tool.strength)
        entered.set()
        assert gate.wait(20)
        return real(frame, rgb)

    monkeypatch.setattr(tool, "preview", slow)
    tool.strength = 0.1
    assert entered.wait(20)  # the worker is drawing 0.1; now the slider moves 9 more times
    for s in np.linspace(0.2, 1.0, 9):
        tool.strength = float(s)
    gate.set()
    assert tool.wait_preview(20)
    assert seen == [0.1, 1.0]  # one drawing for the 9 stale moves: the latest
    assert tool.latest.dropped >= 8 and tool.latest.runs == 2


def test_latest_only_draws_after_each_request_and_stops_when_closed():
    runs = []
    latest = LatestOnly(lambda: runs.append(1))
    for _ in range(3):
        latest.request()
        assert latest.wait(10)
    assert len(runs) == 3 and latest.dropped == 0
    latest.close()
    latest.request()
    assert latest.wait(1) and len(runs) == 3


def test_render_writes_an_mp4_that_plays_inline(ann, tmp_path):
    tool = ann.tools["effects"]
    tool.effect, tool.strength = "pixelate", 0.8
    assert tool.default_output() == tmp_path / "p_pixelate.mp4"
    job = tool.render()
    path = job.result(120)
    assert path == tmp_path / "p_pixelate.mp4" and not ann.busy
    vid = open_video(path)
    assert len(vid) == 12 and vid.size == (320, 180)
    frame = vid.frame(2).astype(int)
    src = ann.session.video.frame(2).astype(int)
    outside = np.ones((180, 320), bool)
    outside[30:130, 90:230] = False
    inside_err, outside_err = np.abs(frame - src)[BOX].mean(), np.abs(frame - src)[outside].mean()
    assert inside_err > 2.5 * outside_err  # outside: codec noise only
    (video,) = tool.player.children
    assert video.format == "mp4" and bytes(video.value) == path.read_bytes()
    assert "p_pixelate.mp4" in tool.link.value and "rendered p_pixelate.mp4" in ann.status


def test_a_cancelled_render_leaves_no_file(ann, tmp_path):
    tool = ann.tools["effects"]
    tool.output = str(tmp_path / "out" / "cancelled.mp4")
    with ann.lock:  # the worker's first progress report waits for the lock: cancel it there
        job = tool.render()
        job.cancel()
    assert job.wait(60) and not ann.busy
    assert "cancelled" in ann.status
    assert not (tmp_path / "out" / "cancelled.mp4").exists()
    assert not [p for p in (tmp_path / "out").glob("*") if p.is_file()] if (tmp_path / "out").exists() else True
    assert tool.player.children == ()


def test_render_without_masks_of_the_chosen_objects_says_so(ann):
    tool = ann.tools["effects"]
    tool.which = "toy"
    job = tool.render()
    job.wait(60)
    assert "no masks of the chosen objects" in ann.error


def test_bad_settings_are_refused(ann):
    from annotator_widgets.errors import AnnotatorError

    tool = ann.tools["effects"]
    with pytest.raises(AnnotatorError):
        tool.effect = "sepia"
    with pytest.raises(AnnotatorError, match=r"0\.\.1"):
        tool.strength = 1.5
    with pytest.raises(AnnotatorError, match="0 or more"):
        tool.feather = -1
