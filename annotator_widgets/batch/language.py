"""The batch's language steps: seed 003's text pipeline and seed 000's hand-object actions, per video.

* :func:`text_step` (``Settings.options["text"]``): ground the phrases on key frames (frame ``frame``, then
  every ``every`` frames after it) until one finds something, then propagate with re-detection every
  ``every`` frames (:func:`~annotator_widgets.workflows.text_tracking.propagate_text`) forward to the end and
  backward to frame 0 (``direction``: ``both``, ``forward``, ``backward``), stopping at shot cuts unless
  ``Settings.options["cuts"]`` is False (``--no-cuts``; :meth:`AnnotationSession.propagate`); with ``both``, a
  shot entered through a cut whose first prompt (a key frame's re-detection) comes after the cut is then
  propagated back to the cut. It propagates every prompt of the project, so the plain propagation step is not
  run when it is on. A video where no key frame shows any phrase is done with no objects and says so (a
  ``warning`` event): nothing there is not an error.
  A resumed run does not ground again when text-made objects exist (no duplicates).
* :func:`actions_step` (``Settings.options["actions"]``): after the propagation, find when each person's
  hands touch each object (:func:`~annotator_widgets.workflows.actions.find_interactions`; ``hands``: a hand
  estimator spec or None for the pose model's hand points) and, with ``captioner``, describe each segment in
  words (:func:`~annotator_widgets.workflows.actions.describe_actions`). Needs people with poses
  (``--track-people``) and objects with masks.

Both take the pipeline's :class:`~annotator_widgets.batch.pipeline.Context` and work through its session.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from ..errors import NotFoundError

__all__ = ["actions_step", "key_frames", "text_step"]

log = logging.getLogger(__name__)


def key_frames(first: int, every: int, num_frames: int) -> range:
    """The frames grounded until one finds something: ``first``, then every ``every`` frames.

    Example:
        >>> list(key_frames(0, 10, 35))
        [0, 10, 20, 30]
    """
    return range(max(0, first), num_frames, max(1, every))


def _seed(ctx: Any, phrases: Any, first: int, every: int, route: str, threshold: Any) -> int | None:
    """Ground on key frames until something is found; the frame it was found on (None: nowhere)."""
    from ..workflows.text import add_text, phrase_of

    session = ctx.session
    made = [o for o in session.project.objects() if phrase_of(o)]
    if made:  # a resumed run: the objects were made before the interruption
        frames = [f for o in made for f in session.project.prompt_frames(o.obj_id)]
        return min(frames) if frames else None
    best: NotFoundError | None = None
    for frame in key_frames(first, every, len(session.video)):
        if ctx.cancel.is_set():
            return None
        try:
            add_text(session, frame, phrases, route=route, threshold=threshold)
        except NotFoundError as exc:
            best = exc
            continue
        return frame
    message = f"no key frame shows {phrases!r}" + (f" ({best})" if best is not None else "")
    ctx.progress({"event": "warning", "video": ctx.key, "message": message})
    log.info("%s: %s", ctx.key, message)
    return None


def text_step(ctx: Any) -> None:
    """Phrases -> objects on the first key frame that shows them -> propagation with re-detection both ways."""
    from ..workflows.text_tracking import propagate_text

    opts = dict(ctx.settings.options["text"])
    phrases = opts["phrases"]
    every, route, threshold = int(opts.get("every", 10)), str(opts.get("route", "auto")), opts.get("threshold")
    direction = str(opts.get("direction", "both"))
    found = _seed(ctx, phrases, int(opts.get("frame", 0)), every, route, threshold)
    if found is None or not ctx.session.project.prompt_frames():
        return
    passes = {"both": ("forward", "backward"), "forward": ("forward",), "backward": ("backward",)}[direction]
    frames: set[int] = set()
    try:
        for way in passes:
            if way == "backward" and found == 0:
                continue  # nothing before the first frame

            def on_frame(done: int, total: int, way: str = way) -> None:
                ctx.progress({"event": "frame", "video": ctx.key, "step": f"text {way}", "done": done, "total": total})

            for result in propagate_text(
                ctx.session,
                every=every,
                direction=way,  # type: ignore[arg-type]
                start=found,
                route=route,
                threshold=threshold,
                phrases=phrases,
                progress=on_frame,
                cancel=ctx.cancel,
            ):
                frames.add(result.frame)
        if direction == "both" and ctx.session.stop_at_cuts:
            frames |= _fill_shot_starts(ctx)
    finally:
        ctx.result.frames_computed += len(frames)  # the seed frame starts both passes: counted once


def _fill_shot_starts(ctx: Any) -> set[int]:
    """A shot entered through a cut gets its prompts on the first key frame that shows the phrase, not on the cut:
    propagate each such shot back from its first prompt to its first frame (within the shot: no re-detection
    there, it is shorter than ``every``). The frames done."""
    session = ctx.session
    n, cuts, prompted = len(session.video), session.cuts(), session.project.prompt_frames()
    done: set[int] = set()
    bounds = [*cuts, n]
    for a, b in itertools.pairwise(bounds):
        inside = [f for f in prompted if a <= f < b]
        if not inside or inside[0] == a or session.project.annotations(a) or ctx.cancel.is_set():
            continue  # no prompt, prompted on the cut, or reached already (a backward text pass from this shot)
        for result in session.propagate("backward", start=inside[0], stop=a - 1):
            ctx.progress({"event": "frame", "video": ctx.key, "step": "text shot start", "frame": result.frame})
            done.add(result.frame)
    return done


def actions_step(ctx: Any) -> None:
    """Hand-object interactions (and their descriptions when a captioner is given) for every person and object."""
    from ..workflows.actions import describe_actions, find_interactions

    opts = dict(ctx.settings.options["actions"])
    found = find_interactions(ctx.session, hands=opts.get("hands"), cancel=ctx.cancel)
    ctx.progress({"event": "actions", "video": ctx.key, "segments": len(found)})
    if found and opts.get("captioner"):
        describe_actions(ctx.session, opts["captioner"], cancel=ctx.cancel)
