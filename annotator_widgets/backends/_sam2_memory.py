"""Bounded SAM2 tracking memory with results identical to an unbounded run.

Both SAM2 implementations (Meta's ``sam2`` and transformers' ``Sam2VideoModel``) keep,
per object, a dict ``{"cond_frame_outputs": {frame: out}, "non_cond_frame_outputs": {frame: out}}``
and never drop anything, so memory grows by ~0.8 MB per frame per object at 1024 px.

What the model reads when it tracks frame ``f`` (``_prepare_memory_conditioned_features``):
every conditioning (prompted) output, the spatial memory of up to
``1 + (num_maskmem - 2) * memory_temporal_stride_for_eval`` frames behind ``f`` and the
object pointers of up to ``min(num_frames, max_obj_ptrs_in_encoder) - 1`` frames behind ``f``
("behind" follows the tracking direction). :func:`window_size` is the larger of the two
(15 with the released configs).

:class:`MemoryWindow` keeps only the non-conditioning outputs within ``window`` frames of the
frame being worked on and moves the others to an append-only archive file on disk; before
any model call that could read an older frame (a propagation start, a click) the backend
calls :meth:`MemoryWindow.restore`, which brings back the archived entries around that frame.
So every entry the model reads is exactly what an unpruned run holds: results are
bit-identical (tested), RAM stays flat, and disk grows by the size of the pruned entries.
(The alternative, replaying from the nearest conditioning frame, costs up to the whole video
per click and is not identical when earlier passes used other prompts.) Conditioning outputs
are never pruned.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MemoryWindow", "window_size"]

log = logging.getLogger(__name__)

#: ``{obj_idx: {"cond_frame_outputs": {frame: entry}, "non_cond_frame_outputs": {frame: entry}}}``
Outputs = MutableMapping[int, dict[str, dict[int, dict[str, Any]]]]


def window_size(
    num_maskmem: int, memory_temporal_stride: int, max_obj_ptrs: int, num_frames: int, use_obj_ptrs: bool = True
) -> int:
    """How many frames behind the current one a SAM2 model reads (spatial memory or object pointers).

    Example:
        >>> window_size(7, 1, 16, 10_000)
        15
        >>> window_size(7, 1, 16, 5)
        6
    """
    spatial = 1 + (num_maskmem - 2) * max(1, memory_temporal_stride)
    pointers = min(num_frames, max_obj_ptrs) - 1 if use_obj_ptrs else 0
    return max(1, spatial, pointers)


@dataclass(frozen=True)
class _Field:
    offset: int
    nbytes: int
    dtype: Any
    shape: tuple[int, ...]
    device: str


class MemoryWindow:
    """Prunes per-object tracking outputs to a window around a frame; archives and restores the rest.

    Args:
        window: Frames kept on each side of the current frame (see :func:`window_size`).
        archive_dir: Folder for the archive file; a fresh temporary folder when None. The file
            is deleted by :meth:`close`.
        pack: Turns an output entry into ``{name: tensor or None}`` for the archive (default:
            keep the tensor and None fields; other fields are dropped).
        unpack: Turns archived fields back into an entry (default: identity).
    """

    def __init__(
        self,
        window: int,
        *,
        archive_dir: str | os.PathLike[str] | None = None,
        pack: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        unpack: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.window = max(1, int(window))
        self._archive_dir = Path(archive_dir) if archive_dir is not None else None
        self._pack = pack or _default_pack
        self._unpack = unpack or (lambda fields: fields)
        self._lock = threading.RLock()
        self._dir: Path | None = None
        self._own_dir = False
        self._file: Any = None
        self._size = 0
        #: obj_id -> frame -> archived fields
        self._index: dict[int, dict[int, dict[str, _Field | None]]] = {}
        #: obj_id -> frame -> entry restored from the archive and not changed since
        self._clean: dict[int, dict[int, dict[str, Any]]] = {}
        self.pruned = 0
        self.restored = 0

    # -- public ---------------------------------------------------------------------
    @property
    def archive_bytes(self) -> int:
        """Bytes written to the archive file so far (it is append-only)."""
        return self._size

    @property
    def archive_path(self) -> Path | None:
        """The archive file, once something was pruned."""
        return None if self._dir is None else self._dir / "sam2_memory.bin"

    def archived_frames(self, obj_id: int) -> set[int]:
        """Frames of one object that are in the archive."""
        return set(self._index.get(obj_id, ()))

    def prune(self, outputs: Outputs, obj_ids: Sequence[int], center: int) -> int:
        """Move non-conditioning outputs further than ``window`` frames from ``center`` to the archive.

        Args:
            outputs: The model's per-object output dicts, indexed like ``obj_ids``.
            obj_ids: Object id of each index.
            center: The frame being worked on.

        Returns:
            The number of entries removed from memory.
        """
        dropped = 0
        with self._lock:
            for idx, obj_id in enumerate(obj_ids):
                non_cond = outputs[idx]["non_cond_frame_outputs"]
                clean = self._clean.setdefault(obj_id, {})
                for t in [t for t in non_cond if abs(t - center) > self.window]:
                    entry = non_cond.pop(t)
                    if clean.pop(t, None) is not entry:
                        self._write(obj_id, t, entry)
                    dropped += 1
                # entries the model replaced or deleted since they were restored are no longer "clean"
                for t in [t for t, e in clean.items() if non_cond.get(t) is not e]:
                    del clean[t]
            self.pruned += dropped
        return dropped

    def restore(self, outputs: Outputs, obj_ids: Sequence[int], center: int) -> int:
        """Bring back archived non-conditioning outputs within ``window`` frames of ``center``.

        Entries in memory win over archived ones (they are newer); frames that are
        conditioning frames of an object are never restored for it.

        Returns:
            The number of entries restored.
        """
        count = 0
        with self._lock:
            for idx, obj_id in enumerate(obj_ids):
                index = self._index.get(obj_id)
                if not index:
                    continue
                out = outputs[idx]
                non_cond, cond = out["non_cond_frame_outputs"], out["cond_frame_outputs"]
                clean = self._clean.setdefault(obj_id, {})
                for t in range(center - self.window, center + self.window + 1):
                    if t in non_cond or t in cond or t not in index:
                        continue
                    entry = self._unpack(self._read(index[t]))
                    non_cond[t] = entry
                    clean[t] = entry
                    count += 1
            self.restored += count
        return count

    def forget(self, obj_id: int) -> None:
        """Drop an object's archived entries (its bytes stay in the append-only file until :meth:`clear`)."""
        with self._lock:
            self._index.pop(obj_id, None)
            self._clean.pop(obj_id, None)

    def clear(self) -> None:
        """Forget everything and truncate the archive."""
        with self._lock:
            self._index.clear()
            self._clean.clear()
            if self._file is not None:
                self._file.seek(0)
                self._file.truncate()
            self._size = 0

    def close(self) -> None:
        """Forget everything and delete the archive file (and its folder, if it was made here)."""
        with self._lock:
            self._index.clear()
            self._clean.clear()
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._dir is not None:
                if self._own_dir:
                    shutil.rmtree(self._dir, ignore_errors=True)
                else:
                    (self._dir / "sam2_memory.bin").unlink(missing_ok=True)
                self._dir = None
            self._size = 0

    # -- storage --------------------------------------------------------------------
    def _open(self) -> Any:
        if self._file is None:
            if self._archive_dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="annotator_widgets_sam2_"))
                self._own_dir = True
            else:
                self._archive_dir.mkdir(parents=True, exist_ok=True)
                self._dir = self._archive_dir
                self._own_dir = False
            self._file = open(self._dir / "sam2_memory.bin", "w+b")  # noqa: SIM115 - kept open, closed in close()
            self._size = 0
            log.debug("SAM2 memory archive at %s", self._dir)
        return self._file

    def _write(self, obj_id: int, frame: int, entry: dict[str, Any]) -> None:
        import torch

        fh = self._open()
        record: dict[str, _Field | None] = {}
        for name, value in self._pack(entry).items():
            if value is None:
                record[name] = None
                continue
            t = value.detach()
            data = t.to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            fh.seek(self._size)
            fh.write(data)
            record[name] = _Field(self._size, len(data), t.dtype, tuple(t.shape), str(t.device))
            self._size += len(data)
        self._index.setdefault(obj_id, {})[frame] = record

    def _read(self, record: dict[str, _Field | None]) -> dict[str, Any]:
        import torch

        fh = self._file
        fields: dict[str, Any] = {}
        for name, f in record.items():
            if f is None:
                fields[name] = None
                continue
            fh.seek(f.offset)
            buf = bytearray(fh.read(f.nbytes))
            t = torch.frombuffer(buf, dtype=torch.uint8) if f.nbytes else torch.empty(0, dtype=torch.uint8)
            fields[name] = t.view(f.dtype).reshape(f.shape).to(f.device)
        return fields


def _default_pack(entry: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {k: v for k, v in entry.items() if v is None or isinstance(v, torch.Tensor)}
