"""Every object's timeline row, kept between reads and brought up to date by re-reading only the rows written.

:func:`~annotator_widgets.view.timeline` reads every mask row of every object: on a long
video that is most of what a click costs. :class:`Timelines` keeps the rows it read with the
project's :attr:`~annotator_widgets.Project.change_mark` and, on the next :meth:`Timelines.rows`,
asks the project which rows were written since (:meth:`~annotator_widgets.Project.changes_since`):
the masks an edit wrote are re-read on their frames only, an object's prompt or pose frames are
re-read when one of its prompts or poses was written, the objects when one of them was; rows
nothing touched are returned as they were (the same objects, so a drawer can skip them). When
the changes are not known - the journal no longer reaches back, another process wrote a
read-only project - or an object had more than ``max_frames_per_object`` masks written (the end
of a propagation, its undo), that part is read whole again. The rows always equal a fresh
:func:`~annotator_widgets.view.timeline`; their arrays are read-only (they are shared).

Example:
    >>> from annotator_widgets import Project, Annotation, RLE
    >>> import numpy as np, tempfile, pathlib
    >>> project = Project.create(pathlib.Path(tempfile.mkdtemp()) / "p.awp", {"frames": 4, "width": 8, "height": 6})
    >>> cup = project.add_object(name="cup")
    >>> timelines = Timelines(project)
    >>> [row.states(0.5).tolist() for row in timelines.rows()]
    [[0, 0, 0, 0]]
    >>> _ = project.put_mask(2, cup.obj_id, np.ones((6, 8), bool), score=0.9)
    >>> [row.states(0.5).tolist() for row in timelines.rows()], timelines.last_read
    ([[0, 0, 1, 0]], 'changes')
    >>> _ = project.undo()
    >>> [row.states(0.5).tolist() for row in timelines.rows()]
    [[0, 0, 0, 0]]
    >>> project.close()
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import PromptError
from .types import ObjectInfo
from .view import ObjectTimeline

if TYPE_CHECKING:
    from .project import Project

__all__ = ["Timelines"]

#: the tables the rows are read from; a write of unknown rows of any of them means reading all again
_READ = frozenset({"objects", "masks", "prompts", "poses"})


@dataclass(frozen=True)
class _Kept:
    mark: tuple[int, int]
    rows: tuple[ObjectTimeline, ...]


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class Timelines:
    """The timeline rows of one project, kept and updated from the rows written since (thread safe).

    Args:
        project: The project read.
        max_frames_per_object: Above this many masks written for one object since the last read, its whole
            track is read again (one query) instead of those frames.
    """

    def __init__(self, project: Project, max_frames_per_object: int = 256) -> None:
        if int(max_frames_per_object) < 1:
            raise PromptError("max_frames_per_object must be at least 1", given=max_frames_per_object)
        self._project = project
        self._max = int(max_frames_per_object)
        self._kept: _Kept | None = None
        self._lock = threading.Lock()
        #: how the latest :meth:`rows` read: ``"all"``, ``"changes"`` or ``"kept"`` (nothing was written)
        self.last_read = ""

    def rows(self) -> list[ObjectTimeline]:
        """Every object's row, in :meth:`~annotator_widgets.Project.objects` order, as
        :func:`~annotator_widgets.view.timeline` reads them now."""
        with self._lock:
            base = self._kept
        # read without the lock (a reader inside a project transaction holds the project's lock meanwhile); the
        # kept rows are never changed, so two threads may each bring the same base up to date
        kept = self._read(base)
        with self._lock:
            if self._kept is base or (self._kept is not None and kept.mark[0] >= self._kept.mark[0]):
                self._kept = kept
        return list(kept.rows)

    def clear(self) -> None:
        """Forget the rows kept: the next :meth:`rows` reads everything."""
        with self._lock:
            self._kept = None

    # ------------------------------------------------------------------ reading
    def _read(self, base: _Kept | None) -> _Kept:
        project = self._project
        mark = project.change_mark  # before the reads: a row written after it is named next time
        if base is not None and base.mark == mark:
            self.last_read = "kept"
            return base
        changes = None if base is None else project.changes_since(base.mark)
        if base is None or changes is None or any(key is None and table in _READ for table, key in changes):
            self.last_read = "all"
            return _Kept(mark, tuple(self._row(info) for info in project.objects()))
        self.last_read = "changes"
        masks: defaultdict[int, set[int]] = defaultdict(set)
        prompts: set[int] = set()
        poses: set[int] = set()
        objects = False
        for table, key in changes:
            if key is None:
                continue
            if table == "masks":
                masks[int(key[1])].add(int(key[0]))
            elif table == "prompts":
                prompts.add(int(key[1]))
            elif table == "poses":
                poses.add(int(key[1]))
            elif table == "objects":
                objects = True
        if not (masks or prompts or poses or objects):
            return _Kept(mark, base.rows)
        old = {row.obj_id: row for row in base.rows}
        infos = project.objects() if objects else [row.info for row in base.rows]
        rows = []
        for info in infos:
            row = old.get(info.obj_id)
            oid = info.obj_id
            if row is None:
                rows.append(self._row(info))
                continue
            score, prompted, posed = row.score, row.prompted, row.posed
            if oid in masks:
                score = self._scores(oid, score, masks[oid])
            if oid in prompts:
                prompted = self._flags(project.prompt_frames(oid))
            if oid in poses:
                posed = self._posed(oid)
            same = info == row.info and score is row.score and prompted is row.prompted and posed is row.posed
            rows.append(row if same else ObjectTimeline(info, score, prompted, posed))
        return _Kept(mark, tuple(rows))

    def _row(self, info: ObjectInfo) -> ObjectTimeline:
        oid = info.obj_id
        score = _frozen(self._project.track_summary(oid))
        return ObjectTimeline(info, score, self._flags(self._project.prompt_frames(oid)), self._posed(oid))

    def _scores(self, obj_id: int, score: np.ndarray, frames: set[int]) -> np.ndarray:
        if len(frames) > self._max:
            return _frozen(self._project.track_summary(obj_id))
        out = score.copy()
        inside = [f for f in frames if 0 <= f < out.size]
        out[inside] = np.nan
        for f, value in self._project.track_scores(obj_id, inside).items():
            out[f] = value
        return _frozen(out)

    def _posed(self, obj_id: int) -> np.ndarray | None:
        frames = self._project.pose_frames(obj_id)
        return self._flags(frames) if frames else None

    def _flags(self, frames: list[int]) -> np.ndarray:
        n = self._project.num_frames
        out = np.zeros(n, bool)
        out[[f for f in frames if 0 <= f < n]] = True
        return _frozen(out)
