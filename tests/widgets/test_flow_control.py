"""Flow control between kernel and browser cannot stall: coalesced acks, a lost ack, a browser that went away.

A fake browser sits where ipycanvas sends its drawing batches (the canvas manager's
``_send_custom``): it reads the sequence number each batch paints into the ack canvas and
answers the way the front end does (``image_data`` of the ack canvas), or drops answers on
purpose.
"""

from __future__ import annotations

import io
import logging
import queue
import threading

import pytest

from annotator_widgets.errors import AnnotatorError
from annotator_widgets.widgets.flow import AckChannel
from annotator_widgets.widgets.stats import Stats


def ack_png(seq: int) -> memoryview:
    """The ack canvas' pixels as the browser sends them after drawing batch ``seq``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), ((seq >> 16) & 255, (seq >> 8) & 255, seq & 255)).save(buf, "PNG")
    return memoryview(buf.getvalue())


class FakeBrowser:
    """Receives every ipycanvas batch; answers with the ack pixel of each batch unless told to drop it."""

    def __init__(self, canvas, monkeypatch) -> None:
        from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS, Canvas

        self._switch, self._set, self._fill = COMMANDS["switchCanvas"], COMMANDS["set"], Canvas.ATTRS["fill_style"]
        self.ack = canvas._ack
        self.ack_ref = f"IPY_MODEL_{self.ack.model_id}"
        self.park_ref = f"IPY_MODEL_{canvas.flow.park.model_id}"
        current = _CANVAS_MANAGER._current_canvas
        self.current = f"IPY_MODEL_{current.model_id}" if current is not None else None
        self.batches: list[list] = []  # commands of every batch received
        self.stamps: list[int] = []  # the ack pixel of each batch (None when a batch had none)
        # the canvases whose image the front end syncs after each batch: the one the previous batch ended on and
        # every one switched to (ipycanvas' CanvasManagerModel.onCommand)
        self.synced: list[set[str]] = []
        self.drop = 0  # drop this many of the next acks
        self.answering = True
        self.dropped: list[int] = []
        monkeypatch.setattr(_CANVAS_MANAGER, "_send_custom", self._receive)

    def _receive(self, command, buffers=()) -> None:
        commands = command if command and isinstance(command[0], list) else [command]
        self.batches.append(commands)
        seq = None
        synced = {self.current} if self.current is not None else set()
        for name, *args in commands:
            if name == self._switch:
                self.current = args[0][0]
                synced.add(self.current)
            elif name == self._set and self.current == self.ack_ref and args[0][0] == self._fill:
                seq = int(args[0][1].lstrip("#"), 16)
        self.stamps.append(seq)
        self.synced.append(synced)
        if seq is None:
            return
        if not self.answering or self.drop > 0:
            self.drop = max(0, self.drop - 1)
            self.dropped.append(seq)
            return
        self.answer(seq)

    def answer(self, seq: int) -> None:
        """Send the ack of batch ``seq`` (what the front end's ``syncImageData`` does)."""
        self.ack.set_state({"image_data": ack_png(seq)})

    def only_ack(self, commands: list) -> bool:
        """True if a batch draws on the ack canvas alone (a ping; it ends on the silent park canvas)."""
        targets = {args[0][0] for name, *args in commands if name == self._switch}
        return targets <= {self.ack_ref, self.park_ref}


@pytest.fixture
def browser(annotator, monkeypatch):
    annotator.canvas.flow.timeout = 0.05
    fake = FakeBrowser(annotator.canvas, monkeypatch)
    annotator.redraw()  # answered: a browser is there
    assert annotator.canvas.flow.ever_acked and annotator.canvas.in_flight == 0
    return fake


def test_one_ack_covers_every_earlier_update(annotator, browser):
    canvas = annotator.canvas
    browser.answering = False  # the browser coalesces: only the latest image comes back
    for f in (1, 2, 3):
        annotator.seek(f)
    assert canvas.in_flight == 3 and not canvas.ready(annotator.max_in_flight)
    browser.answer(browser.dropped[-1])
    assert canvas.in_flight == 0 and canvas.acked == canvas.sent
    browser.answer(browser.dropped[0])  # a late, older ack changes nothing
    assert canvas.acked == canvas.sent and canvas.in_flight == 0


def test_a_dropped_ack_is_recovered_by_a_ping_and_updates_go_on(annotator, browser, caplog):
    canvas = annotator.canvas
    annotator.max_in_flight = 1
    browser.drop = 1
    with caplog.at_level(logging.INFO, logger="annotator_widgets.widgets.flow"):
        annotator.seek(4)  # its ack is lost on the way
        assert canvas.in_flight == 1 and not canvas.ready(1)  # propagation would skip drawing now
        sent = canvas.sent
        # the watchdog asks again: a ping (a batch with the ack pixel only) whose answer covers the lost ack
        assert canvas.wait_for_client(max_in_flight=1, timeout=10)
    assert canvas.in_flight == 0 and canvas.ready(1)
    assert canvas.sent == sent + 1 and browser.only_ack(browser.batches[-1]) and browser.stamps[-1] == canvas.sent
    assert annotator.stats.counter("ack_pings") == 1 and annotator.stats.counter("ack_lost") == 0
    assert any("asking again" in r.getMessage() for r in caplog.records)
    # the next update goes out and is acknowledged as usual
    annotator.seek(5)
    assert browser.stamps[-1] == canvas.sent and canvas.in_flight == 0


def test_a_browser_that_stops_answering_never_stalls_the_kernel(annotator, browser, caplog):
    canvas = annotator.canvas
    browser.answering = False  # e.g. the page was closed
    with caplog.at_level(logging.INFO, logger="annotator_widgets.widgets.flow"):
        annotator.seek(2)
        annotator.seek(3)
        assert canvas.in_flight == 2
        assert canvas.wait_for_client(max_in_flight=1, timeout=10)  # ping unanswered, then given up
    assert canvas.in_flight == 0 and canvas.ready(1)
    assert annotator.stats.counter("ack_pings") == 1 and annotator.stats.counter("ack_lost") == 3  # 2 + the ping
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("treating 3 update(s) as lost" in m for m in warnings)
    # the browser is back: its acks count again
    browser.answering = True
    annotator.seek(6)
    assert canvas.in_flight == 0 and canvas.acked == canvas.sent


def test_playback_keeps_drawing_through_lost_acks(annotator, browser):
    canvas = annotator.canvas
    browser.drop = 2  # two acks lost in a row: without the watchdog, playback would wait 0.5 s on every frame
    annotator.play(fps=200)
    assert annotator._player.wait_finished(timeout=30)
    assert annotator.frame == annotator.num_frames - 1 and not annotator.playing
    assert annotator.stats.counter("ack_pings") >= 1
    assert canvas.in_flight == 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watchdog_steps_with_a_fake_clock():
    clock = Clock()
    pings = []
    channel = AckChannel(Stats(), timeout=1.0, draw=lambda fn: (pings.append(1), fn()), clock=clock, watchdog=False)
    try:
        assert channel.check() is None  # nothing in flight
        channel.stamp()
        clock.now += 5
        assert channel.check() is None and channel.in_flight == 1  # no browser has ever answered: nothing to wait on
        channel.acknowledge(1)
        channel.stamp()
        clock.now += 0.4
        assert channel.check() == pytest.approx(0.6) and not pings
        clock.now += 0.6
        assert channel.check() == pytest.approx(1.0) and pings == [1] and channel.sent == 3  # the ping
        clock.now += 0.5
        channel.acknowledge(2)  # progress (an older ack arrived late): the clock restarts
        clock.now += 0.9
        assert channel.check() == pytest.approx(0.1) and channel.in_flight == 1
        channel.acknowledge(3)  # the ping's answer
        assert channel.in_flight == 0 and channel.check() is None and pings == [1]
    finally:
        channel.close()


def test_sequence_numbers_wrap_around_24_bits():
    channel = AckChannel(Stats(), watchdog=False)
    try:
        channel._sent = channel._acked = (1 << 24) - 2  # as after 16.7 million updates
        for _ in range(4):
            channel.stamp()
        channel.acknowledge(((1 << 24) + 1) & 0xFFFFFF)  # painted as 1 after wrapping
        assert channel.acked == (1 << 24) + 1 and channel.in_flight == 1
        channel.acknowledge(((1 << 24) - 1) & 0xFFFFFF)  # an old one from before the wrap
        assert channel.acked == (1 << 24) + 1
    finally:
        channel.close()


class _Signalling(threading.Condition):
    """The channel's condition variable, telling a fake browser when the kernel blocks on it."""

    def __init__(self, waiting: threading.Event) -> None:
        super().__init__()
        self.waiting = waiting

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_playback_blocks_on_each_ack_and_wakes_when_it_arrives_never_on_a_timeout(annotator, browser):
    """A browser that answers later, from its own thread, once the kernel waits: every frame waits and is woken."""
    canvas, flow = annotator.canvas, annotator.canvas.flow
    flow.timeout = 30.0  # no watchdog pings: only answers wake the loop
    waiting, stop = threading.Event(), threading.Event()
    flow._cv = _Signalling(waiting)
    pending: queue.Queue[int] = queue.Queue()
    browser.answer = pending.put  # batches are queued, answered by the thread below

    def answer_when_waited_for() -> None:
        while not stop.is_set():
            try:
                seq = pending.get(timeout=0.05)
            except queue.Empty:
                continue
            while not waiting.wait(0.05):  # the last frame is never waited for: answered when the test ends
                if stop.is_set():
                    break
            waiting.clear()
            FakeBrowser.answer(browser, seq)

    acker = threading.Thread(target=answer_when_waited_for, daemon=True)
    acker.start()
    try:
        annotator.play_in_flight = 1  # every frame waits for the previous one's ack
        annotator.stats.reset()
        annotator.play(fps=100)
        assert annotator._player.wait_finished(timeout=60)
    finally:
        stop.set()
        acker.join(10)
    shown = annotator._player.shown
    assert shown >= 2 and annotator.frame == annotator.num_frames - 1
    # a blocking wait after every frame shown (but the very last, when playback ends by showing it), each
    # ended by the browser's answer: none ran into its 0.5 s timeout
    assert shown - 1 <= annotator.stats.counter("ack_waits") <= shown
    assert annotator.stats.counter("ack_wait_timeouts") == 0
    assert annotator.stats.counter("ack_pings") == 0 and annotator.stats.counter("ack_lost") == 0
    assert canvas.acked == canvas.sent


def test_without_a_browser_playback_never_waits_for_acks(annotator):
    canvas = annotator.canvas
    assert not canvas.flow.ever_acked  # no front end (nbclient, a script, bench_widget.py --kernel-only)
    annotator.stats.reset()
    annotator.play(fps=500)
    assert annotator._player.wait_finished(timeout=60)
    assert canvas.in_flight >= annotator.max_in_flight  # nothing was ever acknowledged...
    assert canvas.wait_for_client(max_in_flight=1, timeout=30)  # ...and nothing waits for it
    assert annotator.stats.counter("ack_waits") == 0 and annotator.stats.counter("ack_wait_timeouts") == 0


def test_the_window_is_the_shortest_recent_round_trip_times_the_rate_within_bounds():
    clock = Clock()
    channel = AckChannel(Stats(), clock=clock, watchdog=False)
    try:
        assert channel.min_rtt is None and channel.window(60) == 2  # nothing measured yet: the least
        for rtt in (0.3, 0.1, 0.2):  # three round trips: the shortest counts (queueing makes the others longer)
            channel.stamp()
            clock.now += rtt
            channel.acknowledge(channel.sent)
        assert channel.min_rtt == pytest.approx(0.1)
        assert channel.window(60) == 6  # 0.1 s x 60 updates/s
        assert channel.window(25) == 3  # rounded up
        assert channel.window(5) == 2 and channel.window(5, least=1) == 1
        assert channel.window(1000) == 8 and channel.window(1000, most=4) == 4
        assert channel.stats.summary()["ack_ms"]["p50"] == pytest.approx(200.0)
        with pytest.raises(AnnotatorError, match="least"):
            channel.window(60, least=3, most=2)
    finally:
        channel.close()


def test_playback_lets_round_trip_x_fps_updates_travel_and_other_updates_keep_theirs(annotator, monkeypatch):
    canvas, flow = annotator.canvas, annotator.canvas.flow
    clock = Clock()
    monkeypatch.setattr(flow, "_clock", clock)
    flow.timeout = 60.0
    browser = FakeBrowser(canvas, monkeypatch)
    answer = browser.answer

    def answer_after_100_ms(seq: int) -> None:  # a browser 100 ms away
        clock.now += 0.1
        answer(seq)

    browser.answer = answer_after_100_ms
    annotator.redraw()
    assert flow.min_rtt == pytest.approx(0.1)
    asked: list[int] = []

    def wait_for_client(max_in_flight: int = 2, timeout: float = 0.5) -> bool:
        asked.append(max_in_flight)
        return True

    monkeypatch.setattr(canvas, "wait_for_client", wait_for_client)
    annotator.play(fps=60)
    assert annotator._player.wait_finished(timeout=60)
    assert asked and set(asked) == {6}  # 0.1 s x 60 fps, not max_in_flight
    assert annotator.max_in_flight == 2  # clicks and propagation keep theirs
    asked.clear()
    annotator.play_in_flight = 3  # set by hand: used as is
    annotator.play(fps=60)
    assert annotator._player.wait_finished(timeout=60)
    assert asked and set(asked) == {3}
    annotator.play_in_flight = None
    annotator.max_in_flight = 7  # never fewer than the other updates may have
    assert annotator.play_window() == 7


def test_each_frame_played_is_one_acknowledged_batch_with_the_tools_observers_in_it(clip, disc, tmp_path, monkeypatch):
    from annotator_widgets import AnnotationSession, VideoAnnotator

    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=disc)
    # tools that follow the frame: text (candidate boxes), captions (its text), interactions (a cursor strip)
    ann = VideoAnnotator(session, tools=["points", "text", "captions", "actions"], max_display_side=160)
    try:
        ann.canvas.flow.timeout = 0.05
        ann.play_ack_every = 1  # every frame asks for an answer here (answers every few frames: tested below)
        browser = FakeBrowser(ann.canvas, monkeypatch)
        ann.redraw()
        captions = ann.tools["captions"]
        seen: list[str] = []
        captions.what.observe(lambda ch: seen.append(ch["new"]), names=["value"])
        before = len(browser.batches)
        ann.play(fps=200)
        assert ann._player.wait_finished(timeout=60) and not ann.playing
        played, stamps = browser.batches[before:], browser.stamps[before:]
        # one message per frame, not one per observer, each acknowledged as a whole; the timeline cursor
        # follows at most 4 times a second while playing, and to the last frame shown when playback stops
        # (that last batch draws the cursor only: nothing to acknowledge)
        frames = [stamp for stamp in stamps if stamp is not None]
        assert len(frames) == ann._player.shown >= 2
        assert len(played) - len(frames) <= 1 and all(stamp is not None for stamp in stamps[:-1])
        assert ann.timeline.cursor == ann.frame == ann.num_frames - 1
        # the caption line follows once playback stops, not on every frame
        assert seen == [f"<b>the whole frame</b> on frame {ann.frame}"]
    finally:
        ann.close()
        session.close()


