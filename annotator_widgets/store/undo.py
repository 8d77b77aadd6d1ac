"""The undo log: row images grouped into steps, undone and redone by swapping them with the current rows.

Every write to an undoable table inside a group stores the row's previous image once per group (the
first time the row is touched). Undo swaps each stored image with the row now in the table, newest
first; redo is the same swap run oldest first. A group may span many transactions (a propagation
commits frame by frame), so a crash keeps every committed part and the partial step still undoes.

Images are JSON objects keyed by column name (``bytes`` as ``{"b": base64}``), so a column added in
a later schema only needs a declared default to read older images.

Example:
    >>> from annotator_widgets.store.undo import decode_image, encode_image
    >>> text = encode_image({"frame": 3, "landmarks": b"\\x00\\x01", "score": None})
    >>> text
    '{"frame": 3, "landmarks": {"b": "AAE="}, "score": null}'
    >>> decode_image(text)
    {'frame': 3, 'landmarks': b'\\x00\\x01', 'score': None}
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .tables import Column, Index, Schema, Table

__all__ = ["CHANGES", "HISTORY", "HistoryEntry", "UndoLog", "decode_image", "encode_image"]

HISTORY = Table(
    "history",
    (
        Column("grp", "INTEGER"),
        Column("label", "TEXT"),
        Column("state", "TEXT", check="state IN ('done', 'undone')"),
    ),
    key=("grp",),
    undoable=False,
)
CHANGES = Table(
    "changes",
    (
        Column("id", "INTEGER"),
        Column("grp", "INTEGER"),
        Column("tbl", "TEXT"),
        Column("key", "TEXT"),
        Column("image", "TEXT", nullable=True),
    ),
    key=("id",),
    indexes=(Index("changes_by_group", ("grp", "id")),),
    undoable=False,
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class HistoryEntry:
    """One undoable step: ``label`` and whether it is currently applied."""

    group: int
    label: str
    done: bool
    changes: int


def encode_image(values: Mapping[str, Any] | None) -> str | None:
    """A row image as JSON text (None for "no row")."""
    if values is None:
        return None
    return json.dumps(
        {k: {"b": base64.b64encode(v).decode()} if isinstance(v, bytes) else v for k, v in values.items()}
    )


def decode_image(text: str | None) -> dict[str, Any] | None:
    """The ``{column: value}`` dict of an image made by :func:`encode_image`."""
    if text is None:
        return None
    data = json.loads(text)
    return {k: base64.b64decode(v["b"]) if isinstance(v, dict) else v for k, v in data.items()}


class UndoLog:
    """The history of one open store.

    Args:
        conn: The store's connection; every method runs inside the store's transaction.
        schema: The tables, to turn images back into rows.
        read: ``read(table, key)`` -> the current row tuple or None.
        write: ``write(table, key, row)`` writes (or, with None, deletes) a row without logging it.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        schema: Schema,
        read: Callable[[Table, Row], Row | None],
        write: Callable[[Table, Row, Row | None], None],
    ) -> None:
        self._conn = conn
        self._schema = schema
        self._read = read
        self._write = write
        self.group: int | None = None
        self._keys: set[tuple[str, str]] = set()

    def start(self, label: str) -> None:
        """Open a new step; it discards the redo stack."""
        undone = [r[0] for r in self._conn.execute("SELECT grp FROM history WHERE state='undone'")]
        if undone:
            marks = ",".join("?" * len(undone))
            self._conn.execute(f"DELETE FROM changes WHERE grp IN ({marks})", undone)
            self._conn.execute(f"DELETE FROM history WHERE grp IN ({marks})", undone)
        cur = self._conn.execute("INSERT INTO history(label, state) VALUES (?, 'done')", (label,))
        self.group = cur.lastrowid
        self._keys = set()

    def finish(self) -> None:
        """Close the open step, dropping it when it changed nothing."""
        grp, self.group, self._keys = self.group, None, set()
        if grp is None:
            return
        n = self._conn.execute("SELECT count(*) FROM changes WHERE grp=?", (grp,)).fetchone()[0]
        if n == 0:
            self._conn.execute("DELETE FROM history WHERE grp=?", (grp,))

    def abandon(self) -> None:
        """Forget the open step (its rows were rolled back with the transaction)."""
        self.group, self._keys = None, set()

    def record(self, table: Table, key: Row, before: Row | None) -> None:
        """Log ``before`` as the image of ``key`` in the open step (only its first change counts)."""
        if self.group is None or not table.undoable:
            return
        key_text = json.dumps(list(key))
        if (table.name, key_text) in self._keys:
            return
        self._keys.add((table.name, key_text))
        image = None if before is None else dict(zip(table.names, before, strict=True))
        self._conn.execute(
            "INSERT INTO changes(grp, tbl, key, image) VALUES (?, ?, ?, ?)",
            (self.group, table.name, key_text, encode_image(image)),
        )

    def step(self, undo: bool) -> str | None:
        """Undo the latest done step (or redo the earliest undone one); its label, or None if there is none."""
        state, new_state, order = ("done", "undone", "DESC") if undo else ("undone", "done", "ASC")
        row = self._conn.execute(
            f"SELECT grp, label FROM history WHERE state=? ORDER BY grp {order} LIMIT 1", (state,)
        ).fetchone()
        if row is None:
            return None
        grp = row[0]
        changes = self._conn.execute(
            f"SELECT id, tbl, key, image FROM changes WHERE grp=? ORDER BY id {order}", (grp,)
        ).fetchall()
        for cid, tbl, key_text, image in changes:
            table = self._schema.table(tbl)
            key = tuple(json.loads(key_text))
            current = self._read(table, key)
            values = decode_image(image)
            self._write(table, key, None if values is None else table.row(values))
            now = None if current is None else dict(zip(table.names, current, strict=True))
            self._conn.execute("UPDATE changes SET image=? WHERE id=?", (encode_image(now), cid))
        self._conn.execute("UPDATE history SET state=? WHERE grp=?", (new_state, grp))
        return str(row[1])

    def has(self, state: str) -> bool:
        """True when a step in ``state`` (``"done"`` or ``"undone"``) exists."""
        return self._conn.execute("SELECT 1 FROM history WHERE state=? LIMIT 1", (state,)).fetchone() is not None

    def entries(self) -> list[HistoryEntry]:
        """All recorded steps, oldest first."""
        rows = self._conn.execute(
            "SELECT h.grp, h.label, h.state, (SELECT count(*) FROM changes c WHERE c.grp=h.grp) "
            "FROM history h ORDER BY h.grp"
        ).fetchall()
        return [HistoryEntry(g, label, state == "done", n) for g, label, state, n in rows]
