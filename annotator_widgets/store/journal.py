"""Which rows a store wrote: a bounded journal of ``(table, key)`` so caches of reads can re-read only those.

:class:`~.store.Store` records the key of every row it writes - a change, an undo or redo
replaying one - and ``(table, None)`` for a write of many rows of a cache table at once (any
row of it may have changed). A rolled-back transaction's rows are named again when it rolls
back (a reader inside it may have seen them; re-read, they are as before). A cache keeps the
:attr:`ChangeJournal.mark` it read at and later asks :meth:`ChangeJournal.since` for the keys
written after it; None means the journal no longer reaches back that far (read everything again).

Example:
    >>> journal = ChangeJournal(max_entries=3)
    >>> mark = journal.mark
    >>> journal.record("masks", (4, 1)); journal.record("objects", (1,))
    >>> journal.since(mark)
    [('masks', (4, 1)), ('objects', (1,))]
    >>> journal.since(journal.mark)
    []
    >>> for f in range(3):
    ...     journal.record("masks", (f, 1))
    >>> journal.since(mark) is None  # 5 rows written, 3 remembered
    True
    >>> mark = journal.mark
    >>> journal.record("masks", (7, 1)); journal.rolled_back(mark)  # taken back: named again after the write
    >>> journal.since(mark + 1)
    [('masks', (7, 1))]
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["ChangeJournal", "JournalEntry"]

#: ``(table, key)`` of one row written; ``key`` None: any row of the table
JournalEntry = tuple[str, "tuple[Any, ...] | None"]


class ChangeJournal:
    """The latest ``max_entries`` rows written, in order (not thread safe: the store calls it under its lock).

    Args:
        max_entries: How many entries are remembered; older marks then get None from :meth:`since`.
    """

    def __init__(self, max_entries: int = 1 << 14) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max(1, int(max_entries)))
        self._written = 0
        self._floor = 0  # marks below it are unknown (see rolled_back)

    @property
    def mark(self) -> int:
        """How many rows were written so far (the position a later :meth:`since` starts from)."""
        return self._written

    def record(self, table: str, key: tuple[Any, ...] | None) -> None:
        """Note one row written (``key`` None: any rows of ``table``)."""
        self._entries.append((table, None if key is None else tuple(key)))
        self._written += 1

    def rolled_back(self, mark: int) -> None:
        """The rows written since ``mark`` were taken back (a rollback): name them again, as written now - a
        reader may have seen them before - or, when they are no longer known, make every earlier mark unknown."""
        entries = self.since(mark)
        if entries is None:
            self._floor = self._written + 1  # (past every mark handed out so far)
            self._written += 1
            return
        for table, key in entries:
            self.record(table, key)

    def since(self, mark: int) -> list[JournalEntry] | None:
        """The rows written after ``mark``, oldest first (repeats kept); None when they are no longer all known."""
        count = self._written - int(mark)
        if count < 0 or count > len(self._entries) or int(mark) < self._floor:
            return None
        return [self._entries[-i] for i in range(count, 0, -1)]  # (a deque reads near its ends in O(1))
