"""Atomic writes: nothing half-written ever sits under a final name.

A file is written to ``<stem>.partial-<pid><suffix>`` in its destination folder and renamed into
place when complete (the suffix is kept so writers that pick a container by extension, such as
OpenCV's ``VideoWriter``, still work). A folder is written as ``<out>.partial-<pid>`` next to
``out`` and renamed at the end. A failure removes the partial output; a killed process leaves only
a ``.partial-<pid>`` name behind, never a truncated file under the name the user asked for.

Filesystem errors become an :class:`~annotator_widgets.errors.AnnotatorError` that says what could
not be written, where, and how to fix it.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    ...     sorted(p.name for p in d.iterdir()) == [tmp.name]
    True
    >>> (d / "out.txt").read_text()
    'done'
    >>> with atomic_folder(d / "dataset", "demo") as tmp:
    ...     _ = (tmp / "a.txt").write_text("1")
    >>> sorted(p.name for p in (d / "dataset").iterdir())
    ['.annotator-widgets-export', 'a.txt']
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import AnnotatorError, file_error

__all__ = ["MARKER", "atomic_folder", "atomic_path", "export_error", "write_bytes", "write_text"]

#: the file that marks a folder as written by an exporter (so a later export may replace it)
MARKER = ".annotator-widgets-export"


def export_error(exc: OSError, what: str, where: Path) -> AnnotatorError:
    """An :class:`AnnotatorError` for a filesystem error while writing ``what`` at ``where``."""
    return file_error(exc, what, where)


def _partial(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")


def _mkdir(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file where the folder should be
        raise export_error(NotADirectoryError(errno.ENOTDIR, "not a folder"), what, folder) from exc
    except OSError as exc:
        raise export_error(exc, what, folder) from exc
    if not folder.is_dir():
        raise export_error(NotADirectoryError(errno.ENOTDIR, "not a folder"), what, folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], what: str = "export") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    The caller writes the whole file at the yielded path (by name, so any writer works). On an
    exception the temporary file is removed and the error propagates; ``path`` is untouched.
    """
    final = Path(path)
    _mkdir(final.parent, what)
    if final.is_dir():
        raise export_error(IsADirectoryError(errno.EISDIR, "is a folder"), what, final)
    tmp = _partial(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise export_error(exc, what, final) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes, what: str = "export") -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    final = Path(path)
    with atomic_path(final, what) as tmp:
        tmp.write_bytes(data)
    return final


def write_text(path: str | os.PathLike[str], text: str, what: str = "export") -> Path:
    """Write UTF-8 ``text`` (with ``\\n`` line ends on every platform) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"), what)


def _replaceable(folder: Path) -> bool:
    """True for a folder an export may replace: empty, or written by an exporter before."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return not names or MARKER in names


@contextlib.contextmanager
def atomic_folder(out: str | os.PathLike[str], fmt: str, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield ``<out>.partial-<pid>``; when the block succeeds it becomes ``out``.

    ``out`` may not exist yet, or be an empty folder, or a folder an earlier export wrote (it holds
    the :data:`MARKER` file); anything else is kept safe unless ``overwrite=True``. The previous
    folder is moved aside before the new one is renamed in, then deleted, so ``out`` is always
    either the old export or the complete new one.

    Args:
        out: The folder to create.
        fmt: The format name, written into the marker file.
        overwrite: Replace an existing non-empty folder that no export wrote.
    """
    final = Path(out)
    what = f"{fmt} export"
    if final.exists() and not final.is_dir():
        raise export_error(NotADirectoryError(errno.ENOTDIR, "not a folder"), what, final)
    if final.is_dir() and not overwrite and not _replaceable(final):
        raise AnnotatorError(
            f"the {fmt} export folder already exists and holds files no export wrote",
            given=str(final),
            hint="choose a new or empty folder, or pass overwrite=True (the command's --overwrite) to replace it",
        )
    _mkdir(final.parent, what)
    tmp = final.with_name(f"{final.name}.partial-{os.getpid()}")
    old = final.with_name(f"{final.name}.old-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"format": fmt}) + "\n")
        if final.is_dir():
            os.replace(final, old)
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.is_dir() and not final.exists():
            os.replace(old, final)
        raise export_error(exc, what, final) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
