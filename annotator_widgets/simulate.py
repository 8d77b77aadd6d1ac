"""A simulated annotator: how many clicks a segmenter needs to reach a quality target on a video.

:func:`simulate_annotator` plays the interactive protocol of the SAM 2 paper through the real
:class:`~annotator_widgets.session.AnnotationSession`, with ground-truth masks standing in for the
user's eyes:

1. Each object gets one positive click on the first frame it is visible, at the centre of the
   object (the pixel farthest from its outline); the session propagates forward from the first.
2. Every frame's J (mask IoU with the truth; 1 where both are empty) is measured from the masks
   the session stored in the project.
3. The worst frame of any object below ``target_j`` is corrected with one click at the centre of
   its largest error region (:func:`next_click`): positive where the mask misses the object,
   negative where it spills. A frame's first click for an object is positive while the object is
   visible there (a lone negative click does not say where the object is); where it is not visible
   the click is negative and should empty the mask.
4. The session propagates from the corrected frame forward and backward over the stretch of
   frames where that object's J is below the target, up to its neighbouring prompt frames
   (which re-anchor it), and J is measured again on the frames it wrote.

Steps 3-4 repeat until every frame reaches ``target_j`` or a budget runs out (``max_clicks``,
``max_rounds``, or ``max_frame_clicks`` on one object's frame, after which that frame is left
as it is). Truth is read one frame at a time and predicted masks come from the project, so
memory does not grow with the video beyond the per-frame J values.

Example:
    >>> from annotator_widgets.data import synthetic_clip
    >>> from annotator_widgets.simulate import simulate_annotator
    >>> clip = synthetic_clip(num_frames=6, size=(96, 72), num_objects=1, seed=3)
    >>> report = simulate_annotator(clip.frames, clip.masks, target_j=0.5, max_clicks=4)
    >>> report.clicks >= 1, report.frames, sorted(report.j_per_frame)
    (True, 6, [1])
    >>> report.reached == (report.min_j >= 0.5)
    True
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .errors import PromptError
from .rle import mask_iou
from .types import Point

if TYPE_CHECKING:
    from .backends import VideoSegmenter
    from .project import Project
    from .session import AnnotationSession

__all__ = ["SimulatedClick", "SimulationReport", "TruthLike", "next_click", "simulate_annotator"]

log = logging.getLogger(__name__)

#: Per object id: a ``(T, H, W)`` array or a sequence of ``(H, W)`` masks indexed by frame, or a
#: callable ``frame -> mask`` (None where the frame has no ground truth: it is not scored).
TruthLike = Mapping[int, "np.ndarray | Sequence[np.ndarray] | Callable[[int], np.ndarray | None]"]


@dataclass(frozen=True)
class SimulatedClick:
    """One click the simulated annotator made: where, of which kind, and the J it corrected."""

    frame: int
    obj_id: int
    x: float
    y: float
    label: int  # 1 positive, 0 negative
    j_before: float


@dataclass(frozen=True, eq=False)
class SimulationReport:
    """What :func:`simulate_annotator` measured.

    Attributes:
        clicks: Clicks made in all (the first click of every object included).
        clicks_per_frame: ``clicks / frames``; clicking every object on every frame would be ``objects``.
        j_per_frame: Object id -> ``(T,)`` J of the final masks (NaN where the truth is unknown).
        final_mean_j: Mean of J over scored frames and objects.
        min_j: The worst frame's J of any object.
        seconds: Wall time of the whole simulation (prompts, propagation, reading masks).
        seconds_per_frame: ``seconds / frames``.
        rounds: Propagations run (the first one included).
        frames: Frames in the video.
        target_j: The target J.
        reached: Every scored frame reached ``target_j``.
        history: Every click, in order.
        project_path: The project holding the final prompts and masks.
    """

    clicks: int
    clicks_per_frame: float
    j_per_frame: dict[int, np.ndarray]
    final_mean_j: float
    min_j: float
    seconds: float
    seconds_per_frame: float
    rounds: int
    frames: int
    target_j: float
    reached: bool
    history: tuple[SimulatedClick, ...] = field(default=())
    project_path: Path | None = None

    @property
    def objects(self) -> int:
        """Number of objects simulated."""
        return len(self.j_per_frame)

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON types (no per-frame arrays)."""
        return {
            "clicks": self.clicks,
            "clicks_per_frame": round(self.clicks_per_frame, 4),
            "frames": self.frames,
            "objects": self.objects,
            "final_mean_j": round(self.final_mean_j, 4),
            "min_j": round(self.min_j, 4),
            "seconds": round(self.seconds, 3),
            "seconds_per_frame": round(self.seconds_per_frame, 4),
            "rounds": self.rounds,
            "target_j": self.target_j,
            "reached": self.reached,
        }


