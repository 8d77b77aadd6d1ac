"""A scripted grounder (a test double): the true boxes of a generated clip, per frame, by a script.

It recognises the frame it is shown (by its bytes) and answers each phrase with the boxes the
script gives for that frame. Register it as a part with :func:`register_scripted` so workflows
reach it through the registry like any grounder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from annotator_widgets import registry
from annotator_widgets.backends.protocols import GroundingBox
from annotator_widgets.types import Box

#: frame index -> [(phrase, (x0, y0, x1, y1), score), ...]
Script = Callable[[int], list[tuple[str, tuple[float, float, float, float], float]]]


def _key(image: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()


class ScriptedGrounder:
    """Answers ``detect(image, phrases)`` from a script keyed by frame index.

    Attributes:
        calls: The frame indices it was asked about, in order.
    """

    def __init__(self, frames: np.ndarray, script: Script, *, name: str = "scripted", threshold: float = 0.0) -> None:
        self.name = name
        self.threshold = threshold
        self._index = {_key(f): i for i, f in enumerate(frames)}
        self._script = script
        self.calls: list[int] = []
        self.last_scores: dict[str, float] = {}
        self.closed = False

    def detect(self, image: np.ndarray, phrases: Sequence[str]) -> list[GroundingBox]:
        frame = self._index[_key(image)]
        self.calls.append(frame)
        said = self._script(frame)
        self.last_scores = {p: max((s for q, _, s in said if q == p), default=0.0) for p in phrases}
        out = [GroundingBox(Box.from_corners(*b), s, q) for q, b, s in said if q in phrases and s >= self.threshold]
        return sorted(out, key=lambda g: -g.score)

    def close(self) -> None:
        self.closed = True


def register_scripted(frames: np.ndarray, script: Script, name: str = "scripted") -> list[ScriptedGrounder]:
    """Register ``name`` as a grounder part; returns the list every built instance is appended to."""
    built: list[ScriptedGrounder] = []

    def factory(arg: Any = None, *, threshold: float | None = None, top_k: int | None = None) -> ScriptedGrounder:
        g = ScriptedGrounder(frames, script, name=name, threshold=threshold or 0.0)
        built.append(g)
        return g

    registry.register("grounder", name, factory, summary="test double: a clip's true boxes", replace=True)
    return built
