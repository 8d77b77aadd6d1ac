"""The actions tool: hand-object interaction segments as bars per person, found, described, edited, jumped to.

*Find interactions* runs :func:`~annotator_widgets.workflows.actions.find_interactions`
and *Describe* runs :func:`~annotator_widgets.workflows.actions.describe_actions` with the
captioner named in the tool's field, each in a worker (the annotator's progress bar and
Cancel). The strip under the timeline has a row per person and a bar per segment: a click
on a bar selects the segment and jumps to its first frame. The selected segment's bounds
(``start`` included, ``stop`` excluded), label and description are edited in the fields
and saved with *Save* (one undo step, marked ``meta["edited"]`` so a new run keeps it), or
deleted with *Delete*; ``z`` undoes either. The description is drawn on every frame the
segment covers (:mod:`..notes`).

Example:
    >>> ActionsTool.name, [s.keys for s in ActionsTool.shortcuts]
    ('actions', [('i',)])
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import traitlets

from ...errors import PromptError
from ...types import ActionSegment
from ...workflows import actions as workflow
from ...workflows import outputs
from .._deps import ipywidgets as ipw
from ..action_strip import ActionStrip
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["ActionsTool", "nothing_found"]


def _describe(aid: int, seg: ActionSegment) -> str:
    who = "?" if seg.person_id is None else seg.person_id
    what = "?" if seg.obj_id is None else seg.obj_id
    return f"{aid}: {who} {seg.label} {what}, frames {seg.start}..{seg.stop - 1}"


class ActionsTool(Tool):
    """Action segments: find, describe, pick on the strip (jump), edit bounds / label / description, delete."""

    name = "actions"
    tooltip = "action segments: find interactions, describe them, click a bar to jump, edit or delete (i)"
    hint = "actions: click a bar under the timeline to jump to its segment; edit it below; i or Esc: back"
    cursor = "default"
    shortcuts = (Shortcut(("i",), "toggle", "actions tool on / off (segments: find, describe, edit)"),)

    selected = traitlets.Int(None, allow_none=True, help="the selected segment's id")
    captioner = traitlets.Any("", help="a 'captioner' spec (e.g. 'blip:<folder>') or a captioner instance")
    question = traitlets.Unicode(workflow.DEFAULT_QUESTION, help="asked per segment; {object}, {person}, {label}")

    def build(self) -> Any:
        host = self.host
        self._syncing = False
        self.strip = ActionStrip(len(host.session.video), host.canvas.geometry.display_size[0], self._pick)
        self.find_button = ipw.Button(description="Find interactions", icon="hand-paper-o")
        self.describe_button = ipw.Button(description="Describe", icon="comment")
        self.captioner_text = ipw.Text(
            value=self.captioner if isinstance(self.captioner, str) else "",
            description="captioner",
            placeholder="blip:<model folder>",
            layout=ipw.Layout(width="300px"),
        )
        self.choice = ipw.Dropdown(options=[], description="segment", layout=ipw.Layout(width="360px"))
        self.start_box = ipw.BoundedIntText(min=0, max=max(0, len(host.session.video) - 1), description="start")
        self.stop_box = ipw.BoundedIntText(min=1, max=len(host.session.video), description="stop")
        for box in (self.start_box, self.stop_box):
            box.layout = ipw.Layout(width="150px")
        self.label_text = ipw.Text(description="label", layout=ipw.Layout(width="220px"))
        self.description_text = ipw.Textarea(description="description", layout=ipw.Layout(width="520px"))
        self.save_button = ipw.Button(description="Save", icon="check", tooltip="store the edits (z undoes)")
        self.delete_button = ipw.Button(description="Delete", icon="trash", tooltip="delete the segment (z undoes)")
        self.find_button.on_click(host.guard(lambda _b: self.find(), "finding interactions"))
        self.describe_button.on_click(host.guard(lambda _b: self.describe(), "describing actions"))
        self.save_button.on_click(host.guard(lambda _b: self.save(), "editing the segment"))
        self.delete_button.on_click(host.guard(lambda _b: self.delete(), "deleting the segment"))
        self.choice.observe(host.guard(self._on_choice, "selecting the segment"), names=["value"])
        self.observe(host.guard(lambda _ch: self._show_selected(), "showing the segment"), names=["selected"])
        self.captioner_text.observe(lambda ch: setattr(self, "captioner", ch["new"]), names=["value"])
        host.observe(host.guard(lambda ch: self.strip.set_cursor(ch["new"]), "moving the cursor"), names=["frame"])
        host.observe(host.guard(lambda ch: self._running(bool(ch["new"])), "showing the state"), names=["busy"])
        bar = ipw.VBox(
            [
                self.strip.widget,
                ipw.HBox([self.find_button, self.captioner_text, self.describe_button]),
                ipw.HBox([self.choice, self.start_box, self.stop_box, self.label_text]),
                ipw.HBox([self.description_text, ipw.VBox([self.save_button, self.delete_button])]),
            ]
        )
        bar.add_class("aw-actions")
        self.on_refresh()
        return bar

    def _running(self, on: bool) -> None:
        for b in (self.find_button, self.describe_button, self.save_button, self.delete_button):
            b.disabled = on

    # ------------------------------------------------------------------ showing
    def segments(self) -> dict[int, ActionSegment]:
        """The project's segments by id."""
        return outputs.segments(self.host.session)

    def on_refresh(self) -> None:
        if not hasattr(self, "strip"):
            return
        segs = self.segments()
        if self.selected is not None and self.selected not in segs:
            self.selected = None
        self.strip.update(segs, self.host.session.objects, self.selected)
        self.strip.set_cursor(self.host.frame)
        options = [(_describe(aid, s), aid) for aid, s in segs.items()]
        self._syncing = True  # new options reset the dropdown's value: not a pick
        try:
            if list(self.choice.options) != options:
                self.choice.options = options
            self.choice.value = self.selected
        finally:
            self._syncing = False
        self._show_selected()

    def _on_choice(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] is not None and change["new"] != self.selected:
            self.jump(change["new"])

    def _show_selected(self) -> None:
        seg = self.segments().get(self.selected) if self.selected is not None else None
        for w in (self.start_box, self.stop_box, self.label_text, self.description_text, self.save_button):
            w.disabled = seg is None
        self.delete_button.disabled = seg is None
        if seg is None:
            return
        self.start_box.value, self.stop_box.value = seg.start, seg.stop
        self.label_text.value, self.description_text.value = seg.label, seg.description
        if self.choice.value != self.selected:
            self._syncing = True
            try:
                self.choice.value = self.selected
            finally:
                self._syncing = False
        self.strip.update(self.strip.segments, self.host.session.objects, self.selected)

    def _pick(self, action_id: int) -> None:
        self.host.guard(self.jump, "jumping to the segment")(action_id)

    # ------------------------------------------------------------------ verbs
    def _segment(self, action_id: int | None) -> tuple[int, ActionSegment]:
        aid = self.selected if action_id is None else int(action_id)
        if aid is None:
            raise PromptError("no segment is selected", hint="click a bar under the timeline or pick one in the list")
        return aid, outputs.segment(self.host.session, aid)

    def jump(self, action_id: int) -> int:
        """Select a segment and show its first frame; returns that frame."""
        aid, seg = self._segment(action_id)
        with self.host.lock:
            self.selected = aid
            self.host.frame = seg.start
            self.host.say(f"segment {_describe(aid, seg)}" + (f": {seg.description}" if seg.description else ""))
        return seg.start

    def edit(self, action_id: int | None = None, **changes: Any) -> ActionSegment:
        """Change a segment's ``start``, ``stop``, ``label`` or ``description`` (one undo step).

        The segment is marked ``meta["edited"] = True``, so a new *Find interactions* keeps it.
        """
        host = self.host
        with host.lock:
            host.check_idle("edit a segment")
            aid, _ = self._segment(action_id)
            new = outputs.edit_segment(host.session, aid, **changes)
            host.refresh(f"segment {aid} edited (z undoes)")
            return new

    def save(self) -> ActionSegment:
        """Store the fields' bounds, label and description in the selected segment."""
        return self.edit(
            None,
            start=self.start_box.value,
            stop=self.stop_box.value,
            label=self.label_text.value,
            description=self.description_text.value,
        )

    def delete(self, action_id: int | None = None) -> None:
        """Delete a segment (default: the selected one); ``z`` brings it back."""
        host = self.host
        with host.lock:
            host.check_idle("delete a segment")
            aid, _ = self._segment(action_id)
            outputs.delete_segment(host.session, aid)
            self.selected = None
            host.refresh(f"segment {aid} deleted (z undoes)")

    def find(self, **options: Any) -> TaskJob:
        """Find every person's interactions with every object in a worker (``options``: find_interactions')."""
        host = self.host
        with host.lock:
            host.check_idle("find interactions")
            session = host.session

            # the workflow says why nothing was found in a log record: keep the worker's, for the status line
            records: list[logging.LogRecord] = []

            def work(job: TaskJob) -> list[int]:
                handler = _Keep(records, threading.get_ident())
                logger = logging.getLogger(workflow.__name__)
                logger.addHandler(handler)
                try:
                    return workflow.find_interactions(session, progress=job.report, cancel=job.is_cancelled, **options)
                finally:
                    logger.removeHandler(handler)

            def finish(ids: list[int]) -> str:
                if not ids:
                    return nothing_found(records)
                return f"found {len(ids)} action segments"

            return host.run_task("finding interactions", work, finish)

    def describe(self, **options: Any) -> TaskJob:
        """Describe the segments with the captioner in a worker (``options``: describe_actions')."""
        host = self.host
        with host.lock:
            host.check_idle("describe actions")
            captioner = self.captioner
            if not captioner:
                raise PromptError(
                    "no captioner chosen", hint="type a captioner spec such as 'blip:<model folder>' in the field"
                )
            session, question = host.session, self.question
            if not workflow.has_segments(session):  # else the captioner was loaded to say "described 0 segments"
                raise PromptError(
                    "no action segment to describe", hint="press Find interactions first (or add a segment in code)"
                )

            def work(job: TaskJob) -> dict[int, str]:
                return workflow.describe_actions(
                    session, captioner, question=question, progress=job.report, cancel=job.is_cancelled, **options
                )

            return host.run_task("describing actions", work, lambda done: f"described {len(done)} segments")

    def close(self) -> None:
        if hasattr(self, "strip"):
            self.strip.close()
        super().close()


class _Keep(logging.Handler):
    """Keeps the records one thread logs (WARNING and up)."""

    def __init__(self, records: list[logging.LogRecord], thread: int) -> None:
        super().__init__(logging.WARNING)
        self.records, self.thread = records, thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


def nothing_found(records: list[logging.LogRecord]) -> str:
    """The status line for a search that found no interaction: how close the closest hand came (from the
    workflow's warning, which a widget user never sees: the notebook shows no log)."""
    for r in records:
        args: Any = r.args
        if not (str(r.msg).startswith("no interaction found") and isinstance(args, tuple) and len(args) == 4):
            continue
        first, stop, best, enter = args
        near = {pair: d for pair, d in dict(best).items() if d is not None}
        frames = f"frames {first}..{int(stop) - 1}"
        if not near:
            return f"no interaction found on {frames}: no frame shows a person's hands and an object's mask"
        (person, obj), d = min(near.items(), key=lambda kv: kv[1])
        return (
            f"no interaction found on {frames}: the closest a hand came to an object is {d:.2f} person scales "
            f"(person {person}, object {obj}); a touch is below {float(enter):.2f}"
        )
    return "no interaction found"
