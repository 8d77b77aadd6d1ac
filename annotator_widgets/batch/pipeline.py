"""The batch pipeline: declared settings and a table of steps run on one video through its session.

:class:`Settings` is a frozen, JSON-serialisable record of what to do (segmenter, prompts, people, formats);
its :meth:`~Settings.digest` goes into the manifest, so a changed setting redoes a video. :func:`run_video`
opens (or creates) the video's project, runs every wanted step of :data:`STEPS` in order, and exports.

Steps are a table, not an if-chain: each has a name, a ``wanted(settings)`` test and a ``run(ctx)``. A finished
step is marked done in the project (``batch.step.<name>`` in its metadata; the import marks itself in the same
transaction as its work), so a resumed run skips it; propagation resumes frame by
frame (:mod:`.propagation`). The language steps (the text pipeline: ground on key frames, propagate both ways
with re-detection; hand-object actions) live in :mod:`.language`; another step is one function plus
:func:`add_step`, its options in ``Settings.options``.

Example:
    >>> s = Settings(segmenter="classic", formats=("coco", "mot"))
    >>> Settings.from_json(s.to_json()) == s, len(s.digest())
    (True, 64)
    >>> [step.name for step in STEPS if step.wanted(s)]
    ['propagate', 'export']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import registry
from ..errors import AnnotatorError
from ..session import AnnotationSession
from ..types import ObjectInfo
from .language import actions_step, text_step
from .propagation import propagate_missing

__all__ = ["STEPS", "Context", "Settings", "Step", "VideoResult", "add_step", "run_video", "track_people"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Settings:
    """What the batch does to every video (JSON-serialisable; its digest is recorded per video).

    Attributes:
        segmenter: A segmenter spec from the registry (``"classic"``, ``"sam2:sam2.1_hiera_tiny"``...).
        prompts: A prompts file for every video; ``{stem}`` or ``{name}`` in it is replaced by the video's
            stem or file name (one file per video). None: no prompts (a later step must make them).
        prompts_format: ``"json"`` (the CLI's prompt records, see :mod:`annotator_widgets.cli`) or an
            importer's name (``coco``, ``mot``...): imported boxes become box prompts, imported masks mask prompts.
        direction: How to propagate: ``"both"`` (default), ``"forward"``, ``"backward"``, or ``"none"``.
        track_people: Track every person with the pose model and store them (``person`` objects with poses).
        formats: Exporter names; each writes ``<video folder>/<format>[.suffix]``.
        options: Settings of steps added with :func:`add_step` (JSON values); ``{"export": {"images": True}}``
            also writes the frames beside the labels of the formats that take them (``writes_images``).
    """

    segmenter: str = "auto"
    prompts: str | None = None
    prompts_format: str = "json"
    direction: str = "both"
    track_people: bool = False
    formats: tuple[str, ...] = ("coco",)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.direction not in ("both", "forward", "backward", "none"):
            raise AnnotatorError(
                "unknown propagation direction", given=self.direction, hint="use both, forward, backward or none"
            )
        object.__setattr__(self, "formats", tuple(self.formats))
        for name in self.formats:
            registry.get("exporter", name)  # raises with the known names
        if self.prompts_format != "json":
            registry.get("importer", self.prompts_format)

    def __hash__(self) -> int:
        return hash(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """The settings back from :meth:`to_json`."""
        values = json.loads(text)
        values["formats"] = tuple(values.get("formats", ()))
        return cls(**values)

    def prompts_for(self, video: str | os.PathLike[str]) -> Path | None:
        """The prompts file of one video (placeholders filled), or None."""
        if not self.prompts:
            return None
        p = Path(video)
        return Path(self.prompts.replace("{stem}", p.stem).replace("{name}", p.name))

    def digest(self, video: str | os.PathLike[str] | None = None) -> str:
        """sha256 of the settings, and of the video's prompts file when there is one (its content is an input)."""
        h = hashlib.sha256(self.to_json().encode())
        prompts = self.prompts_for(video) if video is not None else None
        if prompts is not None and prompts.is_file():
            h.update(prompts.read_bytes())
        return h.hexdigest()


@dataclass
class VideoResult:
    """What happened to one video (picklable: Ray actors send it back)."""

    key: str
    status: str  # "done" or "failed"
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    frames_computed: int = 0
    frames_recomputed: int = 0


@dataclass
class Context:
    """What a step sees: the settings, the open session, the video's folder, progress and cancel."""

    settings: Settings
    session: Any
    video_path: Path
    out_dir: Path
    key: str
    progress: ProgressFn
    cancel: threading.Event
    result: VideoResult


@dataclass(frozen=True)
class Step:
    """One step of the pipeline.

    Attributes:
        name: Shown in progress events; ``batch.step.<name>`` marks it done in the project.
        wanted: Whether the settings ask for it.
        run: Does the work through ``ctx.session`` (and the workflows).
        resumable: The step resumes on its own (propagation): it is never marked done, it is called again.
    """

    name: str
    wanted: Callable[[Settings], bool]
    run: Callable[[Context], None]
    resumable: bool = False


# ------------------------------------------------------------------ the steps
def _import_prompts(ctx: Context) -> None:
    source = ctx.settings.prompts_for(ctx.video_path)
    if source is None or not source.exists():
        raise AnnotatorError(
            "the video's prompts file does not exist", given=str(source), hint="check --prompts (use {stem} per video)"
        )
    session, project = ctx.session, ctx.session.project
    with project.transaction("batch import prompts"):
        if ctx.settings.prompts_format == "json":
            from ..prompt_records import apply_prompt_records, read_prompt_records

            apply_prompt_records(session, read_prompt_records(source))
        else:
            from ..types import Prompt

            report = registry.lookup("importer", ctx.settings.prompts_format).load(project, source)
            for note in report.notes:
                log.info("%s: %s", ctx.key, note)
            have = {(p.frame, p.obj_id) for p in project.prompts()}
            for ann in project.iter_annotations():  # imported masks prompt the segmenter as drawn
                if (ann.frame, ann.obj_id) not in have and not ann.rle.is_empty:
                    project.put_prompt(Prompt(ann.frame, ann.obj_id, mask=ann.rle))
        _mark_done(project, "import")


def _propagate(ctx: Context) -> None:
    def on_frame(frame: int, done: int, total: int) -> None:
        ctx.progress(
            {"event": "frame", "video": ctx.key, "step": "propagate", "frame": frame, "done": done, "total": total}
        )

    count = propagate_missing(ctx.session, ctx.settings.direction, on_frame=on_frame, cancel=ctx.cancel)
    ctx.result.frames_computed += count.computed
    ctx.result.frames_recomputed += count.recomputed


def track_people(session: AnnotationSession, **kwargs: Any) -> dict[int, ObjectInfo]:
    """People tracking as the widget's Track people button does it (:func:`..workflows.people.track_everybody`)."""
    from ..workflows.people import track_everybody

    return track_everybody(session, **kwargs)


def _track_people(ctx: Context) -> None:
    """Track everybody, then prompt each person from their landmarks on their first pose frame, so the
    propagate step that follows gives every person a masklet with the pose track's id."""
    from ..errors import PromptError
    from ..workflows.people import segment_people

    people = track_people(ctx.session, **ctx.settings.options.get("track_people", {}))
    for pid in sorted(people):
        for frame in ctx.session.project.pose_frames(pid):
            try:
                segment_people(ctx.session, frame, [pid])
                break
            except PromptError:  # no landmark of theirs inside this frame: try their next pose frame
                continue
    _mark_done(ctx.session.project, "track_people")


def _export(ctx: Context) -> None:
    outputs = []
    images = bool(ctx.settings.options.get("export", {}).get("images"))
    for name in ctx.settings.formats:
        fmt = registry.lookup("exporter", name)
        target = fmt.default_path(ctx.out_dir, stem=fmt.name)
        options = {"images": True} if images and getattr(fmt, "writes_images", False) else {}
        for path in fmt.save(ctx.session.project, target, **options):
            outputs.append(Path(path).relative_to(ctx.out_dir.parent).as_posix())
        ctx.progress({"event": "export", "video": ctx.key, "format": name})
    ctx.result.outputs = sorted(outputs)


STEPS: list[Step] = [
    Step("import", lambda s: s.prompts is not None, _import_prompts),
    Step("track_people", lambda s: s.track_people, _track_people),
    Step("text", lambda s: "text" in s.options, text_step),  # propagates too, with re-detection
    Step("propagate", lambda s: s.direction != "none" and "text" not in s.options, _propagate, resumable=True),
    Step("actions", lambda s: "actions" in s.options, actions_step),
    Step("export", lambda s: bool(s.formats), _export, resumable=True),
]


def add_step(step: Step, *, before: str = "export") -> None:
    """Insert (or replace) a step, by default before the export.

    Example:
        >>> add_step(Step("noop", lambda s: False, lambda ctx: None), before="propagate")
        >>> names = [s.name for s in STEPS]
        >>> names[0], names[names.index("noop") + 1]
        ('import', 'propagate')
        >>> STEPS.remove(next(s for s in STEPS if s.name == "noop"))
    """
    names = [s.name for s in STEPS]
    if step.name in names:
        STEPS[names.index(step.name)] = step
        return
    if before not in names:
        raise AnnotatorError("no such pipeline step", given=before, hint=f"use one of {', '.join(names)}")
    STEPS.insert(names.index(before), step)


def _mark_done(project: Any, name: str) -> None:
    project.set_meta(f"batch.step.{name}", "done")


def _is_done(project: Any, name: str) -> bool:
    return project.get_meta(f"batch.step.{name}") == "done"


# ------------------------------------------------------------------ one video
def run_video(
    video_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: Settings,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    *,
    key: str | None = None,
    segmenter: Any = None,
) -> VideoResult:
    """Run the pipeline on one video; never raises for the video's own failures (the result says them).

    Args:
        video_path: The video file.
        out_dir: The video's folder: ``project.awp`` and the exports go there (created).
        settings: What to do.
        progress: Called with event dicts (``{"event": "frame", "video", "step", "frame", "done", "total"}``...).
        cancel: Stop between frames when set.
        key: The video's name in events and results (default: the folder's name).
        segmenter: A loaded segmenter to reuse (a long-lived worker loads it once); default: resolve
            ``settings.segmenter``.

    Returns:
        A :class:`VideoResult`: ``done`` with outputs relative to ``out_dir``'s parent, or ``failed`` with the error.
    """
    out = Path(out_dir)
    key = key or out.name
    emit = progress or (lambda event: None)
    result = VideoResult(key, "failed")
    t0 = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _session(video_path, out / "project.awp", segmenter or settings.segmenter) as session:
            session.stop_at_cuts = bool(settings.options.get("cuts", True))  # False: --no-cuts
            ctx = Context(settings, session, Path(video_path), out, key, emit, cancel or threading.Event(), result)
            for step in STEPS:
                if not step.wanted(settings) or (not step.resumable and _is_done(session.project, step.name)):
                    continue
                emit({"event": "step", "video": key, "step": step.name})
                step.run(ctx)
                if not step.resumable:
                    _mark_done(session.project, step.name)
                if ctx.cancel.is_set():
                    raise AnnotatorError("cancelled", given=key, hint="run the batch again to resume")
        result.status = "done"
    except Exception as exc:  # one video's failure is its result; the batch goes on
        log.debug("video %s failed", key, exc_info=True)
        result.error = str(exc) if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - t0, 3)
    return result


def _session(video_path: str | os.PathLike[str], project: Path, segmenter: Any) -> Any:
    from ..session import AnnotationSession

    return AnnotationSession(video_path, project, segmenter if isinstance(segmenter, str) else Borrowed(segmenter))


class Borrowed:
    """A loaded segmenter lent to one video's session: the session's ``close`` only resets it, so the
    worker keeps the model for its next video."""

    def __init__(self, segmenter: Any) -> None:
        self._seg = segmenter
        self.name: str = getattr(segmenter, "name", type(segmenter).__name__)

    def start(self, video: Any) -> None:
        self._seg.start(video)

    def set_prompt(self, prompt: Any) -> Any:
        return self._seg.set_prompt(prompt)

    def remove_object(self, obj_id: int) -> None:
        self._seg.remove_object(obj_id)

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Any:
        return self._seg.propagate(start, max_frames, reverse)

    def reset(self) -> None:
        self._seg.reset()

    def close(self) -> None:
        self._seg.reset()

    def __getattr__(self, name: str) -> Any:  # optional extras such as resume_from
        return getattr(self._seg, name)
