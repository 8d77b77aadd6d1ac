"""Prompts (what the user said), masks (what was produced) and the warnings about masks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .project_base import MaskLike, ProjectBase
from .rle import RLE
from .store import RowLike
from .types import Annotation, MaskWarning, Prompt, Source

__all__ = ["ProjectMasks"]


class ProjectMasks(ProjectBase):
    """Prompts, masks and mask warnings of a :class:`~annotator_widgets.Project`."""

    # ------------------------------------------------------------------ prompts
    def put_prompt(self, prompt: Prompt) -> Prompt:
        """Store the whole prompt of one object on one frame (replacing the previous one)."""
        self._check_frame(prompt.frame)
        if prompt.mask is not None:
            self._check_mask(prompt.mask)
        with self.transaction(f"prompt object {prompt.obj_id} on frame {prompt.frame}"):
            self.object(prompt.obj_id)
            row = self._store.query_one("SELECT coalesce(max(seq), 0) + 1 FROM prompts")
            self._put("prompts", prompt, seq=int(row[0]) if row else 1)
        return prompt

    def delete_prompt(self, frame: int, obj_id: int | None = None) -> int:
        """Delete the prompts on ``frame`` (of one object, or all); returns how many."""
        with self.transaction(f"clear prompts on frame {frame}"):
            where, args = self._where(frame=frame, obj_id=obj_id)
            ids = [r[0] for r in self._store.query(f"SELECT obj_id FROM prompts WHERE {where}", args)]
            for oid in ids:
                self._store.delete("prompts", (frame, oid))
        return len(ids)

    def prompt(self, frame: int, obj_id: int) -> Prompt | None:
        """The prompt of one object on one frame, or None."""
        found = self._store.records("prompts", "frame=? AND obj_id=?", (frame, obj_id))
        return found[0] if found else None

    def prompts(self, *, frame: int | None = None, obj_id: int | None = None) -> list[Prompt]:
        """Prompts in the order they were last changed, optionally filtered."""
        where, args = self._where(frame=frame, obj_id=obj_id)
        return self._store.records("prompts", where, args, order="seq")

    def prompts_many(self, frames: Iterable[int]) -> dict[int, list[Prompt]]:
        """:meth:`prompts` of each of several frames (``[]`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        return self._records_in_frames("prompts", frames, "seq")

    def prompt_rows(self) -> dict[tuple[int, int], tuple[Any, ...]]:
        """Every stored prompt's raw row by ``(frame, obj_id)``, nothing decoded: a cheap fingerprint that tells
        which prompts a change (an undo, a redo) touched."""
        return {(int(r["frame"]), int(r["obj_id"])): tuple(r) for r in self._store.query("SELECT * FROM prompts")}

    def prompt_frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames that hold prompts (of one object, or any)."""
        return self._frames("prompts", obj_id=obj_id)

    # ------------------------------------------------------------------ masks
    def put_mask(
        self,
        frame: int,
        obj_id: int,
        mask: MaskLike,
        *,
        score: float | None = None,
        source: Source | str = Source.EDITED,
    ) -> Annotation:
        """Store the mask of one object on one frame (one undo step unless inside a group)."""
        ann = Annotation(frame, obj_id, self._check_mask(mask), score, Source(source))
        self.put_annotations([ann], label=f"mask object {obj_id} on frame {frame}")
        return ann

    def put_annotations(self, annotations: Iterable[Annotation], *, label: str = "store masks") -> int:
        """Store many annotations in one transaction; returns how many were written.

        A replaced mask takes its warnings with it (:meth:`put_warning` after the mask, not before).
        """
        n = 0
        with self.transaction(label):
            anns = list(annotations)
            self._objects_exist([a.obj_id for a in anns])
            for ann in anns:
                self._check_frame(ann.frame)
                rle = self._check_mask(ann.rle)
                score = None if ann.score is None else float(ann.score)
                values = {"frame": ann.frame, "obj_id": ann.obj_id, "counts": rle.counts, "area": rle.area}
                self._store.put("masks", {**values, "score": score, "source": Source(ann.source).value})
                self._clear_warnings(ann.frame, ann.obj_id)
                n += 1
        return n

    def delete_masks(self, *, frame: int | None = None, obj_id: int | None = None) -> int:
        """Delete masks (and their warnings) on a frame and/or of an object; returns how many."""
        where, args = self._where(frame=frame, obj_id=obj_id)
        with self.transaction("delete masks"):
            keys = self._store.query("SELECT frame, obj_id FROM masks" + (f" WHERE {where}" if where else ""), args)
            for f, oid in keys:
                self._store.delete("masks", (f, oid))
                self._clear_warnings(f, oid)
        return len(keys)

    def _ann(self, row: RowLike) -> Annotation:
        w, h = self.size
        return Annotation(row["frame"], row["obj_id"], RLE((h, w), row["counts"]), row["score"], Source(row["source"]))

    def annotation(self, frame: int, obj_id: int) -> Annotation | None:
        """The annotation of one object on one frame, or None."""
        row = self._store.get("masks", (frame, obj_id))
        return None if row is None else self._ann(row)

    def annotations(self, frame: int) -> dict[int, Annotation]:
        """All annotations on one frame, keyed by object id."""
        rows = self._store.query("SELECT * FROM masks WHERE frame=? ORDER BY obj_id", (frame,))
        return {r["obj_id"]: self._ann(r) for r in rows}

    def annotations_many(self, frames: Iterable[int]) -> dict[int, dict[int, Annotation]]:
        """:meth:`annotations` of each of several frames (``{}`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        out: dict[int, dict[int, Annotation]] = {int(f): {} for f in frames}
        for r in self._rows_in_frames("SELECT * FROM masks WHERE {frames} ORDER BY frame, obj_id", (), out):
            out[r["frame"]][r["obj_id"]] = self._ann(r)
        return out

    def object_annotations(self, obj_id: int, frames: Iterable[int]) -> dict[int, Annotation]:
        """One object's annotations on several frames, by frame, in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames.

        Frames where the object has no mask are left out (a lookup creates nothing).
        """
        rows = self._rows_in_frames(
            "SELECT * FROM masks WHERE obj_id=? AND {frames} ORDER BY frame", (int(obj_id),), frames
        )
        return {r["frame"]: self._ann(r) for r in rows}

    def iter_annotations(
        self, *, obj_id: int | None = None, start: int = 0, stop: int | None = None
    ) -> Iterator[Annotation]:
        """Annotations ordered by frame then object, streamed (constant memory)."""
        stop = self.num_frames if stop is None else stop
        sql = "SELECT * FROM masks WHERE frame>=? AND frame<?" + ("" if obj_id is None else " AND obj_id=?")
        args = () if obj_id is None else (int(obj_id),)
        for rows in self._store.pages(sql + " ORDER BY frame, obj_id", start, stop, args):
            for r in rows:
                yield self._ann(r)

    def mask_frames(self, obj_id: int | None = None, *, nonempty: bool = False) -> list[int]:
        """Sorted frames holding a mask (of one object, or any); ``nonempty``: a mask with at least one pixel (an
        empty mask records that the object is absent there: exports leave it out)."""
        return self._frames("masks", "area > 0" if nonempty else "", obj_id=obj_id)

    def track_summary(self, obj_id: int) -> np.ndarray:
        """Per-frame ``score`` of one object: NaN where it has no mask, -1 where its mask is empty.

        Cheap (no mask is decoded); the widget's timeline draws from it.
        """
        out = np.full(self.num_frames, np.nan, np.float32)
        for frame, score, area in self._store.query("SELECT frame, score, area FROM masks WHERE obj_id=?", (obj_id,)):
            if 0 <= frame < out.size:
                out[frame] = _summary(score, area)
        return out

    def track_scores(self, obj_id: int, frames: Iterable[int]) -> dict[int, float]:
        """:meth:`track_summary`'s values of one object on some frames only, by frame (frames without a mask are
        left out), reading only those frames' rows: what a cache of the summary re-reads after a few edits."""
        rows = self._rows_in_frames(
            "SELECT frame, score, area FROM masks WHERE obj_id=? AND {frames}", (int(obj_id),), frames
        )
        return {int(frame): _summary(score, area) for frame, score, area in rows if 0 <= frame < self.num_frames}

    # ------------------------------------------------------------------ warnings
    def put_warning(self, warning: MaskWarning) -> MaskWarning:
        """Record a problem with one object's mask on one frame (e.g. a prompt or propagation gave an empty
        mask). One warning per ``(frame, obj_id, kind)``; it is removed when that mask is replaced or deleted."""
        self._check_frame(warning.frame)
        with self.transaction(f"warning {warning.kind} for object {warning.obj_id} on frame {warning.frame}"):
            self.object(warning.obj_id)
            self._put("warnings", warning)
        return warning

    def warnings(self, frame: int | None = None, obj_id: int | None = None) -> list[MaskWarning]:
        """Warnings by frame and object, optionally filtered."""
        where, args = self._where(frame=frame, obj_id=obj_id)
        return self._store.records("warnings", where, args, order="frame, obj_id, kind")

    def warnings_many(self, frames: Iterable[int]) -> dict[int, list[MaskWarning]]:
        """:meth:`warnings` of each of several frames (``[]`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        return self._records_in_frames("warnings", frames, "obj_id, kind")

    def _clear_warnings(self, frame: int, obj_id: int) -> None:
        for (kind,) in self._store.query("SELECT kind FROM warnings WHERE frame=? AND obj_id=?", (frame, obj_id)):
            self._store.delete("warnings", (frame, obj_id, kind))


def _summary(score: float | None, area: int) -> float:
    """A mask's value in :meth:`ProjectMasks.track_summary`: -1 when empty, else its score (1 when unscored)."""
    return -1.0 if area == 0 else (1.0 if score is None else float(score))
