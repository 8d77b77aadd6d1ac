"""Schema versions: upgrading an older store file in place, safely.

:func:`upgrade` runs when a writer opens a file whose ``schema_version`` is older than the code's:

1. it empties the WAL into the main file and copies that file, byte for byte, to ``<file>.v<N>.bak``
   (written under a temporary name, flushed, then renamed; the SQLite backup API is the fallback when
   a reader keeps the WAL from being emptied);
2. it runs every :class:`Migration` from ``N`` up to the code's version, and the version bump, inside
   ONE transaction: a failure (or a killed process) leaves the original file exactly as it was.

A file from a newer version is refused, never downgraded; a reader (``readonly=True``) opening an
older file is told to open it once for writing, because a reader never writes and a migration kept
only in memory would copy every mask into RAM and drift from the file on disk.

Example:
    >>> import os, sqlite3, tempfile
    >>> from annotator_widgets.store import Column, Migration, Schema, Store, Table
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.db")
    >>> v1 = Schema(1, (Table("notes", (Column("note_id", "INTEGER"), Column("text", "TEXT")), ("note_id",)),))
    >>> Store.create(path, v1).close()
    >>> v2 = Schema(2, (Table("notes", (Column("note_id", "INTEGER"), Column("text", "TEXT"),
    ...                                 Column("tag", "TEXT", default="")), ("note_id",)),))
    >>> step = Migration(2, "notes get a tag", lambda conn: rebuild_table(conn, v2.table("notes")))
    >>> with Store.open(path, v2, migrations=[step]) as store:
    ...     store.get_meta("schema_version"), os.path.exists(path + ".v1.bak")
    ('2', True)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProjectError
from .tables import Table, sql_literal

__all__ = ["Migration", "backup_path", "create_table", "rebuild_table", "rewrite_images", "upgrade"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One step: turns a version ``version - 1`` file into a version ``version`` one.

    ``apply(conn)`` runs inside the upgrade's transaction; BEGIN, COMMIT and ROLLBACK are refused there
    (so no ``executescript``, which commits first).
    """

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]


def backup_path(path: str | os.PathLike[str], version: int) -> Path:
    """Where the copy of a version-``version`` file is kept before it is upgraded: ``<file>.v<N>.bak``."""
    return Path(f"{os.fspath(path)}.v{version}.bak")


def _plan(path: Path, found: int, target: int, migrations: Sequence[Migration]) -> list[Migration]:
    if found > target:
        raise ProjectError(
            f"project was written by a newer annotator_widgets (schema {found}; this one reads schema {target} "
            "and older)",
            given=str(path),
            hint="upgrade annotator_widgets (pip install -U annotator-widgets) to open it; the file was not changed",
        )
    by_version = {m.version: m for m in migrations}
    steps = []
    for v in range(found + 1, target + 1):
        if v not in by_version:
            raise ProjectError(
                f"no migration from schema {v - 1} to {v}",
                given=str(path),
                hint=f"this annotator_widgets upgrades schema {min(by_version, default=target + 1) - 1} and later",
            )
        steps.append(by_version[v])
    return steps


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_backup(path: Path, backup: Path, *, wal_empty: bool) -> None:
    """Copy the (checkpointed) file to ``backup`` atomically; with a non-empty WAL use the backup API."""
    tmp = backup.with_name(backup.name + ".tmp")
    if wal_empty:
        shutil.copyfile(path, tmp)
    else:
        # SQLite's backup refuses a source connection in a write transaction (it answers BUSY forever), and
        # ``conn`` holds BEGIN IMMEDIATE; a second connection reads the same snapshot, since nobody else can
        # commit while that write lock is held.
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, backup)
    _fsync_dir(backup.parent)


