"""What there is to see: one frame's records (:class:`FrameView`) and each object's track (:class:`ObjectTimeline`).

The widgets draw from these and never query the project themselves. A
:class:`FrameView` is an immutable snapshot of one frame - objects, annotations
(RLE, score, source), prompts, poses, detections, captions, mask warnings, hands and
the action segments covering the frame - with the objects whose mask is weak or lost
under a score threshold. Every kind of record the project holds per frame is one
more field here, filled by one line in :func:`frame_view` and one in :func:`frame_views`
(the views of several frames, one query per kind of record for all of them).
:class:`FrameViews` keeps the views read, in batches, until their frames' records are written
(:meth:`~annotator_widgets.Project.changes_since`): playback asks for each frame's view several
times (read-ahead, drawing, the tools) and reads the next frames' records in one go.
An :class:`ObjectTimeline`
is one object's row of the timeline: its info, a per-frame score summary (no mask
is decoded), the frames it was prompted on and the frames its pose was found on;
:func:`timeline` reads every row whole, :mod:`~annotator_widgets.timelines` keeps them
and re-reads only what was written since (what the session and the widget use).

Example:
    >>> from annotator_widgets import Project, Annotation, RLE
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> project = Project.create(folder / "p.awp", {"frames": 3, "width": 8, "height": 6})
    >>> cup = project.add_object(name="cup")
    >>> mask = np.zeros((6, 8), bool); mask[1:4, 2:5] = True
    >>> _ = project.put_annotations([Annotation(1, cup.obj_id, RLE.from_mask(mask), 0.3)])
    >>> view = frame_view(project, 1, low_score=0.5)
    >>> view.low, view.lost, int(view.masks()[cup.obj_id].sum())
    (frozenset({1}), frozenset(), 9)
    >>> from annotator_widgets.types import ActionSegment, Caption
    >>> _ = project.put_caption(Caption(1, cup.obj_id, "a red cup"))
    >>> _ = project.add_action(ActionSegment(0, 2, "holds", obj_id=cup.obj_id))
    >>> view = frame_view(project, 1)
    >>> view.captions[cup.obj_id].text, [a.label for a in view.actions.values()], view.warnings, view.hands
    ('a red cup', ['holds'], (), ())
    >>> views = FrameViews(project)
    >>> sorted(views.many([0, 1, 2])), views.get(1).captions[cup.obj_id].text
    ([0, 1, 2], 'a red cup')
    >>> _ = project.put_caption(Caption(1, cup.obj_id, "a blue cup"))  # any write: read again
    >>> views.get(1).captions[cup.obj_id].text
    'a blue cup'
    >>> [row.states(0.5).tolist() for row in timeline(project)]
    [[0, 2, 0]]
    >>> project.close()
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from .errors import PromptError
from .types import ActionSegment, Annotation, Caption, Detection, HandPose, MaskWarning, ObjectInfo, PersonPose, Prompt

if TYPE_CHECKING:
    from .project import Project

__all__ = [
    "LOST",
    "LOW",
    "MASK",
    "NONE",
    "FrameView",
    "FrameViews",
    "ObjectTimeline",
    "frame_view",
    "frame_views",
    "timeline",
]

#: per-frame states of an object's track: no mask, a mask, a low-confidence mask, an empty (lost) mask
NONE, MASK, LOW, LOST = 0, 1, 2, 3


def _check_low_score(low_score: float) -> float:
    value = float(low_score)
    if not 0.0 <= value <= 1.0:
        raise PromptError("low_score must lie in 0..1", given=low_score)
    return value


@dataclass(frozen=True, eq=False)
class FrameView:
    """One frame's records, as the widgets draw them.

    Attributes:
        frame: The frame index.
        objects: Every object of the project (hidden ones too), by id.
        annotations: ``{obj_id: Annotation}`` stored on this frame (RLE, score, source).
        prompts: The prompts on this frame.
        poses: The people's poses on this frame.
        detections: ``{det_id: Detection}`` on this frame: candidates and accepted ones (not the rejected).
        captions: ``{obj_id: Caption}`` on this frame (``0``: the caption of the whole frame).
        warnings: The mask warnings on this frame (empty or near-empty masks), by object.
        hands: The hands found on this frame.
        actions: ``{action_id: ActionSegment}`` of the segments covering this frame (``start <= frame < stop``).
        low_score: Masks scoring below it are low-confidence (:attr:`low`).
    """

    frame: int
    objects: tuple[ObjectInfo, ...] = ()
    annotations: Mapping[int, Annotation] = field(default_factory=lambda: MappingProxyType({}))
    prompts: tuple[Prompt, ...] = ()
    poses: tuple[PersonPose, ...] = ()
    low_score: float = 0.5
    detections: Mapping[int, Detection] = field(default_factory=lambda: MappingProxyType({}))
    captions: Mapping[int, Caption] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[MaskWarning, ...] = ()
    hands: tuple[HandPose, ...] = ()
    actions: Mapping[int, ActionSegment] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "low_score", _check_low_score(self.low_score))
        for name in ("annotations", "detections", "captions", "actions"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for name in ("objects", "prompts", "poses", "warnings", "hands"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def object(self, obj_id: int) -> ObjectInfo | None:
        """The object with this id, or None."""
        return next((o for o in self.objects if o.obj_id == obj_id), None)

    @functools.cached_property
    def lost(self) -> frozenset[int]:
        """Objects whose mask on this frame is empty (the segmenter lost them)."""
        return frozenset(oid for oid, a in self.annotations.items() if a.rle.is_empty)

    @functools.cached_property
    def low(self) -> frozenset[int]:
        """Objects whose (non-empty) mask scores below :attr:`low_score`."""
        return frozenset(
            oid
            for oid, a in self.annotations.items()
            if a.score is not None and a.score < self.low_score and oid not in self.lost
        )

    def masks(self) -> dict[int, np.ndarray]:
        """The decoded masks ``{obj_id: (H, W) bool}`` (decoded on each call)."""
        return {oid: a.mask for oid, a in self.annotations.items()}


def frame_view(project: Project, frame: int, *, low_score: float = 0.5) -> FrameView:
    """Read one frame's records from a project (one query per kind of record)."""
    return FrameView(
        frame=int(frame),
        objects=tuple(project.objects()),
        annotations=project.annotations(frame),
        prompts=tuple(project.prompts(frame=frame)),
        poses=tuple(project.poses(frame)),
        low_score=low_score,
        detections=project.detections(frame),
        captions={c.obj_id: c for c in project.captions(frame=frame)},
        warnings=tuple(project.warnings(frame)),
        hands=tuple(project.hands(frame)),
        actions={aid: a for aid, a in project.actions().items() if a.start <= frame < a.stop},
    )


