"""What models said: detections (boxes for a phrase or class), captions, and the embeddings cache.

Detections and captions are undoable like every edit. A detection's id is stable and never reused;
accepting one links it to an object, rejecting one keeps it (flagged) so a later run can tell the
boxes a person turned down. Embeddings are a cache: not undoable, not in the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from types import EllipsisType
from typing import Any

import numpy as np

from .errors import ProjectError
from .project_base import ProjectBase
from .types import Caption, Detection

__all__ = ["ProjectModels"]


class ProjectModels(ProjectBase):
    """Detections, captions and embeddings of a :class:`~annotator_widgets.Project`."""

    # ------------------------------------------------------------------ detections
    def put_detections(
        self, frame: int, detections: Iterable[Detection], *, replace_model: str | None = None
    ) -> list[int]:
        """Store the detections a model made on ``frame``; returns their new ids, in order.

        Args:
            frame: The frame every detection is on.
            detections: The boxes; one with ``obj_id`` set is stored as accepted for that object.
            replace_model: First drop this model's *candidates* on the frame (a re-run); the ones a person
                accepted or rejected stay.
        """
        self._check_frame(frame)
        dets = list(detections)
        for d in dets:
            if d.frame != frame:
                raise ProjectError(
                    "a detection from another frame", given=d.frame, hint=f"put_detections({frame}, ...)"
                )
        with self.transaction(f"detections on frame {frame}"):
            self._objects_exist([d.obj_id for d in dets])
            if replace_model is not None:
                old = self._store.query(
                    "SELECT det_id FROM detections WHERE frame=? AND model=? AND obj_id IS NULL AND rejected=0",
                    (frame, replace_model),
                )
                for (det_id,) in old:
                    self._store.delete("detections", (det_id,))
            ids = []
            for d in dets:
                det_id = self._store.reserve_id("det")
                self._put("detections", d, det_id=det_id, rejected=0)
                ids.append(det_id)
        return ids

    def detection(self, det_id: int) -> Detection:
        """The detection with this id; raises :class:`ProjectError` if there is none."""
        row = self._store.get("detections", (det_id,))
        if row is None:
            raise ProjectError("no such detection", given=det_id, hint="ids come from put_detections() or detections()")
        return self._decode("detections", row)

    def _detection_filter(
        self, model: str | None, label: str | None, obj_id: int | EllipsisType | None, rejected: bool | None
    ) -> tuple[str, tuple[Any, ...]]:
        where, args = self._where(model=model, label=label, rejected=None if rejected is None else int(rejected))
        if obj_id is None:
            where = " AND ".join(filter(None, [where, "obj_id IS NULL"]))
        elif obj_id is not Ellipsis:
            where = " AND ".join(filter(None, [where, "obj_id=?"]))
            args += (int(obj_id),)
        return where, args

    def detections(
        self,
        frame: int | None = None,
        *,
        model: str | None = None,
        label: str | None = None,
        obj_id: int | EllipsisType | None = ...,
        rejected: bool | None = False,
    ) -> dict[int, Detection]:
        """Detections keyed by id, by frame then best score first.

        Args:
            frame: Only this frame (None: every frame).
            model: Only this model's.
            label: Only this phrase or class.
            obj_id: Only those accepted as this object; ``None``: only unlinked ones (candidates);
                ``...`` (the default): any.
            rejected: False (the default) leaves out rejected ones, True gives only those, None gives all.
        """
        where, args = self._detection_filter(model, label, obj_id, rejected)
        if frame is not None:
            where, args = " AND ".join(filter(None, [where, "frame=?"])), (*args, int(frame))
        sql = "SELECT * FROM detections" + (f" WHERE {where}" if where else "") + " ORDER BY frame, score DESC, det_id"
        return {r["det_id"]: self._decode("detections", r) for r in self._store.query(sql, args)}

    def detections_many(self, frames: Iterable[int]) -> dict[int, dict[int, Detection]]:
        """:meth:`detections` of each of several frames (``{}`` where none; candidates and accepted ones, not the
        rejected), in one query per :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        out: dict[int, dict[int, Detection]] = {int(f): {} for f in frames}
        sql = "SELECT * FROM detections WHERE rejected=0 AND {frames} ORDER BY frame, score DESC, det_id"
        for r in self._rows_in_frames(sql, (), out):
            out[r["frame"]][r["det_id"]] = self._decode("detections", r)
        return out

    def iter_detections(
        self, *, model: str | None = None, label: str | None = None, rejected: bool | None = False
    ) -> Iterator[tuple[int, Detection]]:
        """``(det_id, detection)`` pairs by frame (like ``detections().items()``), streamed."""
        where, args = self._detection_filter(model, label, ..., rejected)
        sql = "SELECT * FROM detections WHERE frame>=? AND frame<?" + (f" AND {where}" if where else "")
        for rows in self._store.pages(sql + " ORDER BY frame, score DESC, det_id", 0, self.num_frames, args):
            for r in rows:
                yield r["det_id"], self._decode("detections", r)

    def accept_detection(self, det_id: int, obj_id: int) -> Detection:
        """Link a detection to an object (it is no longer a candidate, nor rejected)."""
        with self.transaction(f"accept detection {det_id} as object {obj_id}"):
            det = replace(self.detection(det_id), obj_id=self.object(obj_id).obj_id)
            self._put("detections", det, det_id=det_id, rejected=0)
        return det

    def reject_detection(self, det_id: int) -> Detection:
        """Turn a detection down: it is unlinked and left out of :meth:`detections` unless asked for."""
        with self.transaction(f"reject detection {det_id}"):
            det = replace(self.detection(det_id), obj_id=None)
            self._put("detections", det, det_id=det_id, rejected=1)
        return det

    # ------------------------------------------------------------------ captions
    def put_caption(self, caption: Caption, *, overwrite_edited: bool = False) -> Caption:
        """Store a caption; returns the caption now stored.

        A caption without ``model`` over a model's caption is a person's edit: it keeps the model and
        prompt and is marked ``edited=True``. A model's caption never replaces one a person edited unless
        ``overwrite_edited``: the edited one is kept and returned.
        """
        label = f"caption frame {caption.frame}" + (f" object {caption.obj_id}" if caption.obj_id else "")
        return self.put_captions([caption], overwrite_edited=overwrite_edited, label=label)[0]

    def put_captions(
        self, captions: Iterable[Caption], *, overwrite_edited: bool = False, label: str = "captions"
    ) -> list[Caption]:
        """:meth:`put_caption` for several captions as one transaction (one undo step ``label``); returns
        the captions now stored, in order. Objects are checked once each and the captions they replace are
        read with one query per object (per :data:`FRAMES_PER_QUERY` frames).
        """
        todo = list(captions)
        for c in todo:
            self._check_frame(c.frame)
        out: list[Caption] = []
        with self.transaction(label):
            old: dict[tuple[int, int], Caption] = {}
            for obj_id in dict.fromkeys(c.obj_id for c in todo):
                if obj_id:
                    self.object(obj_id)
                frames = [c.frame for c in todo if c.obj_id == obj_id]
                rows = self._rows_in_frames("SELECT * FROM captions WHERE obj_id=? AND {frames}", (obj_id,), frames)
                old.update(((c.frame, c.obj_id), c) for c in (self._decode("captions", r) for r in rows))
            for caption in todo:
                before = old.get((caption.frame, caption.obj_id))
                stored = self._caption_over(before, caption, overwrite_edited)
                if stored is not before:
                    self._put("captions", stored)
                    old[(stored.frame, stored.obj_id)] = stored
                out.append(stored)
        return out

    @staticmethod
    def _caption_over(old: Caption | None, caption: Caption, overwrite_edited: bool) -> Caption:
        """What storing ``caption`` over ``old`` keeps: ``old`` itself (nothing to write) or the caption to write."""
        if old is not None and old.edited and caption.model and not overwrite_edited:
            return old
        if old is not None and old.model and not caption.model:
            if old.text == caption.text:
                return old
            return replace(caption, model=old.model, prompt=caption.prompt or old.prompt, edited=True)
        return caption

    def caption(self, frame: int, obj_id: int = 0) -> Caption | None:
        """The caption of one object (or, with ``obj_id`` 0, of the frame), or None."""
        row = self._store.get("captions", (frame, obj_id))
        return None if row is None else self._decode("captions", row)

    def captions(self, obj_id: int | None = None, *, frame: int | None = None) -> list[Caption]:
        """Captions by frame then object (of one object - 0 for whole frames - and/or one frame, or all)."""
        where, args = self._where(obj_id=obj_id, frame=frame)
        return self._store.records("captions", where, args, order="frame, obj_id")

    def captions_many(self, frames: Iterable[int]) -> dict[int, list[Caption]]:
        """:meth:`captions` of each of several frames (``[]`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        return self._records_in_frames("captions", frames, "obj_id")

    def delete_caption(self, frame: int, obj_id: int = 0) -> bool:
        """Delete one caption; False when there was none."""
        with self.transaction(f"delete caption frame {frame}" + (f" object {obj_id}" if obj_id else "")):
            return self._store.delete("captions", (frame, obj_id))

    # ------------------------------------------------------------------ embeddings (a cache)
    def put_embeddings(self, model: str, frame: int, vectors: Mapping[str, np.ndarray]) -> int:
        """Cache float32 vectors made by ``model`` on ``frame``, by key (e.g. ``"det:12"``); not undoable.

        Returns how many were written; an existing ``(model, frame, key)`` is replaced.
        """
        return self.put_embeddings_many(model, {frame: vectors})

    def put_embeddings_many(self, model: str, by_frame: Mapping[int, Mapping[str, np.ndarray]]) -> int:
        """:meth:`put_embeddings` for several frames ``{frame: {key: vector}}`` in one transaction and statement.

        Every vector is checked before anything is written. Returns how many were written.
        """
        rows = []
        for frame, vectors in by_frame.items():
            self._check_frame(frame)
            for key, vector in vectors.items():
                v = np.asarray(vector, np.float32)
                if v.ndim != 1 or not v.size or not np.isfinite(v).all():
                    raise ProjectError("an embedding must be a non-empty finite 1-D vector", given=(key, v.shape))
                rows.append((model, frame, str(key), v.astype("<f4").tobytes()))  # the table's column order
        if rows:
            with self.transaction(None):
                self._store.put_rows("embeddings", rows)
        return len(rows)

    def embeddings(self, model: str, frame: int) -> dict[str, np.ndarray]:
        """The cached vectors of ``model`` on ``frame``, by key (empty when none)."""
        rows = self._store.query(
            "SELECT key, vector FROM embeddings WHERE model=? AND frame=? ORDER BY key", (model, frame)
        )
        return {k: np.frombuffer(v, "<f4") for k, v in rows}

    def embeddings_many(self, model: str, frames: Iterable[int]) -> dict[int, dict[str, np.ndarray]]:
        """:meth:`embeddings` of several frames in one query (per :data:`~.project_base.FRAMES_PER_QUERY`
        frames): ``{frame: {key: vector}}``.

        Frames without cached vectors are left out (a lookup creates nothing).
        """
        out: dict[int, dict[str, np.ndarray]] = {}
        sql = "SELECT frame, key, vector FROM embeddings WHERE model=? AND {frames} ORDER BY frame, key"
        for frame, key, vector in self._rows_in_frames(sql, (model,), frames):
            out.setdefault(int(frame), {})[key] = np.frombuffer(vector, "<f4")
        return out

    def embedding_frames(self, model: str) -> set[int]:
        """The frames holding cached vectors of ``model`` (one query; a scan reads only those frames)."""
        return set(self._frames("embeddings", model=model))

    def delete_embeddings(self, model: str | None = None) -> int:
        """Drop cached vectors (of one model, or all); returns how many."""
        where, args = self._where(model=model)
        with self.transaction(None):
            return self._store.delete_where("embeddings", where, args)
