"""Every ipycanvas internal the widgets rely on, in one place (tested against the installed ipycanvas).

ipycanvas (0.14) batches drawing commands through one process-wide canvas manager.
Three things the widgets need are not public API:

* after a failed batch inside ``hold_canvas()`` the manager keeps the half-built batch
  and its caching switch (no ``finally``): :func:`reset_manager` drops them;
* on a browser reload the manager still believes the new page's canvas is selected and
  skips the switch command, so the redraw lands nowhere (ipycanvas #322):
  :func:`forget_selection` clears that belief;
* ``put_image_data`` always encodes the array; the widgets encode once themselves
  (:func:`encode`, with ipycanvas' own encoder) and send the raw command
  (:func:`put_encoded`, the manager's ``send_draw_command`` with ``putImageData``).

:data:`INTERNALS` names each symbol used; :func:`missing` lists those the installed
ipycanvas lacks (``tests/widgets/test_ipycanvas_compat.py`` fails on any, naming it).
Each function degrades to public behaviour when its internal is gone.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from ._deps import ipycanvas

__all__ = ["INTERNALS", "encode", "forget_selection", "missing", "put_encoded", "reset_manager"]

log = logging.getLogger(__name__)

#: the private (or undocumented) ipycanvas symbols used here: (where, attribute)
INTERNALS: tuple[tuple[str, str], ...] = (
    ("ipycanvas.canvas", "_CANVAS_MANAGER"),
    ("ipycanvas.canvas._CANVAS_MANAGER", "_commands_cache"),
    ("ipycanvas.canvas._CANVAS_MANAGER", "_buffers_cache"),
    ("ipycanvas.canvas._CANVAS_MANAGER", "_caching"),
    ("ipycanvas.canvas._CANVAS_MANAGER", "_current_canvas"),
    ("ipycanvas.canvas._CANVAS_MANAGER", "send_draw_command"),
    ("ipycanvas.canvas", "COMMANDS"),
    ("ipycanvas.canvas.COMMANDS", "putImageData"),
    ("ipycanvas.canvas.Canvas", "_canvas_manager"),
    ("ipycanvas.utils", "binary_image"),
)


def _resolve(where: str) -> Any:
    parts = where.split(".")
    obj: Any = importlib.import_module(".".join(parts[:2]))  # ipycanvas.<module>
    for part in parts[2:]:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def missing() -> list[str]:
    """The internals of :data:`INTERNALS` the installed ipycanvas lacks, as ``"module.attribute"`` names."""
    gone = []
    for where, attr in INTERNALS:
        try:
            owner = _resolve(where)
        except (AttributeError, KeyError):
            gone.append(f"{where} (the owner of {attr})")
            continue
        found = attr in owner if isinstance(owner, dict) else hasattr(owner, attr)
        if not found:
            gone.append(f"{where}.{attr}")
    return gone


def _manager() -> Any:
    return getattr(ipycanvas.canvas, "_CANVAS_MANAGER", None)


def reset_manager() -> None:
    """Drop a half-built batch so the next one starts clean (ipycanvas keeps it after an error)."""
    mgr = _manager()
    if mgr is None:
        return
    for name, value in (("_commands_cache", []), ("_buffers_cache", []), ("_caching", False)):
        if hasattr(mgr, name):
            setattr(mgr, name, value)
    if hasattr(mgr, "_current_canvas"):
        mgr._current_canvas = None


def forget_selection(widget: Any) -> None:
    """Make the manager select ``widget``'s canvas again before its next command (after a page reload)."""
    mgr = getattr(widget, "_canvas_manager", None)
    if mgr is not None and hasattr(mgr, "_current_canvas"):
        mgr._current_canvas = None


def encode(arr: np.ndarray, quality: int) -> bytes:
    """RGB -> JPEG, RGBA -> PNG: the formats ipycanvas' ``putImageData`` decodes."""
    return bytes(ipycanvas.utils.binary_image(arr, quality=quality))


_PUT = getattr(ipycanvas.canvas, "COMMANDS", {}).get("putImageData")


def put_encoded(layer: Any, arr: np.ndarray, buf: bytes, x: int = 0, y: int = 0) -> None:
    """``layer.put_image_data(arr, x, y)`` with ``buf`` = :func:`encode` of ``arr`` (not encoded a second time)."""
    mgr = getattr(layer, "_canvas_manager", None)
    if _PUT is None or mgr is None or not hasattr(mgr, "send_draw_command"):
        log.debug("ipycanvas without its putImageData internals: encoding again")
        layer.put_image_data(arr, x, y)
        return
    mgr.send_draw_command(layer, _PUT, [int(x), int(y)], [buf])