def frame_views(project: Project, frames: Iterable[int], *, low_score: float = 0.5) -> dict[int, FrameView]:
    """The views of several frames, by frame in ascending order, each equal to :func:`frame_view`'s, read with one
    query per kind of record for all of them (per :data:`~annotator_widgets.project_base.FRAMES_PER_QUERY` frames)."""
    wanted = sorted({int(f) for f in frames})
    objects = tuple(project.objects())
    actions = project.actions()
    annotations = project.annotations_many(wanted)
    prompts = project.prompts_many(wanted)
    poses = project.poses_many(wanted)
    detections = project.detections_many(wanted)
    captions = project.captions_many(wanted)
    warnings = project.warnings_many(wanted)
    hands = project.hands_many(wanted)
    return {
        f: FrameView(
            frame=f,
            objects=objects,
            annotations=annotations[f],
            prompts=tuple(prompts[f]),
            poses=tuple(poses[f]),
            low_score=low_score,
            detections=detections[f],
            captions={c.obj_id: c for c in captions[f]},
            warnings=tuple(warnings[f]),
            hands=tuple(hands[f]),
            actions={aid: a for aid, a in actions.items() if a.start <= f < a.stop},
        )
        for f in wanted
    }


#: tables whose key starts with the frame: a row written there changes that frame's view only
_FRAME_TABLES = frozenset({"prompts", "masks", "poses", "captions", "warnings", "hands"})
#: tables no view reads (a write there changes no view)
_UNSEEN_TABLES = frozenset({"embeddings", "meta"})


