"""The annotator's controls: object panel, toolbar, propagation bar and navigation.

These are plain views: they own ipywidgets and call back with what the user asked
for (video and session semantics live in :mod:`.annotator` and the tools).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..types import ObjectInfo
from ._deps import ipywidgets as ipw

__all__ = ["Navigation", "ObjectPanel", "PropagationBar", "Toolbar", "button", "hex_color"]

log = logging.getLogger(__name__)


def hex_color(rgb: Sequence[int]) -> str:
    """``(r, g, b)`` -> ``"#rrggbb"``."""
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgb[:3]))


def button(description: str = "", *, icon: str = "", tooltip: str = "", width: str = "auto") -> Any:
    """A plain ipywidgets button."""
    return ipw.Button(description=description, icon=icon, tooltip=tooltip, layout=ipw.Layout(width=width))


class ObjectPanel:
    """Add objects (name, class), rename the current one, pick the current one, change its colour, hide/show, remove.

    Set the ``on_*`` attributes to receive the user's actions.
    """

    def __init__(self) -> None:
        self.name = ipw.Text(placeholder="name", layout=ipw.Layout(width="110px"))
        self.category = ipw.Text(placeholder="class", layout=ipw.Layout(width="90px"))
        self.add_button = button("Add", icon="plus", tooltip="add an object with this name and class (n)")
        self.rename_button = button(
            "Rename", icon="pencil", tooltip="give the current object this name and / or class (an empty box keeps it)"
        )
        # the list scrolls: 30 tracked people made the panel (and with it the row beside the video) ~900 px tall,
        # pushing the progress bar and the status line out of view
        self.rows = ipw.VBox([], layout=ipw.Layout(max_height="330px", overflow="hidden auto", flex="0 0 auto"))
        self.rows.add_class("aw-object-rows")
        self.widget = ipw.VBox(
            [
                ipw.HTML("<b>Objects</b>"),
                ipw.HBox([self.name, self.category]),
                ipw.HBox([self.add_button, self.rename_button]),
                self.rows,
            ],
            layout=ipw.Layout(min_width="250px", padding="0 0 0 8px"),
        )
        self.widget.add_class("aw-objects")
        self.on_add: Callable[[str, str], None] = lambda name, category: None
        self.on_rename: Callable[[str, str], None] = lambda name, category: None
        self.on_select: Callable[[int], None] = lambda obj_id: None
        self.on_hide: Callable[[int, bool], None] = lambda obj_id, hidden: None
        self.on_remove: Callable[[int], None] = lambda obj_id: None
        self.on_color: Callable[[int, str], None] = lambda obj_id, color: None
        self.add_button.on_click(lambda _: self.on_add(self.name.value.strip(), self.category.value.strip()))
        self.rename_button.on_click(lambda _: self.on_rename(self.name.value.strip(), self.category.value.strip()))
        self._signature: tuple[Any, ...] | None = None
        self._row_widgets: dict[int, dict[str, Any]] = {}
        self._quiet = False

    def refresh(self, objects: Sequence[ObjectInfo], current: int | None) -> None:
        """Show these objects with ``current`` selected (rows are rebuilt only when objects change)."""
        sig = tuple((o.obj_id, o.label, o.color, o.hidden) for o in objects)
        if sig != self._signature:
            self._signature = sig
            old_boxes = self.rows.children
            self._row_widgets = {o.obj_id: self._make_row(o) for o in objects}
            # rows keep their height (flex 0 0 auto) and the list scrolls, rather than squeezing them
            self.rows.children = [
                ipw.HBox(list(p.values()), layout=ipw.Layout(flex="0 0 auto")) for p in self._row_widgets.values()
            ]
            # close what the old rows held, boxes included: a live widget that refers to a closed one
            # keeps the whole annotator from being restored after a page reload ("Loading widget...")
            for box in old_boxes:
                for w in box.children:
                    w.close()
                box.close()
        self._quiet = True
        try:
            for oid, parts in self._row_widgets.items():
                parts["select"].value = oid == current
                parts["select"].button_style = "info" if oid == current else ""
        finally:
            self._quiet = False

    def _make_row(self, info: ObjectInfo) -> dict[str, Any]:
        oid = info.obj_id
        swatch = ipw.ColorPicker(value=hex_color(info.color), concise=True, layout=ipw.Layout(width="28px"))
        select = ipw.ToggleButton(
            description=info.label, tooltip=f"make object {oid} the current one", layout=ipw.Layout(width="120px")
        )
        hide = ipw.ToggleButton(
            value=info.hidden,
            icon="eye-slash" if info.hidden else "eye",
            tooltip="hide / show (h)",
            layout=ipw.Layout(width="44px"),
        )
        remove = button(icon="trash", tooltip=f"remove object {oid} with its prompts and masks", width="44px")
        swatch.observe(lambda ch: self._quiet or self.on_color(oid, ch["new"]), names=["value"])
        select.observe(lambda ch: self._quiet or self.on_select(oid), names=["value"])
        hide.observe(lambda ch: self._quiet or self.on_hide(oid, bool(ch["new"])), names=["value"])
        remove.on_click(lambda _: self.on_remove(oid))
        return {"swatch": swatch, "select": select, "hide": hide, "remove": remove}

    def row(self, obj_id: int) -> dict[str, Any]:
        """The widgets of one object's row: ``swatch``, ``select``, ``hide``, ``remove``."""
        return self._row_widgets[obj_id]