def _no_transaction_statements(action: int, *args: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_TRANSACTION else sqlite3.SQLITE_OK


def _report_done(path: Path, found: int, target: int, backup: Path) -> None:
    log.info("upgraded %s from schema %d to %d (the old file is kept as %s)", path, found, target, backup)


def upgrade(
    conn: sqlite3.Connection,
    path: Path,
    found: int,
    target: int,
    migrations: Sequence[Migration],
    *,
    readonly: bool = False,
) -> Path:
    """Upgrade the open file ``path`` (at version ``found``) to ``target``; returns the backup's path.

    Raises:
        ProjectError: The file is newer than ``target``, a step is missing, the store is read-only,
            or a step failed (the file is then unchanged).
    """
    steps = _plan(path, found, target, migrations)
    backup = backup_path(path, found)
    if readonly:
        raise ProjectError(
            f"project uses schema {found} and needs an upgrade to schema {target} before this annotator_widgets "
            "can read it",
            given=str(path),
            hint=f"open it once for writing (Project.open(path)); that upgrades it in place and keeps the old file "
            f"as {backup.name}",
        )
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    try:
        wal = Path(str(path) + "-wal")
        wal_empty = not busy and (not wal.exists() or wal.stat().st_size == 0)
        _write_backup(path, backup, wal_empty=wal_empty)
        conn.set_authorizer(_no_transaction_statements)  # a step cannot commit half an upgrade
        try:
            for step in steps:
                log.info("migrating %s to schema %d: %s", path, step.version, step.summary)
                step.apply(conn)
                conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(step.version),))
        finally:
            conn.set_authorizer(None)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if not isinstance(exc, Exception):
            raise
        raise ProjectError(
            f"upgrading the project from schema {found} to {target} failed; the file was not changed",
            given=str(path),
            hint=f"report this error (cause: {type(exc).__name__}: {exc}); a copy of the file is at {backup}",
        ) from exc
    _report_done(path, found, target, backup)
    return backup


# ---------------------------------------------------------------------- helpers for migration steps
def create_table(conn: sqlite3.Connection, table: Table) -> None:
    """Create a table that a version adds, with its indexes, from its declaration."""
    for sql in table.create_sql():
        conn.execute(sql)


def rebuild_table(conn: sqlite3.Connection, table: Table, select: Mapping[str, str] | None = None) -> None:
    """Give an existing table the shape ``table`` declares, keeping its rows (SQLite's rebuild recipe).

    Args:
        conn: The connection, inside the upgrade's transaction.
        table: The new declaration.
        select: SQL expressions over the old columns for new or changed columns (e.g. ``{"stop": "stop + 1"}``);
            any other column is copied when the old table has it, else filled with its declared default.
    """
    old = {r[1] for r in conn.execute(f"PRAGMA table_info({table.name})")}
    exprs = []
    for c in table.columns:
        if select and c.name in select:
            exprs.append(select[c.name])
        elif c.name in old:
            exprs.append(c.name)
        elif c.has_default:
            exprs.append("NULL" if c.default is None else sql_literal(c.default))
        else:
            raise ProjectError(f"migration cannot fill the new column {table.name}.{c.name}", hint="declare a default")
    tmp = f"{table.name}__new"
    conn.execute(table.create_sql(tmp)[0])
    conn.execute(f"INSERT INTO {tmp}({table.column_list}) SELECT {', '.join(exprs)} FROM {table.name}")
    conn.execute(f"DROP TABLE {table.name}")
    conn.execute(f"ALTER TABLE {tmp} RENAME TO {table.name}")
    for sql in table.create_sql()[1:]:
        conn.execute(sql)


def rewrite_images(conn: sqlite3.Connection, tbl: str, change: Callable[[Any], Any], batch: int = 500) -> int:
    """Rewrite every stored undo image of table ``tbl`` with ``change(image)``; returns how many.

    ``change`` gets and returns the image as decoded JSON (absent rows, stored as NULL, are skipped).
    Runs in batches by id, so memory stays flat however long the history is.
    """
    last, n = 0, 0
    while True:
        rows = conn.execute(
            "SELECT id, image FROM changes WHERE tbl=? AND id>? ORDER BY id LIMIT ?", (tbl, last, batch)
        ).fetchall()
        if not rows:
            return n
        for cid, image in rows:
            if image is not None:
                conn.execute("UPDATE changes SET image=? WHERE id=?", (json.dumps(change(json.loads(image))), cid))
                n += 1
        last = rows[-1][0]
