"""Video output: a streaming MP4 writer and :func:`render_video`, overlays or an effect over a whole project.

:func:`render_video` streams a project's annotations (or a privacy effect over its objects) to an MP4
without holding more than one frame in memory; effects come from the registry by name (see
:mod:`annotator_widgets.render.effects`).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from annotator_widgets.render import write_video
    >>> path = write_video(pathlib.Path(tempfile.mkdtemp()) / "x.mp4", (np.zeros((16, 16, 3), np.uint8),) * 3, 5)
    >>> path.name
    'x.mp4'
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import AnnotatorError, file_error
from .compose import Captions, FrameComposer
from .effects import EffectFn
from .overlay import Renderer
from .region import ObjectsSpec

__all__ = ["RenderCancelled", "render_video", "write_video"]

log = logging.getLogger(__name__)


class RenderCancelled(AnnotatorError):
    """A render was cancelled; no file was left under the output's name."""


#: file suffixes the writer's H.264 (or OpenCV's mp4v) goes into; no suffix writes MP4
CONTAINERS = frozenset({"", ".mp4", ".m4v", ".mov", ".mkv", ".avi"})

#: x264 settings: CRF 20 looks like the source; "superfast" encodes 720p faster than real time on 2 cores
_X264 = {"crf": "20", "preset": "superfast"}


def _rate(fps: float) -> Fraction:
    """The exact frame rate: NTSC rates (29.97 = 30000/1001, 23.976, 59.94) snapped to their fraction."""
    ntsc = Fraction(round(fps * 1.001) * 1000, 1001)
    if not float(fps).is_integer() and abs(float(ntsc) - fps) < 0.005:
        return ntsc
    return Fraction(fps).limit_denominator(1001)


