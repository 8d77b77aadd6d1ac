"""The text tool: "What do you want to track?" -> candidate boxes -> objects -> propagation with re-detection.

Its bar (*Text*) holds the phrase box, the route (``auto``, ``faces``, ``people``, ``concept``,
``detector`` and every registered grounder), the score threshold, **Find** (a worker job with
progress and Cancel), **Accept all**, and **Propagate** with *re-detect every K* frames. Found
candidates are drawn as dashed boxes with their scores on the current frame (from the frame view's
detections); in text mode (``w``) a click on a candidate accepts it (Shift+click or right-click
rejects it), Enter accepts all; a click elsewhere is an ordinary point, so clicks refine
text-made objects like any other. The work is done by :mod:`annotator_widgets.workflows.text`.

Example:
    >>> TextTool.name, [s.keys for s in TextTool.shortcuts]
    ('text', [('w',), ('Enter',)])
"""

from __future__ import annotations

from typing import Any

import traitlets

from ... import registry
from ...errors import PromptError
from ...types import Detection, ObjectInfo
from ...workflows import text as text_flow
from ...workflows.text_tracking import propagate_text
from .._deps import ipywidgets as ipw
from ..controls import button
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["CANDIDATE_COLOR", "TextTool", "route_options"]

#: colour of the candidates' dashed boxes
CANDIDATE_COLOR = (255, 214, 0)


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
    threshold = traitlets.Float(0.1, help="lowest score kept, 0..1")
    redetect = traitlets.Bool(True, help="re-detect the phrases while propagating")
    every = traitlets.Int(10, help="re-detect every this many frames")
    grounder = traitlets.Any(None, help="a ready grounder instance (used for every phrase), or None")

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("the threshold must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    @traitlets.validate("every")
    def _valid_every(self, proposal: dict[str, Any]) -> int:
        if int(proposal["value"]) < 1:
            raise PromptError("re-detect every K frames needs K >= 1", given=proposal["value"])
        return int(proposal["value"])

    def build(self) -> Any:
        host = self.host
        self.phrase = ipw.Text(placeholder="What do you want to track?", layout=ipw.Layout(width="240px"))
        options = route_options()
        self.routes = ipw.Dropdown(options=options, value="auto", layout=ipw.Layout(width="170px"))
        self.slider = ipw.FloatSlider(
            value=self.threshold, min=0.0, max=1.0, step=0.01, description="threshold", readout_format=".2f"
        )
        self.find_button = button("Find", icon="search", tooltip="find the phrase's instances on this frame")
        self.accept_button = button("Accept all", icon="check", tooltip="every candidate becomes an object (Enter)")
        self.redetect_box = ipw.Checkbox(value=self.redetect, description="re-detect every", indent=False)
        self.every_box = ipw.BoundedIntText(value=self.every, min=1, max=10_000, layout=ipw.Layout(width="70px"))
        self.propagate_button = button("Propagate", icon="play", tooltip="propagate, re-detecting every K frames")
        traitlets.link((self, "text"), (self.phrase, "value"))
        traitlets.link((self, "route"), (self.routes, "value"))
        traitlets.link((self, "threshold"), (self.slider, "value"))
        traitlets.link((self, "redetect"), (self.redetect_box, "value"))
        traitlets.link((self, "every"), (self.every_box, "value"))
        self.find_button.on_click(host.guard(lambda _b: self.find(), "finding the phrase"))
        self.accept_button.on_click(host.guard(lambda _b: self.accept_all(), "accepting the candidates"))
        self.propagate_button.on_click(host.guard(lambda _b: self.propagate(), "propagating"))
        host.observe(host.guard(lambda _c: self.draw_candidates(), "drawing the candidates"), names=["frame"])
        host.observe(host.guard(lambda ch: self._running(bool(ch["new"])), "showing the state"), names=["busy"])
        bar = ipw.HBox(
            [
                ipw.Label("Text:"),
                self.phrase,
                self.routes,
                self.slider,
                self.find_button,
                self.accept_button,
                self.redetect_box,
                self.every_box,
                self.propagate_button,
            ]
        )
        bar.add_class("aw-text")
        return bar

    def _running(self, on: bool) -> None:
        for b in (self.find_button, self.accept_button, self.propagate_button):
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

    def draw_candidates(self) -> int:
        """Draw the current frame's candidates as dashed boxes with their scores; returns how many."""
        canvas = self.host.canvas
        found = self.candidates()
        layer = canvas.widget[2]
        layer.clear()
        if not found:
            return 0
        layer.stroke_style = layer.fill_style = "rgb({}, {}, {})".format(*CANDIDATE_COLOR)
        layer.line_width = 2
        layer.set_line_dash([6, 4])
        layer.font = "12px sans-serif"
        for d in found.values():
            x0, y0 = canvas.geometry.to_canvas(d.box.x0, d.box.y0)
            x1, y1 = canvas.geometry.to_canvas(d.box.x1, d.box.y1)
            layer.stroke_rect(x0, y0, x1 - x0, y1 - y0)
            layer.fill_text(f"{d.label} {d.score:.2f}", x0 + 2, max(y0 - 3, 10))
        layer.set_line_dash([])
        canvas._interaction_drawn = True  # the annotator clears the layer before its next marker
        return len(found)

    # ------------------------------------------------------------------ events
    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        det_id = self.candidate_at(x, y)
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
            gen = propagate_text(
                host.session, every=every, start=f, route=route, grounder=grounder, threshold=threshold
            )

            def work(job: TaskJob) -> int:
                n = 0
                for _ in gen:
                    n += 1
                    job.report(n, len(host.session.video) - f)
                    if job.is_cancelled():
                        gen.close()  # type: ignore[attr-defined]
                        break
                return n

            def finish(n: int) -> str:
                new = sorted({o.obj_id for o in host.session.objects} - before)
                return f"propagated {n} frames from {f}, re-detecting every {every}: new objects {new}"

            return host.run_task(f"propagating with re-detection every {every}", work, finish)
