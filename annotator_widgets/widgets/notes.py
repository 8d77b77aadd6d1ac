"""Words drawn on the frame: captions of objects, mask warnings and the actions going on, from a FrameView.

A band along the bottom of the display image holds one line per note, in the
object's colour: ``"3 cup: a red mug"`` (a caption), ``"⚠ 3: empty mask"`` (a
warning; the object's label is marked too), ``"▶ 1 holds 3: picks up the cup"`` (an
action segment covering the frame, with its description). The canvas calls
:func:`draw_notes` on the image it is about to send; nothing is drawn when the view
has no notes.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.types import ActionSegment, Caption, MaskWarning, ObjectInfo
    >>> from annotator_widgets.view import FrameView
    >>> view = FrameView(4, objects=(ObjectInfo(1, "ann", "person"), ObjectInfo(3, "cup")),
    ...                  captions={3: Caption(4, 3, "a red mug")},
    ...                  warnings=(MaskWarning(4, 3, "empty_mask", "the mask is empty"),),
    ...                  actions={7: ActionSegment(2, 9, "holds", 1, 3, "picks up the cup")})
    >>> note_lines(view)
    ['3 cup: a red mug', '! 3 cup: the mask is empty', '> 1 ann holds 3 cup: picks up the cup']
    >>> img = np.zeros((90, 160, 3), np.uint8)
    >>> bool(draw_notes(img, view)[60:].any()), bool(draw_notes(img, FrameView(4)).any())
    (True, False)
"""

from __future__ import annotations

import cv2
import numpy as np

from ..view import FrameView

__all__ = ["draw_notes", "note_lines"]

_WARN = (255, 190, 40)
_MAX_LINES = 6


def _label(view: FrameView, obj_id: int | None) -> str:
    if obj_id is None:
        return "?"
    info = view.object(obj_id)
    return info.label if info is not None else str(obj_id)


def _notes(view: FrameView) -> list[tuple[str, tuple[int, int, int]]]:
    """``(text, colour)`` per note: captions, then warnings, then actions."""

    def color(obj_id: int | None) -> tuple[int, int, int]:
        info = view.object(obj_id) if obj_id is not None else None
        return info.color if info is not None else (255, 255, 255)

    out = []
    for oid, cap in sorted(view.captions.items()):
        if cap.text:
            out.append((f"{_label(view, oid)}: {cap.text}" if oid else cap.text, color(oid)))
    for w in view.warnings:
        out.append((f"! {_label(view, w.obj_id)}: {w.message or w.kind}", _WARN))
    for seg in view.actions.values():
        text = f"> {_label(view, seg.person_id)} {seg.label} {_label(view, seg.obj_id)}"
        out.append((f"{text}: {seg.description}" if seg.description else text, color(seg.person_id)))
    return out


def note_lines(view: FrameView) -> list[str]:
    """The notes' texts, in drawing order."""
    return [text for text, _ in _notes(view)]


def draw_notes(img: np.ndarray, view: FrameView) -> np.ndarray:
    """The display image with the view's notes in a darkened band along its bottom (a copy; ``img`` if none)."""
    notes = _notes(view)
    if not notes:
        return img
    if len(notes) > _MAX_LINES:
        notes = [*notes[: _MAX_LINES - 1], (f"... {len(notes) - _MAX_LINES + 1} more", (200, 200, 200))]
    out = img.copy()
    h, w = out.shape[:2]
    scale = max(0.3, w / 1600)
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    line = th + base + 3
    top = max(0, h - line * len(notes) - 3)
    out[top:] = (out[top:].astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, (text, color) in enumerate(notes):
        y = top + (i + 1) * line - base
        cv2.putText(out, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return out