def _painted(channel: AckChannel) -> list[int]:
    """Record the sequence numbers a channel paints into its ack pixel."""
    seqs: list[int] = []
    fill_rect = channel.widget.fill_rect

    def record(*args):
        seqs.append(int(channel.widget.fill_style.lstrip("#"), 16))
        return fill_rect(*args)

    channel.widget.fill_rect = record
    return seqs


def test_every_nth_batch_asks_for_an_answer_which_covers_the_batches_before_it():
    clock = Clock()
    channel = AckChannel(Stats(), timeout=1.0, clock=clock, watchdog=False)
    painted = _painted(channel)
    try:
        channel.every = 3
        channel.stamp()
        assert painted == [1]  # until a browser has answered, every batch asks (the first answer tells it is there)
        channel.acknowledge(1)
        for _ in range(6):
            channel.stamp()
        assert painted == [1, 4, 7] and channel.sent == 7
        channel.acknowledge(4)  # covers 2 and 3, which asked nothing
        assert channel.acked == 4 and channel.in_flight == 3
        assert not channel.flush()  # batch 7 asked already
        channel.stamp()  # batch 8 asks nothing...
        assert channel.flush() and painted[-1] == 9 == channel.sent  # ...so an empty batch asks for it
        channel.acknowledge(9)
        assert channel.in_flight == 0 and channel.min_rtt is not None
        channel.every = 1
        channel.stamp()
        assert painted[-1] == 10
        with pytest.raises(AnnotatorError, match="n >= 1"):
            channel.every = 0
    finally:
        channel.close()


