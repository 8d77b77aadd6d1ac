"""The drawing surface: canvas layers that show a :class:`~annotator_widgets.view.FrameView`.

The surface draws at display size (:class:`~.geometry.Geometry` maps video, canvas
and CSS pixels; masks are computed at full resolution by the session and only shrunk
here for display). Layers of the :class:`ipycanvas.MultiCanvas`:

0. the frame (``composite`` mode: frame, masks, outlines, labels and points in one
   RGB image, sent as one JPEG per update; when the frame on screen is redrawn, e.g. after a
   click, only the rectangle that changed is sent, see :meth:`FrameCanvas.show`);
1. masks and points as a sparse RGBA image (``layers`` mode only);
2. interaction: the instant click marker and the rubber band of a box drag.

Every update is one ``hold_canvas()`` batch that ends by writing a sequence number
into a 1x1 "ack" canvas whose image the browser sends back once it has drawn the
batch (:mod:`.flow`; during playback only every n-th batch asks for an answer, which
covers the batches before it): the kernel learns which update is on screen, which lets
playback and propagation drop frames instead of queueing them, and measures the round
trip; a watchdog resynchronises when an acknowledgement is lost.
ipycanvas internals are used only through :mod:`._ipycanvas_compat`.

Example:
    >>> g = Geometry.fit((1280, 720), 960)
    >>> g.display_size, g.to_video(480, 270)
    ((960, 540), (640.0, 360.0))
    >>> g.css_to_video(240, 135, css_width=480, css_height=270)
    (640.0, 360.0)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import PromptError
from ..render import Renderer
from ..rle import RLE
from ..types import Annotation, ObjectInfo, PersonPose, Prompt
from ..view import FrameView
from . import _ipycanvas_compat as compat
from ._deps import ipycanvas, ipywidgets
from .flow import AckChannel
from .geometry import Geometry
from .notes import draw_notes
from .stats import Stats

__all__ = ["FrameCanvas", "Geometry", "drawing", "redraw_on_reconnect"]

log = logging.getLogger(__name__)

Mode = Literal["composite", "layers"]

_CACHE_MASK_BYTES = 24 * 1024 * 1024  # display-size masks kept (about 48 at 960x540)

_BLOCK = 16  # a partial update's rectangle is aligned to JPEG's 16 px blocks (MCUs at 4:2:0 chroma)
_PARTIAL_MAX_SHARE = 0.5  # a changed rectangle above this share of the picture is sent as a whole picture

_POSITIVE = "#28c83c"
_NEGATIVE = "#e62828"


# -- batching ----------------------------------------------------------------------------------------------

_DRAW_LOCK = threading.RLock()  # ipycanvas batches through one global manager: one drawer at a time
_depth = threading.local()


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Batch every canvas command inside into one message (``hold_canvas``), thread safe and re-entrant.

    ipycanvas' ``hold_canvas`` is a process-wide switch without ``finally``; this wrapper
    serialises drawers across threads and restores the manager if a command fails.
    """
    with _DRAW_LOCK:
        if getattr(_depth, "n", 0):
            yield
            return
        _depth.n = 1
        try:
            with ipycanvas.hold_canvas():
                yield
        except BaseException:
            compat.reset_manager()
            raise
        finally:
            _depth.n = 0


def _in_batch(fn: Callable[[], None]) -> None:
    with drawing():
        fn()


