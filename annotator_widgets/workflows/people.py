"""People workflows: track everybody, pick the person under a click, seed a region, segment people.

Each workflow is a function of an :class:`~annotator_widgets.AnnotationSession`, so a
script, the CLI and the widget's tools run the same code (the widget runs them in a
worker thread). Long-running ones take ``progress`` and ``cancel``
(:mod:`annotator_widgets.progress`): a cancelled run raises
:class:`~annotator_widgets.progress.Cancelled` and stores nothing.

* :func:`track_everybody` - every person through the video becomes a ``person`` object
  with its poses (people already stored keep their ids);
* :func:`pick_person` - the stored person under a click, or, where nobody is stored,
  the person a pose model finds there (after a run-up, see :func:`find_people`),
  tracked forward and backward from that frame and stored;
* :func:`seed_region` - every person meeting a region (stored ones and newly detected
  ones) becomes an object prompted from its landmarks, then all are propagated together;
  with ``detector=...``, the people whose box from a detector (any registered grounder
  asked for "person") meets the region, prompted with their boxes
  (:mod:`.people_detect`);
* :func:`segment_people` - people's stored poses as segmenter prompts on one frame.

The pose model is a ``"pose"`` part (:func:`annotator_widgets.registry.resolve`):
``estimator="mediapipe"`` (the default) or another registered name, built and closed
here, or a ready :class:`~annotator_widgets.backends.PoseEstimator` instance, used as is.

Example:
    >>> from annotator_widgets import AnnotationSession, Box  # doctest: +SKIP
    >>> from annotator_widgets.workflows.people import pick_person, seed_region, track_everybody  # doctest: +SKIP
    >>> session = AnnotationSession("street.mp4", segmenter="classic")  # doctest: +SKIP
    >>> people = track_everybody(session, num_poses=3, progress=print)  # doctest: +SKIP
    >>> cyclist = pick_person(session, 40, 212, 130)  # doctest: +SKIP
    >>> [o.obj_id for o in seed_region(session, 0, Box(0, 100, 320, 360))]  # doctest: +SKIP
    [1, 4]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import NotFoundError, PromptError, SessionBusyError
from ..pose_tracking import detect_poses, open_pose_estimator, track_people
from ..progress import CancelSignal, ProgressCallback
from ..types import Box, ObjectInfo, PersonPose, Prompt, check_frame
from .people_detect import meets, propagate_seeded, seed_detected
from .poses import PERSON, nearest_person, new_people, pose_box, pose_to_prompt, store_tracks

if TYPE_CHECKING:
    from ..session import AnnotationSession

__all__ = [
    "PERSON",
    "RUN_UP",
    "find_people",
    "nearest_person",
    "new_people",
    "person_at",
    "pick_person",
    "pose_to_prompt",
    "seed_region",
    "segment_people",
    "store_tracks",
    "track_everybody",
]

log = logging.getLogger(__name__)

#: frames a pose model sees in video mode before the frame where people are looked for
#: (MediaPipe finds more people after following the video for a few frames than on one image)
RUN_UP = 10
#: detection threshold of the workflows (MediaPipe's 0.5 misses people standing side by side)
THRESHOLD = 0.3


def _idle(session: AnnotationSession, what: str) -> None:
    if session.busy:
        raise SessionBusyError.running(f"a propagation is running; cannot {what}")


def _pose_options(threshold: float, thresholds: dict[str, float]) -> dict[str, Any]:
    return {"min_pose_detection_confidence": float(threshold), **thresholds}


# ---------------------------------------------------------------------------------------------- finding people


def find_people(
    session: AnnotationSession,
    frame: int,
    *,
    estimator: Any = "mediapipe",
    model: str | None = None,
    num_poses: int = 2,
    threshold: float = THRESHOLD,
    run_up: int = RUN_UP,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    **thresholds: float,
) -> list[PersonPose]:
    """The people a pose model finds on ``frame``, after following the ``run_up`` frames before it.

    The model runs in video mode from ``frame - run_up`` (or the first frame) to ``frame``;
    what it finds on ``frame`` is returned (``person_id`` is MediaPipe's placeholder 1..N).

    Args:
        session: Its video is read.
        frame: The frame to find people on.
        estimator: A ``"pose"`` registry spec or a ready estimator (see the module).
        model: The pose model file or registry name, for a spec.
        num_poses: Most people found per frame.
        threshold: Detection confidence (``min_pose_detection_confidence``).
        run_up: Frames seen before ``frame``.
        progress: Called after each frame as ``progress(done, total, "finding people d/t")``.
        cancel: Stops at the next frame with :class:`~annotator_widgets.progress.Cancelled`.
        **thresholds: Other MediaPipe thresholds.
    """
    video = session.video
    frame = check_frame(frame, len(video))
    first = max(0, frame - max(0, int(run_up)))
    est, own = open_pose_estimator(
        estimator, model=model, num_poses=num_poses, thresholds=_pose_options(threshold, thresholds)
    )
    try:
        last: list[PersonPose] = []
        for _, _, poses in detect_poses(
            video, est, range(first, frame + 1), progress=progress, cancel=cancel, text="finding people"
        ):
            last = poses
        return last
    finally:
        if own:
            est.close()


def person_at(session: AnnotationSession, frame: int, x: float, y: float) -> ObjectInfo | None:
    """The stored person a click at video pixel ``(x, y)`` on ``frame`` points at, or None (no model runs)."""
    hit = nearest_person(session.project.poses(check_frame(frame, len(session.video))), x, y)
    return None if hit is None else session.object(hit.person_id)


# ---------------------------------------------------------------------------------------------- tracking


def track_everybody(
    session: AnnotationSession,
    *,
    num_poses: int = 2,
    threshold: float = THRESHOLD,
    estimator: Any = "mediapipe",
    model: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    **options: Any,
) -> dict[int, ObjectInfo]:
    """Track every person through the video and store each as a ``person`` object with its poses.

    A person already stored (same poses) keeps its object id, colour and masks
    (:func:`~annotator_widgets.workflows.poses.store_tracks`); storing is one undo step.

    Args:
        session: The session whose video is tracked and whose project receives the people.
        num_poses: Most people per frame.
        threshold: Detection confidence (lower finds more people, and more false ones).
        estimator: A ``"pose"`` registry spec or a ready estimator.
        model: The pose model file or registry name, for a spec.
        progress: Called after each frame: ``progress(done, total, "pose d/t")``.
        cancel: Stops at the next frame with :class:`~annotator_widgets.progress.Cancelled`; nothing is stored.
        **options: More for :func:`~annotator_widgets.pose_tracking.track_people` (``select``,
            ``frame``, ``tracker``, ``use_color``, other MediaPipe thresholds).

    Returns:
        Track id -> the person's object.

    Raises:
        NotFoundError: Nobody was found on any frame.
    """
    _idle(session, "track people")
    thresholds = {k: options.pop(k) for k in list(options) if k.startswith("min_")}
    if "cuts" not in options:  # who is who holds within a shot (not scanned when the caller gives them)
        options["cuts"] = session.cuts() if session.stop_at_cuts else ()
    tracks = track_people(
        session.video,
        estimator=estimator,
        model=model,
        num_poses=num_poses,
        progress=progress,
        cancel=cancel,
        **options,
        **_pose_options(threshold, thresholds),
    )
    if not any(tracks):
        raise NotFoundError(
            f"no person found in {len(tracks)} frames",
            given=f"threshold {threshold:g}",
            hint="lower the threshold or check the video",
        )
    _idle(session, "store the people")
    return store_tracks(session.project, tracks)


def pick_person(
    session: AnnotationSession,
    frame: int,
    x: float,
    y: float,
    *,
    estimator: Any = "mediapipe",
    model: str | None = None,
    num_poses: int = 2,
    threshold: float = THRESHOLD,
    run_up: int = RUN_UP,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    **thresholds: float,
) -> ObjectInfo:
    """The person under a click: the stored one, else the one a pose model finds there, tracked and stored.

    Where a stored pose on ``frame`` holds the click (:func:`person_at`), that person's object
    is returned at once. Otherwise the people on ``frame`` are found after a run-up
    (:func:`find_people`); if one is near the click, the whole video is tracked with that
    person selected (forward and backward from ``frame``; everybody else is tracked too but
    not stored) and stored - as a new ``person`` object, or as the person object it already
    is elsewhere in the video.

    Args:
        session: The session.
        frame: The frame clicked.
        x: Column of the click, video pixels.
        y: Row of the click, video pixels.
        estimator: A ``"pose"`` registry spec or a ready estimator.
        model: The pose model file or registry name, for a spec.
        num_poses: Most people per frame (the others compete for the selected person's detections).
        threshold: Detection confidence.
        run_up: Frames the model follows before ``frame`` to find people there.
        progress: Called after each frame of the run-up (``"finding people d/t"``), then of the
            tracking (``"pose d/t"``).
        cancel: Stops at the next frame with :class:`~annotator_widgets.progress.Cancelled`; nothing is stored.
        **thresholds: Other MediaPipe thresholds.

    Returns:
        The person's object.

    Raises:
        NotFoundError: Nobody is found near the click (checked after the run-up, before the
            whole video is tracked).
    """
    frame = check_frame(frame, len(session.video))
    hit = person_at(session, frame, x, y)
    if hit is not None:
        return hit
    _idle(session, "track a person")
    pose_options: dict[str, Any] = {"estimator": estimator, "model": model, "num_poses": num_poses}
    detection = _pose_options(threshold, thresholds)

    def missed() -> NotFoundError:
        return NotFoundError(
            f"no person near the click on frame {frame}",
            given=(round(float(x)), round(float(y))),
            hint="click a person's head or body, or lower the pose threshold",
        )

    found = find_people(session, frame, run_up=run_up, progress=progress, cancel=cancel, **pose_options, **detection)
    if nearest_person(found, x, y) is None:
        raise missed()
    tracks = track_people(
        session.video,
        select=(float(x), float(y)),
        frame=frame,
        progress=progress,
        cancel=cancel,
        **pose_options,
        **detection,
    )
    chosen = nearest_person(tracks[frame], x, y)
    if chosen is None:  # the tracker settled on somebody else
        raise missed()
    _idle(session, "store the person")
    return store_tracks(session.project, tracks)[chosen.person_id]


# ---------------------------------------------------------------------------------------------- prompting


def _prompt_session(session: AnnotationSession, prompt: Prompt) -> dict[int, np.ndarray]:
    if prompt.box is not None:
        return session.add_box(prompt.frame, prompt.obj_id, prompt.box, keep_points=False)
    coords = [(p.x, p.y) for p in prompt.points]
    return session.add_points(prompt.frame, prompt.obj_id, coords, clear=True)


def segment_people(
    session: AnnotationSession,
    frame: int,
    person_ids: Iterable[int] | None = None,
    *,
    kind: Literal["points", "box"] = "points",
    min_visibility: float = 0.5,
) -> dict[int, np.ndarray]:
    """Prompt the segmenter with people's stored poses on one frame, so each gets a masklet with its id.

    Args:
        session: The session; the poses are read from its project.
        frame: The frame to prompt on.
        person_ids: Which people (object ids); default every person with a pose on ``frame``.
        kind: ``"points"`` or ``"box"``, see :func:`pose_to_prompt`.
        min_visibility: Landmarks below it are not used.

    Returns:
        ``{obj_id: mask}`` of every object with a mask on ``frame`` afterwards.

    Without ``person_ids``, a person with no landmark inside the frame is skipped (logged).

    Raises:
        PromptError: A requested person has no pose stored on ``frame``, or none of their landmarks inside it.
    """
    frame = check_frame(frame, len(session.video))
    poses = {p.person_id: p for p in session.project.poses(frame)}
    ids = sorted(poses) if person_ids is None else [int(i) for i in person_ids]
    missing = [i for i in ids if i not in poses]
    if missing:
        who = f"object {missing[0]} has" if len(missing) == 1 else f"objects {missing} have"
        raise PromptError(
            f"{who} no pose on frame {frame}",
            given=missing,
            hint=f"people with a pose there: {sorted(poses)}; go to a frame where the skeleton is shown, "
            "or track the person first",
        )
    masks: dict[int, np.ndarray] = session.masks(frame)
    for pid in ids:
        try:
            prompt = pose_to_prompt(
                poses[pid], kind, frame=frame, min_visibility=min_visibility, size=session.video.size
            )
        except PromptError as exc:
            if person_ids is not None:
                raise  # a person asked for by id: say why they cannot be segmented
            log.warning("skipping person %d on frame %d: %s", pid, frame, exc)
            continue
        masks = _prompt_session(session, prompt)
    return masks


def seed_region(
    session: AnnotationSession,
    frame: int,
    region: Box | Sequence[float],
    *,
    propagate: bool = True,
    direction: Literal["forward", "backward", "both"] = "forward",
    poses: Sequence[PersonPose] | None = None,
    detect: bool = True,
    estimator: Any = "mediapipe",
    model: str | None = None,
    num_poses: int = 5,
    threshold: float = THRESHOLD,
    run_up: int = RUN_UP,
    min_visibility: float = 0.5,
    detector: Any = None,
    detector_threshold: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
    **thresholds: float,
) -> list[ObjectInfo]:
    """Every person whose box meets ``region`` on ``frame`` becomes an object prompted from its landmarks.

    With ``detector`` (a ``"grounder"`` spec such as ``"detr"``, ``"rt-detr:<folder>"``,
    ``"owlv2"``, or a ready grounder) the people are instead those whose box from that detector,
    asked for "person", meets the region: each becomes a new ``person`` object prompted with its
    box, the detections are stored (:func:`~.people_detect.seed_detected`; the pose options are
    not used).

    The people are the ones stored on ``frame`` (they keep their ids) plus, with ``detect``,
    the ones a pose model finds there after a run-up (:func:`find_people`) that overlap none
    of the stored people; or exactly ``poses`` when given (e.g. from your own detector: each
    is a new person, its ``person_id`` is ignored). Each new person becomes an object of
    category ``"person"`` with its pose stored under the new id. Every seeded person is
    prompted with points from its landmarks (:func:`pose_to_prompt`) - all of it one undo
    step - then all of them are propagated together in one pass.

    Args:
        session: The annotation session.
        frame: The frame the region is drawn on.
        region: A :class:`Box` or ``(x0, y0, x1, y1)`` in video pixels.
        propagate: Run the propagation afterwards (a cancel stops it after the current
            frame, keeping the frames done, as the session's propagation does).
        direction: Direction of that propagation.
        poses: The people on ``frame``, instead of the stored and detected ones.
        detect: Look for people that are not stored yet (a pose model runs).
        estimator: A ``"pose"`` registry spec or a ready estimator.
        model: The pose model file or registry name, for a spec.
        num_poses: Most people the model finds.
        threshold: Detection confidence.
        run_up: Frames the model follows before ``frame``.
        min_visibility: Landmarks below it do not count for boxes and prompts.
        detector: Seed the people a detector finds instead of the pose route (see above).
        detector_threshold: The detector's lowest score kept (None: its default).
        progress: Called after each detected frame, then each propagated frame.
        cancel: Stops the detection (:class:`~annotator_widgets.progress.Cancelled`, nothing
            stored) or the propagation.
        **thresholds: Other MediaPipe thresholds.

    Returns:
        The seeded people's objects, by id.

    Raises:
        NotFoundError: Nobody meets the region.
    """
    w, h = session.video.size
    given = region if isinstance(region, Box) else Box.from_corners(*[float(v) for v in region])
    box = given.clip(w, h)
    if box is None:
        raise PromptError(f"region lies outside the {w}x{h} frame", given=given.xyxy)
    frame = check_frame(frame, len(session.video))
    _idle(session, "seed a region")
    if detector is not None:
        return seed_detected(
            session,
            frame,
            box,
            detector=detector,
            threshold=detector_threshold,
            propagate=propagate,
            direction=direction,
            progress=progress,
            cancel=cancel,
        )
    project = session.project
    stored = project.poses(frame) if poses is None else []
    if poses is not None:
        found = [replace(p, frame=frame) for p in poses]
    elif detect:
        seen = find_people(
            session,
            frame,
            estimator=estimator,
            model=model,
            num_poses=num_poses,
            threshold=threshold,
            run_up=run_up,
            progress=progress,
            cancel=cancel,
            **thresholds,
        )
        found = new_people(seen, stored)
    else:
        found = []
    candidates = [(p, True) for p in stored] + [(p, False) for p in found]
    meeting = [(p, known) for p, known in candidates if (b := pose_box(p, min_visibility)) and meets(b, box)]
    inside, outside = _promptable(meeting, frame, min_visibility, (w, h))
    if not inside:
        raise NotFoundError(
            f"no person meets the region on frame {frame}"
            + (f" with a landmark inside the frame ({len(outside)} lie wholly outside it)" if outside else ""),
            given=tuple(round(v) for v in box.xyxy),
            hint="draw the region over a person, or lower the pose threshold",
        )
    _idle(session, "seed a region")
    seeded: list[ObjectInfo] = []
    with project.group(f"seed {len(inside)} people in a region on frame {frame}"):
        new_poses = []
        for pose, known, prompt in inside:
            if known:
                info = session.object(pose.person_id)
            else:
                info = session.add_object(name=PERSON, category=PERSON)
                pose = replace(pose, frame=frame, person_id=info.obj_id)
                new_poses.append(pose)
            seeded.append(info)
            _prompt_session(session, replace(prompt, obj_id=info.obj_id))
        if new_poses:
            ids = {p.person_id for p in new_poses}
            project.put_poses(frame, [p for p in project.poses(frame) if p.person_id not in ids] + new_poses)
    log.info("seeded %d people on frame %d (%d new)", len(seeded), frame, len(new_poses))
    if propagate:
        propagate_seeded(session, frame, direction, progress, cancel)
    return sorted(seeded, key=lambda o: o.obj_id)


def _promptable(
    people: Sequence[tuple[PersonPose, bool]], frame: int, min_visibility: float, size: tuple[int, int]
) -> tuple[list[tuple[PersonPose, bool, Prompt]], list[PersonPose]]:
    """The people with a point prompt inside the frame (with it), and those skipped: no landmark inside the frame.

    A pose model fits whole bodies, so a person at the edge may have every prompt landmark
    outside the picture; such a person cannot be prompted and is skipped with a warning
    instead of stopping everybody else's seeding.
    """
    ok: list[tuple[PersonPose, bool, Prompt]] = []
    skipped: list[PersonPose] = []
    for pose, known in people:
        try:
            prompt = pose_to_prompt(pose, "points", frame=frame, min_visibility=min_visibility, size=size)
        except PromptError as exc:
            log.warning("skipping a person on frame %d (id %d): %s", frame, pose.person_id, exc)
            skipped.append(pose)
            continue
        ok.append((pose, known, prompt))
    return ok, skipped
