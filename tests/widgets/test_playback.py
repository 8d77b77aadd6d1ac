"""The kernel side of playback: frames decoded ahead on a worker, JPEG encoding, masks shrunk for display."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

from annotator_widgets.widgets import _ipycanvas_compat as compat
from annotator_widgets.widgets.geometry import Geometry
from annotator_widgets.widgets.readahead import ReadAhead


def test_playing_a_frame_decodes_the_next_ones_ahead(annotator):
    canvas = annotator.canvas
    annotator._play_step(1)
    annotator._play_step(2)
    assert annotator.read_ahead.wait_idle(10)
    assert all(canvas.has_frame(f) for f in (3, 4, 5)) and not canvas.has_frame(6)
    # the loop jumps (it waited for the browser): the guesses keep the stride of its shortest recent step (one less),
    # so that the decoder never runs past where the loop lands next when it walks again
    annotator._play_step(5)
    assert annotator.read_ahead.wait_idle(10)
    assert all(canvas.has_frame(f) for f in (6, 7, 8)) and not canvas.has_frame(9)
    # lagging further, it shows the frame read ahead in between rather than wait for the one it aimed at
    annotator._play_step(10)
    assert annotator.frame == 8 and annotator.stats.counter("play_substituted") == 1
    # the frames read ahead are the frames shown: same pixels as decoding them on the spot
    for f in (3, 4, 8):
        expected = annotator.geometry.frame(annotator.session.video.frame(f))
        np.testing.assert_array_equal(canvas.display_frame(f, annotator.session.video.frame(f)), expected)


def test_guesses_follow_a_loop_that_steadily_walks_in_longer_steps(annotator):
    canvas = annotator.canvas
    annotator._play_step(3)  # from frame 0: a step of 3, stride 2
    assert annotator.read_ahead.wait_idle(10)
    assert all(canvas.has_frame(f) for f in (3, 5, 7, 9)) and not any(canvas.has_frame(f) for f in (4, 6, 8))


def test_read_ahead_stops_at_the_end_or_wraps_when_looping(annotator):
    n = annotator.num_frames
    annotator.frame = n - 3
    annotator._play_step(n - 2)
    assert annotator.read_ahead.wait_idle(10) and annotator.canvas.has_frame(n - 1)
    assert not annotator.canvas.has_frame(1)  # nothing past the end
    annotator._loop = True
    annotator._play_step(n - 1)
    assert annotator.read_ahead.wait_idle(10)
    assert all(annotator.canvas.has_frame(f) for f in (0, 1))


def test_only_the_latest_request_is_read():
    loaded: list[int] = []
    gate, inside = threading.Event(), threading.Event()

    def load(f: int) -> None:
        loaded.append(f)
        inside.set()
        assert gate.wait(10)

    ahead = ReadAhead(load)
    try:
        ahead.want([1, 2, 3])
        assert inside.wait(10)
        ahead.want([7, 8])  # playback jumped: 2 and 3 are not needed any more
        gate.set()
        assert ahead.wait_idle(10)
        assert loaded == [1, 7, 8]
    finally:
        gate.set()
        ahead.close()


def test_a_failed_read_ahead_is_left_to_the_playback_loop():
    def load(f: int) -> None:
        raise OSError("decoder broke")

    ahead = ReadAhead(load)
    try:
        ahead.want([1, 2])
        assert ahead.wait_idle(10)
    finally:
        ahead.close()


def test_jpeg_encoding_keeps_the_colours():
    from PIL import Image

    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :20] = (230, 20, 20)
    img[:, 20:40] = (20, 230, 20)
    img[:, 40:] = (20, 20, 230)
    buf = compat.encode(img, 90)
    assert buf[:2] == b"\xff\xd8"  # a JPEG, which ipycanvas' putImageData decodes
    back = np.asarray(Image.open(io.BytesIO(buf)).convert("RGB")).astype(int)
    assert np.abs(back[5:35, 5:15] - (230, 20, 20)).max() < 25  # red stays red (no BGR swap)
    assert np.abs(back[5:35, 45:55] - (20, 20, 230)).max() < 25
    rgba = np.dstack([img, np.full((40, 60), 128, np.uint8)])
    assert compat.encode(rgba, 90)[:4] == b"\x89PNG"  # alpha: PNG


def test_column_major_masks_shrink_like_row_major_ones():
    rng = np.random.default_rng(0)
    for size, side in [((1280, 720), 960), ((640, 360), 480), ((1280, 720), 320)]:
        g = Geometry.fit(size, side)
        m = np.zeros(size[::-1], bool)
        m[100:300, 150:500] = True
        m[rng.random(m.shape) < 0.02] = True
        f = np.asfortranarray(m)  # how RLE decodes
        a, b = g.mask(m), g.mask(f)
        assert b.shape == a.shape and b.flags.c_contiguous and b.dtype == bool
        assert (a != b).mean() < 0.005  # rounding at a few edge pixels at most
        s = side / size[0]
        assert b[int(200 * s), int(325 * s)]


def test_playback_decodes_each_frame_once_on_the_read_ahead_worker(annotator):
    """The loop hands every frame it needs to the read-ahead worker: it never decodes one itself beside it."""
    video = annotator.session.video
    decoded: list[tuple[int, str]] = []
    real = video.frame

    def frame(i: int) -> np.ndarray:
        decoded.append((int(i), threading.current_thread().name))
        return real(i)

    video.frame = frame  # type: ignore[method-assign]
    annotator.play(fps=500)
    assert annotator._player.wait_finished(timeout=60)
    assert annotator.frame == annotator.num_frames - 1
    assert {name for _, name in decoded} == {"annotator-readahead"}
    frames = [f for f, _ in decoded]
    assert len(frames) == len(set(frames))  # none twice
    assert annotator.stats.counter("play_ahead_missed") == 0


def test_read_ahead_hands_over_a_frame_it_is_reading():
    gate, inside = threading.Event(), threading.Event()
    loaded: list[int] = []

    def load(f: int) -> None:
        inside.set()
        assert gate.wait(10)
        loaded.append(f)

    ahead = ReadAhead(load)
    try:
        assert not ahead.wait_for(3, timeout=0)  # never asked for: the caller reads it itself
        ahead.want([3, 4])
        assert inside.wait(10)
        assert not ahead.wait_for(3, timeout=0)  # still loading: not handed over yet
        gate.set()
        assert ahead.wait_for(3, timeout=10) and 3 in loaded
        assert ahead.wait_idle(10) and loaded == [3, 4]
        assert not ahead.wait_for(4, timeout=0)  # done: nothing to wait for
    finally:
        gate.set()
        ahead.close()


def test_a_forked_file_reader_decodes_the_same_frames_on_its_own_position(tmp_path):
    from annotator_widgets import open_video
    from annotator_widgets.data import synthetic_clip, write_video

    clip = synthetic_clip(num_frames=8, size=(96, 64), num_objects=1, seed=1)
    video = open_video(write_video(clip.frames, tmp_path / "v.mp4", fps=10))
    twin = video.fork()  # type: ignore[attr-defined]
    try:
        assert (len(twin), twin.size, twin.fps, twin.path) == (len(video), video.size, video.fps, video.path)
        for f in (5, 6, 1, 7):  # the twin moves back and forth; the original stays where it was
            np.testing.assert_array_equal(twin.frame(f), video.frame(f))
        assert twin._cap is not video._cap  # type: ignore[attr-defined]
    finally:
        twin.close()
        video.close()


def test_display_masks_are_cached_by_content_so_an_edit_is_never_shown_stale(annotator):
    from annotator_widgets.rle import RLE
    from annotator_widgets.types import Annotation

    canvas, g = annotator.canvas, annotator.geometry
    h, w = annotator.session.video.height, annotator.session.video.width
    m1 = np.zeros((h, w), bool)
    m1[20:80, 30:120] = True
    m2 = m1.copy()
    m2[100:150, 200:300] = True  # the same object's mask after an edit
    a1, a2 = Annotation(3, 1, RLE.from_mask(m1)), Annotation(3, 1, RLE.from_mask(m2))
    d1 = canvas.display_mask(a1)
    np.testing.assert_array_equal(d1, g.mask(m1))
    assert canvas.display_mask(Annotation(3, 1, RLE.from_mask(m1.copy()))) is d1  # same content: shrunk once
    d2 = canvas.display_mask(a2)
    assert d2 is not d1
    np.testing.assert_array_equal(d2, g.mask(m2))
    # bounded in bytes: the least recently used go first
    canvas._cache_mask_bytes = d1.nbytes
    m3 = np.zeros((h, w), bool)
    m3[5:9, 5:9] = True
    a3 = Annotation(4, 1, RLE.from_mask(m3))
    canvas.display_mask(a3)
    assert list(canvas._masks) == [a3.rle]


def test_playback_reads_the_stored_masks_ahead_at_display_size(annotator):
    annotator.current_object = annotator.add_object().obj_id
    annotator.click(100, 60)
    annotator.session.run("forward")
    annotator._play_step(1)
    assert annotator.read_ahead.wait_idle(10)
    for f in (2, 3, 4):
        (ann,) = annotator.session.view(f).annotations.values()
        assert ann.rle in annotator.canvas._masks
    # and what is drawn from them is what the frame's masks say
    annotator._play_step(2)
    (ann,) = annotator.session.view(2).annotations.values()
    np.testing.assert_array_equal(annotator.canvas.display_mask(ann), annotator.geometry.mask(ann.mask))


@pytest.fixture
def on_file(clip, disc, tmp_path):
    """An annotator on the clip written to an H.264 file (its read-ahead decodes a fork of the file)."""
    from annotator_widgets import AnnotationSession, VideoAnnotator, open_video
    from annotator_widgets.data import write_video

    video = open_video(write_video(clip.frames, tmp_path / "v.mp4", fps=10))
    session = AnnotationSession(video, project=tmp_path / "p.awp", segmenter=disc)
    ann = VideoAnnotator(session, tools=["points"], max_display_side=160)
    assert ann.num_frames >= 12
    yield ann, video
    ann.close()
    session.close()


def test_reading_ahead_never_sends_the_decoder_back_for_a_guess(on_file, monkeypatch):
    """Frames guessed ahead that the read-ahead's file decoder has passed are not asked for (each would be a
    decode from the previous keyframe)."""
    ann, video = on_file
    n = ann.num_frames
    ann._read_ahead_picture(10)  # the read-ahead's decoder (a fork of the file) is past frame 10 now
    assert ann._ahead_video.position == 11
    asked: list[list[int]] = []
    monkeypatch.setattr(ann.read_ahead, "want", lambda frames: asked.append(list(frames)))
    for f in (4, 6, 9):
        ann.canvas.display_frame(f, video.frame(f))  # shown frames are cached already
    ann.frame = 4
    ann._play_step(6)  # guesses 7, 8, 9: all behind the decoder
    assert asked[-1] == [] and ann.frame == 6
    ann._play_step(9)  # guesses 11, 13, 15: ahead of it
    assert asked[-1] == [f for f in (11, 13, 15) if f < n] and ann.frame == 9


def test_a_frame_the_decoder_has_passed_is_shown_early_rather_than_decoded_again(on_file):
    ann, _ = on_file
    n = ann.num_frames
    ann._read_ahead_picture(4)
    ann._read_ahead_picture(8)  # guessed too far: the decoder went from 4 to 8 (position 9)
    ann.frame = 4
    decoded: list[int] = []
    real = ann._ahead_video._decode
    ann._ahead_video._decode = lambda i: (decoded.append(i), real(i))[1]
    ann._play_step(6)  # 5..7 were skipped by the decoder: 8, two frames (one step) early, instead of going back
    assert ann.frame == 8 and ann.stats.counter("play_early") == 1
    ann._play_step(7)  # the loop's clock has not caught up yet: 8 stays
    assert ann.frame == 8 and ann.stats.counter("play_early") == 2
    assert ann.read_ahead.wait_idle(10)
    assert all(f >= 9 for f in decoded)  # the decoder only went forward
    ann._play_step(n - 1)  # the last frame is always shown as asked
    assert ann.frame == n - 1
    ann._loop = True
    ann._play_step(0)  # a loop that wraps around goes back to the start
    assert ann.frame == 0


@pytest.mark.parametrize("stop", ["the end", "pause"])
def test_while_playing_slider_label_and_cursor_follow_throttled_and_show_the_frame_shown_once_stopped(
    annotator, monkeypatch, stop
):
    import time

    from annotator_widgets.widgets import actions

    frozen = time.perf_counter() + 1000.0
    monkeypatch.setattr(actions, "_now", lambda: frozen)  # the whole playback within one throttle period
    nav, timeline = annotator.navigation, annotator.timeline
    slider: list[int] = []
    labels: list[str] = []
    cursors: list[int] = []
    nav.slider.observe(lambda ch: slider.append(ch["new"]), names=["value"])
    nav.label.observe(lambda ch: labels.append(ch["new"]), names=["value"])
    set_cursor = timeline.set_cursor
    monkeypatch.setattr(timeline, "set_cursor", lambda f: (cursors.append(f), set_cursor(f)))
    shown: list[int] = []
    annotator.observe(lambda ch: shown.append(ch["new"]), names=["frame"])
    if stop == "the end":
        annotator.play(fps=200)
    else:
        annotator.play(fps=30, loop=True)
        deadline = time.monotonic() + 30
        while len(shown) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        annotator.pause()
    assert annotator._player.wait_finished(timeout=60) and not annotator.playing
    assert len(shown) >= 6 if stop == "pause" else 4  # frames played...
    # ...but the slider, the label and the cursor moved once when playback began and once when it stopped
    # (after a pause, once more if the loop was drawing a frame meanwhile: shown at once, playback is over)
    most = 3 if stop == "pause" else 2
    assert len(slider) <= most and len(labels) <= most and len(cursors) <= most
    last = annotator.frame
    if stop == "the end":
        assert last == annotator.num_frames - 1
    assert nav.slider.value == last == timeline.cursor == shown[-1]
    assert nav.label.value == f"{last} / {annotator.num_frames - 1}"


def test_playback_reads_the_records_of_a_block_of_frames_in_one_go(annotator):
    from annotator_widgets.view import frame_view
    from annotator_widgets.widgets.actions import PLAY_VIEWS_AHEAD

    session, n = annotator.session, annotator.num_frames
    assert n <= PLAY_VIEWS_AHEAD  # the 12 frames are one block
    annotator.add_object()
    annotator.click(60, 60)
    session.run("forward")  # a mask on every frame; the write drops the views kept
    queries: list[str] = []
    session.project._store._conn.set_trace_callback(queries.append)
    frame_view(session.project, 0)
    per_frame = len(queries)  # one query per kind of record
    queries.clear()
    for f in range(1, n):
        annotator._play_step(f)
    assert annotator.read_ahead.wait_idle(10) and annotator.frame == n - 1
    # read ahead, drawn, and asked for by the tools' frame observers: one read per kind for all the frames
    # (frame by frame, each view read alone, it was several times per_frame per frame)
    assert len(queries) <= per_frame
    # an edit meanwhile is drawn: the views kept are dropped on any write
    session.project.delete_masks(frame=n - 1)
    queries.clear()
    annotator.redraw()
    assert session.view(n - 1).annotations == {} and queries
