"""Track people through a video: a pose model on every frame, then stable ids from :class:`PersonTracker`.

:func:`track_people` is the headless driver: it runs a pose estimator (a ``"pose"``
part from the registry, MediaPipe by default, or your own instance) over the video
in time order, describes each frame's people once, and hands them to the identity
tracker (:mod:`annotator_widgets.pose_tracker`) forward from a chosen frame and
backward from it. Progress and cancellation work as everywhere
(:mod:`annotator_widgets.progress`), so a widget's worker thread and a script drive
the same code. :func:`detect_poses` is the detection loop alone (also used for the
run-up before a click, see :mod:`annotator_widgets.workflows.people`).

MediaPipe is loaded lazily: importing this module needs only NumPy, SciPy and OpenCV.

Example:
    >>> import numpy as np
    >>> class Nobody:  # any object with detect() and close() is a pose estimator
    ...     def detect(self, frame, timestamp_ms=0):
    ...         return []
    ...     def close(self):
    ...         pass
    >>> track_people(np.zeros((3, 32, 32, 3), np.uint8), estimator=Nobody())
    [[], [], []]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from . import registry
from .errors import PromptError
from .pose_features import PersonFeatures
from .pose_tracker import PersonTracker, Selection, select_people
from .progress import CancelSignal, ProgressCallback, Steps
from .types import PersonPose, check_frame

__all__ = [
    "THRESHOLDS",
    "PersonTracker",
    "Selection",
    "detect_poses",
    "open_pose_estimator",
    "select_people",
    "track_people",
]

log = logging.getLogger(__name__)

#: the detection thresholds a pose part built by name accepts (MediaPipe's names)
THRESHOLDS = ("min_pose_detection_confidence", "min_pose_presence_confidence", "min_tracking_confidence")


def open_pose_estimator(
    estimator: Any = "mediapipe",
    *,
    model: str | None = None,
    num_poses: int = 2,
    running_mode: str = "video",
    thresholds: Mapping[str, float] | None = None,
) -> tuple[Any, bool]:
    """A pose estimator and whether the caller owns it (must close it).

    Args:
        estimator: A ``"pose"`` registry spec (``"mediapipe"`` (also for None), ``"mediapipe:/path/model.task"``,
            a plugin's name): built with the options below, owned by the caller. Or a ready
            :class:`~annotator_widgets.backends.PoseEstimator` instance: checked and returned
            as is, not owned (it is never closed here).
        model: The model file or registry name (``model=`` of the part), if any.
        num_poses: Most people detected per frame.
        running_mode: ``"video"`` (frames in time order) or ``"image"``.
        thresholds: Detection thresholds by name (:data:`THRESHOLDS`).

    Raises:
        PromptError: An unknown threshold name.
        BackendError: An unknown part, or one that cannot be built with these options.
    """
    if estimator is None:
        estimator = "mediapipe"
    if not isinstance(estimator, str):
        return registry.resolve("pose", estimator), False
    thresholds = dict(thresholds or {})
    bad = set(thresholds) - set(THRESHOLDS)
    if bad:
        raise PromptError("unknown threshold", given=sorted(bad), hint=f"use {list(THRESHOLDS)}")
    options: dict[str, Any] = {"num_poses": num_poses, "running_mode": running_mode, **thresholds}
    if model is not None:
        options["model"] = model
    return registry.resolve("pose", estimator, **options), True


def detect_poses(
    video: Any,
    estimator: Any,
    frames: Iterable[int],
    *,
    total: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    text: str = "pose",
) -> Iterator[tuple[int, np.ndarray, list[PersonPose]]]:
    """Run a pose estimator over frames in time order: yields ``(index, rgb, poses)`` with ``pose.frame`` set.

    Args:
        video: An open :class:`~annotator_widgets.VideoSource` (frames are read one at a time).
        estimator: A :class:`~annotator_widgets.backends.PoseEstimator`.
        frames: Increasing frame indices.
        total: Steps to report (default ``len(frames)``).
        progress: Called after each frame (see :mod:`annotator_widgets.progress`).
        cancel: Checked before and after each frame; raises :class:`~annotator_widgets.progress.Cancelled`.
        text: What the reports say.
    """
    from .backends.pose import timestamp_ms

    indices = list(frames)
    steps = Steps(progress, cancel, total=len(indices) if total is None else total, text=text)
    steps.check()
    for i in indices:
        rgb = video.frame(i)
        poses = [replace(p, frame=i) for p in estimator.detect(rgb, timestamp_ms(i, video.fps))]
        steps.advance()
        yield i, rgb, poses


def track_people(
    video: Any,
    *,
    num_poses: int = 2,
    model: str | None = None,
    select: Selection = "all",
    frame: int = 0,
    estimator: Any = "mediapipe",
    tracker: PersonTracker | None = None,
    use_color: bool = True,
    show_progress: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    cuts: Sequence[int] = (),
    **thresholds: float,
) -> list[list[PersonPose]]:
    """Detect people with a pose model and give them stable ids across the video (headless).

    Args:
        video: Anything :func:`~annotator_widgets.open_video` accepts.
        num_poses: Most people detected per frame.
        model: Pose model (path or registry name; None: see
            :func:`~annotator_widgets.backends.pose.resolve_pose_model`).
        select: ``"all"`` people, the ``"largest"`` one on ``frame``, or the one nearest
            an ``(x, y)`` click on ``frame``.
        frame: The frame the selection is made on; tracking runs forward from it and
            backward to frame 0.
        estimator: A ``"pose"`` registry spec (default ``"mediapipe"``; built in video mode
            with ``model``, ``num_poses`` and the thresholds, closed at the end) or a ready
            :class:`~annotator_widgets.backends.PoseEstimator` (used as is, not closed).
        tracker: A configured :class:`PersonTracker` (default settings otherwise).
        use_color: Compare torso colours (a hue/saturation histogram per person and frame).
        show_progress: Show a tqdm progress bar while detecting.
        progress: Called as ``progress(done, total, text)`` after each frame.
        cancel: A :class:`threading.Event` or callable; once set, stops with
            :class:`~annotator_widgets.progress.Cancelled` at the next frame.
        cuts: Shot cuts (the first frame of each new shot, e.g. ``session.cuts()``): with ``select="all"`` nobody
            keeps an id across one (a position after a cut says nothing about who is who), so each shot's people
            get their own ids.
        **thresholds: ``min_pose_detection_confidence``, ``min_pose_presence_confidence``,
            ``min_tracking_confidence`` for MediaPipe.

    Returns:
        One list per frame of :class:`PersonPose` whose ``person_id`` is a stable id 1..K.

    Example:
        >>> import annotator_widgets as aw
        >>> tracks = aw.track_people("walk.mp4", num_poses=3, min_pose_detection_confidence=0.3)  # doctest: +SKIP
        >>> {p.person_id for frame in tracks for p in frame}  # doctest: +SKIP
        {1, 2, 3}
    """
    from tqdm.auto import tqdm

    from .video import open_video

    source = open_video(video)
    n = len(source)
    check_frame(frame, n)
    est, own = open_pose_estimator(estimator, model=model, num_poses=num_poses, thresholds=thresholds)
    tracker = tracker or PersonTracker()
    detections: list[list[PersonFeatures]] = []
    try:
        with tqdm(total=n, desc="pose", unit="frame", disable=not show_progress) as bar:
            for _, rgb, poses in detect_poses(source, est, range(n), progress=progress, cancel=cancel):
                detections.append(tracker.describe(poses, rgb if use_color else None))
                bar.update(1)
    finally:
        if own:
            est.close()
    out: list[list[PersonPose]] = [[] for _ in range(n)]
    if n == 0:
        return out
    k = int(frame)
    shots = set(cuts) if select == "all" else set()
    out[k] = tracker.start_detections(detections[k], select, frame=k)
    backward = tracker.copy()
    for i in range(k + 1, n):
        if i in shots:
            tracker.reset(tracker.next_id)
        out[i] = tracker.assign(detections[i], i)
    backward.next_id = tracker.next_id
    for i in range(k - 1, -1, -1):
        if i + 1 in shots:
            backward.reset(backward.next_id)
        out[i] = backward.assign(detections[i], i)
    log.info("tracked %d people over %d frames", len({p.person_id for f in out for p in f}), n)
    return out
