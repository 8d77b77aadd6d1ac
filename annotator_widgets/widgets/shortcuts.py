"""The annotator's keyboard shortcuts and mouse gestures, and the help built from them and its tools'.

The annotator owns navigation, playback, objects, undo and propagation keys
(:data:`ANNOTATOR_SHORTCUTS`); each tool owns its own (``Tool.shortcuts``, e.g. ``o``
for the person tool). :data:`SHORTCUTS` and :data:`MOUSE_HELP` are the full tables of
an annotator with the default tools (the README's table is checked against them).

Example:
    >>> action_for("ArrowRight")
    'next_frame'
    >>> [s.action for s in SHORTCUTS if "o" in s.keys]
    ['toggle']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import registry
from .keys import Shortcut, key_name
from .tools import DEFAULT_TOOLS

__all__ = [
    "ANNOTATOR_MOUSE",
    "ANNOTATOR_SHORTCUTS",
    "MOUSE_HELP",
    "SHORTCUTS",
    "Shortcut",
    "action_for",
    "help_text",
    "key_name",
]

#: the annotator's own keys (its methods); tools add theirs
ANNOTATOR_SHORTCUTS: tuple[Shortcut, ...] = (
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
    Shortcut(("n",), "new_object", "new object"),
    Shortcut(("1", "2", "3", "4", "5", "6", "7", "8", "9"), "select_nth", "select the n-th object"),
    Shortcut(("h",), "toggle_hidden", "hide / show the current object"),
    Shortcut(("m",), "toggle_masks", "masks on / off"),
    Shortcut(("z", "Ctrl+z"), "undo", "undo"),
    Shortcut(("y", "Ctrl+y", "Ctrl+Z"), "redo", "redo"),
    Shortcut(("f",), "propagate_forward", "propagate forward from this frame"),
    Shortcut(("b",), "propagate_backward", "propagate backward from this frame"),
    Shortcut(("p",), "propagate_both", "propagate both ways from this frame"),
    Shortcut(("Escape",), "escape", "cancel a job, stop playing, drop a drag, back to point clicks"),
)

#: the annotator's own mouse gestures (gesture, meaning); tools add theirs
ANNOTATOR_MOUSE: tuple[tuple[str, str], ...] = (("click or drag the timeline", "go to that frame"),)

_BY_KEY: dict[str, str] = {k: s.action for s in ANNOTATOR_SHORTCUTS for k in s.keys}


def action_for(key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str | None:
    """The annotator's action bound to a key event (tools' keys not included), or None."""
    return _BY_KEY.get(key_name(key, shift=shift, ctrl=ctrl, meta=meta))


def _tool_classes(tools: Iterable[Any]) -> list[Any]:
    return [registry.lookup("tool", t) if isinstance(t, str) else t for t in tools]


def all_shortcuts(tools: Iterable[Any]) -> tuple[Shortcut, ...]:
    """The annotator's shortcuts, then those of each tool (tool classes, instances or registry names)."""
    return ANNOTATOR_SHORTCUTS + tuple(s for t in _tool_classes(tools) for s in t.shortcuts)


def all_mouse_help(tools: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """The tools' mouse gestures, then the annotator's own."""
    return tuple(m for t in _tool_classes(tools) for m in t.mouse_help) + ANNOTATOR_MOUSE


def help_text(tools: Sequence[Any] | None = None, *, html: bool = False) -> str:
    """The mouse and keyboard bindings, as plain text (tooltips) or an HTML table.

    Args:
        tools: The annotator's tools (default: the default tools).
        html: An HTML table instead of ``key: what`` lines.
    """
    tools = DEFAULT_TOOLS if tools is None else tools

    def show(k: str) -> str:
        return {" ": "Space"}.get(k, k)

    rows = list(all_mouse_help(tools))
    rows += [
        (" / ".join(show(k) for k in s.keys) if s.action != "select_nth" else "1 … 9", s.help)
        for s in all_shortcuts(tools)
    ]
    if not html:
        return "\n".join(f"{k}: {what}" for k, what in rows)
    body = "".join(f"<tr><td style='padding-right:1em'><kbd>{k}</kbd></td><td>{what}</td></tr>" for k, what in rows)
    return f"<table style='font-size:12px'>{body}</table>"


#: every shortcut of an annotator with the default tools
SHORTCUTS: tuple[Shortcut, ...] = all_shortcuts(DEFAULT_TOOLS)
#: every mouse gesture of an annotator with the default tools
MOUSE_HELP: tuple[tuple[str, str], ...] = all_mouse_help(DEFAULT_TOOLS)