def redraw_on_reconnect(widget: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` when a browser (re)creates ``widget``'s canvas (a new page, a reload).

    ipycanvas drops that redraw (ipycanvas #322): its manager still believes the new page's
    canvas is selected and skips the switch command; forgetting the selection fixes it.
    """

    def ready(*_: Any) -> None:
        with _DRAW_LOCK:
            compat.forget_selection(widget)
        callback()

    widget.on_client_ready(ready)


# -- the surface -------------------------------------------------------------------------------------------


class FrameCanvas:
    """The video surface: three canvas layers plus the acknowledgement channel.

    Args:
        geometry: Video and display sizes.
        stats: Where update sizes and timings are recorded.
        mode: ``"composite"`` (one JPEG per update) or ``"layers"`` (frame JPEG only when
            the frame changes, masks and points as a sparse RGBA PNG).
        jpeg_quality: JPEG quality of frame images.
        cache_frames: Display-size frames kept in memory.
        cursors: Tool name -> CSS cursor over the video while that tool is active
            (the surface carries the class ``aw-tool-<name>``).
        ack_timeout: Seconds without an acknowledgement from the browser before the kernel
            resynchronises (:class:`~.flow.AckChannel`).
    """

    def __init__(
        self,
        geometry: Geometry,
        stats: Stats,
        *,
        mode: Mode = "composite",
        jpeg_quality: int = 75,
        cache_frames: int = 32,
        cursors: Mapping[str, str] | None = None,
        ack_timeout: float = 1.0,
    ) -> None:
        if mode not in ("composite", "layers"):
            raise PromptError("unknown drawing mode", given=mode, hint="use 'composite' or 'layers'")
        self.geometry = geometry
        self.stats = stats
        self.mode: Mode = mode
        self.jpeg_quality = int(jpeg_quality)
        dw, dh = geometry.display_size
        self.widget = ipycanvas.MultiCanvas(3, width=dw, height=dh)
        self.widget.layout = ipywidgets.Layout(width=f"{dw}px", max_width="100%", height="auto", display="block")
        self.widget.add_class("aw-canvas")
        # Mouse input is taken from this box around the canvas, and the canvas itself ignores the pointer:
        # ipycanvas would otherwise send the kernel a message for every mouse move and press (without buttons or
        # modifiers, which ipyevents on the box provides).
        self.surface = ipywidgets.Box([self.widget], layout=ipywidgets.Layout(width=f"{dw}px", max_width="100%"))
        self.surface.add_class("aw-surface")
        tool_css = "".join(f" .aw-surface.aw-tool-{name} {{ cursor: {css}; }}" for name, css in (cursors or {}).items())
        self.style = ipywidgets.HTML(
            f"<style>.aw-canvas {{ pointer-events: none; }} .aw-surface {{ cursor: crosshair; }}{tool_css}</style>",
            layout=ipywidgets.Layout(display="none"),
        )
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._frames_lock = threading.Lock()
        self._cache_frames = max(1, int(cache_frames))
        # display-size masks by their stored RLE (content-keyed: an edited mask is a new key, never a stale hit)
        self._masks: OrderedDict[RLE, np.ndarray] = OrderedDict()
        self._masks_nbytes = 0
        self._cache_mask_bytes = _CACHE_MASK_BYTES
        self._frame_on_screen: int | None = None  # layers mode: what layer 0 holds
        self._interaction_drawn = False  # layer 2 holds a marker or rubber band
        self.last_image: np.ndarray | None = None  # composite mode: the display-size picture last sent
        # composite mode: the frame whose composite (last_image) is on screen, None when unknown (nothing
        # drawn yet, an effect preview, a reconnect) -- the next update then sends the whole picture
        self._composite_on_screen: int | None = None
        self._resyncs_seen = 0  # the ack channel's resyncs when layer 0 was last drawn
        self.flow = AckChannel(stats, timeout=ack_timeout, draw=_in_batch)
        self._ack = self.flow.widget

    # -- frames ---------------------------------------------------------------------------------------
    def display_frame(self, index: int, rgb: np.ndarray | Callable[[], np.ndarray]) -> np.ndarray:
        """Frame ``index`` at display size (cached; thread safe: playback reads ahead in a worker).

        ``rgb`` is the frame at video size, or a callable that decodes it (called on a cache miss only).
        """
        with self._frames_lock:
            hit = self._frames.get(index)
            if hit is not None:
                self._frames.move_to_end(index)
                return hit
        if callable(rgb):
            rgb = rgb()
        small = self.geometry.frame(rgb)
        with self._frames_lock:
            self._frames[index] = small
            while len(self._frames) > self._cache_frames:
                self._frames.popitem(last=False)
        return small

    def display_mask(self, annotation: Annotation) -> np.ndarray:
        """A stored mask at display size (cached by its RLE, bounded in bytes; thread safe: read ahead too)."""
        key = annotation.rle
        with self._frames_lock:
            hit = self._masks.get(key)
            if hit is not None:
                self._masks.move_to_end(key)
                return hit
        small = self.geometry.mask(annotation.mask)
        small.flags.writeable = False
        with self._frames_lock:
            if key not in self._masks:
                self._masks[key] = small
                self._masks_nbytes += small.nbytes
            while self._masks_nbytes > self._cache_mask_bytes and len(self._masks) > 1:
                _, dropped = self._masks.popitem(last=False)
                self._masks_nbytes -= dropped.nbytes
        return small

    def has_frame(self, index: int) -> bool:
        """True if frame ``index`` is in the display-size cache."""
        with self._frames_lock:
            return index in self._frames

    def show(
        self,
        view: FrameView,
        rgb: np.ndarray | Callable[[], np.ndarray],
        renderer: Renderer,
        *,
        masks: Mapping[int, np.ndarray] | None = None,
    ) -> int:
        """Draw one frame: its picture, the view's masks, prompts and pose skeletons; returns the bytes sent.

        Args:
            view: What is stored on the frame (``view.frame`` is the frame shown).
            rgb: The frame's picture at video size, or a callable that decodes it (not called when
                the display-size frame is cached, e.g. read ahead during playback).
            renderer: Overlay settings.
            masks: Masks to draw instead of the view's (e.g. fresh from a propagation, not stored yet).
        """
        t0 = time.perf_counter()
        g = self.geometry
        index = view.frame
        disp = self.display_frame(index, rgb)
        if masks is None:  # the stored masks: shrunk once (often ahead, during playback)
            dmasks = {oid: self.display_mask(a) for oid, a in view.annotations.items()}
        else:
            dmasks = {oid: g.mask(m) for oid, m in masks.items()}
        dprompts = [p for p in (g.prompt(p) for p in view.prompts) if p is not None]
        dposes = [g.pose(p) for p in view.poses]
        objects = view.objects
        if self.mode == "composite":
            img = draw_notes(renderer.annotate(disp, dmasks, objects=objects, prompts=dprompts, poses=dposes), view)
            sent, t1 = self._show_composite(index, img)
        else:
            sent, t1 = self._show_layers(index, disp, dmasks, objects, dprompts, dposes, renderer, view)
        self.stats.add("compose_ms", (t1 - t0) * 1000)
        self.stats.count("updates")
        self.stats.count("bytes", sent)
        self.stats.add("update_bytes", sent)
        return sent

    def _show_composite(self, index: int, img: np.ndarray) -> tuple[int, float]:
        """Send the composite ``img`` of frame ``index``: the whole picture, or only what changed on screen.

        When layer 0 holds this frame's previous composite (``last_image``), only the rectangle
        where the two differ is encoded and drawn at its offset (a click's mask, outline, label and
        point). The rectangle is aligned to JPEG's 16 px blocks, so its blocks are encoded exactly as
        in a whole picture: the screen ends up as a full redraw would leave it (up to the decoder's
        chroma smoothing across the rectangle's edges). The whole picture is sent when the frame
        changed, the change is large, or the screen may be out of step (an effect preview, a
        reconnect, an update the browser never acknowledged).
        """
        with _DRAW_LOCK:  # the comparison with the screen and the update that changes it go together
            rect = self._changed_rect(index, img)
            if rect is not None:
                x0, y0, x1, y1 = rect
                part = img[y0:y1, x0:x1]
                buf = compat.encode(part, self.jpeg_quality) if part.size else b""
                self.stats.count("partial_updates")
                return len(buf), self._put_composite(index, img, part, buf, x0, y0)
        buf = compat.encode(img, self.jpeg_quality)  # a whole picture: encoded outside the lock
        with _DRAW_LOCK:
            return len(buf), self._put_composite(index, img, img, buf, 0, 0)

    def _put_composite(self, index: int, img: np.ndarray, part: np.ndarray, buf: bytes, x0: int, y0: int) -> float:
        """Inside ``_DRAW_LOCK``: draw ``buf`` (``part`` of ``img``, encoded; empty: nothing) at ``(x0, y0)``."""
        self.last_image = img
        self._composite_on_screen = index
        self._resyncs_seen = self.flow.resyncs
        t1 = time.perf_counter()
        with drawing():
            if buf:
                compat.put_encoded(self.widget[0], part, buf, x0, y0)
            self._clear_interaction_layer()
            self._send_ack()
        return t1

    def _changed_rect(self, index: int, img: np.ndarray) -> tuple[int, int, int, int] | None:
        """The block-aligned ``(x0, y0, x1, y1)`` where ``img`` differs from the screen, or None: send it all.

        An empty rectangle means nothing changed.
        """
        last = self.last_image
        if (
            last is None
            or self._composite_on_screen != index
            or last.shape != img.shape
            or self.flow.resyncs != self._resyncs_seen
        ):
            return None
        h, w = img.shape[:2]
        diff = cv2.absdiff(img, last).reshape(h, -1)
        rows = np.flatnonzero(diff.max(axis=1))
        if not rows.size:
            return 0, 0, 0, 0
        cols = np.flatnonzero(diff.max(axis=0))
        x0 = int(cols[0]) // img.shape[2] // _BLOCK * _BLOCK
        x1 = min(w, -(-(int(cols[-1]) // img.shape[2] + 1) // _BLOCK) * _BLOCK)
        y0 = int(rows[0]) // _BLOCK * _BLOCK
        y1 = min(h, -(-(int(rows[-1]) + 1) // _BLOCK) * _BLOCK)
        if (x1 - x0) * (y1 - y0) > _PARTIAL_MAX_SHARE * w * h:
            return None
        return x0, y0, x1, y1

    def _show_layers(
        self,
        index: int,
        disp: np.ndarray,
        dmasks: Mapping[int, np.ndarray],
        objects: Sequence[ObjectInfo],
        dprompts: Sequence[Prompt],
        dposes: Sequence[PersonPose],
        renderer: Renderer,
        view: FrameView,
    ) -> tuple[int, float]:
        frame_buf = None
        if self._frame_on_screen != index:
            frame_buf = compat.encode(disp, self.jpeg_quality)
        # the overlay: the renderer draws solid masks on black; alpha = opacity inside masks, opaque for marks
        solid = renderer.replace(opacity=1.0)
        black = np.zeros_like(disp)
        drawn = draw_notes(solid.annotate(black, dmasks, objects=objects, prompts=dprompts, poses=dposes), view)
        inside = np.zeros(disp.shape[:2], bool)
        hidden = {o.obj_id for o in objects if o.hidden}
        for oid, m in dmasks.items():
            if oid not in hidden:
                inside |= m
        alpha = np.where(inside, np.uint8(round(255 * renderer.opacity)), np.uint8(0))
        alpha[~inside & drawn.any(axis=2)] = 255
        ys, xs = np.nonzero(alpha)
        overlay_buf, x0, y0, rgba = None, 0, 0, None
        if ys.size:
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            rgba = np.dstack([drawn[y0:y1, x0:x1], alpha[y0:y1, x0:x1]])
            overlay_buf = compat.encode(rgba, self.jpeg_quality)
        t1 = time.perf_counter()
        with drawing():
            if frame_buf is not None:
                compat.put_encoded(self.widget[0], disp, frame_buf)
                self._frame_on_screen = index
            self.widget[1].clear()
            if overlay_buf is not None and rgba is not None:
                compat.put_encoded(self.widget[1], rgba, overlay_buf, int(x0), int(y0))
            self._clear_interaction_layer()
            self._send_ack()
        return len(frame_buf or b"") + len(overlay_buf or b""), t1

    def show_image(self, index: int, rgb: np.ndarray) -> int:
        """Draw a finished picture of frame ``index`` (video or display size, e.g. an effect preview) instead of
        the annotated frame; returns the bytes sent."""
        img = self.geometry.frame(np.asarray(rgb, np.uint8))
        buf = compat.encode(img, self.jpeg_quality)
        with drawing():
            compat.put_encoded(self.widget[0], img, buf)
            self._frame_on_screen = None  # layer 0 no longer holds the plain frame
            self._composite_on_screen = None  # nor the frame's composite
            if self.mode == "layers":
                self.widget[1].clear()
            self._clear_interaction_layer()
            self._send_ack()
        self.stats.count("updates")
        self.stats.count("bytes", len(buf))
        return len(buf)

    # -- interaction layer ---------------------------------------------------------------------------
    def show_marker(self, x: float, y: float, positive: bool, radius: float = 6) -> None:
        """Draw a click marker at video ``(x, y)`` at once, before the mask is computed."""
        xc, yc = self.geometry.to_canvas(x, y)
        layer = self.widget[2]
        with drawing():
            layer.clear()
            self._interaction_drawn = True
            layer.fill_style = "white"
            layer.fill_circle(xc, yc, radius + 2)
            layer.fill_style = _POSITIVE if positive else _NEGATIVE
            layer.fill_circle(xc, yc, radius)
            self._send_ack()

    def show_box(self, box: tuple[float, float, float, float], color: tuple[int, int, int]) -> None:
        """Draw the rubber band of a box drag given in video pixels."""
        x0, y0 = self.geometry.to_canvas(box[0], box[1])
        x1, y1 = self.geometry.to_canvas(box[2], box[3])
        layer = self.widget[2]
        with drawing():
            layer.clear()
            self._interaction_drawn = True
            layer.stroke_style = "rgb({}, {}, {})".format(*color)
            layer.line_width = 2
            layer.set_line_dash([6, 4])
            layer.stroke_rect(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
            layer.set_line_dash([])
            self._send_ack()

    def clear_interaction(self) -> None:
        """Remove the marker or rubber band."""
        with drawing():
            self.widget[2].clear()
            self._interaction_drawn = False
            self._send_ack()

    def _clear_interaction_layer(self) -> None:
        # an empty layer is left alone: every touched layer costs the browser a full recomposite
        if self._interaction_drawn:
            self.widget[2].clear()
            self._interaction_drawn = False

    # -- reconnects -----------------------------------------------------------------------------------
    def on_client_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (to redraw) when a browser (re)connects, e.g. after a page reload."""

        def ready() -> None:
            self._frame_on_screen = None
            self._composite_on_screen = None  # a new canvas is blank: the next update sends the whole picture
            self._interaction_drawn = True  # unknown after a reconnect: clear it with the redraw
            callback()

        redraw_on_reconnect(self.widget, ready)

    # -- acknowledgements (:mod:`.flow`) ------------------------------------------------------------------
    def _send_ack(self) -> None:
        """Inside a batch: stamp it with the next sequence number."""
        self.flow.stamp()

    @property
    def sent(self) -> int:
        """Batches sent so far."""
        return self.flow.sent

    @property
    def acked(self) -> int:
        """The latest batch a browser has drawn (or that the watchdog gave up as lost)."""
        return self.flow.acked

    @property
    def in_flight(self) -> int:
        """Batches sent but not yet drawn by a browser."""
        return self.flow.in_flight

    def ready(self, max_in_flight: int = 2) -> bool:
        """True if the browser can take another update now (always, until a browser has acknowledged one)."""
        return self.flow.ready(max_in_flight)

    def wait_for_client(self, max_in_flight: int = 2, timeout: float = 0.5) -> bool:
        """Block until fewer than ``max_in_flight`` batches are waiting in the browser; False on timeout."""
        return self.flow.wait(max_in_flight, timeout)

    def close(self) -> None:
        """Close the canvas widgets."""
        self.surface.close()
        self.style.close()
        self.widget.close()
        self.flow.close()
