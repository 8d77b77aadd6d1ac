"""Routes of the text workflows: which model answers which phrase, loaded once per run.

A route spec is ``"faces"``, ``"people"``, ``"grounder[:spec]"``, ``"detector[:spec]"`` or
``"concept[:spec]"``; :func:`plan_routes` maps ``"auto"`` to them per phrase and :func:`open_finder`
loads one as a :class:`Finder` (``find(session, frame, phrases) -> list[Found]``).

Example:
    >>> split_phrases("faces, license plates; faces")
    ['faces', 'license plates']
    >>> plan_routes("auto", ["faces", "a person", "a red car"])
    [('faces', ['faces']), ('people', ['a person']), ('grounder:owlv2', ['a red car'])]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import registry
from ..backends.faces import is_face_phrase
from ..backends.grounders.postprocess import normalize
from ..errors import CheckpointError, NotFoundError, PromptError
from ..types import Box, Detection

if TYPE_CHECKING:
    from ..session import AnnotationSession

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_GROUNDER",
    "PEOPLE_PHRASES",
    "Finder",
    "Found",
    "open_finder",
    "plan_routes",
    "split_phrases",
]

#: the grounder of ``route="grounder"`` and of other phrases under ``"auto"``
DEFAULT_GROUNDER = "owlv2"
#: the COCO detector of ``route="detector"``
DEFAULT_DETECTOR = "detr"
#: phrases ``"auto"`` sends to the pose model (compared after :func:`normalize`)
PEOPLE_PHRASES = frozenset({"person", "people", "human", "pedestrian", "man", "woman"})
_ROUTES = ("grounder", "concept", "faces", "people", "detector")


def split_phrases(text: str | Iterable[str]) -> list[str]:
    """Phrases from ``"faces, license plates"`` (commas, semicolons, new lines) or a list; trimmed, deduplicated.

    Raises:
        PromptError: No phrase, or an empty one.
    """
    if isinstance(text, str):
        items = re.split(r"[,;\n]", text)
        if not "".join(items).strip():
            raise PromptError("the text is empty", given=text, hint="type what to track, e.g. 'faces, license plates'")
        items = [p for p in items if p.strip()]
    else:
        items = list(text)
    out: list[str] = []
    for p in items:
        if not isinstance(p, str):
            raise PromptError("phrases must be strings", given=p, hint="pass 'a, b' or ['a', 'b']")
        phrase = " ".join(p.split())
        if not phrase:
            raise PromptError("a phrase is empty", given=list(items), hint="remove empty phrases, e.g. 'a red dress'")
        if phrase not in out:
            out.append(phrase)
    if not out:
        raise PromptError("no phrase given", given=text, hint="type what to track, e.g. 'faces'")
    return out


def _is_people_phrase(phrase: str) -> bool:
    return normalize(phrase) in PEOPLE_PHRASES


def plan_routes(route: str, phrases: Sequence[str], grounder: Any = None) -> list[tuple[str, list[str]]]:
    """Which route answers which phrases: ``[(route spec, phrases), ...]`` in first-use order.

    A ``grounder`` (name, spec or instance) given with ``route="auto"`` answers every phrase.
    """
    if not isinstance(route, str) or route.split(":", 1)[0] not in ("auto", *_ROUTES):
        raise PromptError(
            "unknown route", given=route, hint=f"use 'auto' or one of {list(_ROUTES)} (e.g. 'grounder:owlv2')"
        )
    if route != "auto":
        return [(route, list(phrases))]
    plan: dict[str, list[str]] = {}
    for p in phrases:
        if grounder is not None:
            key = "grounder"
        elif is_face_phrase(p):
            key = "faces"
        elif _is_people_phrase(p):
            key = "people"
        else:
            key = f"grounder:{DEFAULT_GROUNDER}"
        plan.setdefault(key, []).append(p)
    return list(plan.items())


@dataclass(frozen=True, eq=False)
class Found:
    """One instance a route found: the detection to store and, from SAM 3, its mask."""

    detection: Detection
    mask: np.ndarray | None = field(default=None, repr=False)


class Finder:
    """One opened route: ``find(session, frame, phrases) -> list[Found]`` best first; ``close()``.

    Built by :func:`open_finder`; a model is loaded once and reused for every frame of a run.
    ``route`` is the route's kind (``"grounder"``, ``"faces"``...); ``spec`` the full route spec that
    loads the same model again (``"grounder:owlv2:<folder>"``), written to each detection's
    ``meta["route"]`` so that the objects made from it remember it.
    """

    def __init__(
        self,
        route: str,
        model: Any,
        name: str,
        owned: bool,
        *,
        min_visibility: float = 0.5,
        spec: str | None = None,
    ) -> None:
        self.route = route
        self.spec = spec or route
        self.model = model
        self.name = name
        self._owned = owned
        self._min_visibility = min_visibility
        self._concept_started = False

    def find(self, session: AnnotationSession, frame: int, phrases: Sequence[str]) -> list[Found]:
        """Run the route on ``frame``; an empty list when it found nothing (``best_scores`` says how close)."""
        self.best_scores: dict[str, float] = {}
        if self.route == "people":
            return self._people(session, frame, phrases)
        if self.route == "concept":
            return self._concept(session, frame, phrases)
        boxes = self.model.detect(session.video.frame(frame), list(phrases))
        self.best_scores = dict(getattr(self.model, "last_scores", {}) or {})
        out = []
        for g in boxes:
            meta = {"text": g.phrase, "route": self.spec, "model_id": str(getattr(self.model, "name", self.name))}
            det = Detection(frame, g.box, min(1.0, max(0.0, float(g.score))), g.phrase, self.name, meta=meta)
            out.append(Found(det, None if g.mask is None else np.asarray(g.mask, bool)))
        return out

    def _people(self, session: AnnotationSession, frame: int, phrases: Sequence[str]) -> list[Found]:
        out = []
        for pose in self.model.detect(session.video.frame(frame), 0):
            box = pose.box(self._min_visibility) or pose.box(0.0)
            if box is None:
                continue
            score = min(1.0, max(0.0, float(pose.score)))
            for p in phrases:
                out.append(Found(Detection(frame, box, score, p, self.name, meta={"text": p, "route": self.spec})))
        self.best_scores = {p: max((f.detection.score for f in out), default=0.0) for p in phrases}
        return sorted(out, key=lambda f: -f.detection.score)

    def _concept(self, session: AnnotationSession, frame: int, phrases: Sequence[str]) -> list[Found]:
        if not self._concept_started:
            self.model.start(session.video)
            self._concept_started = True
        try:
            found = self.model.add_text(frame, list(phrases))
        except NotFoundError:
            self.best_scores = {p: 0.0 for p in phrases}
            return []
        out = []
        for inst, (phrase, om) in sorted(found.items()):
            mask = np.asarray(om.mask, bool)
            ys, xs = np.nonzero(mask)
            if not len(xs):
                continue
            box = Box.from_corners(float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)
            score = 1.0 if om.score is None else min(1.0, max(0.0, float(om.score)))
            meta = {"text": phrase, "route": self.spec, "instance": int(inst)}
            out.append(Found(Detection(frame, box, score, phrase, self.name, meta=meta), mask))
        return sorted(out, key=lambda f: -f.detection.score)

    def close(self) -> None:
        """Release the model if this finder loaded it."""
        if self._owned:
            close = getattr(self.model, "close", None)
            if close is not None:
                close()


def open_finder(
    route: str, *, threshold: float | None = None, top_k: int | None = None, instance: Any = None, **options: Any
) -> Finder:
    """Load the model of one route spec (``"grounder:owlv2:<folder>"``, ``"faces"``, ``"people"``...).

    Args:
        route: A route spec (not ``"auto"``; see :func:`plan_routes`).
        threshold: The model's lowest score kept (None: the model's default).
        top_k: At most this many boxes per phrase (None: the model's default).
        instance: An already loaded grounder to use for ``"grounder"`` (not closed by the finder).
        **options: More keyword arguments for the part's factory.

    Raises:
        CheckpointError: The weights are missing (the message names the offline routes).
    """
    kind, _, spec = route.partition(":")
    if kind == "grounder" and instance is not None and not isinstance(instance, str):
        # a loaded instance cannot be named again: its objects remember the kind only
        return Finder(
            "grounder", instance, str(getattr(instance, "name", type(instance).__name__)).split(":")[0], False
        )
    if kind == "grounder" and isinstance(instance, str):
        spec = instance
        route = f"grounder:{spec}"
    kw = dict(options)
    if threshold is not None:
        kw["threshold"] = float(threshold)
    if top_k is not None:
        kw["top_k"] = int(top_k)
    if kind == "people":
        kw.pop("threshold", None)
        kw.pop("top_k", None)
        model = registry.resolve("pose", spec or "mediapipe", running_mode="image", num_poses=top_k or 5, **kw)
        return Finder("people", model, f"pose:{spec or 'mediapipe'}", True, spec=route)
    if kind == "concept":
        spec = spec or "sam3"
        if "threshold" in kw:
            kw["score_threshold"] = kw.pop("threshold")
        kw.pop("top_k", None)
        return Finder("concept", registry.resolve("concept", spec, **kw), spec.split(":")[0], True, spec=route)
    spec = spec or {"faces": "mediapipe-face", "detector": DEFAULT_DETECTOR}.get(kind, DEFAULT_GROUNDER)
    if kind == "faces":
        spec = "mediapipe-face" + (f":{spec}" if spec != "mediapipe-face" else "")
    try:
        model = registry.resolve("grounder", spec, **kw)
    except CheckpointError as exc:
        raise CheckpointError(
            exc.message or "the grounder's weights are missing",  # not str(exc): given and hint follow once
            given=exc.given,
            hint=f"{exc.hint or 'download the weights where the hub is reachable'}; or track faces / people "
            "with route='faces' / route='people', which work offline",
        ) from exc
    return Finder(kind, model, spec.split(":")[0], True, spec=route)
