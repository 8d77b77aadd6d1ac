"""Seed a region with a detector's people (seed 002's route): people whose detector box meets the region.

:func:`seed_detected` asks a grounder - any registered ``"grounder"`` part asked for
``"person"``: a COCO detector (``"detr"``, ``"rt-detr"``), an open-vocabulary one
(``"owlv2"``, ``"grounding-dino"``...) - for the people on one frame, keeps those whose box
meets the region, stores what it said (one :class:`~annotator_widgets.types.Detection` per
box, linked to its object) and makes each one a ``person`` object prompted with its box, as one
undo step; then propagates them all together. It is the alternative to the pose route of
:func:`annotator_widgets.workflows.people.seed_region`, which calls it with ``detector=...``.

Example:
    >>> from annotator_widgets.workflows.people import seed_region  # doctest: +SKIP
    >>> people = seed_region(session, 30, (0, 200, 640, 480), detector="rt-detr")  # doctest: +SKIP
    >>> [(o.obj_id, o.category) for o in people]  # doctest: +SKIP
    [(1, 'person'), (2, 'person')]
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from .. import registry
from ..errors import NotFoundError
from ..progress import CancelSignal, ProgressCallback, Steps, is_cancelled
from ..types import Box, Detection, ObjectInfo
from .poses import PERSON

if TYPE_CHECKING:
    from ..session import AnnotationSession

__all__ = ["DETECTOR_PHRASE", "meets", "propagate_seeded", "seed_detected"]

log = logging.getLogger(__name__)

#: what the detector is asked for
DETECTOR_PHRASE = "person"


def meets(a: Box, b: Box) -> bool:
    """True when two boxes overlap with a positive area (touching edges do not count).

    Example:
        >>> meets(Box(0, 0, 10, 10), Box(5, 5, 20, 20)), meets(Box(0, 0, 10, 10), Box(10, 0, 20, 10))
        (True, False)
    """
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def seed_detected(
    session: AnnotationSession,
    frame: int,
    region: Box,
    *,
    detector: Any,
    threshold: float | None = None,
    propagate: bool = True,
    direction: Literal["forward", "backward", "both"] = "forward",
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
) -> list[ObjectInfo]:
    """Every person whose detector box meets ``region`` on ``frame`` becomes a ``person`` object prompted with its box.

    Args:
        session: The annotation session.
        frame: The frame (checked by the caller).
        region: The region in video pixels, clipped to the frame.
        detector: A ``"grounder"`` spec (``"detr"``, ``"rt-detr:<folder>"``, ``"owlv2"``...), built and closed
            here, or a ready grounder, used as is.
        threshold: The detector's lowest score kept (None: its default); for a spec only.
        propagate: Run the propagation afterwards.
        direction: Direction of that propagation.
        progress: Called after the detection, then after each propagated frame.
        cancel: Stops the propagation (the frames done are kept).

    Returns:
        The new people's objects, by id.

    Raises:
        NotFoundError: The detector found nobody meeting the region (says how many it found elsewhere and the
            best score); nothing is created.
    """
    owned = isinstance(detector, str)
    kw = {} if threshold is None or not owned else {"threshold": float(threshold)}
    model = registry.resolve("grounder", detector, **kw)
    name = detector.split(":")[0] if owned else str(getattr(model, "name", type(model).__name__))
    try:
        found = list(model.detect(session.video[frame], [DETECTOR_PHRASE]))
    finally:
        if owned:
            model.close()
    if progress is not None:
        progress(1, 1, f"{name}: {len(found)} people on frame {frame}")
    meeting = [g for g in found if meets(g.box, region)]
    if not meeting:
        best = max((g.score for g in found), default=None)
        elsewhere = f"; it found {len(found)} elsewhere (best score {best:.2f})" if found else ""
        raise NotFoundError(
            f"no person found by {name} meets the region on frame {frame}{elsewhere}",
            given=tuple(round(v) for v in region.xyxy),
            hint="draw the region over a person, lower the detector's threshold, or use the pose route",
        )
    project = session.project
    seeded: list[ObjectInfo] = []
    with project.group(f"seed {len(meeting)} detected people in a region on frame {frame}"):
        for g in meeting:
            info = session.add_object(name=PERSON, category=PERSON)
            session.add_box(frame, info.obj_id, g.box)
            seeded.append(info)
        dets = [
            Detection(frame, g.box, float(g.score), DETECTOR_PHRASE, name, o.obj_id)
            for g, o in zip(meeting, seeded, strict=True)
        ]
        project.put_detections(frame, dets)
    log.info("seeded %d people detected by %s on frame %d", len(seeded), name, frame)
    if propagate:
        propagate_seeded(session, frame, direction, progress, cancel)
    return seeded


def propagate_seeded(
    session: AnnotationSession,
    frame: int,
    direction: Literal["forward", "backward", "both"],
    progress: ProgressCallback | None,
    cancel: CancelSignal | None,
) -> None:
    """Propagate every prompted object from ``frame``; a cancel stops after the current frame, keeping what was done."""
    run = session.propagate(direction=direction, start=frame)
    steps = Steps(progress, None, total=0, text=f"propagate {direction}")
    try:
        for _ in run:
            steps.total = session.progress.total  # known once the propagation runs
            steps.advance()
            if is_cancelled(cancel):
                log.info("propagation cancelled after %d frames (they are kept)", steps.done)
                break
    finally:
        run.close()  # type: ignore[attr-defined]  # the session's propagation generator
