"""The captions tool: the description of the current object on the current frame, to read, edit or Describe.

Its bar (*Caption*) shows what is described (the current object, or the whole frame when no
object is selected), the stored caption in a text box with who wrote it (a model and its
prompt, or a person), **Save** (a person's text, one undo step; an empty box deletes the
caption; :func:`~annotator_widgets.workflows.describe.edit_caption`), and **Describe**: a worker
job with progress and Cancel that asks the captioner named in the box beside it (every registered
``captioner`` part is suggested; ``name:<folder>`` loads a saved model) for a caption - or the
answer to the question typed next to it, where ``{object}`` is the object's name - on this frame
or on every frame of the object
(:func:`~annotator_widgets.workflows.describe.describe`). A person's edit is kept when a model
describes the frame again.

Example:
    >>> CaptionsTool.name, CaptionsTool.cursor
    ('captions', 'crosshair')
"""

from __future__ import annotations

import html
from typing import Any

import traitlets

from ... import registry
from ...errors import PromptError
from ...types import Caption
from ...workflows.describe import describe, edit_caption
from .._deps import ipywidgets as ipw
from ..controls import button
from ..jobs import TaskJob
from .base import Tool

__all__ = ["SCOPES", "CaptionsTool"]

#: where Describe looks: this frame, or every frame where the object has a mask
SCOPES = (("this frame", "frame"), ("every frame of the object", "object"))