class FrameViews:
    """The frame views of one project, read in batches (:func:`frame_views`) and kept until their records change.

    The views kept are brought up to date from the rows the project wrote since they were read
    (:meth:`~annotator_widgets.Project.changes_since`): a mask, prompt, pose, caption, warning or hand
    written on a frame - through any of the project's methods, an undo, a redo or a rolled-back
    transaction - drops that frame's view only; a write of an object, a detection or an action
    (records every view shows, or not keyed by frame) drops every view, and so do changes that are not
    known (the journal no longer reaches back; for a project opened read-only, a commit by another
    process). A dropped view is read again at the next lookup. Thread safe.

    Args:
        project: The project read.
        max_frames: The most views kept (the least recently used go first).
    """

    def __init__(self, project: Project, max_frames: int = 256) -> None:
        if int(max_frames) < 1:
            raise PromptError("max_frames must be at least 1", given=max_frames)
        self._project = project
        self._max = int(max_frames)
        self._views: OrderedDict[int, FrameView] = OrderedDict()
        self._mark: tuple[int, int] | None = None  # the project's change mark the kept views are true at
        self._lock = threading.Lock()
        #: views dropped because their frame's records were written (the rest were kept)
        self.dropped = 0

    def get(self, frame: int, *, low_score: float = 0.5) -> FrameView:
        """The view of one frame (read alone if it is not kept)."""
        return self.many([frame], low_score=low_score)[int(frame)]

    def many(self, frames: Iterable[int], *, low_score: float = 0.5) -> dict[int, FrameView]:
        """The views of these frames, by frame; the ones not kept are read together (one query per kind of record)."""
        low_score = _check_low_score(low_score)
        wanted = [int(f) for f in frames]
        mark = self._bring_up_to_date()
        with self._lock:
            found = {f: self._views[f] for f in wanted if f in self._views}
        missing = [f for f in dict.fromkeys(wanted) if f not in found]
        if missing:  # read without the lock: a reader inside a transaction holds the project's lock meanwhile
            read = frame_views(self._project, missing, low_score=low_score)
            found.update(read)
        with self._lock:
            if missing and self._mark == mark:  # (else newer writes were seen meanwhile: not kept)
                self._views.update(read)
            for f in found:
                if f in self._views:
                    self._views.move_to_end(f)
            while len(self._views) > self._max:
                self._views.popitem(last=False)
        out = {}
        for f in wanted:
            view = found[f]
            out[f] = view if view.low_score == low_score else dataclasses.replace(view, low_score=low_score)
        return out

    def _bring_up_to_date(self) -> tuple[int, int]:
        """Drop the views whose records were written since they were read; the project's mark they are now true at
        (read before any record a caller reads next: a row written after it is named by the next call)."""
        mark = self._project.change_mark
        with self._lock:
            since = self._mark
        if since == mark:
            return mark
        # asked without the lock (the project's own lock may be held by a reader waiting for this one)
        changes = None if since is None else self._project.changes_since(since)
        with self._lock:
            # drop all: another thread moved on meanwhile, the changes are not known, or a record every view shows
            if (
                self._mark != since
                or changes is None
                or any(table not in _FRAME_TABLES and table not in _UNSEEN_TABLES for table, _ in changes)
            ):
                self._views.clear()
            else:
                for table, key in changes:
                    if table in _UNSEEN_TABLES:
                        continue
                    if key is None:  # any row of a per-frame table
                        self._views.clear()
                        break
                    if self._views.pop(int(key[0]), None) is not None:
                        self.dropped += 1
            self._mark = mark
        return mark

    def clear(self) -> None:
        """Drop every view kept."""
        with self._lock:
            self._views.clear()


@dataclass(frozen=True, eq=False)
class ObjectTimeline:
    """One object's track over the video, as the timeline shows it.

    Attributes:
        info: The object.
        score: Per frame: NaN without a mask, -1 for an empty mask, else the mask's score 0..1.
        prompted: Per frame: True where the object has a prompt.
        posed: Per frame: True where the object (a person) has a pose, or None (no pose anywhere).
    """

    info: ObjectInfo
    score: np.ndarray
    prompted: np.ndarray
    posed: np.ndarray | None = None

    @property
    def obj_id(self) -> int:
        """The object's id."""
        return self.info.obj_id

    @property
    def label(self) -> str:
        """``"id name"``."""
        return self.info.label

    @property
    def color(self) -> tuple[int, int, int]:
        """The object's colour."""
        return self.info.color

    @property
    def hidden(self) -> bool:
        """Hidden objects are drawn dimmed."""
        return self.info.hidden

    def states(self, low_score: float) -> np.ndarray:
        """Per frame: :data:`NONE` no mask, :data:`MASK`, :data:`LOW` score below ``low_score``, :data:`LOST` empty."""
        s = self.score
        out = np.zeros(s.shape, np.int8)
        has = ~np.isnan(s)
        out[has] = MASK
        out[has & (s >= 0) & (s < low_score)] = LOW
        out[has & (s < 0)] = LOST
        return out

    def mask_frames(self) -> list[int]:
        """Frames where the object has a (possibly empty) mask."""
        return np.flatnonzero(~np.isnan(self.score)).tolist()

    def prompt_frames(self) -> list[int]:
        """Frames where the object was prompted."""
        return np.flatnonzero(self.prompted).tolist()

    def pose_frames(self) -> list[int]:
        """Frames where the person's pose was found."""
        return [] if self.posed is None else np.flatnonzero(self.posed).tolist()

    def low_frames(self, low_score: float) -> list[int]:
        """Frames where the mask is empty or scored below ``low_score``."""
        return np.flatnonzero(self.states(low_score) >= LOW).tolist()


def timeline(project: Project) -> list[ObjectTimeline]:
    """Every object's track, read cheaply from the project (no mask or landmark is decoded)."""
    n = project.num_frames

    def flags(frames: list[int]) -> np.ndarray:
        out = np.zeros(n, bool)
        out[[f for f in frames if 0 <= f < n]] = True
        return out

    posed_any = bool(project.pose_frames())
    rows = []
    for info in project.objects():
        poses = project.pose_frames(info.obj_id) if posed_any else []
        rows.append(
            ObjectTimeline(
                info,
                project.track_summary(info.obj_id),
                flags(project.prompt_frames(info.obj_id)),
                flags(poses) if poses else None,
            )
        )
    return rows
