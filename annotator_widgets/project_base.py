"""The part of :class:`~annotator_widgets.Project` every record kind needs: the open file, the video
facts, transactions and history, checks, and the objects everything else points at.

The storage itself (SQLite, WAL, lock, undo log, migrations) is :mod:`annotator_widgets.store`; the
tables are declared in :mod:`annotator_widgets.project_schema`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import ProjectError
from .project_migrations import MIGRATIONS
from .project_schema import SCHEMA, to_json
from .rle import RLE
from .store import HistoryEntry, Store
from .types import ObjectInfo, check_frame, color_for

__all__ = ["MaskLike", "ProjectBase"]

MaskLike = np.ndarray | RLE
P = TypeVar("P", bound="ProjectBase")

_OBJECT_FIELDS = ("name", "category", "color", "hidden", "meta")

#: frames bound in one ``frame IN (...)`` query (well under SQLite's bound-parameter limit)
FRAMES_PER_QUERY = 500


class ProjectBase:
    """The open project file, its video, its history and its objects (see :class:`~annotator_widgets.Project`)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        info = store.get_meta("video")
        self.video_info: dict[str, Any] = json.loads(info) if info else {}

    # ------------------------------------------------------------------ open / create / close
    @classmethod
    def create(cls: type[P], path: str | os.PathLike[str], video: Any, *, overwrite: bool = False) -> P:
        """Create a new project for ``video``.

        Args:
            path: The project file to create (conventionally ``*.awp``).
            video: A :class:`~annotator_widgets.video.VideoSource` or a dict with
                ``frames``, ``width``, ``height`` and optionally ``fps``, ``path``.
            overwrite: Replace an existing file instead of raising.
        """
        info = dict(video.info) if hasattr(video, "info") else dict(video)
        for key in ("frames", "width", "height"):
            if not isinstance(info.get(key), int | np.integer) or int(info[key]) <= 0:
                raise ProjectError(
                    f"video description needs a positive integer {key!r}",
                    given=info,
                    hint="pass the VideoSource returned by open_video()",
                )
        meta = {"next_obj_id": "1", "video": json.dumps(info, default=float)}
        return cls(Store.create(path, SCHEMA, meta, overwrite=overwrite))

    @classmethod
    def open(cls: type[P], path: str | os.PathLike[str], *, readonly: bool = False) -> P:
        """Open an existing project; ``readonly=True`` takes no lock and never writes.

        A writer upgrades a project from an older version in place, after copying it to
        ``<file>.v<N>.bak``; a project from a newer version is refused (see :mod:`annotator_widgets.store.migrations`).
        """
        return cls(Store.open(path, SCHEMA, migrations=MIGRATIONS, readonly=readonly))

    @property
    def path(self) -> Path:
        """The project file."""
        return self._store.path

    @property
    def readonly(self) -> bool:
        """True when opened with ``readonly=True``."""
        return self._store.readonly

    def close(self) -> None:
        """Checkpoint the WAL, close the database and release the write lock."""
        self._store.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._store.closed

    def __enter__(self: P) -> P:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self._store.count('objects')} objects"
        return f"{type(self).__name__}({str(self.path)!r}, {state})"

    # ------------------------------------------------------------------ video facts and metadata
    @property
    def num_frames(self) -> int:
        """Number of frames of the project's video."""
        return int(self.video_info["frames"])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the project's video."""
        return int(self.video_info["width"]), int(self.video_info["height"])

    def get_meta(self, key: str) -> str | None:
        """A stored metadata value (JSON text by convention), or None."""
        return self._store.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a metadata value (not undoable)."""
        self._store.set_meta(key, value)

    # ------------------------------------------------------------------ transactions and history
    def transaction(self, label: str | None = "edit") -> contextlib.AbstractContextManager[None]:
        """One atomic transaction; changes inside are one undo step named ``label``.

        Nested transactions join the outer one. ``label=None`` records no history.
        """
        return self._store.transaction(label)

    def group(self, label: str) -> contextlib.AbstractContextManager[None]:
        """One undo step that may span many transactions (e.g. a propagation).

        Each write inside still commits on its own, so a crash keeps every committed part; undo reverts
        all of them together.
        """
        return self._store.group(label)

    def undo(self) -> str | None:
        """Revert the latest applied step; returns its label, or None if there is none."""
        return self._store.undo()

    def redo(self) -> str | None:
        """Re-apply the earliest undone step; returns its label, or None if there is none."""
        return self._store.redo()

    @property
    def can_undo(self) -> bool:
        """True when :meth:`undo` has a step to revert."""
        return self._store.can_undo

    @property
    def can_redo(self) -> bool:
        """True when :meth:`redo` has a step to re-apply."""
        return self._store.can_redo

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever the project's records may have (any write, undo, redo, rollback; read-only: another
        process' commit). Equal revisions mean nothing was written in between: a cache of reads is still true."""
        return self._store.revision

    @property
    def change_mark(self) -> tuple[int, int]:
        """Where the rows written so far end: :meth:`changes_since` later names the rows written after it."""
        return self._store.change_mark

    def changes_since(self, mark: tuple[int, int]) -> list[tuple[str, tuple[Any, ...] | None]] | None:
        """``(table, key)`` of each row written since ``mark`` (:attr:`change_mark`), oldest first - edits, undos,
        redos, rolled-back writes (as they are again) - or None when not known (read everything again): see
        :meth:`~annotator_widgets.store.Store.changes_since`."""
        return self._store.changes_since(mark)

    def history(self) -> list[HistoryEntry]:
        """All recorded steps, oldest first."""
        return self._store.history()

    def stats(self) -> Mapping[str, int]:
        """Row counts of every table (objects, prompts, masks, ...) and of the history."""
        out = {t.name: self._store.count(t.name) for t in SCHEMA.tables}
        out["history"] = self._store.count("history")
        return out

    # ------------------------------------------------------------------ checks and small helpers
    def _check_frame(self, frame: int, what: str = "frame") -> int:
        return check_frame(frame, int(self.video_info.get("frames", 0)), what=what, error=ProjectError)

    def _check_mask(self, mask: MaskLike) -> RLE:
        w, h = self.size
        rle = mask if isinstance(mask, RLE) else RLE.from_mask(np.asarray(mask))
        if rle.size != (h, w):
            raise ProjectError(
                "mask size does not match the video",
                given=f"{rle.size[1]}x{rle.size[0]}",
                hint=f"masks are in video pixels: {w}x{h} (width x height)",
            )
        return rle

    @staticmethod
    def _where(**columns: Any) -> tuple[str, tuple[Any, ...]]:
        """``("a=? AND b=?", (a, b))`` for the columns that are not None."""
        given = {k: v for k, v in columns.items() if v is not None}
        return " AND ".join(f"{k}=?" for k in given), tuple(given.values())

    def _put(self, table: str, record: Any, **extra: Any) -> bool:
        """Write ``record`` through its table's encode hook (``extra`` sets further columns)."""
        encode = SCHEMA.table(table).encode
        assert encode is not None, f"{table} declares no encode hook"
        return self._store.put(table, {**encode(record), **extra})

    @staticmethod
    def _decode(table: str, row: Any) -> Any:
        decode = SCHEMA.table(table).decode
        assert decode is not None, f"{table} declares no decode hook"
        return decode(row)

    def _rows_in_frames(self, sql: str, args: tuple[Any, ...], frames: Iterable[int]) -> Iterator[Any]:
        """The rows of ``sql``, whose ``{frames}`` stands for ``frame IN (...)``, over the distinct ``frames`` in
        ascending order, :data:`FRAMES_PER_QUERY` frames per query (``args`` bind the placeholders before it)."""
        wanted = sorted({int(f) for f in frames})
        for at in range(0, len(wanted), FRAMES_PER_QUERY):
            chunk = wanted[at : at + FRAMES_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            yield from self._store.query(sql.format(frames=f"frame IN ({marks})"), (*args, *chunk))

    def _records_in_frames(
        self, table: str, frames: Iterable[int], order: str, where: str = "", args: tuple[Any, ...] = ()
    ) -> dict[int, list[Any]]:
        """The decoded records of ``table`` on each of ``frames`` (``[]`` on a frame with none), in the order
        ``ORDER BY frame, <order>`` gives, ``where`` (binding ``args``) filtering them: one query per
        :data:`FRAMES_PER_QUERY` frames (:meth:`_rows_in_frames`)."""
        t = SCHEMA.table(table)
        assert t.decode is not None, f"{table} declares no decode hook"
        out: dict[int, list[Any]] = {int(f): [] for f in frames}
        sql = f"SELECT {t.column_list} FROM {t.name} WHERE " + (f"{where} AND " if where else "")
        for row in self._rows_in_frames(sql + "{frames} ORDER BY frame, " + order, args, out):
            out[row["frame"]].append(t.decode(row))
        return out

    def _frames(self, table: str, condition: str = "", **columns: Any) -> list[int]:
        """Sorted distinct frames of ``table``'s rows with these column values (and the SQL ``condition``)."""
        where, args = self._where(**columns)
        clauses = " AND ".join(c for c in (condition, where) if c)
        sql = f"SELECT DISTINCT frame FROM {table}" + (f" WHERE {clauses}" if clauses else "") + " ORDER BY frame"
        return [r[0] for r in self._store.query(sql, args)]

    # ------------------------------------------------------------------ objects
    @property
    def next_object_id(self) -> int:
        """The id the next :meth:`add_object` will return (ids are never reused)."""
        return int(self.get_meta("next_obj_id") or 1)

    def add_object(
        self,
        name: str = "",
        category: str = "",
        color: tuple[int, int, int] | None = None,
        *,
        obj_id: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ObjectInfo:
        """Create an object with a fresh global id (or the given unused ``obj_id``) and optional JSON ``meta``."""
        with self.transaction(f"add object {name or category}".strip()):
            if obj_id is not None and self.get_object(obj_id) is not None:
                raise ProjectError("object id is already in use", given=obj_id, hint="omit obj_id to get a fresh one")
            oid = self.next_object_id if obj_id is None else obj_id
            info = ObjectInfo(oid, name=name, category=category, color=color or color_for(oid), meta=dict(meta or {}))
            self._store.reserve_id("obj", info.obj_id)
            self._put("objects", info)
        return info

    def get_object(self, obj_id: int) -> ObjectInfo | None:
        """The object with this id, or None (a lookup never creates anything)."""
        found = self._store.records("objects", "obj_id=?", (int(obj_id),))
        return found[0] if found else None

    def object(self, obj_id: int) -> ObjectInfo:
        """The object with this id; raises :class:`ProjectError` if there is none."""
        info = self.get_object(obj_id)
        if info is None:
            known = [o.obj_id for o in self.objects()]
            raise ProjectError(
                "no such object", given=obj_id, hint=f"known object ids: {known}; add one with add_object()"
            )
        return info

    def objects(self) -> list[ObjectInfo]:
        """All objects, by id."""
        return self._store.records("objects", order="obj_id")

    def update_object(self, obj_id: int, **changes: Any) -> ObjectInfo:
        """Change ``name``, ``category``, ``color``, ``hidden`` or ``meta`` (a JSON-serialisable dict) of an object."""
        bad = set(changes) - set(_OBJECT_FIELDS)
        if bad:
            raise ProjectError("unknown object field", given=sorted(bad), hint=f"use one of {sorted(_OBJECT_FIELDS)}")
        if "meta" in changes:
            to_json(changes["meta"], "ObjectInfo.meta")
            changes["meta"] = dict(changes["meta"])
        with self.transaction(f"edit object {obj_id}"):
            info = replace(self.object(obj_id), **changes)
            self._put("objects", info)
        return info

    def remove_object(self, obj_id: int) -> None:
        """Delete an object with everything that belongs to it (one undo step).

        Its prompts, masks, poses, actions, captions and warnings go with it; detections accepted as it
        and hands assigned to it stay, unlinked (``obj_id`` / ``person_id`` None). The id is not reused.
        """
        with self.transaction(f"remove object {obj_id}"):
            self.object(obj_id)
            self._store.remove("objects", (obj_id,))

    def _objects_exist(self, ids: Iterator[int | None] | list[int | None]) -> None:
        known = {r[0] for r in self._store.query("SELECT obj_id FROM objects")}
        for oid in ids:
            if oid is not None and oid not in known:
                self.object(oid)  # raises: no such object
