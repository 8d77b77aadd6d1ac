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
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import AnnotatorError, file_error
from .effects import EffectFn, apply_effect, effect_function
from .overlay import Renderer

__all__ = ["render_video", "write_video"]

log = logging.getLogger(__name__)


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
                stream = container.add_stream("libx264", rate=round(fps) if float(fps).is_integer() else fps)
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "20", "preset": "veryfast"}
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
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24"
            )
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


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Write RGB frames to an MP4 file, streaming; returns the path.

    The file is written under a temporary name next to ``path`` and renamed when complete, so an
    error or a cancel half-way never leaves a truncated video under the final name.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_error(exc, "video", p) from exc
    partial = p.with_name(f".{p.stem}.partial{p.suffix or '.mp4'}")
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
    obj_ids: Iterable[int] | None = None,
    start: int = 0,
    stop: int | None = None,
    show_progress: bool = False,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
) -> Path:
    """Render a project's annotations over its video to an MP4, one frame in memory at a time.

    With ``effect`` set (e.g. ``"blur"``), the chosen objects are anonymised
    instead of drawn: tracking is done once, effects re-render from stored masks.

    Args:
        project: A :class:`~annotator_widgets.project.Project` (or a session: its project is used).
        video: The project's video (anything :func:`~annotator_widgets.open_video` accepts).
        path: Output ``.mp4``.
        renderer: Overlay settings (ignored when ``effect`` is set).
        effect: An effect name (``registry.names("effect")``, e.g. ``"blur"``) or function, to anonymise
            the chosen objects instead of drawing overlays.
        strength: Effect strength 0..1.
        effect_options: The effect's keyword options, e.g. ``{"color": (255, 255, 255)}`` for ``solid``.
        obj_ids: Objects to draw or anonymise (default: all visible).
        start: First frame.
        stop: Frame after the last (default: the end).
        show_progress: tqdm progress bar.
        codec: ``"auto"`` (H.264 if PyAV can, else mp4v), ``"h264"`` or ``"mp4v"``.
    """
    from tqdm.auto import tqdm

    from ..video import open_video

    fn = effect_function(effect) if effect is not None else None
    options = dict(effect_options or {})
    project = getattr(project, "project", project)
    vid = open_video(video)
    stop = len(vid) if stop is None else min(stop, len(vid))
    renderer = renderer or Renderer()
    objects = {o.obj_id: o for o in project.objects()}
    chosen = set(objects) if obj_ids is None else set(obj_ids)

    def frames() -> Iterable[np.ndarray]:
        for i in tqdm(range(start, stop), desc="render", unit="frame", disable=not show_progress):
            anns = {oid: a for oid, a in project.annotations(i).items() if oid in chosen}
            frame = vid.frame(i)
            if fn is not None:
                yield apply_effect(frame, anns, fn, strength, **options)
            else:
                yield renderer.annotate(
                    frame, anns, objects=objects, prompts=project.prompts(frame=i), poses=project.poses(i)
                )

    return write_video(path, frames(), vid.fps, codec=codec)
