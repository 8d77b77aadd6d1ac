"""Table declarations: one :class:`Table` per table says everything the store needs to know about it.

A declaration yields the ``CREATE`` statements, the column list used by every read, write and undo image,
the key used to address one row, which columns point at rows of another table (and what removing that
row does to them), and optional record <-> row hooks. Nothing else in the package spells a column list.

Example:
    >>> from annotator_widgets.store.tables import Column, Index, Table
    >>> notes = Table(
    ...     "notes",
    ...     (Column("note_id", "INTEGER"), Column("text", "TEXT"), Column("tag", "TEXT", default="")),
    ...     key=("note_id",),
    ...     indexes=(Index("notes_by_tag", ("tag",)),),
    ... )
    >>> for sql in notes.create_sql():
    ...     print(sql)
    CREATE TABLE notes(note_id INTEGER PRIMARY KEY, text TEXT NOT NULL, tag TEXT NOT NULL DEFAULT '')
    CREATE INDEX notes_by_tag ON notes(tag)
    >>> notes.row({"note_id": 1, "text": "hi"})
    (1, 'hi', '')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import ProjectError

__all__ = ["Column", "Index", "RowLike", "Schema", "Table", "as_dict", "sql_literal"]

SQLType = Literal["INTEGER", "REAL", "TEXT", "BLOB"]
_NO_DEFAULT: Any = object()


class RowLike(Protocol):
    """A row read back from SQLite (``sqlite3.Row``) or a plain mapping: values by column name."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Any: ...


def as_dict(row: RowLike) -> dict[str, Any]:
    """A row (``sqlite3.Row`` or mapping) as a plain ``{column: value}`` dict."""
    return {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row iterates values


def sql_literal(value: Any) -> str:
    """`value` as an SQL literal (strings quoted), for column defaults."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProjectError("a column default must be a string or a number", given=value)
    return repr(value)


@dataclass(frozen=True)
class Column:
    """One column.

    Attributes:
        name: Column name.
        type: SQLite type: ``INTEGER``, ``REAL``, ``TEXT`` or ``BLOB``.
        nullable: Whether NULL is allowed.
        default: The value a row gets when a write, an older undo image or a migration does not give one;
            unset means the column must always be given.
        check: An SQL ``CHECK`` expression, or "".
        references: The table whose (single-column) key this column holds, or "".
        on_remove: What removing the referenced row does to this row: ``"delete"`` it, or set this column
            to ``"null"``.
    """

    name: str
    type: SQLType
    nullable: bool = False
    default: Any = _NO_DEFAULT
    check: str = ""
    references: str = ""
    on_remove: Literal["delete", "null"] = "delete"

    @property
    def has_default(self) -> bool:
        """True when the column declares a default value."""
        return self.default is not _NO_DEFAULT

    def sql(self) -> str:
        """The column's definition inside ``CREATE TABLE``."""
        parts = [self.name, self.type]
        if not self.nullable:
            parts.append("NOT NULL")
        if self.has_default and self.default is not None:
            parts.append(f"DEFAULT {sql_literal(self.default)}")
        if self.check:
            parts.append(f"CHECK({self.check})")
        return " ".join(parts)


@dataclass(frozen=True)
class Index:
    """A secondary index ``name`` on ``columns``."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table: its columns, key, indexes, whether its changes are undoable, and optional record hooks.

    A single ``INTEGER`` key becomes the rowid (``INTEGER PRIMARY KEY``); other keys become a
    ``PRIMARY KEY(...)`` clause, ``WITHOUT ROWID`` when ``without_rowid``.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[Index, ...] = ()
    undoable: bool = True
    without_rowid: bool = False
    decode: Callable[[RowLike], Any] | None = field(default=None, compare=False)
    encode: Callable[[Any], Mapping[str, Any]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ProjectError("a table declares a column twice", given=(self.name, names))
        missing = [k for k in self.key if k not in names]
        missing += [c for i in self.indexes for c in i.columns if c not in names]
        if not self.key or missing:
            raise ProjectError("a table's key and indexes must name its columns", given=(self.name, missing))

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in declaration order (the order of every row tuple)."""
        return tuple(c.name for c in self.columns)

    @property
    def column_list(self) -> str:
        """``"a, b, c"``: the columns for SELECT and INSERT."""
        return ", ".join(self.names)

    @property
    def key_where(self) -> str:
        """``"a=? AND b=?"`` over the key columns."""
        return " AND ".join(f"{k}=?" for k in self.key)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise ProjectError(f"table {self.name} has no column {name!r}", given=name, hint=f"use {list(self.names)}")

    def _rowid_key(self) -> bool:
        return len(self.key) == 1 and self.column(self.key[0]).type == "INTEGER" and not self.without_rowid

    def create_sql(self, name: str | None = None) -> list[str]:
        """The ``CREATE TABLE`` statement (as ``name`` if given, for a rebuild) and its ``CREATE INDEX``es."""
        name = name or self.name
        defs = []
        for c in self.columns:
            if self._rowid_key() and c.name == self.key[0]:
                defs.append(f"{c.name} INTEGER PRIMARY KEY")
            elif len(self.key) == 1 and c.name == self.key[0]:
                defs.append(f"{c.sql()} PRIMARY KEY")
            else:
                defs.append(c.sql())
        if len(self.key) > 1:
            defs.append(f"PRIMARY KEY({', '.join(self.key)})")
        tail = " WITHOUT ROWID" if self.without_rowid else ""
        stmts = [f"CREATE TABLE {name}({', '.join(defs)}){tail}"]
        stmts += [f"CREATE INDEX {i.name} ON {self.name}({', '.join(i.columns)})" for i in self.indexes]
        return stmts

    def row(self, values: Mapping[str, Any] | RowLike) -> tuple[Any, ...]:
        """The row tuple (declaration order) for ``values`` by column name; missing columns take their
        defaults, unknown names or a missing column without a default raise :class:`ProjectError`."""
        given = values if isinstance(values, Mapping) else as_dict(values)
        unknown = set(given) - set(self.names)
        if unknown:
            raise ProjectError(f"table {self.name} has no such column", given=sorted(unknown))
        out = []
        for c in self.columns:
            if c.name in given:
                out.append(given[c.name])
            elif c.has_default:
                out.append(c.default)
            else:
                raise ProjectError(f"a row of {self.name} needs a value for {c.name!r}", given=sorted(given))
        return tuple(out)

    def key_of(self, values: Mapping[str, Any] | RowLike) -> tuple[Any, ...]:
        """The key tuple of a row given by column name."""
        return tuple(values[k] for k in self.key)


@dataclass(frozen=True)
class Schema:
    """A numbered set of tables: the shape a store of this ``version`` has."""

    version: int
    tables: tuple[Table, ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ProjectError("a schema declares a table twice", given=names)
        for t in self.tables:
            for c in t.columns:
                if c.references and c.references not in names:
                    raise ProjectError(f"{t.name}.{c.name} references an unknown table", given=c.references)

    def table(self, name: str) -> Table:
        """The declaration of table ``name``."""
        for t in self.tables:
            if t.name == name:
                return t
        raise ProjectError(
            "no such table in the schema", given=name, hint=f"use one of {[t.name for t in self.tables]}"
        )

    def create_sql(self) -> list[str]:
        """Every ``CREATE`` statement of the schema, in declaration order."""
        return [sql for t in self.tables for sql in t.create_sql()]

    def references_to(self, parent: str) -> Iterator[tuple[Table, Column]]:
        """Every ``(table, column)`` that holds keys of table ``parent``."""
        for t in self.tables:
            for c in t.columns:
                if c.references == parent:
                    yield t, c
