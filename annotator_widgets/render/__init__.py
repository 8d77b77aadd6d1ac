"""Overlays, privacy effects and video writing.

* :mod:`.overlay` - :class:`Renderer` draws masks (stable per-object colours), prompt points
  (positive green, negative red, each with its object id), boxes derived from masks, labels,
  pose skeletons and captions on a copy of a frame.
* :mod:`.effects` - the privacy effects, one function each (``blur``, ``pixelate``, ``solid``,
  ``outline``, ``dim``), found by name in the registry (kind ``"effect"``), and
  :func:`apply_effect`; a new effect is one function plus one registration.
* :mod:`.video` - :func:`write_video` and :func:`render_video`, which streams a whole annotated
  (or anonymised) video to MP4 from the project, without holding more than one frame in memory.

Example:
    >>> import numpy as np
    >>> from annotator_widgets import registry
    >>> from annotator_widgets.render import Renderer, apply_effect
    >>> frame = np.zeros((40, 60, 3), np.uint8)
    >>> mask = np.zeros((40, 60), bool); mask[10:20, 10:30] = True
    >>> out = Renderer(opacity=1.0, labels=False, outline=False).annotate(frame, {1: mask})
    >>> tuple(int(v) for v in out[15, 20]), tuple(int(v) for v in out[0, 0])
    ((230, 159, 0), (0, 0, 0))
    >>> {"blur", "pixelate", "solid", "outline", "dim"} <= set(registry.names("effect"))
    True
    >>> int(apply_effect(out, mask, "dim", 1.0)[0, 0, 0]), int(apply_effect(out, mask, "dim", 1.0)[15, 20, 0])
    (0, 230)
"""

from __future__ import annotations

from ._masks import MaskInput, MasksInput
from .effects import EffectFn, apply_effect
from .overlay import POSE_CONNECTIONS, Renderer
from .video import render_video, write_video

__all__ = [
    "POSE_CONNECTIONS",
    "EffectFn",
    "MaskInput",
    "MasksInput",
    "Renderer",
    "apply_effect",
    "render_video",
    "write_video",
]
