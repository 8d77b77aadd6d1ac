"""Lazy, cached access to video frames: files, folders of images, and arrays.

:func:`open_video` never decodes a whole video up front. Random access seeks,
sequential access decodes forward, and a small LRU cache bounded in bytes keeps
recently used frames. Frames are RGB ``uint8`` arrays of shape ``(H, W, 3)``,
returned read-only (copy before drawing on them).

Example:
    >>> import numpy as np
    >>> from annotator_widgets import open_video
    >>> video = open_video(np.zeros((5, 48, 64, 3), np.uint8), fps=10)
    >>> len(video), video.size, video.fps
    (5, (64, 48), 10.0)
    >>> video.frame(4).shape
    (48, 64, 3)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import VideoError

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "VideoSource", "open_video"]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_FFMPEG_HINT = (
    "re-encode it to H.264, e.g. `ffmpeg -i INPUT -c:v libx264 -pix_fmt yuv420p out.mp4`, "
    "or extract frames to a folder of JPEG/PNG images and open the folder"
)


class _LRU:
    """A least-recently-used frame cache bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._data: OrderedDict[int, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def get(self, key: int) -> np.ndarray | None:
        arr = self._data.get(key)
        if arr is not None:
            self._data.move_to_end(key)
        return arr

    def put(self, key: int, arr: np.ndarray) -> None:
        if arr.nbytes > self.max_bytes:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._data[key] = arr
        self.nbytes += arr.nbytes
        while self.nbytes > self.max_bytes:
            _, dropped = self._data.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        self._data.clear()
        self.nbytes = 0


class VideoSource(ABC):
    """A read-only, random-access sequence of RGB frames.

    Subclasses implement :meth:`_decode`; this class adds index checks, the
    byte-bounded cache, iteration, thumbnails and thread safety.
    """

    kind: str = "video"

    def __init__(
        self, *, fps: float, size: tuple[int, int], length: int, name: str, path: str | None, cache_bytes: int
    ) -> None:
        self._fps = float(fps)
        self._size = (int(size[0]), int(size[1]))
        self._len = int(length)
        self.name = name
        self.path = path
        self._cache = _LRU(cache_bytes)
        self._lock = threading.RLock()

    # -- the sequence -----------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        """Frames per second (as stored in the file, or as given)."""
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self._size

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return self._size[0]

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return self._size[1]

    @property
    def info(self) -> dict[str, Any]:
        """A JSON-able description: kind, path, frames, width, height, fps."""
        return {
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "frames": len(self),
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }

    def check_index(self, index: Any) -> int:
        """Return ``index`` as an int, or raise :class:`VideoError` if out of range."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise VideoError(
                f"frame index must be an integer for {self.name}",
                given=index,
                hint=f"use 0..{len(self) - 1}",
            )
        i = int(index)
        if i < 0 or i >= len(self):
            raise VideoError(
                f"frame index out of range for {self.name} ({len(self)} frames)",
                given=index,
                hint=f"use 0..{len(self) - 1}; negative indices are not accepted",
            )
        return i

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a read-only RGB ``uint8`` array ``(H, W, 3)``."""
        i = self.check_index(index)
        with self._lock:
            hit = self._cache.get(i)
            if hit is not None:
                return hit
            arr = self._decode(i)
            arr.flags.writeable = False
            self._cache.put(i, arr)
            return arr

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.frame(i)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for ``range(start, stop, step)``."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop, step):
            yield i, self.frame(i)

    def thumbnail(self, index: int, max_side: int = 256) -> np.ndarray:
        """Frame ``index`` shrunk so that its longer side is at most ``max_side``."""
        img = self.frame(index)
        h, w = img.shape[:2]
        scale = max_side / max(h, w)
        if scale >= 1:
            return img
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        """Release decoders and the cache."""
        with self._lock:
            self._cache.clear()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, frames={len(self)}, size={self.size}, fps={self.fps:g})"

    @abstractmethod
    def _decode(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (already range-checked) as a fresh RGB array."""


class FileVideo(VideoSource):
    """A video file read with OpenCV's FFmpeg backend; seeks for random access."""

    kind = "file"
    #: read forward instead of seeking when the target is at most this many frames ahead
    forward_window = 48

    def __init__(
        self, path: str | os.PathLike[str], *, cache_bytes: int, fps: float | None = None, allow_truncated: bool = False
    ) -> None:
        p = Path(path)
        if not p.exists():
            raise VideoError("video file not found", given=str(p), hint="check the path and the working directory")
        if p.is_dir():
            raise VideoError("expected a video file, got a folder", given=str(p))
        if p.stat().st_size == 0:
            raise VideoError("video file is empty (0 bytes)", given=str(p), hint="the file was not written completely")
        self._path = str(p)
        cap = self._open_capture()
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise VideoError(
                "video has no decodable frames (unsupported codec, or a corrupt or truncated file)",
                given=self._path,
                hint=_FFMPEG_HINT,
            )
        h, w = first.shape[:2]
        file_fps = cap.get(cv2.CAP_PROP_FPS)
        claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._cap = cap
        self._next = 1
        self._exact_seek = True
        n = self._verify_length(claimed, allow_truncated)
        super().__init__(
            fps=fps or (file_fps if file_fps and np.isfinite(file_fps) and file_fps > 0 else 30.0),
            size=(w, h),
            length=n,
            name=p.name,
            path=str(p.resolve()),
            cache_bytes=cache_bytes,
        )
        self._first = cv2.cvtColor(first, cv2.COLOR_BGR2RGB)

    def fork(self, cache_mb: float = 0) -> FileVideo:
        """Another decoder of the same file, with its own position and cache, opened without probing the file again.

        For a second thread that reads beside this one (playback's read-ahead): sharing one
        decoder would move its position under the other reader, and opening the file anew
        with :func:`open_video` checks its length again (a seek to the last frame).
        """
        twin = object.__new__(type(self))
        VideoSource.__init__(
            twin,
            fps=self.fps,
            size=self.size,
            length=len(self),
            name=self.name,
            path=self.path,
            cache_bytes=int(cache_mb * 1024 * 1024),
        )
        twin._path = self._path
        twin._cap = twin._open_capture()
        twin._next = 0
        twin._exact_seek = self._exact_seek
        twin._first = self._first
        return twin

    @property
    def position(self) -> int:
        """The frame this decoder reads next without seeking (an earlier one costs a decode from a keyframe)."""
        return self._next

    def _open_capture(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self._path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoError(
                "cannot open video: not a video file, an unsupported container, or a truncated file",
                given=self._path,
                hint=_FFMPEG_HINT,
            )
        return cap

    def _count_by_decoding(self) -> int:
        cap = self._open_capture()
        n = 0
        while cap.grab():
            n += 1
        cap.release()
        return n

    def _verify_length(self, claimed: int, allow_truncated: bool) -> int:
        """Trust the container's frame count only if its last frame decodes."""
        if claimed > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, claimed - 1)
            ok = self._cap.grab()
            self._reset_capture()
            if ok:
                return claimed
        counted = self._count_by_decoding()
        if counted == 0:
            raise VideoError("video has no decodable frames", given=self._path, hint=_FFMPEG_HINT)
        if claimed <= 0 or counted >= claimed - 2:
            # no count in the container (some mkv/webm), or a count off by a frame or two
            return counted
        if allow_truncated:
            log.warning("%s: header says %d frames, only %d decode; using %d", self._path, claimed, counted, counted)
            return counted
        raise VideoError(
            f"video is truncated: its header says {claimed} frames but only {counted} can be decoded",
            given=self._path,
            hint="repair or re-encode it (`ffmpeg -i INPUT -c:v libx264 out.mp4`), "
            "or pass allow_truncated=True to use the frames that decode",
        )

    def _reset_capture(self) -> None:
        self._cap.release()
        self._cap = self._open_capture()
        self._next = 0

    def _read_next(self, index: int) -> np.ndarray:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise VideoError(
                f"cannot decode frame {index} of {self.name}",
                given=self._path,
                hint="the file may be corrupt after this point; " + _FFMPEG_HINT,
            )
        self._next = index + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _decode(self, index: int) -> np.ndarray:
        if index == 0 and getattr(self, "_first", None) is not None:
            return self._first.copy()
        if not (self._next <= index <= self._next + self.forward_window):
            if self._exact_seek:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                self._next = round(self._cap.get(cv2.CAP_PROP_POS_FRAMES))
                if self._next != index:
                    log.warning("%s: seeking is not frame-exact; decoding from the start instead", self.name)
                    self._exact_seek = False
            if not self._exact_seek or self._next > index:
                self._reset_capture()
        while self._next < index:
            if not self._cap.grab():
                raise VideoError(
                    f"cannot decode frame {self._next} of {self.name}", given=self._path, hint=_FFMPEG_HINT
                )
            self._next += 1
        return self._read_next(index)

    def close(self) -> None:
        with self._lock:
            super().close()
            self._cap.release()


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class FolderVideo(VideoSource):
    """A folder of JPEG/PNG frames in natural sort order (``2.jpg`` before ``10.jpg``)."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike[str], *, cache_bytes: int, fps: float | None = None) -> None:
        from PIL import Image

        p = Path(path)
        files = sorted(
            (f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS),
            key=lambda f: _natural_key(f.name),
        )
        if not files:
            raise VideoError(
                "folder holds no image frames",
                given=str(p),
                hint=f"put frames named like 00000.jpg there (extensions: {', '.join(IMAGE_EXTENSIONS)})",
            )
        sizes: dict[tuple[int, int], str] = {}
        for f in files:
            try:
                with Image.open(f) as im:
                    sizes.setdefault(im.size, f.name)
            except Exception as exc:
                raise VideoError(
                    "cannot read image frame", given=str(f), hint="replace or delete the corrupt file"
                ) from exc
            if len(sizes) > 1:
                (s1, f1), (s2, f2) = list(sizes.items())[:2]
                raise VideoError(
                    "frames in the folder differ in size",
                    given=f"{f1} is {s1[0]}x{s1[1]}, {f2} is {s2[0]}x{s2[1]} in {p}",
                    hint="resize all frames to one size",
                )
        self._files = files
        (size,) = sizes
        super().__init__(
            fps=fps or 30.0, size=size, length=len(files), name=p.name, path=str(p.resolve()), cache_bytes=cache_bytes
        )

    @property
    def files(self) -> list[Path]:
        """The frame files, in order."""
        return list(self._files)

    def _decode(self, index: int) -> np.ndarray:
        from PIL import Image

        f = self._files[index]
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("RGB"))
        except Exception as exc:
            raise VideoError(f"cannot decode frame {index}", given=str(f), hint="replace the corrupt file") from exc
        if (arr.shape[1], arr.shape[0]) != self.size:
            raise VideoError(f"frame {index} has a different size than frame 0", given=str(f))
        return np.array(arr)


class ArrayVideo(VideoSource):
    """Frames already in memory: a ``(T, H, W, 3)`` array or a list of ``(H, W, 3)`` arrays."""

    kind = "array"

    def __init__(self, frames: np.ndarray | Sequence[np.ndarray], *, fps: float | None = None) -> None:
        seq: list[np.ndarray] | np.ndarray
        if isinstance(frames, np.ndarray):
            if frames.ndim == 3:
                frames = frames[..., None]
            if frames.ndim != 4:
                raise VideoError(
                    "a frame array must be (T, H, W, 3)",
                    given=frames.shape,
                    hint="stack frames along a first axis; a single frame is frames[None]",
                )
            seq = frames
        else:
            seq = [np.asarray(f) for f in frames]
            shapes = {f.shape[:2] for f in seq}
            if len(shapes) > 1:
                raise VideoError(
                    "frames in the list differ in size", given=sorted(shapes)[:2], hint="resize them to one size"
                )
        if len(seq) == 0:
            raise VideoError("no frames given", given=type(frames).__name__, hint="pass at least one frame")
        first = np.asarray(seq[0])
        if first.dtype != np.uint8:
            raise VideoError(
                "frames must be uint8 RGB",
                given=str(first.dtype),
                hint="convert floats in 0..1 with (frames * 255).round().astype(np.uint8)",
            )
        if first.ndim == 2:
            first = first[..., None]
        if first.ndim != 3 or first.shape[2] not in (1, 3, 4):
            raise VideoError(
                "each frame must be (H, W), (H, W, 3) or (H, W, 4)", given=first.shape, hint="pass RGB frames"
            )
        self._frames = seq
        h, w = first.shape[:2]
        if h < 1 or w < 1:
            raise VideoError("frames have no pixels", given=first.shape, hint="pass frames at least 1x1 in size")
        super().__init__(fps=fps or 30.0, size=(w, h), length=len(seq), name="<array>", path=None, cache_bytes=0)

    def _decode(self, index: int) -> np.ndarray:
        f = np.asarray(self._frames[index])
        if f.dtype != np.uint8:
            raise VideoError(f"frame {index} is not uint8", given=str(f.dtype))
        if f.ndim == 2:
            f = f[..., None]
        if f.shape[2] == 1:
            return np.repeat(f, 3, axis=2)
        if f.shape[2] == 4:
            return np.ascontiguousarray(f[..., :3])
        return f.view()


def open_video(
    src: str | os.PathLike[str] | np.ndarray | Sequence[np.ndarray] | VideoSource,
    *,
    fps: float | None = None,
    cache_mb: float = 128,
    allow_truncated: bool = False,
) -> VideoSource:
    """Open a video lazily.

    Args:
        src: A video file (mp4, mov, avi, mkv, webm, ...), a folder of JPEG/PNG
            frames, a ``(T, H, W, 3)`` uint8 array, a list of frames, or an
            already open :class:`VideoSource` (returned unchanged).
        fps: Frame rate for folders and arrays (default 30); overrides a file's.
        cache_mb: Upper bound of the decoded-frame cache, in megabytes.
        allow_truncated: Accept a file whose last frames do not decode.

    Raises:
        VideoError: The source is missing, empty, corrupt, unsupported or inconsistent.
    """
    if isinstance(src, VideoSource):
        return src
    cache_bytes = int(cache_mb * 1024 * 1024)
    if isinstance(src, np.ndarray) or (isinstance(src, list | tuple) and (not src or isinstance(src[0], np.ndarray))):
        return ArrayVideo(src, fps=fps)
    if not isinstance(src, str | os.PathLike):
        raise VideoError(
            "cannot open this as a video",
            given=type(src).__name__,
            hint="pass a file path, a folder of frames, or a (T, H, W, 3) uint8 array",
        )
    p = Path(src).expanduser()
    if p.is_dir():
        return FolderVideo(p, cache_bytes=cache_bytes, fps=fps)
    return FileVideo(p, cache_bytes=cache_bytes, fps=fps, allow_truncated=allow_truncated)
