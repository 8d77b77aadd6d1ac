"""The generic store on a toy schema: declarations, transactions, groups, undo, references, lock, migrations."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotator_widgets.errors import ProjectError
from annotator_widgets.store import Column, Index, Migration, Schema, Store, Table, rebuild_table
from annotator_widgets.store.undo import encode_image

PARENTS = Table("parents", (Column("pid", "INTEGER"), Column("name", "TEXT")), key=("pid",))
CHILDREN = Table(
    "children",
    (Column("frame", "INTEGER"), Column("pid", "INTEGER", references="parents"), Column("note", "TEXT", default="")),
    key=("frame", "pid"),
    indexes=(Index("children_by_parent", ("pid", "frame")),),
    without_rowid=True,
)
LINKS = Table(
    "links",
    (Column("lid", "INTEGER"), Column("pid", "INTEGER", nullable=True, references="parents", on_remove="null")),
    key=("lid",),
)
CACHE = Table("cache", (Column("k", "TEXT"), Column("v", "BLOB")), key=("k",), undoable=False, without_rowid=True)
SCHEMA = Schema(1, (PARENTS, CHILDREN, LINKS, CACHE))
ROOT = Path(__file__).parent.parent


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "s.db", SCHEMA, {"hello": "world"}) as s:
        yield s


def _rows(store: Store, table: str) -> list[tuple]:
    t = store.schema.table(table)
    return [tuple(r) for r in store.query(f"SELECT {t.column_list} FROM {table} ORDER BY {', '.join(t.key)}")]


# ---------------------------------------------------------------------- declarations
def test_a_declaration_yields_the_sql_and_the_rows():
    assert CHILDREN.create_sql() == [
        "CREATE TABLE children(frame INTEGER NOT NULL, pid INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '', "
        "PRIMARY KEY(frame, pid)) WITHOUT ROWID",
        "CREATE INDEX children_by_parent ON children(pid, frame)",
    ]
    assert LINKS.create_sql() == ["CREATE TABLE links(lid INTEGER PRIMARY KEY, pid INTEGER)"]
    assert CHILDREN.row({"pid": 2, "frame": 5}) == (5, 2, "")
    assert CHILDREN.key_of({"pid": 2, "frame": 5, "note": "x"}) == (5, 2)
    with pytest.raises(ProjectError, match="no such column"):
        CHILDREN.row({"frame": 1, "pid": 1, "colour": 3})
    with pytest.raises(ProjectError, match="needs a value for 'pid'"):
        CHILDREN.row({"frame": 1})


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Table("t", (Column("a", "TEXT"), Column("a", "TEXT")), key=("a",)), "column twice"),
        (lambda: Table("t", (Column("a", "TEXT"),), key=("b",)), "must name its columns"),
        (lambda: Table("t", (Column("a", "TEXT"),), key=("a",), indexes=(Index("i", ("z",)),)), "must name"),
        (lambda: Schema(1, (Table("t", (Column("a", "TEXT", references="nope"),), key=("a",)),)), "unknown table"),
        (lambda: Schema(1, (PARENTS, PARENTS)), "table twice"),
        (lambda: Column("a", "TEXT", default=[1]).sql(), "default must be"),
    ],
)
def test_bad_declarations_are_refused(make, fragment):
    with pytest.raises(ProjectError, match=fragment):
        make()


# ---------------------------------------------------------------------- create / open
def test_create_writes_the_schema_and_meta_and_refuses_to_clobber(tmp_path):
    path = tmp_path / "s.db"
    with Store.create(path, SCHEMA, {"hello": "world"}) as s:
        assert s.get_meta("schema_version") == "1" and s.get_meta("hello") == "world"
        with s.transaction("p"):
            s.put("parents", {"pid": 1, "name": "a"})
    with pytest.raises(ProjectError, match="already exists"):
        Store.create(path, SCHEMA)
    with Store.open(path, SCHEMA) as s:
        assert _rows(s, "parents") == [(1, "a")]
    with Store.create(path, SCHEMA, overwrite=True) as s:
        assert s.count("parents") == 0
    held = Store.open(path, SCHEMA)
    with pytest.raises(ProjectError, match="already open for writing"):
        Store.create(path, SCHEMA, overwrite=True)  # the lock comes before deleting anything
    held.close()


def test_transactions_roll_back_and_nest(store):
    with pytest.raises(RuntimeError), store.transaction("two"):
        store.put("parents", {"pid": 1, "name": "a"})
        with store.transaction("inner"):
            store.put("parents", {"pid": 2, "name": "b"})
        raise RuntimeError("boom")
    assert store.count("parents") == 0 and store.history() == []
    with store.transaction("outer"):
        store.put("parents", {"pid": 1, "name": "a"})
        with store.transaction("inner"):
            store.put("parents", {"pid": 2, "name": "b"})
    assert [h.label for h in store.history()] == ["outer"] and store.history()[0].changes == 2
    with pytest.raises(ProjectError, match="outside a transaction"):
        store.put("parents", {"pid": 3, "name": "c"})


def test_groups_span_transactions_and_undo_redo_swap_rows(store):
    with store.transaction("first"):
        store.put("parents", {"pid": 1, "name": "a"})
    with store.group("many"):
        for i in range(2, 6):
            with store.transaction("ignored inside a group"):
                store.put("parents", {"pid": i, "name": str(i)})
                store.put("parents", {"pid": 1, "name": f"a{i}"})  # the first image of pid 1 is kept
    assert [(h.label, h.changes) for h in store.history()] == [("first", 1), ("many", 5)]
    assert store.undo() == "many" and _rows(store, "parents") == [(1, "a")]
    assert store.redo() == "many" and _rows(store, "parents") == [(1, "a5"), (2, "2"), (3, "3"), (4, "4"), (5, "5")]
    store.undo()
    assert store.can_redo
    with store.transaction("new step"):  # drops the redo stack
        store.put("parents", {"pid": 9, "name": "z"})
    assert not store.can_redo and [h.label for h in store.history()] == ["first", "new step"]
    assert store.redo() is None
    with store.transaction("no change"):
        store.put("parents", {"pid": 9, "name": "z"})
    assert [h.label for h in store.history()] == ["first", "new step"]  # a step that changed nothing is dropped


def test_remove_follows_references_as_declared_and_undoes_as_one_step(store):
    with store.transaction("setup"):
        store.put("parents", {"pid": 1, "name": "a"})
        store.put("parents", {"pid": 2, "name": "b"})
        for f in range(3):
            store.put("children", {"frame": f, "pid": 1, "note": f"n{f}"})
        store.put("children", {"frame": 0, "pid": 2})
        store.put("links", {"lid": 10, "pid": 1})
        store.put("links", {"lid": 11, "pid": 2})
    before = {t: _rows(store, t) for t in ("parents", "children", "links")}
    with store.transaction("remove a"):
        assert store.remove("parents", (1,))
    assert _rows(store, "parents") == [(2, "b")]
    assert _rows(store, "children") == [(0, 2, "")]
    assert _rows(store, "links") == [(10, None), (11, 2)]  # on_remove="null" keeps the row, unlinked
    assert store.undo() == "remove a"
    assert {t: _rows(store, t) for t in before} == before


def test_a_table_that_is_not_undoable_stays_out_of_the_history(store):
    with store.group("work"), store.transaction(None):
        store.put("cache", {"k": "a", "v": b"\x00\x01"})
        store.put("parents", {"pid": 1, "name": "a"})
    assert store.history()[0].changes == 1
    store.undo()
    assert store.count("parents") == 0 and _rows(store, "cache") == [("a", b"\x00\x01")]
    with store.transaction(None):
        assert store.delete_where("cache", "k=?", ("a",)) == 1
        with pytest.raises(ProjectError, match="bypass the undo log"):
            store.delete_where("parents")


def test_put_rows_writes_many_cache_rows_at_once_and_refuses_undoable_tables(store):
    with store.transaction(None):
        store.put("cache", {"k": "a", "v": b"old"})
        assert store.put_rows("cache", [("a", b"new"), ("b", b"\x02")]) == 2  # replaces a, adds b
        assert store.put_rows("cache", []) == 0
        with pytest.raises(ProjectError, match="needs 2 values"):
            store.put_rows("cache", [("c",)])
        with pytest.raises(ProjectError, match="bypass the undo log"):
            store.put_rows("parents", [(1, "a")])
    assert _rows(store, "cache") == [("a", b"new"), ("b", b"\x02")] and not store.can_undo
    with pytest.raises(ProjectError, match="outside a transaction"):
        store.put_rows("cache", [("z", b"")])


def test_ids_from_a_counter_are_never_reused_even_after_undo(store):
    with store.transaction("add"):
        first = store.reserve_id("parent")
        store.put("parents", {"pid": first, "name": "a"})
    store.undo()
    with store.transaction("add"):
        assert store.reserve_id("parent") == first + 1
        assert store.reserve_id("parent", wanted=10) == 10
        assert store.reserve_id("parent") == 11


def test_an_older_image_without_a_new_column_undoes_with_its_default(store):
    with store.transaction("add"):
        store.put("parents", {"pid": 1, "name": "a"})
        store.put("children", {"frame": 0, "pid": 1, "note": "new"})
    grp = store.history()[0].group
    # an image written before `note` existed: the column's declared default fills it
    store.query("UPDATE changes SET image=? WHERE tbl='children'", (encode_image({"frame": 0, "pid": 1}),))
    store.query(  # and a row that step deleted, imaged the same way
        "INSERT INTO changes(grp, tbl, key, image) VALUES (?, 'children', '[7, 1]', ?)",
        (grp, encode_image({"frame": 7, "pid": 1})),
    )
    store.undo()
    assert _rows(store, "children") == [(0, 1, ""), (7, 1, "")]


def test_readonly_and_closed_stores_refuse_writes(tmp_path, store):
    reader = Store.open(store.path, SCHEMA, readonly=True)
    with pytest.raises(ProjectError, match="read-only"), reader.transaction("x"):
        pass
    reader.close()
    store.close()
    with pytest.raises(ProjectError, match="closed"):
        store.count("parents")
    with pytest.raises(ProjectError, match="not found"):
        Store.open(tmp_path / "nope.db", SCHEMA)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _written(store: Store, path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_a_reader_leaves_no_wal_files_and_still_sees_a_live_writer(tmp_path, store):
    with store.transaction("a"):
        store.put("parents", {"pid": 1, "name": "a"})
    store.close()
    before, file = _listing(tmp_path), _written(store, store.path)
    assert before == ["s.db", "s.db.lock"]
    with Store.open(store.path, SCHEMA, readonly=True) as reader:
        assert reader.count("parents") == 1
        assert (tmp_path / "s.db-wal").exists()  # SQLite's, for a WAL reader, while it is open
    assert _listing(tmp_path) == before and _written(store, store.path) == file  # nothing left, nothing written
    # a reader that is never closed: the files go at interpreter exit
    code = (
        "import sys; from tests.test_store import *; r = Store.open(sys.argv[1], SCHEMA, readonly=True); r.count('p')"
    )
    subprocess.run([sys.executable, "-c", code.replace("'p'", "'parents'"), str(store.path)], check=True, cwd=ROOT)
    assert _listing(tmp_path) == before
    # with a live writer: the reader sees its commits; the writer's files stay while it is open
    writer = Store.open(store.path, SCHEMA)
    reader, other = (Store.open(store.path, SCHEMA, readonly=True) for _ in range(2))
    assert reader.count("parents") == other.count("parents") == 1
    with writer.transaction("b"):
        writer.put("parents", {"pid": 2, "name": "b"})
    assert reader.count("parents") == 2
    reader.close()
    with writer.transaction("c"):
        writer.put("parents", {"pid": 3, "name": "c"})
    assert other.count("parents") == 3 and (tmp_path / "s.db-wal").exists()
    writer.close()
    assert other.count("parents") == 3  # the other reader still reads after the writer left
    other.close()
    assert _listing(tmp_path) == before


def test_pages_stream_one_window_of_frames_at_a_time(store):
    with store.transaction("many"):
        store.put("parents", {"pid": 1, "name": "a"})
        for f in range(600):
            store.put("children", {"frame": f, "pid": 1})
    sql = "SELECT frame FROM children WHERE frame>=? AND frame<? AND pid=? ORDER BY frame"
    pages = list(store.pages(sql, 10, 600, (1,), frames_per_page=256))
    assert [len(p) for p in pages] == [256, 256, 78]
    assert [r[0] for p in pages for r in p] == list(range(10, 600))


_HOLDER = textwrap.dedent(
    """
    import sys
    from annotator_widgets.store import Column, Schema, Store, Table
    schema = Schema(1, (Table("parents", (Column("pid", "INTEGER"), Column("name", "TEXT")), key=("pid",)),))
    store = Store.open(sys.argv[1], schema)
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