class _Writer:
    """MP4 writer: H.264 through PyAV when it is available (plays in browsers), else OpenCV's mp4v."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str) -> None:
        self.path = path
        self._av: Any = None
        self._cv: Any = None
        w, h = size
        if codec in ("auto", "h264"):
            try:
                import av

                container: Any = av.open(str(path), mode="w")  # Any: PyAV's stubs type a stream as a union
                stream = container.add_stream("libx264", rate=_rate(fps))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = dict(_X264)
                self._av = (container, stream, av)
            except Exception as exc:
                if codec == "h264":
                    raise AnnotatorError("cannot write H.264 with PyAV", given=str(path), hint=str(exc)) from exc
                log.info("PyAV H.264 unavailable (%s); writing mp4v with OpenCV", exc)
        if self._av is None:
            self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
            if not self._cv.isOpened():
                raise AnnotatorError("cannot open a video writer", given=str(path), hint="check the folder exists")

    def write(self, rgb: np.ndarray) -> None:
        if self._av is not None:
            container, stream, av = self._av
            # OpenCV's RGB -> I420 (BT.601, video range, as swscale's default) is ~5x faster than PyAV's reformat
            yuv = cv2.cvtColor(np.ascontiguousarray(rgb[: stream.height, : stream.width]), cv2.COLOR_RGB2YUV_I420)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        else:
            self._cv.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._av is not None:
            container, stream, _ = self._av
            for packet in stream.encode():
                container.mux(packet)
            container.close()
        elif self._cv is not None:
            self._cv.release()


def _prepare_output(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(final, partial)`` paths, after checking the folder can take the file (nothing is left behind).

    Raises:
        AnnotatorError: A folder or a file is in the way, or the folder is read-only.
    """
    p = Path(path)
    if p.is_dir():
        raise AnnotatorError("a folder is in the way of the output video", given=str(p), hint="name a .mp4 file")
    if p.suffix.lower() not in CONTAINERS:
        raise AnnotatorError(
            f"cannot write a {p.suffix} video: the renderer writes H.264 in an MP4 file",
            given=str(p),
            hint=f"name the output .mp4 (also {', '.join(sorted(c for c in CONTAINERS if c not in ('', '.mp4')))})",
        )
    for parent in (p.parent, *p.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise AnnotatorError(
                    "a file is in the way of the output folder",
                    given=str(parent),
                    hint="move that file or choose another output folder",
                )
            break
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        partial = p.with_name(f".{p.stem}.partial{p.suffix or '.mp4'}")
        with open(partial, "wb"):  # probe: the folder takes a file
            pass
    except OSError as exc:
        read_only = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        raise AnnotatorError(
            "the output folder is read-only" if read_only else "cannot write the output video",
            given=str(p),
            hint=f"choose a folder you can write to ({exc.strerror})",
        ) from exc
    return p, partial


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Write RGB frames to an MP4 file, streaming; returns the path.

    ``"auto"`` writes H.264 (``libx264``, yuv420p: what browsers play) through PyAV and falls back to
    OpenCV's ``mp4v`` only when PyAV cannot; an odd width or height loses its last column or row (H.264
    4:2:0 needs even sizes). The file is written under a temporary name next to ``path`` and renamed
    when complete, so an error or a cancel half-way never leaves a truncated video under the final name.

    Raises:
        AnnotatorError: No frames, or the output cannot be written (read-only folder, a file in the way).
    """
    p, partial = _prepare_output(path)
    writer: _Writer | None = None
    try:
        for f in frames:
            if writer is None:
                writer = _Writer(partial, fps, (f.shape[1], f.shape[0]), codec)
            writer.write(f)
        if writer is None:
            raise AnnotatorError("no frames to write", given=str(p))
        writer.close()
    except BaseException as exc:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise file_error(exc, "video", p) from exc
        raise
    try:
        os.replace(partial, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise file_error(exc, "video", p) from exc
    return p


def render_video(
    project: Any,
    video: Any,
    path: str | os.PathLike[str],
    *,
    renderer: Renderer | None = None,
    effect: str | EffectFn | None = None,
    strength: float = 0.6,
    effect_options: Mapping[str, Any] | None = None,
    objects: ObjectsSpec = "all",
    obj_ids: Iterable[int] | None = None,
    dilate: int = 0,
    feather: int = 0,
    trails: int = 0,
    labels: bool = False,
    captions: Captions | None = None,
    start: int = 0,
    stop: int | None = None,
    show_progress: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Render a project's annotations (or an effect over its objects) to an MP4, one frame in memory at a time.

    Everything comes from the masks stored in the project: no model runs, so changing the effect or
    its strength re-renders without segmenting again. The source's fps is kept; its audio is ignored.

    Args:
        project: A :class:`~annotator_widgets.project.Project` (or a session: its project is used).
        video: The project's video (anything :func:`~annotator_widgets.open_video` accepts).
        path: Output ``.mp4``.
        renderer: Overlay settings (ignored when ``effect`` is set).
        effect: An effect name (``registry.names("effect")``, e.g. ``"blur"``) or function, to anonymise
            the chosen objects instead of drawing overlays.
        strength: Effect strength 0..1.
        effect_options: The effect's keyword options, e.g. ``{"color": (255, 255, 255)}`` for ``solid``.
        objects: Objects to draw or anonymise: ``"all"`` (every one; overlays skip hidden ones), ids, a category
            or name, or a list.
        obj_ids: Older spelling of ``objects`` as a list of ids (used when given).
        dilate: Grow the chosen masks by this many pixels before the effect.
        feather: Soft effect edge over this many pixels beyond that.
        trails: Draw each object's fading centroid trail over this many frames (0: none).
        labels: With an effect, also write each object's label.
        captions: Frame captions, ``{frame: text}`` or ``frame -> text``.
        start: First frame.
        stop: Frame after the last (default: the end).
        show_progress: tqdm progress bar.
        progress: Called as ``progress(done, total)`` after each frame (a widget's progress bar).
        cancel: An Event (or a function returning True) that stops the render between frames.
        codec: ``"auto"`` (H.264 if PyAV can, else mp4v), ``"h264"`` or ``"mp4v"``.

    Raises:
        BackendError: Unknown effect.
        PromptError: Strength out of range, an unknown object, negative dilate/feather/trails.
        AnnotatorError: The project has no masks (with an effect); the output cannot be written.
        RenderCancelled: ``cancel`` was set; nothing is left under ``path``.
    """
    from tqdm.auto import tqdm

    from ..video import open_video

    composer = FrameComposer(
        project,
        effect=effect,
        strength=strength,
        objects=list(obj_ids) if obj_ids is not None else objects,
        dilate=dilate,
        feather=feather,
        effect_options=effect_options,
        renderer=renderer,
        trails=trails,
        labels=labels,
        captions=captions,
    )
    if effect is not None:
        composer.check_has_masks()
    vid = open_video(video)
    expected = getattr(composer.project, "size", None)
    if expected is not None and tuple(vid.size) != tuple(expected):
        raise AnnotatorError(
            "the video's frame size is not the project's: its masks cannot be drawn on these frames",
            given={"video": f"{vid.size[0]}x{vid.size[1]}", "project": f"{expected[0]}x{expected[1]}"},
            hint="pass the video the project was annotated on (--video PATH on the command line)",
        )
    stop = len(vid) if stop is None else min(stop, len(vid))
    total = max(0, stop - start)
    cancelled = (cancel.is_set if isinstance(cancel, threading.Event) else cancel) or (lambda: False)

    def frames() -> Iterable[np.ndarray]:
        bar = tqdm(total=total, desc="render", unit="frame", disable=not show_progress)
        try:
            for done, (i, frame) in enumerate(vid.frames(start, stop), 1):
                if cancelled():
                    raise RenderCancelled("the render was cancelled", given=f"frame {i} of {start}..{stop}")
                yield composer.compose(i, frame)
                bar.update(1)
                if progress is not None:
                    progress(done, total)
        finally:
            bar.close()

    return write_video(path, frames(), vid.fps, codec=codec)
