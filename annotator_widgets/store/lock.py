"""The single-writer lock: an advisory ``flock`` on ``<file>.lock``.

The operating system drops a ``flock`` when its process dies, however it dies (``kill -9`` included),
so a stale lock file never locks the user out; the pid written into it only names the holder in the
error. Readers take no lock.

Example:
    >>> import os, tempfile
    >>> from annotator_widgets.store.lock import FileLock
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.awp.lock")
    >>> first, second = FileLock(path), FileLock(path)
    >>> first.acquire()
    >>> try:
    ...     second.acquire()
    ... except Exception as exc:
    ...     print(type(exc).__name__)
    ProjectError
    >>> first.release(); second.acquire(); second.release()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from ..errors import ProjectError

__all__ = ["FileLock"]


class FileLock:
    """An exclusive advisory lock on ``path``, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        """True between :meth:`acquire` and :meth:`release`."""
        return self._fh is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ProjectError` naming the pid that holds it."""
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock, one writer by convention
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
        """Drop the lock (closing the file releases the ``flock``); a no-op when not held."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
