"""Privacy effects: one function per effect, found by name in the registry (kind ``"effect"``).

An effect is a plain function::

    effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb

* ``frame_rgb`` - ``(H, W, 3)`` uint8 RGB; it is the effect's own copy, so the effect may change
  it in place and return it, or return a new array of the same shape and dtype;
* ``mask_bool`` - ``(H, W)`` bool, read-only, the region to change (the union of the chosen objects'
  masks; it may be empty, e.g. on frames where nobody is tracked);
* ``strength`` - 0..1 (checked by :func:`apply_effect`), what it scales is up to the effect;
* ``options`` - keyword-only settings such as ``color=(r, g, b)``; an option the effect does
  not declare is refused by :func:`apply_effect` with the accepted ones listed.

Built-in effects are one line each in :mod:`annotator_widgets.parts`; register your own with
``registry.register("effect", "name", function)`` or the entry-point group
``annotator_widgets.effect``, then use it by name everywhere (:func:`apply_effect`,
:func:`~annotator_widgets.render.render_video`, ``annotator-widgets render --effect name``).

Example:
    >>> import numpy as np
    >>> from annotator_widgets import registry
    >>> from annotator_widgets.render import apply_effect
    >>> frame = np.full((4, 4, 3), 200, np.uint8)
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> int(apply_effect(frame, mask, "solid", 1.0, color=(9, 9, 9))[0, 0, 0])
    9
    >>> def halve(frame_rgb, mask_bool, strength, **options):
    ...     frame_rgb[mask_bool] //= 2
    ...     return frame_rgb
    >>> _ = registry.register("effect", "halve", halve)
    >>> int(apply_effect(frame, mask, "halve")[0, 0, 0]), int(apply_effect(frame, mask, "halve")[3, 3, 0])
    (100, 200)
    >>> registry.unregister("effect", "halve")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from ..errors import AnnotatorError, PromptError
from ._masks import MasksInput, mask_box, union

__all__ = ["EffectFn", "apply_effect", "blur", "dim", "effect_function", "outline", "pixelate", "solid"]

#: ``effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb``
EffectFn = Callable[..., np.ndarray]


def _padded_box(mask: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int, int] | None:
    """The mask's box plus a margin (so a blur has context), and the box's longer side; None when empty."""
    bb = mask_box(mask)
    if bb is None:
        return None
    x0, y0, x1, y1 = bb
    side = max(x1 - x0, y1 - y0)
    pad = max(4, int(side * 0.1))
    h, w = shape[:2]
    return max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad), side


def blur(frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian blur inside the mask; the radius grows with ``strength`` and the region's size.

    The work is done on the mask's box plus a margin, downscaled first, so the cost follows the
    region, not the frame or the radius.
    """
    box = _padded_box(mask_bool, frame_rgb.shape)
    if box is None:
        return frame_rgb
    x0, y0, x1, y1, side = box
    roi = frame_rgb[y0:y1, x0:x1]
    k = int(3 + strength * max(8, side) * 0.5) | 1
    rh, rw = roi.shape[:2]
    step = max(1, k // 15)  # blur a downscaled copy: same look, cost independent of the radius
    small = cv2.resize(roi, (max(1, rw // step), max(1, rh // step)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, ((k // step) | 1, (k // step) | 1), 0)
    changed = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_LINEAR)
    np.copyto(roi, changed, where=mask_bool[y0:y1, x0:x1, None])
    return frame_rgb


def pixelate(frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float) -> np.ndarray:
    """Big pixels inside the mask; the block size grows with ``strength`` and the region's size."""
    box = _padded_box(mask_bool, frame_rgb.shape)
    if box is None:
        return frame_rgb
    x0, y0, x1, y1, side = box
    roi = frame_rgb[y0:y1, x0:x1]
    block = max(2, int(2 + strength * max(4, side) / 8))
    rh, rw = roi.shape[:2]
    small = cv2.resize(roi, (max(1, rw // block), max(1, rh // block)), interpolation=cv2.INTER_AREA)
    changed = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
    np.copyto(roi, changed, where=mask_bool[y0:y1, x0:x1, None])
    return frame_rgb


def solid(
    frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float, *, color: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """Fill the mask with ``color`` (``strength`` is not used: a fill hides completely)."""
    frame_rgb[mask_bool] = color
    return frame_rgb


def outline(
    frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float, *, color: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """Draw only the mask's outer contours in ``color``; the line is 1..7 pixels thick with ``strength``."""
    if not mask_bool.any():
        return frame_rgb
    contours, _ = cv2.findContours(mask_bool.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(frame_rgb, contours, -1, color, max(1, round(1 + 6 * strength)), cv2.LINE_AA)
    return frame_rgb


def dim(frame_rgb: np.ndarray, mask_bool: np.ndarray, strength: float) -> np.ndarray:
    """Darken everything *outside* the mask (by up to 85% at ``strength`` 1); an empty mask dims the whole frame."""
    dimmed = cv2.convertScaleAbs(frame_rgb, alpha=1.0 - 0.85 * strength)
    np.copyto(dimmed, frame_rgb, where=mask_bool[..., None])
    return dimmed


def effect_function(effect: str | EffectFn) -> EffectFn:
    """The effect function a name (or alias) stands for; a callable is returned as it is.

    Raises:
        BackendError: No effect of that name (the message lists the registered ones).
        PromptError: ``effect`` is neither a name nor a callable.
    """
    if callable(effect):
        return effect
    if not isinstance(effect, str):
        raise PromptError("an effect is a registered name or a function", given=effect)
    from .. import registry

    fn = registry.lookup("effect", effect)
    if not callable(fn):
        raise PromptError(
            f"the effect {effect!r} is not a function",
            given=type(fn).__name__,
            hint="register effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb",
        )
    return fn


def _check_options(fn: EffectFn, name: str, options: dict[str, Any]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C function without a signature: let it decide
        return
    try:
        sig.bind(None, None, 0.0)
    except TypeError as exc:
        raise PromptError(
            f"the effect {name!r} has the wrong signature",
            given=str(sig),
            hint="an effect is effect(frame_rgb, mask_bool, strength, **options) -> frame_rgb",
        ) from exc
    try:
        sig.bind(None, None, 0.0, **options)
    except TypeError as exc:
        accepted = [p.name for p in list(sig.parameters.values())[3:] if p.kind is not p.VAR_POSITIONAL]
        raise PromptError(
            f"the effect {name!r} does not take these options",
            given=sorted(options),
            hint=f"its options are {accepted or 'none'} ({exc})",
        ) from exc


def apply_effect(
    frame: np.ndarray,
    masks: MasksInput,
    effect: str | EffectFn = "blur",
    strength: float = 0.5,
    **options: Any,
) -> np.ndarray:
    """Return a copy of ``frame`` with an effect applied to the union of ``masks``.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB; it is not changed.
        masks: One mask (bool array, RLE or Annotation), ``{obj_id: mask}``, a list of masks, or None.
        effect: A registered effect name (``registry.names("effect")``: ``blur``, ``pixelate``, ``solid``,
            ``outline``, ``dim`` and any plugin's or your own) or an effect function.
        strength: 0..1; what it scales is the effect's (blur radius, block size, dimming, line width).
        **options: The effect's keyword options, e.g. ``color=(255, 0, 0)`` for ``solid`` and ``outline``.

    Raises:
        BackendError: Unknown effect name (the known ones are listed).
        PromptError: ``strength`` outside 0..1, or an option the effect does not take.
        AnnotatorError: A mask's size differs from the frame's, or the effect returned a different shape.
    """
    fn = effect_function(effect)
    name = effect if isinstance(effect, str) else getattr(fn, "__name__", repr(fn))
    if isinstance(strength, bool) or not 0.0 <= float(strength) <= 1.0:
        raise PromptError("strength must be in 0..1", given=strength)
    _check_options(fn, name, options)
    out = np.array(frame, dtype=np.uint8, copy=True)
    if out.ndim != 3 or out.shape[2] != 3:
        raise AnnotatorError("frame must be (H, W, 3) RGB", given=getattr(frame, "shape", None))
    region = union(masks, out.shape[:2]).view()  # may be the caller's own mask: the effect gets a read-only view
    region.flags.writeable = False
    result = fn(out, region, float(strength), **options)
    if not isinstance(result, np.ndarray) or result.shape != out.shape or result.dtype != np.uint8:
        raise AnnotatorError(
            f"the effect {name!r} returned something other than the frame",
            given=(type(result).__name__, getattr(result, "shape", None), getattr(result, "dtype", None)),
            hint=f"return a {out.shape} uint8 RGB array",
        )
    return result
