"""How older project files become schema-2 files (run by the store when a writer opens them).

Schema 1 -> 2:

- ``objects`` gains ``meta`` (JSON, ``{}``), ``prompts`` gains ``text`` (``""``);
- ``actions.stop`` becomes the excluded end: schema 1 stored the inclusive last frame, so it gains 1;
- new tables: detections, captions, warnings, hands, embeddings;
- the undo log's row images (positional lists in schema 1) become ``{column: value}`` objects, with the
  same two changes applied, so every step of an old history still undoes and redoes exactly;
- action ids come from a counter (``next_action_id``) set above every id in the table or the history.

Example:
    >>> from annotator_widgets.project_migrations import MIGRATIONS
    >>> [(m.version, m.summary) for m in MIGRATIONS]  # doctest: +ELLIPSIS
    [(2, 'object meta, prompt text, excluded action stops, detections, captions, ...')]
"""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

from .project_schema import ACTIONS, CAPTIONS, DETECTIONS, EMBEDDINGS, HANDS, OBJECTS, PROMPTS, SCHEMA, WARNINGS
from .store.migrations import Migration, create_table, rebuild_table, rewrite_images

__all__ = ["MIGRATIONS"]

# Schema 1's columns, frozen here because its undo images are positional lists in this order.
_V1_COLUMNS = {
    "objects": ("obj_id", "name", "category", "color", "hidden"),
    "prompts": ("frame", "obj_id", "points", "box", "mask", "seq"),
    "masks": ("frame", "obj_id", "counts", "area", "score", "source"),
    "poses": ("frame", "person_id", "landmarks", "world", "score"),
    "actions": ("action_id", "start", "stop", "label", "person_id", "obj_id", "description", "score", "meta"),
}


def _image_v1_to_v2(tbl: str, image: list[Any]) -> dict[str, Any]:
    values = dict(zip(_V1_COLUMNS[tbl], image, strict=True))
    if tbl == "actions":
        values["stop"] += 1
    for c in SCHEMA.table(tbl).columns:
        if c.name not in values:
            values[c.name] = c.default
    return values


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    rebuild_table(conn, OBJECTS)
    rebuild_table(conn, PROMPTS)
    rebuild_table(conn, ACTIONS, {"stop": "stop + 1"})
    for table in (DETECTIONS, CAPTIONS, WARNINGS, HANDS, EMBEDDINGS):
        create_table(conn, table)
    for tbl in _V1_COLUMNS:
        rewrite_images(conn, tbl, functools.partial(_image_v1_to_v2, tbl))
    ids = [r[0] for r in conn.execute("SELECT action_id FROM actions")]
    ids += [json.loads(r[0])[0] for r in conn.execute("SELECT key FROM changes WHERE tbl='actions'")]
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_action_id', ?)", (str(max(ids, default=0) + 1),)
    )


MIGRATIONS = (
    Migration(
        2,
        "object meta, prompt text, excluded action stops, detections, captions, warnings, hands, embeddings",
        _v1_to_v2,
    ),
)