def test_a_batch_that_asked_for_no_answer_is_still_looked_after_by_the_watchdog():
    clock = Clock()
    pings = []
    channel = AckChannel(Stats(), timeout=1.0, draw=lambda fn: (pings.append(1), fn()), clock=clock, watchdog=False)
    painted = _painted(channel)
    try:
        channel.stamp()
        channel.acknowledge(1)
        channel.every = 4
        channel.stamp()  # never answered: nothing asked for it, and nothing follows (no flush either)
        assert painted == [1] and channel.in_flight == 1
        clock.now += 1.0
        assert channel.check() == pytest.approx(1.0) and pings == [1]
        assert painted == [1, 3]  # the ping asks for an answer whatever ``every`` says
        channel.acknowledge(3)
        assert channel.in_flight == 0 and channel.check() is None
    finally:
        channel.close()


def test_playback_asks_every_nth_frame_for_an_answer_and_stops_with_everything_answered(annotator, monkeypatch):
    canvas, flow = annotator.canvas, annotator.canvas.flow
    clock = Clock()
    monkeypatch.setattr(flow, "_clock", clock)
    flow.timeout = 60.0  # no pings: only answers move the loop
    browser = FakeBrowser(canvas, monkeypatch)
    answer = browser.answer

    def answer_after_100_ms(seq: int) -> None:  # a browser 100 ms away: a window of 6 at 60 fps
        clock.now += 0.1
        answer(seq)

    browser.answer = answer_after_100_ms
    annotator.redraw()
    before = len(browser.batches)
    annotator.play(fps=60)
    assert annotator._player.wait_finished(timeout=60) and not annotator.playing
    assert annotator.play_window() == 6 and annotator.ack_every(6) == 5
    picture = f"IPY_MODEL_{canvas.widget[0].model_id}"
    batches = list(zip(browser.batches[before:], browser.stamps[before:], strict=True))
    frames = [stamp for batch, stamp in batches if any(n == browser._switch and a[0][0] == picture for n, *a in batch)]
    asked = [stamp for stamp in frames if stamp is not None]
    assert len(frames) == annotator._player.shown >= 6
    assert len(asked) < len(frames)  # fewer answers than frames...
    last = [stamp for _, stamp in batches if stamp is not None][-1]
    assert last == canvas.sent  # ...but the last batch sent asked for one (the last frame, or an empty batch after it)
    # the front end sends the ack canvas' pixel back only after the batches that painted it: a batch that asked
    # for nothing does not start on the ack canvas (where the one before it ended)
    answered = [browser.ack_ref in synced for synced in browser.synced[before:]]
    assert answered == [stamp is not None for _, stamp in batches]
    assert canvas.acked == canvas.sent and canvas.in_flight == 0  # nothing left waiting
    assert flow.every == 1  # at rest every update asks again (a click's answer is never held back)
    assert annotator.stats.counter("ack_pings") == 0 and annotator.stats.counter("ack_lost") == 0
    assert annotator.stats.counter("ack_wait_timeouts") == 0


@pytest.mark.parametrize(
    ("play_ack_every", "window", "every"),
    [(None, 1, 1), (None, 2, 1), (None, 3, 2), (None, 6, 5), (None, 8, 7), (3, 8, 3), (3, 2, 2), (0, 8, 1)],
)
def test_playback_answers_every_window_less_one_frames_or_as_set_never_more_than_the_window(
    annotator, play_ack_every, window, every
):
    annotator.play_ack_every = play_ack_every
    assert annotator.ack_every(window) == every


def test_playback_leaves_room_for_answers_every_few_frames(annotator):
    from annotator_widgets.widgets.actions import PLAY_WINDOW_LEAST

    assert annotator.canvas.flow.min_rtt is None  # nothing measured: the least window
    assert annotator.play_window() == PLAY_WINDOW_LEAST == 4 > annotator.max_in_flight
    assert annotator.ack_every(annotator.play_window()) == 3
    annotator.play_in_flight = 2  # set by hand: used as is, and answers come for every frame
    assert annotator.play_window() == 2 and annotator.ack_every(2) == 1
