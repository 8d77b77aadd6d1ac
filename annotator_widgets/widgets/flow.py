"""Flow control between the kernel and the browser: which canvas update is on screen, and a watchdog.

Every drawing batch ends by painting a 1x1 "ack" canvas with the batch's sequence number
(:meth:`AckChannel.stamp`); the browser sends that canvas' pixels back once it has drawn
the batch. An acknowledgement carries the number of the LATEST batch drawn, so one ack
covers every earlier batch: syncs the browser coalesces (ipywidgets sends only the latest
state while a message is pending) or delivers out of order lose nothing.

An ack can still go missing (a sync dropped in transit, two asynchronous ``toBlob``
encodes finishing out of order, a closed page). The kernel must never believe forever
that updates are in flight, or playback and propagation would stop drawing. A watchdog
timer therefore resynchronises: after ``timeout`` seconds without progress it sends a
fresh, empty batch (a *ping*: a new sequence number and nothing else; a browser that is
there answers it and that answer covers everything before); after another ``timeout``
without an answer the updates in flight are treated as lost. Both steps are logged.

Playback may thin the acknowledgements out (:attr:`AckChannel.every`): every batch still
gets its sequence number, but only every n-th paints it, so the browser encodes and
sends, and the kernel decodes, one answer per n frames (each answer is also a kernel
message with its busy/idle status messages back to the page). An answer still means
"the browser drew batch N" and covers the unpainted batches before it; with ``every``
at most the window, the newest painted batch is always inside the window, so the loop
never waits on a batch that will not be answered. :meth:`AckChannel.flush` paints a
trailing batch when playback stops, so nothing stays in flight unanswered.

The front end syncs the image of every canvas a batch draws on *and* of the canvas the
previous batch ended on (ipycanvas 0.14's ``CanvasManagerModel.onCommand`` starts each
batch's list of canvases to update with its current canvas). A batch that ended on the
ack canvas would make the next one, painted or not, encode and send the ack pixel again
(a stale answer: a message, and the kernel's busy/idle status messages back). So after
painting, the channel leaves the manager on a second, silent 1x1 canvas
(:attr:`AckChannel.park`).

How many batches may be in flight is the caller's choice. Clicks and propagation keep a
small fixed number; playback sizes it from the round trip (:meth:`AckChannel.window`):
with two batches in flight and a round trip of 200 ms the browser can draw at most 10
frames a second however fast both sides are, so playback lets ``round trip x fps`` batches
travel (bounded), using the shortest recent round trip (the path's own latency, not the
queueing a bigger window adds).

Example:
    >>> from annotator_widgets.widgets.stats import Stats
    >>> channel = AckChannel(Stats(), timeout=5.0)
    >>> channel.stamp(); channel.stamp()  # two batches sent (normally inside ``drawing()``)
    >>> channel.in_flight, channel.ready(max_in_flight=2)  # no browser has answered yet: never blocks
    (2, True)
    >>> channel.acknowledge(2)  # the browser drew batch 2, which covers batch 1
    >>> channel.in_flight, channel.acked
    (0, 2)
    >>> channel.close()
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import traitlets

from ..errors import PromptError
from ._deps import ipycanvas
from .stats import Stats

__all__ = ["AckChannel"]

log = logging.getLogger(__name__)

_SEQ_BITS = 24  # a sequence number is one RGB pixel
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_RTT_SAMPLES = 16  # the window is sized from the shortest of the latest round trips


class _AckCanvas(ipycanvas.Canvas):  # type: ignore[name-defined]  # ipycanvas loads lazily
    """A 1x1 canvas whose pixel the browser sends back after each batch (no echo back to the browser)."""

    image_data = traitlets.Bytes(default_value=None, allow_none=True, read_only=True).tag(
        **{**ipycanvas.Canvas.class_traits()["image_data"].metadata, "echo_update": False}
    )


class AckChannel:
    """Sequence numbers out with each batch, acknowledgements back, and a watchdog that resynchronises.

    Args:
        stats: Where round trips (``ack_ms``), pings (``ack_pings``) and updates given up as lost
            (``ack_lost``) are recorded.
        timeout: Seconds without progress before a ping, and again before giving up on the updates
            in flight.
        draw: Runs a callable inside one drawing batch (the canvas' ``drawing()``); used to send pings.
        clock: The monotonic clock, also timing round trips (tests pass a fake one).
        watchdog: Start the watchdog timer when updates go in flight (tests drive :meth:`check` by hand).
    """

    def __init__(
        self,
        stats: Stats,
        *,
        timeout: float = 1.0,
        draw: Callable[[Callable[[], None]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        watchdog: bool = True,
    ) -> None:
        self.stats = stats
        self.timeout = float(timeout)
        self.widget = _AckCanvas(width=1, height=1, sync_image_data=True)
        #: a silent 1x1 canvas the batch moves on to after painting the ack pixel (see the module's docstring)
        self.park = ipycanvas.Canvas(width=1, height=1)
        self.widget.observe(self._on_image, names=["image_data"])
        self._draw = draw or (lambda fn: fn())
        self._clock = clock
        self._watchdog = watchdog
        self._cv = threading.Condition()
        self._sent = 0
        self._acked = 0
        self._ever_acked = False
        self._sent_at: OrderedDict[int, float] = OrderedDict()
        self._rtts: deque[float] = deque(maxlen=_RTT_SAMPLES)  # seconds, latest round trips
        self._progress_at = clock()  # when the acked count last moved, or updates went in flight
        self._ping: int | None = None  # the sequence number of an unanswered ping
        self._timer: threading.Timer | None = None
        self._closed = False
        self._every = 1  # paint every n-th batch's sequence number (playback thins the answers out)
        self._painted = 0  # the latest batch whose number was painted
        self._resyncs = 0  # pings sent and times updates were given up as lost

    # -- sending -----------------------------------------------------------------------------------------
    @property
    def every(self) -> int:
        """Paint the sequence number of every n-th batch only (1: every batch; playback sets more).

        The batches in between are covered by the next painted one's answer. Keep it at most the
        number of batches allowed in flight, and :meth:`flush` when the stream of batches ends.
        """
        return self._every

    @every.setter
    def every(self, n: int) -> None:
        if int(n) < 1:
            raise PromptError("acknowledge every n-th batch needs n >= 1", given=n)
        with self._cv:
            self._every = int(n)

    def stamp(self) -> None:
        """Inside a batch: give it the next sequence number, painted into the ack pixel if it is due."""
        self._stamp(force=False)

    def _stamp(self, *, force: bool) -> None:
        with self._cv:
            if self._sent <= self._acked:
                self._progress_at = self._clock()  # in flight from now on
            self._sent += 1
            # until a browser answers, every batch asks for an answer (the first one tells that there is one)
            paint = force or not self._ever_acked or self._sent - self._painted >= self._every
            seq = self._sent & _SEQ_MASK
            if paint:
                self._painted = self._sent
                self._sent_at[seq] = self._clock()
                while len(self._sent_at) > 256:
                    self._sent_at.popitem(last=False)
            arm = self._ever_acked  # an unpainted batch is in flight too: the watchdog looks after it
        if paint:
            self.widget.fill_style = f"#{seq:06x}"
            self.widget.fill_rect(0, 0, 1, 1)
            self.park.clear()  # the batch ends elsewhere: the next one does not sync the ack canvas again
        if arm:
            self._arm()

    def flush(self) -> bool:
        """If the latest batch went out without its number painted, send an empty batch that asks for an answer.

        Returns:
            True if such a batch was sent.
        """
        with self._cv:
            if self._closed or self._painted >= self._sent:
                return False
        self._draw(lambda: self._stamp(force=True))
        return True

    # -- receiving ---------------------------------------------------------------------------------------
    def _on_image(self, change: dict[str, Any]) -> None:
        data = change["new"]
        if not data:
            return
        try:
            from PIL import Image

            pixel: Any = Image.open(io.BytesIO(bytes(data))).convert("RGB").getpixel((0, 0))
            r, g, b = pixel
        except Exception as exc:  # noqa: BLE001 - a bad ack costs nothing: the watchdog resynchronises
            log.debug("unreadable acknowledgement from the browser: %s", exc)
            return
        self.acknowledge((r << 16) | (g << 8) | b)

    def acknowledge(self, seq: int) -> None:
        """The browser has drawn batch ``seq`` (24-bit, as painted), and so every batch before it."""
        sent_at = self._sent_at.pop(seq & _SEQ_MASK, None)
        with self._cv:
            if sent_at is not None:
                rtt = self._clock() - sent_at
                self._rtts.append(rtt)
                self.stats.add("ack_ms", rtt * 1000)
            full = (self._sent & ~_SEQ_MASK) | (seq & _SEQ_MASK)
            if full > self._sent:
                full -= 1 << _SEQ_BITS
            if full > self._acked:
                self._acked = full
                self._progress_at = self._clock()
            if self._ping is not None and self._acked >= self._ping:
                self._ping = None
            self._ever_acked = True
            self._cv.notify_all()

    # -- the watchdog ------------------------------------------------------------------------------------
    def check(self) -> float | None:
        """Resynchronise if updates have been in flight for ``timeout`` without progress.

        Sends a ping the first time, treats the updates in flight as lost the second time.

        Returns:
            Seconds until the next check is due, or None when nothing is in flight.
        """
        with self._cv:
            if self._closed or self._sent <= self._acked or not self._ever_acked:
                return None
            idle = self._clock() - self._progress_at
            waiting = lost = self._sent - self._acked
            if idle < self.timeout:
                return self.timeout - idle
            ping = self._ping is None
            if not ping:  # said and counted before a waiter wakes
                log.warning(
                    "the browser did not answer for %.1f s: treating %d update(s) as lost and carrying on", idle, lost
                )
                self.stats.count("ack_lost", lost)
                self._resyncs += 1
                self._acked = self._sent
                self._ping = None
                self._cv.notify_all()
        if ping:
            log.info(
                "no acknowledgement from the browser for %.1f s with %d update(s) in flight: asking again",
                idle,
                waiting,
            )
            self.stats.count("ack_pings")
            self._draw(self._send_ping)
            return self.timeout
        return None

    def _send_ping(self) -> None:
        self._stamp(force=True)
        with self._cv:
            self._resyncs += 1
            self._ping = self._sent
            self._progress_at = self._clock()

    def _arm(self) -> None:
        with self._cv:
            if not self._watchdog or self._closed or self._timer is not None:
                return
            self._timer = threading.Timer(self.timeout, self._fire)
            self._timer.daemon = True
            self._timer.name = "annotator-ack-watchdog"
            self._timer.start()

    def _fire(self) -> None:
        with self._cv:
            self._timer = None
        try:
            due = self.check()
        except Exception:  # the watchdog must survive a failed ping
            log.exception("resynchronising with the browser failed")
            due = self.timeout
        if due is not None:
            with self._cv:
                if self._closed or self._timer is not None:
                    return
                self._timer = threading.Timer(max(due, 0.01), self._fire)
                self._timer.daemon = True
                self._timer.name = "annotator-ack-watchdog"
                self._timer.start()

    # -- what the kernel believes ----------------------------------------------------------------------
    @property
    def sent(self) -> int:
        """Batches sent so far (pings included)."""
        return self._sent

    @property
    def acked(self) -> int:
        """The latest batch a browser has drawn (or that was given up as lost)."""
        return self._acked

    @property
    def resyncs(self) -> int:
        """Times the watchdog stepped in (a ping, or updates given up as lost): what the browser shows may
        then differ from what the kernel last sent, so the next picture is sent whole."""
        return self._resyncs

    @property
    def in_flight(self) -> int:
        """Batches sent but not yet drawn by a browser."""
        return max(0, self._sent - self._acked)

    @property
    def ever_acked(self) -> bool:
        """True once a browser has acknowledged a batch (there is a front end)."""
        return self._ever_acked

    @property
    def min_rtt(self) -> float | None:
        """The shortest of the latest round trips (batch sent -> its acknowledgement), in seconds; None before one."""
        with self._cv:
            return min(self._rtts) if self._rtts else None

    def window(self, fps: float, *, least: int = 2, most: int = 8) -> int:
        """Batches that may be in flight for a stream of ``fps`` updates a second: ``min_rtt x fps``, rounded up.

        Bounded by ``least`` (also the answer before any round trip was measured) and ``most``
        (more in flight only queues frames in the browser, i.e. shows them later).
        """
        if least < 1 or most < least:
            raise PromptError("need 1 <= least <= most", given=(least, most))
        rtt = self.min_rtt
        if rtt is None or fps <= 0:
            return least
        return max(least, min(most, math.ceil(rtt * fps)))

    def ready(self, max_in_flight: int = 2) -> bool:
        """True if the browser can take another update now (always, until a browser has acknowledged one)."""
        return not self._ever_acked or self._sent - self._acked < max_in_flight

    def wait(self, max_in_flight: int = 2, timeout: float = 0.5) -> bool:
        """Block until fewer than ``max_in_flight`` batches are waiting in the browser; False on timeout.

        Wakes the moment an acknowledgement (or the watchdog's giving up) makes room: a
        condition variable, not a poll. Until a browser has acknowledged anything (no front
        end, e.g. nbclient, tests, ``bench_widget.py --kernel-only``) it returns at once:
        acknowledgements that never come must cost nothing. Each call that has to block is
        counted (``ack_waits``, its duration in ``ack_wait_ms``), and so is each that times
        out (``ack_wait_timeouts``).
        """
        with self._cv:
            if not self._ever_acked or self._sent - self._acked < max_in_flight:
                return True
            t0 = time.monotonic()
            deadline = t0 + timeout
            ok = True
            while not self._closed and self._sent - self._acked >= max_in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    ok = False
                    break
                self._cv.wait(left)
        self.stats.count("ack_waits")
        self.stats.add("ack_wait_ms", (time.monotonic() - t0) * 1000)
        if not ok:
            self.stats.count("ack_wait_timeouts")
        return ok

    def close(self) -> None:
        """Stop the watchdog and close the ack canvas."""
        with self._cv:
            self._closed = True
            timer, self._timer = self._timer, None
            self._cv.notify_all()
        if timer is not None:
            timer.cancel()
        self.widget.close()
        self.park.close()
