"""Keyboard shortcuts: one table that drives both the key handler and the help text.

Keys are matched on the browser's ``KeyboardEvent.key``. Single characters are
case-sensitive (``"C"`` is Shift+c); other keys take ``Shift+`` / ``Ctrl+`` prefixes
(Cmd counts as Ctrl).

Example:
    >>> key_name("z", ctrl=True), key_name("ArrowRight", shift=True), key_name("C", shift=True)
    ('Ctrl+z', 'Shift+ArrowRight', 'C')
    >>> action_for("ArrowRight")
    'next_frame'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SHORTCUTS", "Shortcut", "action_for", "help_text", "key_name"]


@dataclass(frozen=True)
class Shortcut:
    """Keys that trigger one action of the annotator (a method name) and what it does."""

    keys: tuple[str, ...]
    action: str
    help: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(("ArrowRight", "d"), "next_frame", "next frame"),
    Shortcut(("ArrowLeft", "a"), "prev_frame", "previous frame"),
    Shortcut(("Shift+ArrowRight", "D"), "forward_10", "10 frames forward"),
    Shortcut(("Shift+ArrowLeft", "A"), "back_10", "10 frames back"),
    Shortcut(("Home",), "first_frame", "first frame"),
    Shortcut(("End",), "last_frame", "last frame"),
    Shortcut(("]",), "next_prompted", "next frame with prompts"),
    Shortcut(("[",), "prev_prompted", "previous frame with prompts"),
    Shortcut(("l",), "next_low_confidence", "next low-confidence (or lost) frame"),
    Shortcut((" ", "k"), "toggle_play", "play / pause"),
    Shortcut(("t",), "toggle_label", "toggle positive / negative clicks"),
    Shortcut(("+", "="), "positive_mode", "positive clicks"),
    Shortcut(("-",), "negative_mode", "negative clicks"),
    Shortcut(("n",), "new_object", "new object"),
    Shortcut(("1", "2", "3", "4", "5", "6", "7", "8", "9"), "select_nth", "select the n-th object"),
    Shortcut(("h",), "toggle_hidden", "hide / show the current object"),
    Shortcut(("m",), "toggle_masks", "masks on / off"),
    Shortcut(("z", "Ctrl+z"), "undo", "undo"),
    Shortcut(("y", "Ctrl+y", "Ctrl+Z"), "redo", "redo"),
    Shortcut(("c",), "clear_object_on_frame", "clear the current object's prompts and mask on this frame"),
    Shortcut(("C",), "clear_all_on_frame", "clear every prompt and mask on this frame"),
    Shortcut(("f",), "propagate_forward", "propagate forward from this frame"),
    Shortcut(("b",), "propagate_backward", "propagate backward from this frame"),
    Shortcut(("p",), "propagate_both", "propagate both ways from this frame"),
    Shortcut(("o",), "toggle_person_mode", "person clicks on / off: a click selects or tracks the person under it"),
    Shortcut(("r",), "toggle_region_mode", "region drags on / off: people meeting the rectangle are seeded"),
    Shortcut(("s",), "segment_person", "mask the current person from their landmarks on this frame"),
    Shortcut(("Escape",), "escape", "cancel a job, stop playing, drop a drag, back to point clicks"),
)

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("click", "add a point (positive or negative, as toggled) for the current object"),
    ("right-click / Shift+click", "add a point with the opposite label (negative by default)"),
    ("drag", "box prompt for the current object"),
    ("click or drag the timeline", "go to that frame"),
    ("click (person mode)", "select the person under the pointer, or detect and track them from this frame"),
    ("drag (region mode)", "every person meeting the rectangle becomes an object; all are propagated together"),
)

_BY_KEY: dict[str, str] = {k: s.action for s in SHORTCUTS for k in s.keys}


def key_name(key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str:
    """Normalise a browser key event to the names used in :data:`SHORTCUTS`."""
    prefix = "Ctrl+" if (ctrl or meta) else ""
    if len(key) != 1 and shift:
        prefix += "Shift+"
    return prefix + key


def action_for(key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str | None:
    """The action bound to a key event, or None."""
    return _BY_KEY.get(key_name(key, shift=shift, ctrl=ctrl, meta=meta))


def help_text(*, html: bool = False) -> str:
    """The mouse and keyboard bindings, as plain text (tooltips) or an HTML table."""

    def show(k: str) -> str:
        return {" ": "Space"}.get(k, k)

    rows = [(m, what) for m, what in MOUSE_HELP]
    rows += [(" / ".join(show(k) for k in s.keys) if s.action != "select_nth" else "1 … 9", s.help) for s in SHORTCUTS]
    if not html:
        return "\n".join(f"{k}: {what}" for k, what in rows)
    body = "".join(f"<tr><td style='padding-right:1em'><kbd>{k}</kbd></td><td>{what}</td></tr>" for k, what in rows)
    return f"<table style='font-size:12px'>{body}</table>"
