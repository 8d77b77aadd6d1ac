"""MediaPipe pose landmarks on video frames (the Tasks API's ``PoseLandmarker``).

:class:`MediaPipePoseEstimator` implements the
:class:`~annotator_widgets.backends.PoseEstimator` protocol: frames go in, in
time order, and every person's 33 landmarks come out in video pixels with their
visibility, plus MediaPipe's world landmarks (metres, hip-centred). It gives no
identities (``person_id`` is a placeholder 1..N in MediaPipe's order, which
changes between frames); :mod:`annotator_widgets.pose_tracking` adds stable ids.

The model is a ``.task`` bundle: a path, a registry name
(``"pose_landmarker_lite"``, ``"pose_landmarker_full"``, ``"pose_landmarker_heavy"``,
``"pose_landmarker_full_wheel"``) or None for the default, see :func:`resolve_pose_model`.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.backends.pose import MediaPipePoseEstimator
    >>> with MediaPipePoseEstimator(num_poses=2, min_pose_detection_confidence=0.3) as est:  # doctest: +SKIP
    ...     people = est.detect(np.zeros((360, 640, 3), np.uint8), timestamp_ms=0)
    >>> people  # doctest: +SKIP
    []
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from ..errors import BackendError, CheckpointError
from ..types import PersonPose
from ._optional import require

__all__ = ["NUM_LANDMARKS", "MediaPipePoseEstimator", "resolve_pose_model", "timestamp_ms"]

log = logging.getLogger(__name__)

#: BlazePose landmarks per person.
NUM_LANDMARKS = 33


def timestamp_ms(index: int, fps: float) -> int:
    """The timestamp (milliseconds) of frame ``index`` in a video at ``fps`` frames per second.

    Example:
        >>> timestamp_ms(25, 25.0)
        1000
    """
    if not fps or fps <= 0 or not np.isfinite(fps):
        fps = 30.0
    return round(index * 1000.0 / fps)


_Found = TypeVar("_Found")
_Self = TypeVar("_Self", bound="VideoTask[Any]")


class VideoTask(Generic[_Found]):
    """What the MediaPipe estimators (pose, hands) share: a context manager, whole-video detection with
    timestamps from the video's fps, and the last timestamp sent. A subclass gives ``_detect`` and ``close``."""

    _last_ts: int | None = None

    def _detect(self, frame: np.ndarray, ts: int, index: int) -> list[_Found]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect_video(self, video: Any, frames: Iterable[int] | None = None) -> Iterator[tuple[int, list[_Found]]]:
        """Yield ``(index, found)`` for the given frames of a video, timestamps from its fps.

        Args:
            video: Anything :func:`~annotator_widgets.open_video` accepts.
            frames: Increasing frame indices (default: every frame).
        """
        from ..video import open_video

        source = open_video(video)
        indices = range(len(source)) if frames is None else frames
        for i in indices:
            yield i, self._detect(source.frame(i), timestamp_ms(i, source.fps), i)

    @property
    def last_timestamp_ms(self) -> int | None:
        """The timestamp sent to MediaPipe by the last video-mode call (None before the first)."""
        return self._last_ts


def resolve_pose_model(model: str | os.PathLike[str] | None = None) -> Path:
    """The ``.task`` file to load.

    Args:
        model: A path to a ``.task`` bundle, a checkpoint registry name, or None:
            the official ``pose_landmarker_full`` when it is on disk, else the bundle
            built from the mediapipe wheel when it is on disk, else
            ``checkpoints.fetch("pose_landmarker_full")`` (downloads the official
            file, or builds the wheel bundle offline). Once a bundle is on disk no
            download is attempted; fetch the official one explicitly with
            ``python -m annotator_widgets.checkpoints fetch pose_landmarker_full``.

    Raises:
        CheckpointError: The path does not exist or the registry entry cannot be fetched.

    Example:
        >>> resolve_pose_model("pose_landmarker_full_wheel").name  # doctest: +SKIP
        'pose_landmarker_full_wheel.task'
    """
    from .. import checkpoints

    if model is None:
        for name in ("pose_landmarker_full", "pose_landmarker_full_wheel"):
            if checkpoints.find_local(name) is not None:
                return checkpoints.fetch(name, progress=False)
        return checkpoints.fetch("pose_landmarker_full", progress=False)
    if isinstance(model, str) and model in checkpoints.REGISTRY:
        return checkpoints.fetch(model, progress=False)
    path = Path(model).expanduser()
    if not path.is_file():
        raise CheckpointError(
            "pose model not found",
            given=str(model),
            hint="pass a .task file or a registry name: "
            + ", ".join(n for n, c in checkpoints.REGISTRY.items() if c.family == "pose"),
        )
    return path