def next_click(pred: np.ndarray, truth: np.ndarray, *, negative: bool = True) -> Point | None:
    """The click that corrects the largest error region of ``pred`` against ``truth``.

    The error regions are the connected parts of the missed object (``truth & ~pred``, a positive
    click) and of the spill (``pred & ~truth``, a negative click; only when ``negative``). The click
    lies at the centre of the largest one by area: its pixel farthest from the region's outline (the
    image border counts as outline), at the pixel's centre. Ties go to the missed part.

    Returns:
        A :class:`~annotator_widgets.types.Point` in video pixels, or None when there is no error.

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((20, 30), bool); truth[2:13, 2:24] = True
        >>> pred = np.zeros_like(truth); pred[2:13, 2:13] = True  # misses an 11 x 11 square
        >>> next_click(pred, truth)
        Point(x=18.5, y=7.5, label=1)
        >>> pred[2:13, 13:24] = True; pred[14:19, 0:5] = True  # now it only spills
        >>> next_click(pred, truth)
        Point(x=2.5, y=16.5, label=0)
    """
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape:
        raise PromptError("predicted and true masks differ in shape", given=(pred.shape, truth.shape))
    best: tuple[int, np.ndarray, int] | None = None
    errors = [(truth & ~pred, 1)] + ([(pred & ~truth, 0)] if negative else [])
    for err, label in errors:
        if not err.any():
            continue
        _, lab, stats, _ = cv2.connectedComponentsWithStats(err.astype(np.uint8), connectivity=8)
        i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[i, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, lab == i, label)
    if best is None:
        return None
    region = np.pad(best[1], 1).astype(np.uint8)
    dist = cv2.distanceTransform(region, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Point(float(x) + 0.5, float(y) + 0.5, best[2])


def _truth_readers(truth: TruthLike, num_frames: int, size: tuple[int, int]) -> dict[int, Callable[[int], Any]]:
    w, h = size
    if not truth:
        raise PromptError("no ground truth given", given=truth, hint="pass {obj_id: masks per frame}")
    readers: dict[int, Callable[[int], Any]] = {}
    for obj, source in truth.items():
        if isinstance(obj, bool) or not isinstance(obj, int | np.integer) or obj < 1:
            raise PromptError("ground-truth object ids must be positive integers", given=obj)
        if callable(source):
            readers[int(obj)] = source
            continue
        if not hasattr(source, "__getitem__") or not hasattr(source, "__len__"):
            raise PromptError(
                "ground truth of an object must be masks indexed by frame or a callable frame -> mask",
                given=type(source).__name__,
            )
        if len(source) != num_frames:
            raise PromptError(
                f"object {obj}: ground truth for {len(source)} frames, the video has {num_frames}",
                given=len(source),
                hint="give one mask per frame (or a callable returning None where unknown)",
            )
        readers[int(obj)] = source.__getitem__

    def checked(obj: int, read: Callable[[int], Any]) -> Callable[[int], np.ndarray | None]:
        def at(frame: int) -> np.ndarray | None:
            mask = read(frame)
            if mask is None:
                return None
            arr = np.asarray(mask)
            if arr.shape != (h, w):
                raise PromptError(
                    f"object {obj}: ground-truth mask of frame {frame} is not the video's (height, width)",
                    given=arr.shape,
                    hint=f"expected ({h}, {w})",
                )
            return arr.astype(bool, copy=False)

        return at

    return {obj: checked(obj, read) for obj, read in sorted(readers.items())}


class _Simulation:
    """The state of one run: the session, the truth readers, J per frame and the clicks."""

    def __init__(self, session: AnnotationSession, truth: dict[int, Callable[[int], np.ndarray | None]]) -> None:
        self.session = session
        self.truth = truth
        self.frames = len(session.video)
        self.j = {obj: np.full(self.frames, np.nan) for obj in truth}
        self.history: list[SimulatedClick] = []
        self.frame_clicks: dict[tuple[int, int], int] = {}
        self.rounds = 0

    def measure(self, frames: Sequence[int]) -> None:
        """J of every object on ``frames``, from the masks stored in the project."""
        for t in frames:
            stored = self.session.project.annotations(t)
            for obj, read in self.truth.items():
                gt = read(t)
                if gt is None:
                    self.j[obj][t] = np.nan
                    continue
                ann = stored.get(obj)
                self.j[obj][t] = mask_iou(ann.mask, gt) if ann is not None else float(not gt.any())

    def click(self, frame: int, obj: int, point: Point) -> None:
        self.history.append(SimulatedClick(frame, obj, point.x, point.y, point.label, float(self.j[obj][frame])))
        self.frame_clicks[frame, obj] = self.frame_clicks.get((frame, obj), 0) + 1
        self.session.add_points(frame, obj, [point])

    def propagate(self, direction: str, start: int, stop: int | None) -> None:
        seen = [step.frame for step in self.session.propagate(direction, start, stop)]  # type: ignore[arg-type]
        self.measure(seen)

    def first_clicks(self) -> None:
        """One positive click per object at the centre of the object on its first visible frame."""
        pending = set(self.truth)
        for t in range(self.frames):
            for obj in sorted(pending):
                gt = self.truth[obj](t)
                if gt is not None and gt.any():
                    point = next_click(np.zeros_like(gt), gt)
                    assert point is not None
                    self.click(t, obj, point)
                    pending.discard(obj)
            if not pending:
                break
        for obj in sorted(pending):
            log.warning("object %d is never visible in the ground truth: nothing to click", obj)
        prompt_frames = self.session.project.prompt_frames()
        if not prompt_frames:
            raise PromptError("the ground truth shows no object on any frame", given=sorted(self.truth))
        self.rounds += 1
        self.propagate("forward", prompt_frames[0], None)  # before its first visible frame an object has no mask

    def worst(self, target: float, max_frame_clicks: int) -> tuple[int, int] | None:
        """The (frame, object) with the lowest J below ``target`` that may still be clicked."""
        best: tuple[float, int, int] | None = None
        for obj, js in self.j.items():
            for t in np.flatnonzero(js < target):
                if self.frame_clicks.get((int(t), obj), 0) >= max_frame_clicks:
                    continue
                if best is None or js[t] < best[0]:
                    best = (float(js[t]), int(t), obj)
        return None if best is None else (best[1], best[2])

    def correct(self, frame: int, obj: int, target: float) -> None:
        """One corrective click on ``frame`` for ``obj``, then propagate over the stretch of bad frames around it.

        The stretch runs from ``frame`` in each direction while the object's J is below ``target``
        (or unknown), up to its neighbouring prompt frames, which re-anchor it anyway: a user
        re-runs the tracker where the masks are wrong, not over frames that are already right.
        """
        gt = self.truth[obj](frame)
        assert gt is not None  # only scored frames are corrected
        ann = self.session.project.annotation(frame, obj)
        pred = ann.mask if ann is not None else np.zeros_like(gt)
        first_here = self.session.project.prompt(frame, obj) is None
        if first_here and gt.any():
            point = next_click(pred, gt, negative=False) or next_click(np.zeros_like(gt), gt)
        else:
            point = next_click(pred, gt)
        assert point is not None  # J < target means there is an error
        js = self.j[obj].copy()
        prompts = set(self.session.project.prompt_frames(obj))
        self.click(frame, obj, point)
        self.rounds += 1
        self.measure([frame])
        for step, direction in ((1, "forward"), (-1, "backward")):
            t = frame + step
            while 0 <= t < self.frames and t not in prompts and not js[t] >= target:
                t += step
            if t != frame + step:
                self.propagate(direction, frame, t if 0 <= t < self.frames else None)


def simulate_annotator(
    video: Any,
    truth: TruthLike,
    *,
    segmenter: str | VideoSegmenter = "classic",
    target_j: float = 0.9,
    max_clicks: int = 200,
    max_rounds: int = 200,
    max_frame_clicks: int = 5,
    project: Project | str | os.PathLike[str] | None = None,
) -> SimulationReport:
    """Play the SAM 2 paper's interactive protocol with a simulated user and report the effort.

    See the module's description for the protocol. The session, its project and the segmenter are
    the real ones: the clicks, the masks and the time are what a user of the same segmenter would
    see, minus the time the user spends looking.

    Args:
        video: Anything :func:`~annotator_widgets.open_video` accepts (an array, a file, a folder).
        truth: Object id -> ground-truth masks per frame (see :data:`TruthLike`); read frame by frame.
        segmenter: A segmenter name (see ``annotator-widgets parts segmenter``) or instance.
        target_j: Every scored frame of every object should reach this J (0..1].
        max_clicks: Stop after this many clicks in all.
        max_rounds: Stop after this many propagations.
        max_frame_clicks: Leave one object's frame alone after this many clicks on it.
        project: Where to keep the prompts and masks (a path or a Project); default a temporary one.

    Returns:
        A :class:`SimulationReport`.

    Raises:
        PromptError: Bad arguments, truth of the wrong size or length, or no object visible anywhere.
    """
    from .session import AnnotationSession

    if not 0 < target_j <= 1:
        raise PromptError("target_j must be in (0, 1]", given=target_j, hint="0.9 is the usual target")
    for name, value in (("max_clicks", max_clicks), ("max_rounds", max_rounds), ("max_frame_clicks", max_frame_clicks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PromptError(f"{name} must be a positive integer", given=value)
    t0 = time.perf_counter()
    with AnnotationSession(video, project, segmenter) as session:
        if session.project.objects() or session.project.prompt_frames():
            raise PromptError(
                "the project already holds objects",
                given=str(session.project.path),
                hint="simulate into a new project (or leave project=None)",
            )
        readers = _truth_readers(truth, len(session.video), session.video.size)
        for obj in readers:
            session.project.add_object(obj_id=obj, name=f"object {obj}")
        sim = _Simulation(session, readers)
        sim.first_clicks()
        while len(sim.history) < max_clicks and sim.rounds < max_rounds:
            worst = sim.worst(target_j, max_frame_clicks)
            if worst is None:
                break
            sim.correct(*worst, target_j)
        path = session.project.path
    seconds = time.perf_counter() - t0
    scored = np.concatenate([js[~np.isnan(js)] for js in sim.j.values()])
    min_j = float(scored.min()) if scored.size else float("nan")
    log.info("simulated %d clicks over %d rounds: min J %.3f", len(sim.history), sim.rounds, min_j)
    return SimulationReport(
        clicks=len(sim.history),
        clicks_per_frame=len(sim.history) / sim.frames,
        j_per_frame=sim.j,
        final_mean_j=float(scored.mean()) if scored.size else float("nan"),
        min_j=min_j,
        seconds=seconds,
        seconds_per_frame=seconds / sim.frames,
        rounds=sim.rounds,
        frames=sim.frames,
        target_j=float(target_j),
        reached=bool(scored.size) and min_j >= target_j,
        history=tuple(sim.history),
        project_path=Path(path),
    )
