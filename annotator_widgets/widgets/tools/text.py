"""The text tool: "What do you want to track?" -> candidate boxes -> objects -> propagation with re-detection.

Its bar (*Text*) holds the phrase box, the route (``auto``, ``faces``, ``people``, ``concept``,
``detector`` and every registered grounder), the score threshold (the model's own until one is
set), **Find** (a worker job with progress and Cancel), **Accept all**, and **Propagate** with
*re-detect every K* frames. Found candidates are drawn as dashed boxes with their scores on the
current frame (from the frame view's detections); in text mode (``w``) a click on a candidate
accepts it (Shift+click or right-click rejects it), Enter accepts all; a click elsewhere is an
ordinary point, so clicks refine text-made objects like any other.
The work is done by :mod:`annotator_widgets.workflows.text`.

Its second row, *First frame*, finds where the phrase first appears (seed 004): **Find first
frame** (a worker job with progress and Cancel) scans the video coarse-to-fine with a mask scorer
(:func:`annotator_widgets.workflows.find.find_text`: the ``scorer`` box, a name or ``name:<folder>``, candidates from a
point grid or a grounder, every K frames, a threshold), jumps to the first frame that passes,
shows the best candidate there as a dashed box with its score, and draws the score curve along
the timeline. A click on that box (or Enter) tracks it both ways from there
(:func:`~annotator_widgets.workflows.find.track_from`); Shift+click dismisses it. When no frame
passes, the status line says so with the best score seen.

Example:
    >>> TextTool.name, [s.keys for s in TextTool.shortcuts]
    ('text', [('w',), ('Enter',)])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ... import registry
from ...errors import PromptError
from ...types import Detection, ObjectInfo
from ...workflows import text as text_flow
from ...workflows.find import FindResult, find_text, track_from
from ...workflows.text_tracking import propagate_text
from .._deps import ipywidgets as ipw
from ..controls import button
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["CANDIDATE_COLOR", "FOUND_COLOR", "TextTool", "candidate_options", "route_options"]

#: colour of the candidates' dashed boxes
CANDIDATE_COLOR = (255, 214, 0)
#: colour of the dashed box of the region "Find first frame" found
FOUND_COLOR = (0, 220, 255)


def candidate_options() -> list[str]:
    """Where "Find first frame" takes its candidate regions: a point grid, or a registered grounder's boxes."""
    return ["grid", *[f"grounder:{n}" for n in registry.names("grounder") if n != "mediapipe-face"]]


def route_options() -> list[str]:
    """The routes the dropdown offers: the workflow's routes, then every registered grounder."""
    grounders = [f"grounder:{n}" for n in registry.names("grounder") if n != "mediapipe-face"]
    return ["auto", "faces", "people", "concept", "detector", *grounders]