def _check_unit(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise BackendError(f"{name} must lie in 0..1", given=value)
    return v


class MediaPipePoseEstimator(VideoTask[PersonPose]):
    """MediaPipe's pose landmarker behind the :class:`PoseEstimator` protocol.

    Args:
        model: A ``.task`` path, a registry name, or None (see :func:`resolve_pose_model`).
        num_poses: Most people detected per frame.
        min_pose_detection_confidence: Person detector threshold (0.3 finds people
            side by side that 0.5 misses).
        min_pose_presence_confidence: Landmark model's presence threshold.
        min_tracking_confidence: Below it, MediaPipe re-runs the detector instead of
            following the previous frame's landmarks (video mode).
        running_mode: ``"video"`` (frames in time order, MediaPipe follows people
            between frames) or ``"image"`` (every frame on its own).

    Example:
        >>> est = MediaPipePoseEstimator("pose_landmarker_full_wheel", num_poses=2)  # doctest: +SKIP
        >>> for i, people in est.detect_video(open_video("walk.mp4")):  # doctest: +SKIP
        ...     print(i, [p.box(0.5) for p in people])
        >>> est.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        num_poses: int = 2,
        min_pose_detection_confidence: float = 0.5,
        min_pose_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        running_mode: Literal["video", "image"] = "video",
    ) -> None:
        if isinstance(num_poses, bool) or not isinstance(num_poses, int | np.integer) or num_poses < 1:
            raise BackendError("num_poses must be a positive integer", given=num_poses)
        if running_mode not in ("video", "image"):
            raise BackendError("running_mode must be 'video' or 'image'", given=running_mode)
        self.num_poses = int(num_poses)
        self.min_pose_detection_confidence = _check_unit("min_pose_detection_confidence", min_pose_detection_confidence)
        self.min_pose_presence_confidence = _check_unit("min_pose_presence_confidence", min_pose_presence_confidence)
        self.min_tracking_confidence = _check_unit("min_tracking_confidence", min_tracking_confidence)
        self.running_mode = running_mode
        mp = require("mediapipe", purpose="pose landmarks")
        self.model_path = resolve_pose_model(model)
        vision = mp.tasks.vision
        mode = vision.RunningMode.VIDEO if running_mode == "video" else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=mode,
            num_poses=self.num_poses,
            min_pose_detection_confidence=self.min_pose_detection_confidence,
            min_pose_presence_confidence=self.min_pose_presence_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )
        try:
            self._landmarker: Any = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(
                "MediaPipe cannot load the pose model",
                given=str(self.model_path),
                hint="use an official pose_landmarker_*.task file or the bundle built by "
                "`python -m annotator_widgets.checkpoints fetch pose_landmarker_full_wheel`",
            ) from exc
        self._mp = mp
        self._last_ts: int | None = None

    # ------------------------------------------------------------------ protocol
    def detect(self, frame: np.ndarray, timestamp_ms: int = 0) -> list[PersonPose]:
        """Landmarks of every person on one RGB frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            timestamp_ms: The frame's time; in video mode it must increase from call
                to call. A repeated or earlier timestamp is moved to just after the
                previous one (MediaPipe would raise) and logged.

        Returns:
            One :class:`PersonPose` per person, ``frame`` 0 and ``person_id`` 1..N in
            MediaPipe's order (no identity; see :mod:`annotator_widgets.pose_tracking`).
        """
        return self._detect(frame, timestamp_ms, 0)

    def close(self) -> None:
        """Release the model (idempotent)."""
        lm, self._landmarker = getattr(self, "_landmarker", None), None
        if lm is not None:
            lm.close()

    def __repr__(self) -> str:
        return (
            f"MediaPipePoseEstimator({self.model_path.name!r}, num_poses={self.num_poses}, "
            f"detection={self.min_pose_detection_confidence:g}, mode={self.running_mode!r})"
        )

    def _detect(self, frame: np.ndarray, ts: int, index: int) -> list[PersonPose]:
        if self._landmarker is None:
            raise BackendError(
                "the pose estimator is closed", given=repr(self), hint="create a new MediaPipePoseEstimator"
            )
        arr = np.asarray(frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise BackendError("frame must be an (H, W, 3) uint8 RGB array", given=(arr.shape, str(arr.dtype)))
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(arr))
        if self.running_mode == "image":
            result = self._landmarker.detect(image)
        else:
            ts = int(ts)
            if self._last_ts is not None and ts <= self._last_ts:
                log.debug(
                    "timestamp %d ms does not increase (last %d ms); using %d", ts, self._last_ts, self._last_ts + 1
                )
                ts = self._last_ts + 1
            result = self._landmarker.detect_for_video(image, ts)
            self._last_ts = ts
        h, w = arr.shape[:2]
        return _to_poses(result, index, w, h)


def _to_poses(result: Any, index: int, width: int, height: int) -> list[PersonPose]:
    """MediaPipe's normalised landmarks to :class:`PersonPose` records in video pixels."""
    out = []
    worlds = result.pose_world_landmarks or []
    for k, person in enumerate(result.pose_landmarks or []):
        lm = np.array([(p.x, p.y, p.visibility if p.visibility is not None else 0.0) for p in person], np.float32)
        lm[:, 0] *= width
        lm[:, 1] *= height
        world = None
        if k < len(worlds) and len(worlds[k]) == len(person):
            world = np.array([(p.x, p.y, p.z) for p in worlds[k]], np.float32)
        out.append(PersonPose(index, k + 1, lm, world, score=float(lm[:, 2].mean())))
    return out