class Toolbar:
    """The tool picker, undo / redo, mask opacity, help.

    Args:
        tools: ``(name, tooltip)`` of each tool, in the picker's order.
        help_text: The key and mouse bindings (plain text: the help button's tooltip).
        help_html: The same as an HTML table (the panel the help button opens).
    """

    def __init__(self, tools: Sequence[tuple[str, str]], help_text: str, help_html: str) -> None:
        self.tool = ipw.ToggleButtons(
            options=[(name, name) for name, _ in tools],
            value=tools[0][0],
            tooltips=[tip for _, tip in tools],
            style={"button_width": "70px"},
        )
        self.undo = button(icon="undo", tooltip="undo (z, Ctrl+z)", width="40px")
        self.redo = button(icon="repeat", tooltip="redo (y, Ctrl+y)", width="40px")
        self.opacity = ipw.FloatSlider(
            value=0.5,
            min=0.0,
            max=1.0,
            step=0.05,
            description="opacity",
            readout=False,
            continuous_update=True,
            layout=ipw.Layout(width="190px"),
            style={"description_width": "50px"},
        )
        self.help = button("?", tooltip=help_text, width="32px")
        self.help_panel = ipw.HTML(help_html, layout=ipw.Layout(display="none"))
        self.help.on_click(self._toggle_help)
        self.widget = ipw.HBox([self.tool, self.undo, self.redo, self.opacity, self.help])
        self.widget.add_class("aw-toolbar")

    def _toggle_help(self, _: Any = None) -> None:
        shown = self.help_panel.layout.display != "none"
        self.help_panel.layout.display = "none" if shown else ""


class PropagationBar:
    """Propagate backward / both / forward from the current frame, a progress bar and Cancel."""

    def __init__(self) -> None:
        self.backward = button("Backward", icon="backward", tooltip="propagate backward from this frame (b)")
        self.both = button("Both", icon="arrows-h", tooltip="propagate both ways from this frame (p)")
        self.forward = button("Forward", icon="forward", tooltip="propagate forward from this frame (f)")
        self.cancel = button("Cancel", icon="stop", tooltip="stop propagating (Esc)")
        self.cancel.disabled = True
        self.progress = ipw.IntProgress(value=0, min=0, max=1, layout=ipw.Layout(width="200px"))
        self.progress_label = ipw.Label("")
        self.widget = ipw.HBox(
            [
                ipw.Label("Propagate:"),
                self.backward,
                self.both,
                self.forward,
                self.cancel,
                self.progress,
                self.progress_label,
            ]
        )
        self.widget.add_class("aw-propagation")

    def running(self, on: bool) -> None:
        """Enable Cancel and disable the start buttons while a propagation runs (or the reverse)."""
        for b in (self.backward, self.both, self.forward):
            b.disabled = on
        self.cancel.disabled = not on

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        """Update the bar."""
        self.progress.max = max(1, int(total))
        self.progress.value = min(int(done), self.progress.max)
        self.progress_label.value = text


class Navigation:
    """Frame slider, previous / next, jump between prompted frames, play."""

    def __init__(self, num_frames: int) -> None:
        last = max(0, int(num_frames) - 1)
        self.prev_prompted = button(icon="step-backward", tooltip="previous frame with prompts ([)", width="36px")
        self.prev = button(icon="chevron-left", tooltip="previous frame (←, a)", width="36px")
        self.play = ipw.ToggleButton(icon="play", tooltip="play / pause (Space, k)", layout=ipw.Layout(width="48px"))
        self.next = button(icon="chevron-right", tooltip="next frame (→, d)", width="36px")
        self.next_prompted = button(icon="step-forward", tooltip="next frame with prompts (])", width="36px")
        self.slider = ipw.IntSlider(
            value=0,
            min=0,
            max=last,
            step=1,
            readout=False,
            continuous_update=True,
            layout=ipw.Layout(flex="1 1 auto", min_width="120px"),
        )
        self.label = ipw.Label(f"0 / {last}", layout=ipw.Layout(min_width="70px"))
        self.play.observe(lambda ch: setattr(self.play, "icon", "pause" if ch["new"] else "play"), names=["value"])
        # under a narrow video (the row is as wide as the canvas) the buttons keep their width and the slider
        # wraps to a second line: shrunk, they showed cut icons ("<." for the chevrons under a 332 px video)
        for b in (self.prev_prompted, self.prev, self.play, self.next, self.next_prompted):
            b.layout.flex = "0 0 auto"
        self.widget = ipw.HBox(
            [self.prev_prompted, self.prev, self.play, self.next, self.next_prompted, self.slider, self.label],
            layout=ipw.Layout(flex_flow="row wrap"),
        )
        self.widget.add_class("aw-navigation")
