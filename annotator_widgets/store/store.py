"""The generic transactional store: one SQLite file (WAL), one writer, undoable row changes.

A :class:`Store` knows nothing about annotations: it is given a :class:`~.tables.Schema` and offers
transactions, groups of transactions that undo as one step, undo/redo/history, a metadata table,
id counters that never reuse an id, cascading removal along declared references, read-only opening
and paged reads that stream in constant memory. Opening an older file runs its migrations first
(:mod:`.migrations`).

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction through a process crash
(``kill -9``); a second writer is refused by :class:`~.lock.FileLock`.

Readers: ``readonly=True`` opens ``mode=ro`` (not ``immutable``, so a live writer's commits are seen).
SQLite makes the ``-wal`` / ``-shm`` files for a WAL reader and only a read-write connection that
closes last deletes them; so a reader closes with :func:`_drop_reader_files` (also at interpreter
exit, for a store never closed): the last one out leaves no empty WAL files behind.

Example:
    >>> import os, tempfile
    >>> from annotator_widgets.store import Column, Schema, Store, Table
    >>> schema = Schema(1, (Table("notes", (Column("note_id", "INTEGER"), Column("text", "TEXT")), ("note_id",)),))
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.db")
    >>> with Store.create(path, schema) as store:
    ...     with store.transaction("add a note"):
    ...         _ = store.put("notes", {"note_id": store.reserve_id("note"), "text": "hello"})
    ...     print(store.count("notes"), store.undo(), store.count("notes"))
    1 add a note 0
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import urllib.parse
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ProjectError, file_error
from .journal import ChangeJournal, JournalEntry
from .lock import FileLock
from .migrations import Migration, upgrade
from .tables import Column, RowLike, Schema, Table
from .undo import CHANGES, HISTORY, HistoryEntry, UndoLog

__all__ = ["META", "Store"]

log = logging.getLogger(__name__)

# schema 1 declared the key without NOT NULL; kept so a migrated file and a new one have the same shape
META = Table("meta", (Column("key", "TEXT", nullable=True), Column("value", "TEXT")), key=("key",), undoable=False)
Row = tuple[Any, ...]


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9) with every commit intact.
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.DatabaseError as exc:
        raise ProjectError(
            "cannot open the project: not an annotator_widgets project, or a damaged file",
            given=str(path),
            hint=f"SQLite says: {exc}",
        ) from exc
    conn.row_factory = sqlite3.Row
    return conn


def _wal_files(path: Path) -> tuple[Path, Path]:
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def _drop_reader_files(path: Path) -> None:
    """Remove the empty ``-wal`` / ``-shm`` files after a reader closed, the way SQLite does.

    A read-only connection never deletes them; a read-write connection does when it closes as the
    last connection to the file (a live writer or another reader keeps them: SQLite checks). It is
    opened only while the ``-wal`` is empty, so closing it checkpoints nothing and the project file
    is not written; a ``-wal`` holding a writer's commits is left to the next writer.
    """
    wal, shm = _wal_files(path)
    try:
        if not shm.exists() or (wal.exists() and wal.stat().st_size):
            return
        conn = sqlite3.connect(str(path), isolation_level=None)
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # reads the file: the WAL is opened
        finally:
            conn.close()  # the last connection: SQLite deletes -wal and -shm
    except (sqlite3.Error, OSError) as exc:  # a read-only folder, a vanished file: leave them
        log.debug("left the reader's WAL files of %s: %s", path, exc)


def _close_reader(conn: sqlite3.Connection, path: Path) -> None:
    conn.close()
    _drop_reader_files(path)


def _read_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(
            "not an annotator_widgets project (not a readable SQLite file)",
            given=str(path),
            hint="pick the .awp file a Project.create() made; a damaged one cannot be read",
        ) from exc
    if row is None:
        raise ProjectError(
            "not an annotator_widgets project (no schema version)",
            given=str(path),
            hint="pick the .awp file a Project.create() made",
        )
    return int(row[0])


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


class Store:
    """An open store file. Use :meth:`create` or :meth:`open`; all methods are thread safe."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: FileLock | None, schema: Schema) -> None:
        self.path = path
        self.readonly = lock is None
        self.schema = Schema(schema.version, (META, HISTORY, CHANGES, *schema.tables))
        self._conn: sqlite3.Connection | None = conn
        self._file_lock = lock
        self._lock = threading.RLock()
        self._depth = 0
        self._rollbacks = 0  # a rollback takes rows back without counting as a change: see revision
        self._journal = ChangeJournal()  # the rows written, for caches that re-read only those: see changes_since
        self._undo = UndoLog(conn, self.schema, self._read, self._write)
        self._close_reader: weakref.finalize[Any, Any] | None = None

    def _reader_cleanup(self, conn: sqlite3.Connection) -> None:
        """Close a reader at :meth:`close` (or at exit if never closed), then drop the empty WAL files."""
        self._close_reader = weakref.finalize(self, _close_reader, conn, self.path)

    # ------------------------------------------------------------------ open / create / close
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        schema: Schema,
        meta: Mapping[str, str] | None = None,
        *,
        overwrite: bool = False,
    ) -> Store:
        """Create a new store file with ``schema`` and the metadata ``meta``, all in one transaction."""
        p = Path(path)
        if p.exists() and not overwrite:
            raise ProjectError(
                "project file already exists",
                given=str(p),
                hint="use Project.open() to continue it, or pass overwrite=True",
            )
        lock = FileLock(str(p) + ".lock")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()  # before deleting anything: nobody may be writing the file we replace
        except OSError as exc:
            raise file_error(exc, "project", p, ProjectError) from exc
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(str(p) + suffix).unlink(missing_ok=True)
            conn = _connect(p, readonly=False)
            full = Schema(schema.version, (META, HISTORY, CHANGES, *schema.tables))
            conn.execute("BEGIN IMMEDIATE")
            for sql in full.create_sql():
                conn.execute(sql)
            values = {"schema_version": str(schema.version), **(meta or {})}
            conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", list(values.items()))
            conn.execute("COMMIT")
        except BaseException:
            lock.release()
            raise
        return cls(p, conn, lock, schema)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        schema: Schema,
        *,
        migrations: Sequence[Migration] = (),
        readonly: bool = False,
    ) -> Store:
        """Open an existing store, upgrading an older file with ``migrations`` first (see :func:`.upgrade`).

        ``readonly=True`` takes no lock and never writes; an older file then raises :class:`ProjectError`
        saying it needs an upgrade.
        """
        p = Path(path)
        if not p.is_file():
            raise ProjectError(
                "project file not found", given=str(p), hint="create it with Project.create(path, video)"
            )
        lock = None if readonly else FileLock(str(p) + ".lock")
        if lock:
            try:
                lock.acquire()
            except OSError as exc:  # the lock file cannot be made next to the project (a read-only folder)
                err = file_error(exc, "project's lock file", str(p) + ".lock", ProjectError)
                raise ProjectError(err.message, given=err.given, hint=f"{err.hint}; or open it readonly=True") from exc
        conn = None
        try:
            conn = _connect(p, readonly=readonly)
            found = _read_version(conn, p)
            if found != schema.version:
                upgrade(conn, p, found, schema.version, migrations, readonly=readonly)
        except BaseException:
            if conn is not None:
                conn.close()
            if lock:
                lock.release()
            raise
        store = cls(p, conn, lock, schema)
        if readonly:
            store._reader_cleanup(conn)
        return store

    def close(self) -> None:
        """Checkpoint the WAL, close the database and release the write lock; a reader drops the empty WAL files
        when it is the last connection out."""
        with self._lock:
            if self._conn is None:
                return
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if self._close_reader is not None:
                self._close_reader()
            else:
                self._conn.close()
            self._conn = None
            if self._file_lock:
                self._file_lock.release()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._conn is None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError("project is closed", given=str(self.path), hint="open it again with Project.open()")
        return self._conn

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of a SELECT (rows give values by column name or position)."""
        with self._lock:
            return self._db().execute(sql, tuple(args)).fetchall()

    def query_one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a SELECT, or None."""
        with self._lock:
            return self._db().execute(sql, tuple(args)).fetchone()

    def pages(
        self, sql: str, start: int, stop: int, args: Sequence[Any] = (), frames_per_page: int = 256
    ) -> Iterator[list[sqlite3.Row]]:
        """Run ``sql`` - whose first two parameters are ``frame>=? AND frame<?``, then ``args`` - one window of
        frames at a time, so long videos stream in constant memory and other threads get the lock between pages."""
        for lo in range(start, stop, frames_per_page):
            with self._lock:
                rows = self._db().execute(sql, (lo, min(stop, lo + frames_per_page), *args)).fetchall()
            yield rows

    def get(self, table: str, key: Sequence[Any]) -> sqlite3.Row | None:
        """The row of ``table`` with this key, or None (a lookup never creates anything)."""
        t = self.schema.table(table)
        return self.query_one(f"SELECT {t.column_list} FROM {t.name} WHERE {t.key_where}", key)

    def records(self, table: str, where: str = "", args: Sequence[Any] = (), order: str = "") -> list[Any]:
        """Rows of ``table`` (``WHERE where ORDER BY order``), decoded by the table's ``decode`` hook."""
        t = self.schema.table(table)
        if t.decode is None:
            raise ProjectError(f"table {table} declares no decode hook", given=table)
        sql = f"SELECT {t.column_list} FROM {t.name}" + (f" WHERE {where}" if where else "")
        sql += f" ORDER BY {order}" if order else ""
        return [t.decode(r) for r in self.query(sql, args)]

    @property
    def revision(self) -> tuple[int, int, int]:
        """A value that changes whenever the stored rows may have: after every row written through this store
        (committed or not), every rolled-back transaction and - read-only, where another process may be the
        writer - every commit by another connection. Caches of reads keep the revision they read at and read
        again when it differs (no query for a writer; ``PRAGMA data_version`` when read-only)."""
        with self._lock:
            db = self._db()
            other = int(db.execute("PRAGMA data_version").fetchone()[0]) if self.readonly else 0
            return db.total_changes, self._rollbacks, other

    @property
    def change_mark(self) -> tuple[int, int]:
        """Where the rows written so far end, for a later :meth:`changes_since` (read it before reading rows:
        a row written after it is then named by :meth:`changes_since`, even if the read saw it already)."""
        with self._lock:
            db = self._db()
            other = int(db.execute("PRAGMA data_version").fetchone()[0]) if self.readonly else 0
            return self._journal.mark, other

    def changes_since(self, mark: tuple[int, int]) -> list[JournalEntry] | None:
        """``(table, key)`` of each row written through this store since ``mark`` (:attr:`change_mark`), oldest
        first, repeats kept: changes, undos, redos and the rows of rolled-back transactions (re-read, they are as
        before). ``key`` None: any row of that table may have changed (a write of many cache rows at once). None
        when that is not known: the journal no longer reaches back to ``mark``, or (read-only) another connection
        committed meanwhile. A cache that re-reads the named rows is then as true as a fresh read."""
        with self._lock:
            now = self.change_mark
            if now[1] != mark[1]:
                return None
            return self._journal.since(mark[0])

    def count(self, table: str) -> int:
        """Number of rows in ``table``."""
        row = self.query_one(f"SELECT count(*) FROM {self.schema.table(table).name}")
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        """A stored metadata value (JSON text by convention), or None."""
        row = self.query_one("SELECT value FROM meta WHERE key=?", (key,))
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def transaction(self, label: str | None = "edit") -> Iterator[None]:
        """One atomic transaction; changes inside are one undo step named ``label``.

        Nested transactions join the outer one. ``label=None`` records no history (unless a group is open).
        """
        with self._lock:
            db = self._db()
            if self.readonly:
                raise ProjectError(
                    "project is open read-only", given=str(self.path), hint="open it with Project.open(path) to edit"
                )
            outer = self._depth == 0
            if outer:
                db.execute("BEGIN IMMEDIATE")
                begun = self._journal.mark
            self._depth += 1
            own_group = False
            try:
                if label is not None and self._undo.group is None:
                    own_group = True  # started inside the try: a failure here is rolled back too
                    self._undo.start(str(label))
                yield
                if own_group:
                    self._undo.finish()
            except BaseException as exc:
                self._depth -= 1
                if outer:
                    self._rollbacks += 1
                    self._journal.rolled_back(begun)
                if outer and db.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    db.execute("ROLLBACK")
                if own_group:  # its history row was rolled back with everything else
                    self._undo.abandon()
                if outer and _is_store_failure(exc):
                    raise _store_error(exc, self.path) from exc
                raise
            self._depth -= 1
            if outer:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollbacks += 1
                    self._journal.rolled_back(begun)
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise _store_error(exc, self.path) from exc

    @contextlib.contextmanager
    def group(self, label: str) -> Iterator[None]:
        """One undo step that may span many transactions (e.g. a propagation).

        Each write inside still commits on its own, so a crash keeps every committed part; undo reverts
        all of them together.
        """
        with self._lock:
            own = self._undo.group is None
            if own:
                with self.transaction(None):
                    self._undo.start(label)
        try:
            yield
        finally:
            if own:
                with self._lock, self.transaction(None):
                    self._undo.finish()

    def _in_transaction(self) -> sqlite3.Connection:
        db = self._db()
        if self._depth == 0:
            raise ProjectError("a write outside a transaction", hint="wrap it in `with store.transaction(label):`")
        return db

    def _read(self, table: Table, key: Row) -> Row | None:
        row = (
            self._db().execute(f"SELECT {table.column_list} FROM {table.name} WHERE {table.key_where}", key).fetchone()
        )
        return None if row is None else tuple(row)

    def _write(self, table: Table, key: Row, row: Row | None) -> None:
        db = self._db()
        self._journal.record(table.name, key)  # (before: a write that fails half-way is named too)
        if row is None:
            db.execute(f"DELETE FROM {table.name} WHERE {table.key_where}", key)
        else:
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT OR REPLACE INTO {table.name}({table.column_list}) VALUES ({marks})", row)

    def _set(self, table: Table, key: Row, row: Row | None) -> bool:
        self._in_transaction()
        before = self._read(table, key)
        if before == row:
            return False
        self._undo.record(table, key, before)
        self._write(table, key, row)
        return True

    def put(self, table: str, values: Mapping[str, Any] | RowLike) -> bool:
        """Insert or replace one row given by column name (inside a transaction); False when nothing changed."""
        t = self.schema.table(table)
        row = t.row(values)
        return self._set(t, t.key_of(dict(zip(t.names, row, strict=True))), row)

    def delete(self, table: str, key: Sequence[Any]) -> bool:
        """Delete one row (inside a transaction); False when there was none."""
        return self._set(self.schema.table(table), tuple(key), None)

    def delete_where(self, table: str, where: str = "", args: Sequence[Any] = ()) -> int:
        """Delete the rows matching ``where`` from a table that is not undoable (a cache); returns how many."""
        t = self.schema.table(table)
        if t.undoable:
            raise ProjectError(f"delete_where() would bypass the undo log of {table}", hint="use delete() per row")
        cur = self._in_transaction().execute(
            f"DELETE FROM {t.name}" + (f" WHERE {where}" if where else ""), tuple(args)
        )
        self._journal.record(t.name, None)
        return cur.rowcount

    def put_rows(self, table: str, rows: Iterable[Sequence[Any]]) -> int:
        """Insert or replace many rows - each a sequence of every column's value in declaration order - of a
        table that is not undoable (a cache), in one statement; returns how many.

        Unlike :meth:`put` it neither reads the rows it replaces nor logs them, so it is refused for undoable tables.
        """
        t = self.schema.table(table)
        if t.undoable:
            raise ProjectError(f"put_rows() would bypass the undo log of {table}", hint="use put() per row")
        values = [tuple(r) for r in rows]
        width = len(t.columns)
        wrong = [r for r in values if len(r) != width]
        if wrong:
            raise ProjectError(f"a row of {table} needs {width} values ({t.column_list})", given=wrong[0])
        if values:
            marks = ", ".join("?" * width)
            self._in_transaction().executemany(
                f"INSERT OR REPLACE INTO {t.name}({t.column_list}) VALUES ({marks})", values
            )
            self._journal.record(t.name, None)
        return len(values)

    def remove(self, table: str, key: Sequence[Any]) -> bool:
        """Delete one row and follow the schema's references to it: referencing rows are deleted (again
        following their references) or have the referencing column set to NULL, as each column declares."""
        t = self.schema.table(table)
        db = self._in_transaction()
        if len(t.key) == 1:
            for child, col in self.schema.references_to(table):
                rows = db.execute(f"SELECT {child.column_list} FROM {child.name} WHERE {col.name}=?", (key[0],))
                for r in rows.fetchall():
                    if col.on_remove == "delete":
                        self.remove(child.name, child.key_of(r))
                    else:
                        self.put(child.name, {**dict(zip(child.names, r, strict=True)), col.name: None})
        return self.delete(table, key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a metadata value (not undoable); joins the current transaction if there is one."""
        with self.transaction(None):
            self._db().execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            self._journal.record(META.name, (key,))

    def reserve_id(self, counter: str, wanted: int | None = None) -> int:
        """A fresh id from the counter ``next_<counter>_id`` (or ``wanted``), never handed out again.

        The counter lives in the metadata, outside the undo log, so undoing a creation never frees its id.
        """
        with self.transaction(None):
            key = f"next_{counter}_id"
            nxt = int(self.get_meta(key) or 1)
            out = nxt if wanted is None else int(wanted)
            self._db().execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(max(nxt, out + 1))))
            self._journal.record(META.name, (key,))
        return out

    # ------------------------------------------------------------------ undo / redo
    def undo(self) -> str | None:
        """Revert the latest applied step; returns its label, or None if there is none."""
        with self._lock, self.transaction(None):
            return self._undo.step(undo=True)

    def redo(self) -> str | None:
        """Re-apply the earliest undone step; returns its label, or None if there is none."""
        with self._lock, self.transaction(None):
            return self._undo.step(undo=False)

    @property
    def can_undo(self) -> bool:
        """True when :meth:`undo` has a step to revert."""
        with self._lock:
            self._db()
            return self._undo.has("done")

    @property
    def can_redo(self) -> bool:
        """True when :meth:`redo` has a step to re-apply."""
        with self._lock:
            self._db()
            return self._undo.has("undone")

    def history(self) -> list[HistoryEntry]:
        """All recorded steps, oldest first."""
        with self._lock:
            self._db()
            return self._undo.entries()