class CaptionsTool(Tool):
    """Show, edit and Describe the current object's caption on the current frame."""

    name = "captions"
    tooltip = "the current object's description on this frame: edit it, or Describe it with a captioner"
    hint = "captions: edit the description and Save, or Describe with a captioner; clicks add points as usual"

    captioner = traitlets.Any(
        None, help="a captioner spec ('blip', 'florence2:<folder>'; what the box shows) or a ready instance"
    )
    prompt = traitlets.Unicode("", help="a question ('' for a caption); {object} is the object's name")
    scope = traitlets.Unicode("frame", help="'frame': this frame; 'object': every frame of the object")

    @traitlets.validate("scope")
    def _valid_scope(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in {v for _, v in SCOPES}:
            raise PromptError("unknown scope", given=proposal["value"], hint="use 'frame' or 'object'")
        return str(proposal["value"])

    def build(self) -> Any:
        host = self.host
        self._target: tuple[int, int] | None = None
        self._shown = ""
        self.what = ipw.HTML("", layout=ipw.Layout(width="170px"))
        self.box = ipw.Textarea(
            placeholder="no description yet: type one and Save, or press Describe",
            rows=2,
            layout=ipw.Layout(width="320px"),
        )
        self.box.add_class("aw-caption-text")
        self.source = ipw.HTML("")
        self.save_button = button("Save", icon="save", tooltip="store this text as the description (one undo step)")
        names = registry.names("captioner")
        # a box with the registered names as suggestions: "florence2", or "florence2:<folder>" typed (a saved model)
        self.captioners = ipw.Combobox(
            options=names,
            value=self.captioner
            if isinstance(self.captioner, str)
            else ("florence2" if "florence2" in names else (names[0] if names else "")),
            ensure_option=False,
            placeholder="name or name:<folder>",
            layout=ipw.Layout(width="200px"),
        )
        self.captioners.observe(lambda ch: setattr(self, "captioner", ch["new"].strip() or None), names=["value"])
        self.observe(self._show_captioner, names=["captioner"])
        self.question = ipw.Text(placeholder="question ({object}); empty: a caption", layout=ipw.Layout(width="220px"))
        self.scopes = ipw.Dropdown(options=SCOPES, value=self.scope, layout=ipw.Layout(width="170px"))
        self.describe_button = button("Describe", icon="comment", tooltip="ask the captioner (a worker job)")
        traitlets.link((self, "prompt"), (self.question, "value"))
        traitlets.link((self, "scope"), (self.scopes, "value"))
        self.save_button.on_click(host.guard(lambda _b: self.save(), "saving the description"))
        self.describe_button.on_click(host.guard(lambda _b: self.describe(), "describing"))
        host.observe(host.guard(self._follow, "showing the description"), names=["frame", "current_object", "playing"])
        host.observe(host.guard(lambda ch: self._running(bool(ch["new"])), "showing the state"), names=["busy"])
        bar = ipw.VBox(
            [
                ipw.HBox(
                    [ipw.Label("Caption:"), self.what, self.box, self.save_button, self.source],
                    layout=ipw.Layout(flex_flow="row wrap"),
                ),
                ipw.HBox(
                    [ipw.Label("Describe with"), self.captioners, self.question, self.scopes, self.describe_button]
                ),
            ]
        )
        bar.add_class("aw-captions")
        self.show()
        return bar

    def _show_captioner(self, change: dict[str, Any]) -> None:
        if isinstance(change["new"], str):  # set from code: the box shows what Describe will use
            self.captioners.value = change["new"]

    def _follow(self, _change: Any = None) -> None:
        # during playback the description catches up when it stops: one update, not one message per frame
        if not self.host.playing:
            self.show()

    def _running(self, on: bool) -> None:
        self.save_button.disabled = self.describe_button.disabled = on

    def on_refresh(self) -> None:
        self.show()

    # ------------------------------------------------------------------ reading
    def target(self) -> int:
        """The object described: the current object, or 0 (the whole frame) when none is selected."""
        return int(self.host.current_object or 0)

    def caption(self) -> Caption | None:
        """The stored caption of the target on the current frame, or None."""
        return self.host.session.view(self.host.frame).captions.get(self.target())

    def show(self) -> None:
        """Show the target's caption on this frame (text a person is typing stays while the stored one is the same)."""
        host = self.host
        oid = self.target()
        cap = self.caption()
        stored = cap.text if cap is not None else ""
        here = (host.frame, oid)
        typing = here == self._target and self.box.value != self._shown and stored == self._shown
        if not typing:
            self.box.value = stored
        self._target, self._shown = here, stored
        info = host.session.view(host.frame).object(oid) if oid else None
        name = f"object {oid} {html.escape(info.name)}" if info is not None else "the whole frame"
        self.what.value = f"<b>{name}</b> on frame {host.frame}"
        if cap is None:
            self.source.value = ""
        elif not cap.model:
            self.source.value = "<i>by a person</i>"
        else:
            asked = f", asked {html.escape(cap.prompt)!r}" if cap.prompt else ""
            self.source.value = f"<i>by {html.escape(cap.model)}{asked}{', edited' if cap.edited else ''}</i>"

    # ------------------------------------------------------------------ verbs
    def save(self) -> Caption | None:
        """Store the text box as the target's description on this frame (one undo step; empty deletes it)."""
        host = self.host
        with host.lock:
            host.check_idle("edit the description")
            f, oid = host.frame, self.target()
            cap = edit_caption(host.session, f, oid, self.box.value)
            what = f"object {oid}" if oid else "the frame"
            host.refresh(f"description of {what} on frame {f} " + ("saved" if cap is not None else "deleted"))
            return cap

    def describe(self) -> TaskJob:
        """Describe the target with the chosen captioner (a worker job with progress and Cancel).

        Returns:
            The job; its ``result()`` is the list of captions stored.
        """
        host = self.host
        captioner = self.captioner if self.captioner is not None else self.captioners.value.strip()
        if not captioner:
            raise PromptError("no captioner chosen", hint="type a captioner's name (e.g. florence2, or blip:<folder>)")
        prompt, scope = self.prompt, self.scope
        with host.lock:
            host.check_idle("describe")
            f, oid = host.frame, self.target()
            frames = [f]
            if scope == "object" and oid:
                row = next((r for r in host.session.timeline() if r.obj_id == oid), None)
                frames = row.mask_frames() if row is not None and row.mask_frames() else [f]
            name = captioner if isinstance(captioner, str) else getattr(captioner, "name", "the captioner")

            def work(job: TaskJob) -> list[Caption]:
                def progress(done: int, total: int) -> None:
                    job.report(done, total, f"describing with {name}: {done}/{total} frames")

                return describe(
                    host.session,
                    frames,
                    oid or None,
                    captioner=captioner,
                    prompt=prompt,
                    progress=progress,
                    cancel=job.is_cancelled,
                )

            def finish(caps: list[Caption]) -> str:
                self._target = None  # show the model's text even over what was typed
                self.show()
                shown = next((c.text for c in caps if c.frame == f), "")
                if len(caps) < len(frames):
                    return f"describing cancelled after {len(caps)} of {len(frames)} frames (those are kept)"
                return f"described {len(caps)} frame(s) with {name}" + (f": {shown!r}" if shown else "")

            return host.run_task(f"describing with {name}", work, finish)
