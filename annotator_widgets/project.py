"""The project store: one SQLite file (WAL) that is the single source of truth.

A :class:`Project` holds the objects, the prompts (what the user said), the
annotations (masks as COCO RLE with a score and a source), poses, action
segments and an undo history. Every change is one transaction, so a crash
loses nothing that was committed; a second process that tries to open the
same project for writing gets a :class:`~annotator_widgets.errors.ProjectError`.

Undo and redo work on *groups* of row changes: a click is one group, a whole
propagation is one group (written in many small transactions). Undo and redo
are the same operation - swap the stored row image with the current one - run
in opposite orders.

Example:
    >>> import tempfile, os, numpy as np
    >>> from annotator_widgets import Project
    >>> d = tempfile.mkdtemp()
    >>> video = {"frames": 10, "width": 64, "height": 48, "fps": 25.0}
    >>> with Project.create(os.path.join(d, "demo.awp"), video) as project:
    ...     cup = project.add_object(name="cup")
    ...     mask = np.zeros((48, 64), bool); mask[10:20, 5:15] = True
    ...     _ = project.put_mask(3, cup.obj_id, mask, score=0.9)
    ...     project.annotation(3, cup.obj_id).box
    ...     _ = project.undo()
    ...     project.annotation(3, cup.obj_id) is None
    Box(x0=5.0, y0=10.0, x1=15.0, y1=20.0)
    True
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ProjectError, file_error
from .rle import RLE
from .types import (
    ActionSegment,
    Annotation,
    Box,
    ObjectInfo,
    PersonPose,
    Point,
    Prompt,
    Source,
    check_frame,
    color_for,
)

__all__ = ["SCHEMA_VERSION", "HistoryEntry", "Project"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE objects(
    obj_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL,
    color TEXT NOT NULL, hidden INTEGER NOT NULL);
CREATE TABLE prompts(
    frame INTEGER NOT NULL, obj_id INTEGER NOT NULL, points TEXT NOT NULL, box TEXT, mask TEXT,
    seq INTEGER NOT NULL, PRIMARY KEY(frame, obj_id)) WITHOUT ROWID;
CREATE TABLE masks(
    frame INTEGER NOT NULL, obj_id INTEGER NOT NULL, counts TEXT NOT NULL, area INTEGER NOT NULL,
    score REAL, source TEXT NOT NULL, PRIMARY KEY(frame, obj_id)) WITHOUT ROWID;
CREATE INDEX masks_by_object ON masks(obj_id, frame);
CREATE TABLE poses(
    frame INTEGER NOT NULL, person_id INTEGER NOT NULL, landmarks BLOB NOT NULL, world BLOB,
    score REAL NOT NULL, PRIMARY KEY(frame, person_id)) WITHOUT ROWID;
CREATE INDEX poses_by_person ON poses(person_id, frame);
CREATE TABLE actions(
    action_id INTEGER PRIMARY KEY, start INTEGER NOT NULL, stop INTEGER NOT NULL, label TEXT NOT NULL,
    person_id INTEGER, obj_id INTEGER, description TEXT NOT NULL, score REAL, meta TEXT NOT NULL);
CREATE TABLE history(
    grp INTEGER PRIMARY KEY, label TEXT NOT NULL, state TEXT NOT NULL CHECK(state IN ('done', 'undone')));
CREATE TABLE changes(
    id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL, image TEXT);
CREATE INDEX changes_by_group ON changes(grp, id);
"""

# table -> (key columns, all columns)
_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "objects": (("obj_id",), ("obj_id", "name", "category", "color", "hidden")),
    "prompts": (("frame", "obj_id"), ("frame", "obj_id", "points", "box", "mask", "seq")),
    "masks": (("frame", "obj_id"), ("frame", "obj_id", "counts", "area", "score", "source")),
    "poses": (("frame", "person_id"), ("frame", "person_id", "landmarks", "world", "score")),
    "actions": (
        ("action_id",),
        ("action_id", "start", "stop", "label", "person_id", "obj_id", "description", "score", "meta"),
    ),
}

