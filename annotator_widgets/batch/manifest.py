"""The batch manifest: one SQLite row per video, written atomically by the process that runs the batch.

A row records what the video's results were made from (the input's size, mtime and sha256, the
settings' hash), where the work stands (``pending``, ``running``, ``done``, ``failed``), the outputs,
the error text and timings. Only the driver (the process that called :func:`~annotator_widgets.batch.run_batch`)
writes it, one transaction per change, so a killed batch leaves every row as it was last committed: a
``running`` row is a video whose run was interrupted, and the next run resumes it from its project.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> video = folder / "clip.mp4"; _ = video.write_bytes(b"not really a video")
    >>> with Manifest(folder / "manifest.sqlite") as m:
    ...     ident = m.identify(video)
    ...     m.upsert("clip", str(video), ident, "abc", status="running")
    ...     m.finish("clip", status="done", outputs=["clip/coco.json"], seconds=1.5)
    ...     row = m.get("clip")
    >>> row.status, row.outputs, row.sha256 == ident.sha256
    ('done', ['clip/coco.json'], True)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AnnotatorError

__all__ = ["STATUSES", "InputIdentity", "Manifest", "VideoRecord", "file_sha256"]

STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    sha256 TEXT,
    settings_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    outputs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    started REAL,
    finished REAL,
    seconds REAL,
    frames_computed INTEGER,
    frames_recomputed INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The sha256 of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class InputIdentity:
    """What a video file is: its size and mtime (the fast check) and its content's sha256."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class VideoRecord:
    """One manifest row."""

    key: str
    path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    settings_hash: str
    status: str
    outputs: list[str]
    error: str | None
    started: float | None
    finished: float | None
    seconds: float | None
    frames_computed: int | None
    frames_recomputed: int | None
    attempts: int


class Manifest:
    """The batch's SQLite manifest (one writer: the driver process).

    Args:
        path: The database file; its folder is created.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AnnotatorError(
                "cannot open the batch manifest",
                given=f"{self.path}: {exc}",
                hint="pass an --out folder you can write to (delete a manifest.sqlite that is not one)",
            ) from exc
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ identity
    def identify(self, video: str | os.PathLike[str]) -> InputIdentity:
        """The video's identity; the sha256 is reused from the manifest when size and mtime are unchanged."""
        st = os.stat(video)
        row = (
            self._conn_()
            .execute(
                "SELECT sha256 FROM videos WHERE path=? AND size=? AND mtime_ns=? AND sha256 IS NOT NULL",
                (str(video), st.st_size, st.st_mtime_ns),
            )
            .fetchone()
        )
        sha = row[0] if row else file_sha256(video)
        return InputIdentity(st.st_size, st.st_mtime_ns, sha)

    # ------------------------------------------------------------------ rows
    def get(self, key: str) -> VideoRecord | None:
        """The row of one video, or None."""
        cur = self._conn_().execute("SELECT * FROM videos WHERE key=?", (key,))
        row = cur.fetchone()
        return None if row is None else self._record(cur, row)

    def records(self) -> list[VideoRecord]:
        """Every row, ordered by key."""
        cur = self._conn_().execute("SELECT * FROM videos ORDER BY key")
        return [self._record(cur, row) for row in cur.fetchall()]

    @staticmethod
    def _record(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> VideoRecord:
        values = dict(zip([d[0] for d in cur.description], row, strict=True))
        values["outputs"] = json.loads(values["outputs"])
        return VideoRecord(**values)

    def upsert(
        self, key: str, path: str, ident: InputIdentity | None, settings_hash: str, *, status: str = "pending"
    ) -> None:
        """Create or reset a video's row (status, identity and settings; outputs and error cleared)."""
        self._check_status(status)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO videos(key, path, size, mtime_ns, sha256, settings_hash, status) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET path=excluded.path, size=excluded.size, mtime_ns=excluded.mtime_ns, "
                "sha256=excluded.sha256, settings_hash=excluded.settings_hash, status=excluded.status, "
                "outputs='[]', error=NULL",
                (
                    key,
                    path,
                    None if ident is None else ident.size,
                    None if ident is None else ident.mtime_ns,
                    None if ident is None else ident.sha256,
                    settings_hash,
                    status,
                ),
            )

    def start(self, key: str) -> None:
        """Mark a video running (one more attempt)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE videos SET status='running', started=?, attempts=attempts+1, error=NULL WHERE key=?",
                (time.time(), key),
            )

    def finish(
        self,
        key: str,
        *,
        status: str,
        outputs: list[str] | None = None,
        error: str | None = None,
        seconds: float | None = None,
        frames_computed: int | None = None,
        frames_recomputed: int | None = None,
    ) -> None:
        """Record a video's end: ``done`` with its outputs, or ``failed`` with the error text."""
        self._check_status(status)
        with self._tx() as conn:
            conn.execute(
                "UPDATE videos SET status=?, outputs=?, error=?, finished=?, seconds=?, frames_computed=?, "
                "frames_recomputed=? WHERE key=?",
                (
                    status,
                    json.dumps(outputs or []),
                    error,
                    time.time(),
                    seconds,
                    frames_computed,
                    frames_recomputed,
                    key,
                ),
            )

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _check_status(status: str) -> None:
        if status not in STATUSES:
            raise AnnotatorError("unknown manifest status", given=status, hint=f"use one of {', '.join(STATUSES)}")

    def _conn_(self) -> sqlite3.Connection:
        if self._conn is None:
            raise AnnotatorError("the manifest is closed", given=str(self.path), hint="open a new Manifest")
        return self._conn

    class _Tx:
        def __init__(self, manifest: Manifest) -> None:
            self.m = manifest

        def __enter__(self) -> sqlite3.Connection:
            self.m._lock.acquire()
            conn = self.m._conn_()
            conn.execute("BEGIN IMMEDIATE")
            return conn

        def __exit__(self, exc_type: object, *_: object) -> None:
            try:
                self.m._conn_().execute("ROLLBACK" if exc_type is not None else "COMMIT")
            finally:
                self.m._lock.release()

    def _tx(self) -> Manifest._Tx:
        return Manifest._Tx(self)

    def close(self) -> None:
        """Close the database."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
