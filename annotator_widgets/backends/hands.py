"""MediaPipe hand landmarks on video frames (the Tasks API's ``HandLandmarker``).

:class:`MediaPipeHandEstimator` implements the :class:`~annotator_widgets.backends.HandEstimator`
protocol: frames go in, in time order, and every hand's 21 landmarks come out in video
pixels with its handedness and world landmarks (metres). ``person_id`` stays None; assign
hands to tracked people with :func:`annotator_widgets.hands.assign_hands`.

**Handedness** is the person's own hand ("left" = their left hand) for ordinary, non-mirrored
video. Measured with mediapipe 1.2.2 and the wheel's models on real photos: MediaPipe's
"Left"/"Right" labels matched the pose model's left/right wrists (both hands of a man in
ultralytics' ``bus.jpg``) and the anatomy of Zidane's pointing left hand in ``zidane.jpg``,
and flipping an image flips the label. (The legacy ``mp.solutions.hands`` documented the
opposite: labels for mirrored selfie input.) For selfie / front-camera video that was mirrored
before it reached us, pass ``mirrored=True`` and the labels are swapped.

**Small hands.** The palm detector sees the frame letterboxed to 192x192, so it finds hands
wider than about 1/10 of the frame's longer side: none of the hands of people in full view
at 640x360. :meth:`MediaPipeHandEstimator.detect_in_boxes` runs the landmarker on enlarged
crops around given boxes instead, e.g. :func:`annotator_widgets.hands.hand_regions` around the
pose model's wrists (what MediaPipe Holistic does).

The model is a ``.task`` bundle: a path, a registry name (``"hand_landmarker"``,
``"hand_landmarker_full_wheel"``) or None for the default, see :func:`resolve_hand_model`.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.backends.hands import MediaPipeHandEstimator
    >>> with MediaPipeHandEstimator(num_hands=2) as est:  # doctest: +SKIP
    ...     hands = est.detect(np.zeros((360, 640, 3), np.uint8), timestamp_ms=0)
    >>> hands  # doctest: +SKIP
    []
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import BackendError, CheckpointError
from ..types import Box, HandPose
from ._optional import require
from .pose import VideoTask

__all__ = ["NUM_HAND_LANDMARKS", "MediaPipeHandEstimator", "resolve_hand_model"]

log = logging.getLogger(__name__)

#: landmarks per hand
NUM_HAND_LANDMARKS = 21
#: wrists of two results closer than this fraction of the hand's size are the same hand
_SAME_HAND = 0.25


def resolve_hand_model(model: str | os.PathLike[str] | None = None) -> Path:
    """The ``.task`` file to load.

    Args:
        model: A path to a ``.task`` bundle, a checkpoint registry name, or None: the official
            ``hand_landmarker`` when it is on disk, else the bundle built from the mediapipe
            wheel when it is on disk, else ``checkpoints.fetch("hand_landmarker")`` (downloads
            the official file, or builds the wheel bundle offline).

    Raises:
        CheckpointError: The path does not exist or the registry entry cannot be fetched.
    """
    from .. import checkpoints

    if model is None:
        for name in ("hand_landmarker", "hand_landmarker_full_wheel"):
            if checkpoints.find_local(name) is not None:
                return checkpoints.fetch(name, progress=False)
        return checkpoints.fetch("hand_landmarker", progress=False)
    if isinstance(model, str) and model in checkpoints.REGISTRY:
        return checkpoints.fetch(model, progress=False)
    path = Path(model).expanduser()
    if not path.is_file():
        raise CheckpointError(
            "hand model not found",
            given=str(model),
            hint="pass a .task file or a registry name: "
            + ", ".join(n for n, c in checkpoints.REGISTRY.items() if c.family == "hands"),
        )
    return path


def _check_unit(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise BackendError(f"{name} must lie in 0..1", given=value)
    return v


def _check_frame(frame: np.ndarray) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise BackendError("frame must be an (H, W, 3) uint8 RGB array", given=(arr.shape, str(arr.dtype)))
    return arr


class MediaPipeHandEstimator(VideoTask[HandPose]):
    """MediaPipe's hand landmarker behind the :class:`HandEstimator` protocol.

    Args:
        model: A ``.task`` path, a registry name, or None (see :func:`resolve_hand_model`).
        num_hands: Most hands detected per frame.
        min_hand_detection_confidence: Palm detector threshold. The default 0.3 (MediaPipe's
            is 0.5) finds the clearly visible pointing hand of ``zidane.jpg`` that 0.5 misses.
        min_hand_presence_confidence: Landmark model's presence threshold.
        min_tracking_confidence: Below it, MediaPipe re-runs the palm detector instead of
            following the previous frame's hands (video mode).
        running_mode: ``"video"`` (frames in time order, hands followed between frames) or
            ``"image"`` (every frame on its own).
        mirrored: The video is mirrored (selfie camera): swap MediaPipe's labels so that
            handedness stays the person's own side.

    Example:
        >>> est = MediaPipeHandEstimator("hand_landmarker_full_wheel", running_mode="image")  # doctest: +SKIP
        >>> [(h.handedness, h.box().xyxy) for h in est.detect(photo)]  # doctest: +SKIP
        >>> est.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        num_hands: int = 2,
        min_hand_detection_confidence: float = 0.3,
        min_hand_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        running_mode: Literal["video", "image"] = "video",
        mirrored: bool = False,
    ) -> None:
        if isinstance(num_hands, bool) or not isinstance(num_hands, int | np.integer) or num_hands < 1:
            raise BackendError("num_hands must be a positive integer", given=num_hands)
        if running_mode not in ("video", "image"):
            raise BackendError("running_mode must be 'video' or 'image'", given=running_mode)
        self.num_hands = int(num_hands)
        self.min_hand_detection_confidence = _check_unit("min_hand_detection_confidence", min_hand_detection_confidence)
        self.min_hand_presence_confidence = _check_unit("min_hand_presence_confidence", min_hand_presence_confidence)
        self.min_tracking_confidence = _check_unit("min_tracking_confidence", min_tracking_confidence)
        self.running_mode = running_mode
        self.mirrored = bool(mirrored)
        self._mp = require("mediapipe", purpose="hand landmarks")
        self.model_path = resolve_hand_model(model)
        self._landmarker: Any = self._create(running_mode, self.num_hands)
        self._crop_landmarker: Any = None
        self._closed = False
        self._last_ts: int | None = None

    def _create(self, mode: str, num_hands: int) -> Any:
        vision = self._mp.tasks.vision
        options = vision.HandLandmarkerOptions(
            base_options=self._mp.tasks.BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_hands=num_hands,
            min_hand_detection_confidence=self.min_hand_detection_confidence,
            min_hand_presence_confidence=self.min_hand_presence_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )
        try:
            return vision.HandLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(
                "MediaPipe cannot load the hand model",
                given=str(self.model_path),
                hint="use an official hand_landmarker.task file or the bundle built by "
                "`python -m annotator_widgets.checkpoints fetch hand_landmarker_full_wheel`",
            ) from exc

    # ------------------------------------------------------------------ protocol
    def detect(self, frame: np.ndarray, timestamp_ms: int = 0) -> list[HandPose]:
        """Landmarks of every hand on one RGB frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            timestamp_ms: The frame's time; in video mode it must increase from call to call.
                A repeated or earlier timestamp is moved to just after the previous one
                (MediaPipe would raise) and logged.

        Returns:
            One :class:`HandPose` per hand, ``frame`` 0 and ``person_id`` None.
        """
        return self._detect(frame, timestamp_ms, 0)

    def close(self) -> None:
        """Release the models (idempotent)."""
        self._closed = True
        for attr in ("_landmarker", "_crop_landmarker"):
            lm = getattr(self, attr, None)
            setattr(self, attr, None)
            if lm is not None:
                lm.close()

    def __repr__(self) -> str:
        return (
            f"MediaPipeHandEstimator({self.model_path.name!r}, num_hands={self.num_hands}, "
            f"detection={self.min_hand_detection_confidence:g}, mode={self.running_mode!r}, mirrored={self.mirrored})"
        )

    def detect_in_boxes(
        self, frame: np.ndarray, boxes: Sequence[Box], *, index: int = 0, size: int = 256
    ) -> list[HandPose]:
        """Hands inside given regions of a frame, each region enlarged for the palm detector.

        Every box becomes a square crop around its centre (side = the box's longer side; parts
        outside the frame are black), resized to ``size`` pixels and searched on its own
        (image mode, up to two hands). Landmarks come back in frame pixels; a hand found in
        two overlapping crops is kept once (the higher score).

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            boxes: Where to look, in frame pixels (e.g. :func:`annotator_widgets.hands.hand_regions`).
            index: The frame index written into the results.
            size: Side of the crop the model sees, in pixels.

        Returns:
            The hands found, best first; ``person_id`` None.
        """
        import cv2

        if self._closed:
            raise BackendError("the hand estimator is closed", given=repr(self), hint="create a new one")
        arr = _check_frame(frame)
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 32:
            raise BackendError("size must be an integer >= 32", given=size)
        if self._crop_landmarker is None:
            self._crop_landmarker = self._create("image", 2)
        h, w = arr.shape[:2]
        found: list[HandPose] = []
        for box in boxes:
            if not isinstance(box, Box):
                raise BackendError("boxes must be Box records in frame pixels", given=type(box).__name__)
            side = max(box.x1 - box.x0, box.y1 - box.y0)
            cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            x0, y0, s = round(cx - side / 2), round(cy - side / 2), max(1, round(side))
            crop = np.zeros((s, s, 3), np.uint8)
            sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
            if sx1 <= sx0 or sy1 <= sy0:
                continue
            crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = arr[sy0:sy1, sx0:sx1]
            interp = cv2.INTER_CUBIC if s < size else cv2.INTER_AREA
            big = np.ascontiguousarray(cv2.resize(crop, (int(size), int(size)), interpolation=interp))
            result = self._crop_landmarker.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=big))
            found += self._to_hands(result, index, s, s, offset=(x0, y0))
        return _dedupe(found)

    def _detect(self, frame: np.ndarray, ts: int, index: int) -> list[HandPose]:
        if self._closed or self._landmarker is None:
            raise BackendError("the hand estimator is closed", given=repr(self), hint="create a new one")
        arr = _check_frame(frame)
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
        return self._to_hands(result, index, w, h)

    def _to_hands(
        self, result: Any, index: int, width: float, height: float, offset: tuple[float, float] = (0.0, 0.0)
    ) -> list[HandPose]:
        """MediaPipe's normalised landmarks to :class:`HandPose` records in frame pixels."""
        out = []
        worlds = result.hand_world_landmarks or []
        labels = result.handedness or []
        for k, hand in enumerate(result.hand_landmarks or []):
            category = labels[k][0] if k < len(labels) and labels[k] else None
            name = str(getattr(category, "category_name", "") or "").lower()
            if category is None or name not in ("left", "right"):
                log.warning("MediaPipe gave no handedness for a hand; skipping it (got %r)", category)
                continue
            if self.mirrored:
                name = "right" if name == "left" else "left"
            lm = np.array(
                [(p.x, p.y, p.visibility if p.visibility is not None else 1.0) for p in hand], np.float32
            ).reshape(-1, 3)
            lm[:, 0] = lm[:, 0] * width + offset[0]
            lm[:, 1] = lm[:, 1] * height + offset[1]
            world = None
            if k < len(worlds) and len(worlds[k]) == len(hand):
                world = np.array([(p.x, p.y, p.z) for p in worlds[k]], np.float32)
            out.append(HandPose(index, None, name, lm, world, score=float(category.score or 0.0)))
        return out


def _dedupe(hands: list[HandPose]) -> list[HandPose]:
    """Best first; a hand whose wrist lies near a better hand's wrist (same side) is dropped."""
    kept: list[HandPose] = []
    for hand in sorted(hands, key=lambda hp: -hp.score):
        b = hand.box()
        scale = max(b.x1 - b.x0, b.y1 - b.y0)
        if not any(
            k.handedness == hand.handedness
            and float(np.hypot(*(k.landmarks[0, :2] - hand.landmarks[0, :2]))) < _SAME_HAND * scale
            for k in kept
        ):
            kept.append(hand)
    return kept