Row = tuple[Any, ...]
MaskLike = np.ndarray | RLE


@dataclass(frozen=True)
class HistoryEntry:
    """One undoable step: ``label`` and whether it is currently applied."""

    group: int
    label: str
    done: bool
    changes: int


def _encode_row(row: Row | None) -> str | None:
    if row is None:
        return None
    return json.dumps([{"b": base64.b64encode(v).decode()} if isinstance(v, bytes) else v for v in row])


def _decode_row(text: str | None) -> Row | None:
    if text is None:
        return None
    return tuple(base64.b64decode(v["b"]) if isinstance(v, dict) else v for v in json.loads(text))


def _is_store_failure(exc: BaseException) -> bool:
    """A failure of the file under the project (full disk, I/O error), not of the caller's code."""
    if isinstance(exc, sqlite3.Error):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)


def _store_error(exc: BaseException, path: Path) -> ProjectError:
    """The change was rolled back: say why, keeping the project as it was before it."""
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "full" in str(exc)
    if full:
        exc = OSError(errno.ENOSPC, "No space left on device")
    if isinstance(exc, OSError):
        err = file_error(exc, "project (the change was not saved; the project is as before it)", path, ProjectError)
        return err if isinstance(err, ProjectError) else ProjectError(err.message, given=err.given, hint=err.hint)
    return ProjectError(
        "cannot write the project (the change was not saved; the project is as before it)",
        given=f"{path}: {exc}",
        hint="check the disk and the file; Project.open(path, readonly=True) still reads it",
    )