def test_a_killed_writer_leaves_no_lock_behind(store):
    path = store.path
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "holding"
        with pytest.raises(ProjectError, match=f"lock held by pid {proc.pid}"):
            Store.open(path, SCHEMA)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    lock_file = Path(str(path) + ".lock")
    assert lock_file.read_text() == str(proc.pid)  # the stale file is still there ...
    Store.open(path, SCHEMA).close()  # ... and locks nobody out


# ---------------------------------------------------------------------- migrations
NOTES_V1 = Schema(1, (Table("notes", (Column("nid", "INTEGER"), Column("end", "INTEGER")), ("nid",)),))
NOTES = Table(
    "notes", (Column("nid", "INTEGER"), Column("end", "INTEGER"), Column("tag", "TEXT", default="")), ("nid",)
)
TAGS = Table("tags", (Column("tag", "TEXT"),), ("tag",))
NOTES_V2 = Schema(2, (NOTES, TAGS))


def _to_v2(conn: sqlite3.Connection) -> None:
    rebuild_table(conn, NOTES, {"end": '"end" + 1'})
    for sql in TAGS.create_sql():
        conn.execute(sql)


STEP = Migration(2, "notes get a tag; ends become excluded", _to_v2)


@pytest.fixture
def notes_v1(tmp_path) -> Path:
    path = tmp_path / "notes.db"
    with Store.create(path, NOTES_V1) as s, s.transaction("add"):
        for i in range(1, 4):
            s.put("notes", {"nid": i, "end": i * 10})
    return path


