"""The generic transactional store under :class:`~annotator_widgets.Project`.

- :mod:`.tables`: one declaration per table (columns, key, indexes, references, undoable).
- :mod:`.store`: :class:`Store` - open/create, WAL, transactions, groups, undo/redo, paging.
- :mod:`.undo`: the row-image undo log.
- :mod:`.lock`: the single-writer ``flock``.
- :mod:`.migrations`: schema versions and the safe in-place upgrade.

It needs only the standard library and knows nothing about annotations.
"""

from .migrations import Migration, backup_path, create_table, rebuild_table, rewrite_images
from .store import Store
from .tables import Column, Index, RowLike, Schema, Table
from .undo import HistoryEntry

__all__ = [
    "Column",
    "HistoryEntry",
    "Index",
    "Migration",
    "RowLike",
    "Schema",
    "Store",
    "Table",
    "backup_path",
    "create_table",
    "rebuild_table",
    "rewrite_images",
]