class _FileLock:
    """An exclusive advisory lock on ``<project>.lock``; the OS drops it if the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def acquire(self) -> None:
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            self._fh = fh
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise ProjectError(
                "project is already open for writing by another process or Project object",
                given=f"{self.path.with_suffix('')} (lock held by pid {holder})",
                hint="close it there first, or open this one with Project.open(path, readonly=True)",
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Project:
    """An annotation project stored in one SQLite file.

    Create one with :meth:`create`, reopen it with :meth:`open`. All methods are
    thread safe; writes from several threads are serialised.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: _FileLock | None, readonly: bool) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._file_lock = lock
        self.readonly = readonly
        self._tx_depth = 0
        self._group: int | None = None
        self._group_label = ""
        self._group_depth = 0
        self._group_keys: set[tuple[str, str]] = set()
        self._seq = self._max_prompt_seq()
        info = self.get_meta("video")
        self.video_info: dict[str, Any] = json.loads(info) if info else {}

    # ------------------------------------------------------------------ open / create
    @classmethod
    def create(cls, path: str | os.PathLike[str], video: Any, *, overwrite: bool = False) -> Project:
        """Create a new project for ``video``.

        Args:
            path: The project file to create (conventionally ``*.awp``).
            video: A :class:`~annotator_widgets.video.VideoSource` or a dict with
                ``frames``, ``width``, ``height`` and optionally ``fps``, ``path``.
            overwrite: Replace an existing file instead of raising.
        """
        p = Path(path)
        info = dict(video.info) if hasattr(video, "info") else dict(video)
        for key in ("frames", "width", "height"):
            if not isinstance(info.get(key), int | np.integer) or int(info[key]) <= 0:
                raise ProjectError(
                    f"video description needs a positive integer {key!r}",
                    given=info,
                    hint="pass the VideoSource returned by open_video()",
                )
        if p.exists():
            if not overwrite:
                raise ProjectError(
                    "project file already exists",
                    given=str(p),
                    hint="use Project.open() to continue it, or pass overwrite=True",
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(p) + suffix).unlink(missing_ok=True)
        lock = _FileLock(Path(str(p) + ".lock"))
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as exc:
            raise file_error(exc, "project", p, ProjectError) from exc
        try:
            conn = cls._connect(p, readonly=False)
            with conn:
                conn.executescript(_SCHEMA)
                conn.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("next_obj_id", "1"),
                        ("video", json.dumps(info, default=float)),
                    ],
                )
        except BaseException:
            lock.release()
            raise
        return cls(p, conn, lock, readonly=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Project:
        """Open an existing project; ``readonly=True`` takes no lock and never writes."""
        p = Path(path)
        if not p.is_file():
            raise ProjectError(
                "project file not found", given=str(p), hint="create it with Project.create(path, video)"
            )
        lock = None
        if not readonly:
            lock = _FileLock(Path(str(p) + ".lock"))
            try:
                lock.acquire()
            except OSError as exc:  # the lock file cannot be made next to the project (a read-only folder)
                err = file_error(exc, "project's lock file", lock.path, ProjectError)
                raise ProjectError(err.message, given=err.given, hint=f"{err.hint}; or open it readonly=True") from exc
        try:
            conn = cls._connect(p, readonly=readonly)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            except sqlite3.DatabaseError as exc:
                raise ProjectError(
                    "not an annotator_widgets project (not a readable SQLite file)",
                    given=str(p),
                    hint="pick the .awp file a Project.create() made; a damaged one cannot be read",
                ) from exc
            if row is None:
                raise ProjectError(
                    "not an annotator_widgets project (no schema version)",
                    given=str(p),
                    hint="pick the .awp file a Project.create() made",
                )
            version = int(row[0])
            if version > SCHEMA_VERSION:
                raise ProjectError(
                    f"project was written by a newer annotator_widgets "
                    f"(schema {version}, this one reads {SCHEMA_VERSION})",
                    given=str(p),
                    hint="upgrade annotator_widgets",
                )
        except BaseException:
            if lock:
                lock.release()
            raise
        return cls(p, conn, lock, readonly=readonly)

    @staticmethod
    def _connect(p: Path, *, readonly: bool) -> sqlite3.Connection:
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
            else:
                conn = sqlite3.connect(str(p), check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a process crash (kill -9) with every commit intact.
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                "cannot open the project: not an annotator_widgets project, or a damaged file",
                given=str(p),
                hint=f"SQLite says: {exc}",
            ) from exc
        return conn

    def close(self) -> None:
        """Checkpoint the WAL, close the database and release the write lock."""
        with self._lock:
            if self._conn is None:
                return
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
            if self._file_lock:
                self._file_lock.release()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._conn is None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.objects())} objects"
        return f"Project({str(self.path)!r}, {state})"

    # ------------------------------------------------------------------ video facts
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
        row = self._query("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a metadata value (not undoable)."""
        with self.transaction(None):
            self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ transactions
    def _check_open(self) -> None:
        if self._conn is None:
            raise ProjectError("project is closed", given=str(self.path), hint="open it again with Project.open()")

    @staticmethod
    def _where(**columns: int | None) -> tuple[str, tuple[Any, ...]]:
        """``(" WHERE a=? AND b=?", (a, b))`` for the columns that are not None."""
        given = {k: v for k, v in columns.items() if v is not None}
        clause = " AND ".join(f"{k}=?" for k in given)
        return (f" WHERE {clause}" if clause else ""), tuple(given.values())

    def _frames(self, table: str, **columns: int | None) -> list[int]:
        where, args = self._where(**columns)
        return [r[0] for r in self._query(f"SELECT DISTINCT frame FROM {table}{where} ORDER BY frame", args)]

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            self._check_open()
            return self._conn.execute(sql, args)

    @contextlib.contextmanager
    def transaction(self, label: str | None = "edit") -> Iterator[None]:
        """One atomic transaction; changes inside are one undo step named ``label``.

        Nested transactions join the outer one. ``label=None`` records no history.
        """
        with self._lock:
            self._check_open()
            if self.readonly:
                raise ProjectError(
                    "project is open read-only", given=str(self.path), hint="open it with Project.open(path) to edit"
                )
            outer = self._tx_depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._tx_depth += 1
            own_group = False
            try:
                if label is not None and self._group is None:
                    own_group = True
                    self._start_group(label)
                yield
                if own_group:
                    self._end_group()
            except BaseException as exc:
                self._tx_depth -= 1
                if outer and self._conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    self._conn.execute("ROLLBACK")
                if own_group:  # its history row was rolled back with everything else
                    self._group, self._group_keys = None, set()
                if outer and _is_store_failure(exc):
                    raise _store_error(exc, self.path) from exc
                raise
            self._tx_depth -= 1
            if outer:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise _store_error(exc, self.path) from exc

    @contextlib.contextmanager
    def group(self, label: str) -> Iterator[None]:
        """One undo step that may span many transactions (e.g. a propagation).

        Each write inside still commits on its own, so a crash keeps every
        committed part; undo reverts all of them together.
        """
        with self._lock:
            self._check_open()
            own = self._group is None
            if own:
                with self.transaction(None):
                    self._start_group(label)
            self._group_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._group_depth -= 1
                if own:
                    self._end_group()

    def _start_group(self, label: str) -> None:
        # a new step discards the redo stack
        undone = [r[0] for r in self._conn.execute("SELECT grp FROM history WHERE state='undone'")]
        if undone:
            marks = ",".join("?" * len(undone))
            self._conn.execute(f"DELETE FROM changes WHERE grp IN ({marks})", undone)
            self._conn.execute(f"DELETE FROM history WHERE grp IN ({marks})", undone)
        cur = self._conn.execute("INSERT INTO history(label, state) VALUES (?, 'done')", (label,))
        self._group = cur.lastrowid
        self._group_label = label
        self._group_keys = set()

    def _end_group(self) -> None:
        grp = self._group
        self._group, self._group_keys = None, set()
        if grp is None:
            return
        with self.transaction(None):  # joins the current transaction if there is one
            n = self._conn.execute("SELECT count(*) FROM changes WHERE grp=?", (grp,)).fetchone()[0]
            if n == 0:
                self._conn.execute("DELETE FROM history WHERE grp=?", (grp,))

    def _read_row(self, tbl: str, key: Row) -> Row | None:
        keys, cols = _TABLES[tbl]
        where = " AND ".join(f"{k}=?" for k in keys)
        return self._conn.execute(f"SELECT {', '.join(cols)} FROM {tbl} WHERE {where}", key).fetchone()

    def _write_row(self, tbl: str, key: Row, row: Row | None) -> None:
        keys, cols = _TABLES[tbl]
        if row is None:
            where = " AND ".join(f"{k}=?" for k in keys)
            self._conn.execute(f"DELETE FROM {tbl} WHERE {where}", key)
        else:
            marks = ", ".join("?" * len(cols))
            self._conn.execute(f"INSERT OR REPLACE INTO {tbl}({', '.join(cols)}) VALUES ({marks})", row)

    def _set(self, tbl: str, key: Row, row: Row | None) -> None:
        """Write one row (None deletes it), logging its previous image for undo."""
        assert self._tx_depth > 0, "writes happen inside transaction()"
        before = self._read_row(tbl, key)
        if before == row:
            return
        if self._group is not None:
            key_text = json.dumps(list(key))
            if (tbl, key_text) not in self._group_keys:
                self._group_keys.add((tbl, key_text))
                self._conn.execute(
                    "INSERT INTO changes(grp, tbl, key, image) VALUES (?, ?, ?, ?)",
                    (self._group, tbl, key_text, _encode_row(before)),
                )
        self._write_row(tbl, key, row)

    # ------------------------------------------------------------------ undo / redo
    def _swap_group(self, grp: int, order: str) -> None:
        rows = self._conn.execute(
            f"SELECT id, tbl, key, image FROM changes WHERE grp=? ORDER BY id {order}", (grp,)
        ).fetchall()
        for cid, tbl, key_text, image in rows:
            key = tuple(json.loads(key_text))
            current = self._read_row(tbl, key)
            self._write_row(tbl, key, _decode_row(image))
            self._conn.execute("UPDATE changes SET image=? WHERE id=?", (_encode_row(current), cid))

    def undo(self) -> str | None:
        """Revert the latest applied step; returns its label, or None if there is none."""
        return self._step("done", "undone", "DESC")

    def redo(self) -> str | None:
        """Re-apply the earliest undone step; returns its label, or None if there is none."""
        return self._step("undone", "done", "ASC")

    def _step(self, state: str, new_state: str, order: str) -> str | None:
        """Swap the row images of the latest done (undo) or earliest undone (redo) group."""
        with self._lock, self.transaction(None):
            row = self._conn.execute(
                f"SELECT grp, label FROM history WHERE state=? ORDER BY grp {order} LIMIT 1", (state,)
            ).fetchone()
            if row is None:
                return None
            self._swap_group(row[0], order)
            self._conn.execute("UPDATE history SET state=? WHERE grp=?", (new_state, row[0]))
            self._seq = self._max_prompt_seq()
            return str(row[1])

    @property
    def can_undo(self) -> bool:
        """True when :meth:`undo` has a step to revert."""
        return self._query("SELECT 1 FROM history WHERE state='done' LIMIT 1").fetchone() is not None

    @property
    def can_redo(self) -> bool:
        """True when :meth:`redo` has a step to re-apply."""
        return self._query("SELECT 1 FROM history WHERE state='undone' LIMIT 1").fetchone() is not None

    def history(self) -> list[HistoryEntry]:
        """All recorded steps, oldest first."""
        rows = self._query(
            "SELECT h.grp, h.label, h.state, (SELECT count(*) FROM changes c WHERE c.grp=h.grp) "
            "FROM history h ORDER BY h.grp"
        ).fetchall()
        return [HistoryEntry(g, label, state == "done", n) for g, label, state, n in rows]

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
    ) -> ObjectInfo:
        """Create an object with a fresh global id (or the given unused ``obj_id``)."""
        with self.transaction(f"add object {name or category}".strip()):
            nxt = self.next_object_id
            if obj_id is None:
                obj_id = nxt
            elif self.get_object(obj_id) is not None:
                raise ProjectError("object id is already in use", given=obj_id, hint="omit obj_id to get a fresh one")
            info = ObjectInfo(obj_id, name=name, category=category, color=color or color_for(obj_id))
            self._conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_obj_id', ?)", (str(max(nxt, obj_id + 1)),)
            )
            self._set("objects", (info.obj_id,), self._object_row(info))
        return info

    @staticmethod
    def _object_row(info: ObjectInfo) -> Row:
        return (info.obj_id, info.name, info.category, json.dumps(list(info.color)), int(info.hidden))

    @staticmethod
    def _object_from_row(row: Row) -> ObjectInfo:
        return ObjectInfo(row[0], name=row[1], category=row[2], color=tuple(json.loads(row[3])), hidden=bool(row[4]))

    def get_object(self, obj_id: int) -> ObjectInfo | None:
        """The object with this id, or None (a lookup never creates anything)."""
        row = self._query(
            f"SELECT {', '.join(_TABLES['objects'][1])} FROM objects WHERE obj_id=?", (int(obj_id),)
        ).fetchone()
        return None if row is None else self._object_from_row(row)

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
        rows = self._query(f"SELECT {', '.join(_TABLES['objects'][1])} FROM objects ORDER BY obj_id").fetchall()
        return [self._object_from_row(r) for r in rows]

    def update_object(self, obj_id: int, **changes: Any) -> ObjectInfo:
        """Change ``name``, ``category``, ``color`` or ``hidden`` of an object."""
        allowed = {"name", "category", "color", "hidden"}
        bad = set(changes) - allowed
        if bad:
            raise ProjectError("unknown object field", given=sorted(bad), hint=f"use one of {sorted(allowed)}")
        with self.transaction(f"edit object {obj_id}"):
            info = replace(self.object(obj_id), **changes)
            self._set("objects", (obj_id,), self._object_row(info))
        return info

    def remove_object(self, obj_id: int) -> None:
        """Delete an object with its prompts, masks, poses and actions (one undo step)."""
        with self.transaction(f"remove object {obj_id}"):
            self.object(obj_id)
            for (frame,) in self._conn.execute("SELECT frame FROM prompts WHERE obj_id=?", (obj_id,)).fetchall():
                self._set("prompts", (frame, obj_id), None)
            for (frame,) in self._conn.execute("SELECT frame FROM masks WHERE obj_id=?", (obj_id,)).fetchall():
                self._set("masks", (frame, obj_id), None)
            for (frame,) in self._conn.execute("SELECT frame FROM poses WHERE person_id=?", (obj_id,)).fetchall():
                self._set("poses", (frame, obj_id), None)
            for (aid,) in self._conn.execute(
                "SELECT action_id FROM actions WHERE obj_id=? OR person_id=?", (obj_id, obj_id)
            ).fetchall():
                self._set("actions", (aid,), None)
            self._set("objects", (obj_id,), None)

    # ------------------------------------------------------------------ prompts
    def _max_prompt_seq(self) -> int:
        row = self._query("SELECT max(seq) FROM prompts").fetchone()
        return int(row[0] or 0)

    def _check_frame(self, frame: int) -> int:
        return check_frame(frame, int(self.video_info.get("frames", 0)), error=ProjectError)

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

    def put_prompt(self, prompt: Prompt) -> Prompt:
        """Store the whole prompt of one object on one frame (replacing the previous one)."""
        self._check_frame(prompt.frame)
        if prompt.mask is not None:
            self._check_mask(prompt.mask)
        with self.transaction(f"prompt object {prompt.obj_id} on frame {prompt.frame}"):
            self.object(prompt.obj_id)
            self._seq += 1
            points = json.dumps([[p.x, p.y, p.label] for p in prompt.points])
            box = json.dumps(list(prompt.box.xyxy)) if prompt.box else None
            mask = json.dumps(prompt.mask.to_coco()) if prompt.mask else None
            self._set(
                "prompts", (prompt.frame, prompt.obj_id), (prompt.frame, prompt.obj_id, points, box, mask, self._seq)
            )
        return prompt

    def delete_prompt(self, frame: int, obj_id: int | None = None) -> int:
        """Delete the prompts on ``frame`` (of one object, or all); returns how many."""
        with self.transaction(f"clear prompts on frame {frame}"):
            where, args = self._where(frame=frame, obj_id=obj_id)
            ids = [r[0] for r in self._conn.execute(f"SELECT obj_id FROM prompts{where}", args).fetchall()]
            for oid in ids:
                self._set("prompts", (frame, oid), None)
        return len(ids)

    @staticmethod
    def _prompt_from_row(row: Row) -> Prompt:
        frame, obj_id, points, box, mask = row[:5]
        return Prompt(
            frame=frame,
            obj_id=obj_id,
            points=tuple(Point(x, y, int(lab)) for x, y, lab in json.loads(points)),
            box=Box(*json.loads(box)) if box else None,
            mask=RLE.from_coco(json.loads(mask)) if mask else None,
        )

    def prompt(self, frame: int, obj_id: int) -> Prompt | None:
        """The prompt of one object on one frame, or None."""
        row = self._query(
            "SELECT frame, obj_id, points, box, mask FROM prompts WHERE frame=? AND obj_id=?", (frame, obj_id)
        ).fetchone()
        return None if row is None else self._prompt_from_row(row)

    def prompts(self, *, frame: int | None = None, obj_id: int | None = None) -> list[Prompt]:
        """Prompts in the order they were last changed, optionally filtered."""
        where, args = self._where(frame=frame, obj_id=obj_id)
        rows = self._query(f"SELECT frame, obj_id, points, box, mask FROM prompts{where} ORDER BY seq", args)
        return [self._prompt_from_row(r) for r in rows.fetchall()]

    def prompt_frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames that hold prompts (of one object, or any)."""
        return self._frames("prompts", obj_id=obj_id)

    # ------------------------------------------------------------------ masks
    def _mask_row(self, frame: int, obj_id: int, rle: RLE, score: float | None, source: Source | str) -> Row:
        return (frame, obj_id, rle.counts, rle.area, None if score is None else float(score), Source(source).value)

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
        """Store many annotations in one transaction; returns how many were written."""
        n = 0
        with self.transaction(label):
            known = {o.obj_id for o in self.objects()}
            for ann in annotations:
                if ann.obj_id not in known:
                    self.object(ann.obj_id)  # raises: no such object
                self._check_frame(ann.frame)
                rle = self._check_mask(ann.rle)
                self._set(
                    "masks", (ann.frame, ann.obj_id), self._mask_row(ann.frame, ann.obj_id, rle, ann.score, ann.source)
                )
                n += 1
        return n

    def delete_masks(self, *, frame: int | None = None, obj_id: int | None = None) -> int:
        """Delete masks on a frame and/or of an object; returns how many."""
        where, args = self._where(frame=frame, obj_id=obj_id)
        with self.transaction("delete masks"):
            keys = self._conn.execute(f"SELECT frame, obj_id FROM masks{where}", args).fetchall()
            for key in keys:
                self._set("masks", tuple(key), None)
        return len(keys)

    def _ann_from_row(self, row: Row) -> Annotation:
        frame, obj_id, counts, _area, score, source = row
        w, h = self.size
        return Annotation(frame, obj_id, RLE((h, w), counts), score, Source(source))

    def annotation(self, frame: int, obj_id: int) -> Annotation | None:
        """The annotation of one object on one frame, or None."""
        row = self._query(
            f"SELECT {', '.join(_TABLES['masks'][1])} FROM masks WHERE frame=? AND obj_id=?", (frame, obj_id)
        ).fetchone()
        return None if row is None else self._ann_from_row(row)

    def annotations(self, frame: int) -> dict[int, Annotation]:
        """All annotations on one frame, keyed by object id."""
        rows = self._query(
            f"SELECT {', '.join(_TABLES['masks'][1])} FROM masks WHERE frame=? ORDER BY obj_id", (frame,)
        ).fetchall()
        return {r[1]: self._ann_from_row(r) for r in rows}

    def iter_annotations(
        self, *, obj_id: int | None = None, start: int = 0, stop: int | None = None
    ) -> Iterator[Annotation]:
        """Annotations ordered by frame then object, streamed (constant memory)."""
        stop = self.num_frames if stop is None else stop
        sql = f"SELECT {', '.join(_TABLES['masks'][1])} FROM masks WHERE frame>=? AND frame<?"
        if obj_id is not None:
            sql += f" AND obj_id={int(obj_id)}"
        for rows in self._pages(sql + " ORDER BY frame, obj_id", start, stop):
            for r in rows:
                yield self._ann_from_row(r)

    def _pages(self, sql: str, start: int, stop: int, frames_per_page: int = 256) -> Iterator[list[Row]]:
        """Run ``sql`` (with ``frame>=? AND frame<?``) one window of frames at a time, so long
        videos stream in constant memory and other threads get the lock between pages."""
        for lo in range(start, stop, frames_per_page):
            with self._lock:
                self._check_open()
                rows = self._conn.execute(sql, (lo, min(stop, lo + frames_per_page))).fetchall()
            yield rows

    def mask_frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames holding a mask (of one object, or any)."""
        return self._frames("masks", obj_id=obj_id)

    def track_summary(self, obj_id: int) -> np.ndarray:
        """Per-frame ``score`` of one object: NaN where it has no mask, -1 where its mask is empty.

        Cheap (no mask is decoded); the widget's timeline draws from it.
        """
        out = np.full(self.num_frames, np.nan, np.float32)
        for frame, score, area in self._query("SELECT frame, score, area FROM masks WHERE obj_id=?", (obj_id,)):
            if 0 <= frame < out.size:
                out[frame] = -1.0 if area == 0 else (1.0 if score is None else score)
        return out

    # ------------------------------------------------------------------ poses
    def put_poses(self, frame: int, poses: Iterable[PersonPose], *, label: str | None = None) -> None:
        """Replace the poses stored on ``frame``."""
        self._check_frame(frame)
        with self.transaction(label or f"poses on frame {frame}"):
            old = {r[0] for r in self._conn.execute("SELECT person_id FROM poses WHERE frame=?", (frame,))}
            new = set()
            for pose in poses:
                self.object(pose.person_id)
                wl = (
                    None
                    if pose.world_landmarks is None
                    else np.ascontiguousarray(pose.world_landmarks, "<f4").tobytes()
                )
                self._set(
                    "poses",
                    (frame, pose.person_id),
                    (
                        frame,
                        pose.person_id,
                        np.ascontiguousarray(pose.landmarks, "<f4").tobytes(),
                        wl,
                        float(pose.score),
                    ),
                )
                new.add(pose.person_id)
            for pid in old - new:
                self._set("poses", (frame, pid), None)

    @staticmethod
    def _pose_from_row(row: Row) -> PersonPose:
        frame, pid, lm, wl, score = row
        landmarks = np.frombuffer(lm, "<f4").reshape(-1, 3)
        world = None if wl is None else np.frombuffer(wl, "<f4").reshape(-1, 3)
        return PersonPose(frame, pid, landmarks, world, score)

    def poses(self, frame: int) -> list[PersonPose]:
        """Poses on one frame, by person id."""
        rows = self._query(
            "SELECT frame, person_id, landmarks, world, score FROM poses WHERE frame=? ORDER BY person_id", (frame,)
        ).fetchall()
        return [self._pose_from_row(r) for r in rows]

    def pose_frames(self, person_id: int | None = None) -> list[int]:
        """Sorted frames holding a pose (of one person, or anybody); cheap, no landmark is decoded."""
        return self._frames("poses", person_id=person_id)

    def iter_poses(self, person_id: int | None = None) -> Iterator[PersonPose]:
        """All poses ordered by frame (of one person, or all)."""
        sql = "SELECT frame, person_id, landmarks, world, score FROM poses WHERE frame>=? AND frame<?"
        if person_id is not None:
            sql += f" AND person_id={int(person_id)}"
        for rows in self._pages(sql + " ORDER BY frame, person_id", 0, self.num_frames):
            for r in rows:
                yield self._pose_from_row(r)

    # ------------------------------------------------------------------ actions
    def add_action(self, segment: ActionSegment) -> int:
        """Store an action segment; returns its id."""
        with self.transaction(f"action {segment.label}"):
            row = self._conn.execute("SELECT coalesce(max(action_id), 0) + 1 FROM actions").fetchone()
            aid = int(row[0])
            self._set(
                "actions",
                (aid,),
                (
                    aid,
                    segment.start,
                    segment.stop,
                    segment.label,
                    segment.person_id,
                    segment.obj_id,
                    segment.description,
                    segment.score,
                    json.dumps(segment.meta),
                ),
            )
        return aid

    def remove_action(self, action_id: int) -> None:
        """Delete an action segment."""
        with self.transaction(f"remove action {action_id}"):
            if self._read_row("actions", (action_id,)) is None:
                raise ProjectError("no such action", given=action_id)
            self._set("actions", (action_id,), None)

    def actions(self) -> dict[int, ActionSegment]:
        """All action segments keyed by id, ordered by start frame."""
        rows = self._query(
            f"SELECT {', '.join(_TABLES['actions'][1])} FROM actions ORDER BY start, action_id"
        ).fetchall()
        return {
            aid: ActionSegment(start, stop, label, person_id, obj_id, desc, score, json.loads(meta))
            for aid, start, stop, label, person_id, obj_id, desc, score, meta in rows
        }

    # ------------------------------------------------------------------ summary
    def stats(self) -> Mapping[str, int]:
        """Counts of objects, prompts, masks, poses, actions and history steps."""
        out = {}
        for tbl in ("objects", "prompts", "masks", "poses", "actions", "history"):
            out[tbl] = int(self._query(f"SELECT count(*) FROM {tbl}").fetchone()[0])
        return out