def test_an_upgrade_backs_up_then_migrates_in_one_step(notes_v1):
    original = notes_v1.read_bytes()
    with Store.open(notes_v1, NOTES_V2, migrations=[STEP]) as s:
        assert _rows(s, "notes") == [(1, 11, ""), (2, 21, ""), (3, 31, "")]
        assert s.get_meta("schema_version") == "2" and s.count("tags") == 0
    assert Path(f"{notes_v1}.v1.bak").read_bytes() == original


def test_a_newer_file_a_missing_step_and_a_reader_are_refused(notes_v1):
    for readonly in (False, True):
        with pytest.raises(ProjectError, match=r"newer annotator_widgets \(schema 1; this one reads schema 0"):
            Store.open(notes_v1, Schema(0, ()), readonly=readonly)
    with pytest.raises(ProjectError, match="no migration from schema 1 to 2"):
        Store.open(notes_v1, NOTES_V2)
    with pytest.raises(ProjectError, match="needs an upgrade to schema 2"):
        Store.open(notes_v1, NOTES_V2, migrations=[STEP], readonly=True)
    assert not Path(f"{notes_v1}.v1.bak").exists()


@pytest.mark.parametrize(
    "bad_step",
    [
        lambda conn: (_to_v2(conn), conn.execute("INSERT INTO tags VALUES (NULL)")),  # fails after the DDL
        lambda conn: (_to_v2(conn), conn.execute("COMMIT")),  # tries to commit half an upgrade
        lambda conn: conn.executescript("ALTER TABLE notes ADD COLUMN tag TEXT;"),  # commits first
    ],
    ids=["constraint", "commit", "executescript"],
)
def test_a_failing_step_leaves_the_file_byte_identical(notes_v1, bad_step):
    original = notes_v1.read_bytes()
    with pytest.raises(ProjectError, match="from schema 1 to 2 failed; the file was not changed"):
        Store.open(notes_v1, NOTES_V2, migrations=[Migration(2, "bad", bad_step)])
    assert notes_v1.read_bytes() == original
    with Store.open(notes_v1, NOTES_V1) as s:  # still a good version-1 file, and not locked
        assert _rows(s, "notes") == [(1, 10), (2, 20), (3, 30)]


def test_a_reader_pinning_the_wal_gets_a_consistent_backup_through_the_backup_api(notes_v1):
    writer = sqlite3.connect(notes_v1, isolation_level=None)
    writer.execute("INSERT INTO notes VALUES (4, 40)")  # committed, but only in the WAL
    reader = sqlite3.connect(notes_v1, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM notes").fetchone()[0] == 4  # holds the WAL snapshot
    writer.close()
    try:
        with Store.open(notes_v1, NOTES_V2, migrations=[STEP]) as s:
            assert _rows(s, "notes")[-1] == (4, 41, "")
    finally:
        reader.close()
    backup = sqlite3.connect(f"{notes_v1}.v1.bak")
    try:
        assert backup.execute('SELECT nid, "end" FROM notes ORDER BY nid').fetchall() == [
            (1, 10),
            (2, 20),
            (3, 30),
            (4, 40),
        ]
        assert backup.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    finally:
        backup.close()