class TextTool(Tool):
    """Text prompts: find a phrase's instances, accept or reject them, propagate with re-detection."""

    name = "text"
    tooltip = "type what to track; Find shows candidates; click one to accept it (w)"
    hint = "text mode: Find, then click a dashed box to accept it (Shift+click rejects), Enter accepts all"
    cursor = "pointer"
    shortcuts = (
        Shortcut(("w",), "toggle", "text clicks on / off: a click accepts the candidate box under it"),
        Shortcut(("Enter",), "accept_all", "accept every candidate box on this frame"),
    )
    mouse_help = (("click a dashed box (text mode)", "accept it; Shift+click or right-click rejects it"),)

    text = traitlets.Unicode("", help="what to track: one phrase or several, comma-separated")
    route = traitlets.Unicode("auto", help="a route of workflows.text (auto, faces, people, grounder:<spec>...)")
    threshold = traitlets.Float(
        None, allow_none=True, help="lowest score kept, 0..1; None: each route's model default (faces 0.5, owlv2 0.1)"
    )
    redetect = traitlets.Bool(True, help="re-detect the phrases while propagating")
    every = traitlets.Int(10, help="re-detect every this many frames")
    grounder = traitlets.Any(None, help="a ready grounder instance (used for every phrase), or None")
    scorer = traitlets.Any("clip", help="Find first frame: a scorer spec ('clip', 'siglip:<folder>') or instance")
    find_threshold = traitlets.Float(0.5, help="Find first frame: the score the best candidate must reach, 0..1")
    find_every = traitlets.Int(10, help="Find first frame: frames between coarse samples")
    find_candidates = traitlets.Any("grid", help="Find first frame: 'grid', 'grounder:<spec>', {frame: masks}...")

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal: dict[str, Any]) -> float | None:
        if proposal["value"] is None:
            return None
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("the threshold must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    @traitlets.validate("find_threshold")
    def _valid_find_threshold(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("the find threshold must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    @traitlets.validate("every", "find_every")
    def _valid_every(self, proposal: dict[str, Any]) -> int:
        if int(proposal["value"]) < 1:
            raise PromptError("every K frames needs K >= 1", given=proposal["value"])
        return int(proposal["value"])

    def build(self) -> Any:
        host = self.host
        self.phrase = ipw.Text(placeholder="What do you want to track?", layout=ipw.Layout(width="240px"))
        options = route_options()
        # the routes as suggestions in a box: a saved model is typed as "grounder:owlv2:<folder>" (a dropdown
        # refused every spec with a folder, from code too)
        self.routes = ipw.Combobox(
            options=options,
            value=self.route,
            ensure_option=False,
            placeholder="auto, faces, grounder:owlv2:<folder>...",
            layout=ipw.Layout(width="220px"),
        )
        # the model's own threshold unless the person sets one: a fixed low default let the faces route (0.5 by
        # itself) offer headlights and signs as faces, and re-detection turned each into an object
        self.default_threshold = ipw.Checkbox(
            value=self.threshold is None,
            description="model's threshold",
            indent=False,
            layout=ipw.Layout(width="140px"),
        )
        self.slider = ipw.FloatSlider(
            value=0.5 if self.threshold is None else self.threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="threshold",
            readout_format=".2f",
            disabled=self.threshold is None,
        )
        self.find_button = button("Find", icon="search", tooltip="find the phrase's instances on this frame")
        self.accept_button = button("Accept all", icon="check", tooltip="every candidate becomes an object (Enter)")
        self.redetect_box = ipw.Checkbox(value=self.redetect, description="re-detect every", indent=False)
        self.every_box = ipw.BoundedIntText(value=self.every, min=1, max=10_000, layout=ipw.Layout(width="70px"))
        self.propagate_button = button("Propagate", icon="play", tooltip="propagate, re-detecting every K frames")
        traitlets.link((self, "text"), (self.phrase, "value"))
        traitlets.link((self, "route"), (self.routes, "value"))
        self.observe(self._show_threshold, names=["threshold"])
        self.slider.observe(lambda ch: self._set_threshold(ch["new"]), names=["value"])
        self.default_threshold.observe(
            lambda ch: setattr(self, "threshold", None if ch["new"] else self.slider.value), names=["value"]
        )
        traitlets.link((self, "redetect"), (self.redetect_box, "value"))
        traitlets.link((self, "every"), (self.every_box, "value"))
        self.find_button.on_click(host.guard(lambda _b: self.find(), "finding the phrase"))
        self.accept_button.on_click(host.guard(lambda _b: self.accept_all(), "accepting the candidates"))
        self.propagate_button.on_click(host.guard(lambda _b: self.propagate(), "propagating"))
        host.observe(host.guard(lambda _c: self.draw_candidates(), "drawing the candidates"), names=["frame"])
        host.observe(host.guard(lambda ch: self._running(bool(ch["new"])), "showing the state"), names=["busy"])
        #: what "Find first frame" found last (shown until it is tracked, dismissed or found again)
        self.found: FindResult | None = None
        bar = ipw.HBox(
            [
                ipw.Label("Text:"),
                self.phrase,
                self.routes,
                self.default_threshold,
                self.slider,
                self.find_button,
                self.accept_button,
                self.redetect_box,
                self.every_box,
                self.propagate_button,
            ],
            layout=ipw.Layout(flex_flow="row wrap"),  # wraps on a narrow page instead of cutting the buttons
        )
        rows = ipw.VBox([bar, self._build_first_frame()])
        rows.add_class("aw-text")
        return rows

    def _build_first_frame(self) -> Any:
        scorers = registry.names("scorer")
        # the registered names as suggestions; "clip:<folder>" typed loads a saved model
        self.scorers = ipw.Combobox(
            options=scorers,
            value=self.scorer if isinstance(self.scorer, str) else "",
            ensure_option=False,
            placeholder="name or name:<folder>",
            layout=ipw.Layout(width="200px"),
        )
        options = candidate_options()
        self.candidate_source = ipw.Dropdown(options=options, value="grid", layout=ipw.Layout(width="170px"))
        self.find_every_box = ipw.BoundedIntText(
            value=self.find_every, min=1, max=10_000, description="every", layout=ipw.Layout(width="130px")
        )
        self.find_slider = ipw.FloatSlider(
            value=self.find_threshold, min=0.0, max=1.0, step=0.01, description="min score", readout_format=".2f"
        )
        self.first_button = button(
            "Find first frame", icon="fast-forward", tooltip="scan the video for the first frame the phrase matches"
        )
        self.scorers.observe(self._pick_scorer, names=["value"])
        self.observe(self._show_scorer, names=["scorer"])
        self.candidate_source.observe(lambda ch: setattr(self, "find_candidates", ch["new"]), names=["value"])
        traitlets.link((self, "find_every"), (self.find_every_box, "value"))
        traitlets.link((self, "find_threshold"), (self.find_slider, "value"))
        self.first_button.on_click(self.host.guard(lambda _b: self.find_first(), "finding the first frame"))
        row = ipw.HBox(
            [
                ipw.Label("First frame:"),
                self.scorers,
                self.candidate_source,
                self.find_every_box,
                self.find_slider,
                self.first_button,
            ],
            layout=ipw.Layout(flex_flow="row wrap"),
        )
        row.add_class("aw-text-first")
        return row

    def _show_threshold(self, change: dict[str, Any]) -> None:
        value = change["new"]
        self.default_threshold.value = value is None
        self.slider.disabled = value is None
        if value is not None:
            self.slider.value = value

    def _set_threshold(self, value: float) -> None:
        if not self.default_threshold.value:
            self.threshold = value

    def _pick_scorer(self, change: dict[str, Any]) -> None:
        if change["new"].strip():
            self.scorer = change["new"].strip()

    def _show_scorer(self, change: dict[str, Any]) -> None:
        if isinstance(change["new"], str):  # set from code: the box shows what the scan will use
            self.scorers.value = change["new"]

    def _running(self, on: bool) -> None:
        for b in (self.find_button, self.accept_button, self.propagate_button, self.first_button):
            b.disabled = on
        if not on:
            self.draw_candidates()

    # ------------------------------------------------------------------ reading
    def candidates(self) -> dict[int, Detection]:
        """The candidate detections (not accepted, not rejected) on the current frame."""
        view = self.host.session.view(self.host.frame)
        return {i: d for i, d in view.detections.items() if d.obj_id is None}

    def candidate_at(self, x: float, y: float) -> int | None:
        """The id of the smallest candidate box holding video pixel ``(x, y)``, or None."""
        hits = [
            ((d.box.x1 - d.box.x0) * (d.box.y1 - d.box.y0), i)
            for i, d in self.candidates().items()
            if d.box.x0 <= x <= d.box.x1 and d.box.y0 <= y <= d.box.y1
        ]
        return min(hits)[1] if hits else None

    def found_here(self) -> FindResult | None:
        """What "Find first frame" found, if it is on the current frame."""
        return self.found if self.found is not None and self.found.frame == self.host.frame else None

    def _on_found(self, x: float, y: float) -> bool:
        here = self.found_here()
        if here is None:
            return False
        h, w = here.mask.shape
        xi, yi = int(x), int(y)
        if 0 <= yi < h and 0 <= xi < w and here.mask[yi, xi]:
            return True
        box = _mask_box(here.mask)
        return box is not None and box[0] <= x <= box[2] and box[1] <= y <= box[3]

    def draw_candidates(self) -> int:
        """Draw the current frame's candidates (and the found region) as dashed boxes with scores; returns how many."""
        canvas = self.host.canvas
        found = self.candidates()
        layer = canvas.widget[2]
        here = self.found_here()
        box = None if here is None else _mask_box(here.mask)
        if not found and box is None:
            # nothing to draw: an empty layer is left alone (every frame during playback; each touched layer
            # costs the browser a full recomposite)
            if canvas._interaction_drawn:
                layer.clear()
                canvas._interaction_drawn = False
            return 0
        layer.clear()
        layer.line_width = 2
        layer.set_line_dash([6, 4])
        layer.font = "12px sans-serif"
        if here is not None and box is not None:
            layer.stroke_style = layer.fill_style = "rgb({}, {}, {})".format(*FOUND_COLOR)
            x0, y0 = canvas.geometry.to_canvas(box[0], box[1])
            x1, y1 = canvas.geometry.to_canvas(box[2], box[3])
            layer.stroke_rect(x0, y0, x1 - x0, y1 - y0)
            layer.fill_text(f"{here.text} {here.score:.2f} (first)", x0 + 2, max(y0 - 3, 10))
        layer.stroke_style = layer.fill_style = "rgb({}, {}, {})".format(*CANDIDATE_COLOR)
        for d in found.values():
            x0, y0 = canvas.geometry.to_canvas(d.box.x0, d.box.y0)
            x1, y1 = canvas.geometry.to_canvas(d.box.x1, d.box.y1)
            layer.stroke_rect(x0, y0, x1 - x0, y1 - y0)
            layer.fill_text(f"{d.label} {d.score:.2f}", x0 + 2, max(y0 - 3, 10))
        layer.set_line_dash([])
        canvas._interaction_drawn = True  # the annotator clears the layer before its next marker
        return len(found) + (box is not None)

    # ------------------------------------------------------------------ events
    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        det_id = self.candidate_at(x, y)
        if det_id is None and self._on_found(x, y):
            if button == 2 or shift:
                self.dismiss_found()
            else:
                self.track_found()
            return True
        if det_id is None:
            return False  # not on a candidate: an ordinary point, which refines the current object
        if button == 2 or shift:
            self.reject(det_id)
        else:
            self.accept([det_id])
        return True

    # ------------------------------------------------------------------ verbs
    def find(self) -> TaskJob:
        """Find the phrase's instances on this frame in a worker thread; they are stored as candidates.

        Returns:
            The job; its ``result()`` is the list of detections.
        """
        host = self.host
        phrases = text_flow.split_phrases(self.text)
        route, grounder, threshold = self.route, self.grounder, self.threshold
        with host.lock:
            host.check_idle("find a phrase")
            f = host.frame

            def work(job: TaskJob) -> list[Detection]:
                job.report(0, 1, f"looking for {', '.join(phrases)}")
                found = text_flow.ground(host.session, f, phrases, route=route, grounder=grounder, threshold=threshold)
                job.report(1, 1)
                return found

            def finish(found: list[Detection]) -> str:
                n = self.draw_candidates()
                return f"{n} candidate(s) for {phrases} on frame {f}: click one to accept it, Enter accepts all"

            return host.run_task("finding " + ", ".join(phrases), work, finish)

    def accept(self, det_ids: list[int]) -> list[ObjectInfo]:
        """Make candidates objects (box prompts carrying their phrase), one undo step."""
        host = self.host
        with host.lock:
            host.check_idle("accept a candidate")
            made = text_flow.accept(host.session, det_ids)
            if made:
                host.current_object = made[-1].obj_id
            host.refresh(f"accepted {len(made)} candidate(s) as object(s) {[o.obj_id for o in made]}")
            self.draw_candidates()
            return made

    def accept_all(self) -> list[ObjectInfo]:
        """Accept every candidate on the current frame (Enter)."""
        ids = sorted(self.candidates())
        if not ids and self.found_here() is not None:
            self.track_found()
            return []
        if not ids:
            self.host.say("no candidate on this frame: type a phrase and press Find")
            return []
        return self.accept(ids)

    def reject(self, det_id: int) -> None:
        """Turn a candidate down (kept, flagged, never drawn again)."""
        host = self.host
        with host.lock:
            host.check_idle("reject a candidate")
            text_flow.reject(host.session, [det_id])
            self.draw_candidates()
            host.say(f"candidate {det_id} rejected")

    def propagate(self) -> Any:
        """Propagate from this frame: with re-detection every K frames (a worker job), else the plain propagation."""
        host = self.host
        if not self.redetect:
            return host.propagate("forward")
        every, route, grounder, threshold = self.every, self.route, self.grounder, self.threshold
        with host.lock:
            host.check_idle("propagate with re-detection")
            f = host.frame
            before = {o.obj_id for o in host.session.objects}
            counts = [0, len(host.session.video) - f]  # (frames of the span done, of how many: propagate_text's)

            def counted(done: int, total: int) -> None:
                counts[:] = [done, total]

            options = {"route": route, "grounder": grounder, "threshold": threshold, "progress": counted}
            gen = propagate_text(host.session, every=every, start=f, **options)

            def work(job: TaskJob) -> int:
                for step in gen:  # (new objects' fill-ins come too: shown, not counted)
                    job.report(counts[0], counts[1])
                    host.show_streamed(step)  # the canvas follows and the timeline fills in, as in Propagate
                    if job.is_cancelled():
                        gen.close()  # type: ignore[attr-defined]
                        break
                return counts[0]

            def finish(n: int) -> str:
                new = sorted({o.obj_id for o in host.session.objects} - before)
                return f"propagated {n} frames from {f}, re-detecting every {every}: new objects {new}"

            return host.run_task(f"propagating with re-detection every {every}", work, finish)

    # ------------------------------------------------------------------ find the first frame
    def find_first(self) -> TaskJob:
        """Scan the video for the first frame the phrase matches (a worker job with progress and Cancel).

        On success the annotator jumps there, the best candidate is drawn (click it or press Enter
        to track it) and the score curve is drawn along the timeline; when nothing passes, the
        status line says so with the best score seen.

        Returns:
            The job; its ``result()`` is the :class:`~annotator_widgets.workflows.find.FindResult`.
        """
        host = self.host
        phrase = self.text.strip()
        if not phrase:
            raise PromptError("type what to find first", given=repr(self.text), hint='e.g. "red shoes"')
        options = {
            "every": self.find_every,
            "threshold": self.find_threshold,
            "scorer": self.scorer,
            "candidates": self.find_candidates,
        }
        with host.lock:
            host.check_idle("find the first frame")
            self.dismiss_found()

            def work(job: TaskJob) -> FindResult:
                def progress(done: int, total: int) -> None:
                    job.report(done, total, f"looking for {phrase!r}: {done} frames scored")

                return find_text(host.session, phrase, progress=progress, cancel=job.is_cancelled, **options)

            def finish(found: FindResult) -> str:
                self.found = found
                host.timeline.set_curve(found.curve, found.threshold)
                host.frame = found.frame
                self.draw_candidates()
                return (
                    f"{phrase!r} first matches on frame {found.frame} (score {found.score:.2f}, "
                    f"{found.frames_scored} frames scored): click the box or press Enter to track it"
                )

            return host.run_task(f"finding the first frame of {phrase!r}", work, finish)

    def track_found(self) -> TaskJob:
        """Track what "Find first frame" found, both ways from its frame (a worker job; one undo step)."""
        host = self.host
        found = self.found
        if found is None:
            raise PromptError("nothing found to track", hint="press Find first frame first")
        with host.lock:
            host.check_idle("track the found region")
            total = len(host.session.video)

            def work(job: TaskJob) -> ObjectInfo:
                def progress(done: int, _n: int) -> None:
                    job.report(done, total, f"tracking {found.text!r}")

                return track_from(host.session, found, progress=progress, cancel=job.is_cancelled)

            def finish(info: ObjectInfo) -> str:
                self.dismiss_found()
                host.current_object = info.obj_id
                return f"tracking {found.text!r} from frame {found.frame}: object {info.obj_id}"

            return host.run_task(f"tracking {found.text!r} from frame {found.frame}", work, finish)

    def dismiss_found(self) -> None:
        """Forget what "Find first frame" found: its box and the score curve go."""
        self.found = None
        self.host.timeline.set_curve(None)
        self.draw_candidates()


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` around a mask's pixels (exclusive ends), or None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
