"""The annotation session: the one stateful orchestrator between a video, a project and a segmenter.

The session speaks SAM2's vocabulary (``add_points``, ``add_box``, ``add_mask``, ``propagate``,
``remove_object``, ``clear_frame``, ``reset``, ``undo``, ``redo``). Every result is written to the
:class:`~annotator_widgets.project.Project` as it is produced; the segmenter's own state is only a cache
that the session rebuilds from the project's prompts whenever it may be stale (undo, redo, reopening).

Propagation is a generator: iterate it to drive your own progress bar, stop iterating (or call
:meth:`AnnotationSession.cancel`) to cancel between frames. A writer thread commits masks off the loop
(:mod:`.propagation`); when ``propagate`` returns, everything it yielded is in the project.

Example:
    >>> from annotator_widgets import AnnotationSession
    >>> from annotator_widgets.data import synthetic_clip
    >>> clip = synthetic_clip(num_frames=8, size=(160, 120), num_objects=1)
    >>> session = AnnotationSession(clip.frames, segmenter="classic")
    >>> cup = session.add_object(name="blob")
    >>> y, x = np.argwhere(clip.masks[1][0]).mean(axis=0)
    >>> masks = session.add_points(0, cup.obj_id, [(x, y)])
    >>> sorted(masks)
    [1]
    >>> frames = [step.frame for step in session.propagate()]
    >>> frames == list(range(8)), len(session.project.mask_frames(cup.obj_id))
    (True, 8)
    >>> session.close()
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from . import registry
from ._empty import _record_empty, empty_warning, near_empty, new_record
from .backends import ObjectMask, VideoSegmenter
from .cuts import CutDetector
from .cutscan import CutScanner, span_cuts
from .errors import AnnotatorError, BackendError, PromptError, SessionBusyError, out_of_memory
from .project import Project, open_for_video
from .prompt_input import PointsLike, parse_box, parse_points
from .propagation import FrameResult, MaskWriter, PassPlan, Progress, PropagationRun, propagation_plan, run_passes
from .rle import RLE
from .segmenter_sync import SegmenterSync
from .timelines import Timelines
from .types import Annotation, Box, MaskWarning, ObjectInfo, Point, Prompt, Source, check_frame
from .video import VideoSource, open_video
from .view import FrameView, FrameViews, ObjectTimeline

__all__ = ["AnnotationSession", "FrameResult", "Progress"]

log = logging.getLogger(__name__)

Direction = Literal["forward", "backward", "both"]


class AnnotationSession:
    """Annotate one video: prompts in, masklets out, all stored in a project.

    Args:
        video: Anything :func:`~annotator_widgets.open_video` accepts, or a VideoSource.
        project: A :class:`Project`, a path (opened if it exists, else created),
            or None for a new project in a temporary folder (see ``session.project.path``).
        segmenter: A segmenter instance or name (``"auto"``, ``"classic"``,
            ``"sam2[:model]"``, ``"hf:<model>"``); see :mod:`annotator_widgets.backends`.
        show_progress: Show a tqdm progress bar while propagating.
        writer_queue: Frames that may wait to be saved; bounds the memory in flight.
        cuts: Stop propagation at shot cuts (default); False crosses them; a :class:`~.cuts.CutDetector` tunes them.
    """

    def __init__(
        self,
        video: Any,
        project: Project | str | os.PathLike[str] | None = None,
        segmenter: str | VideoSegmenter = "auto",
        *,
        show_progress: bool = False,
        writer_queue: int = 16,
        cuts: bool | CutDetector = True,
    ) -> None:
        self._own_video = not isinstance(video, VideoSource)
        self.video: VideoSource = open_video(video)
        self._own_project = not isinstance(project, Project)
        self.project: Project = open_for_video(project, self.video)
        try:
            self.segmenter: VideoSegmenter = registry.resolve("segmenter", segmenter)
        except BaseException:
            if self._own_project:
                self.project.close()
            raise
        self._views = FrameViews(self.project)  # kept until their frames' records are written
        self._timelines = Timelines(self.project)
        self.show_progress = show_progress
        self.writer_queue = max(1, int(writer_queue))
        self.progress = Progress()
        self.warnings: collections.deque[MaskWarning] = new_record()  # empty results, newest last
        self._busy, self._cancel, self._runs = threading.Lock(), threading.Event(), weakref.WeakSet[PropagationRun]()
        self._sync = SegmenterSync(self.segmenter, self.video)
        self.stop_at_cuts, self._cut_detector = bool(cuts), cuts if isinstance(cuts, CutDetector) else CutDetector()
        self._cut_scan = CutScanner(self.video, self._cut_detector, self.project)  # decodes only when asked

    # ------------------------------------------------------------------ setup
    @contextlib.contextmanager
    def _op(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise SessionBusyError.running("a propagation is running")
        try:
            yield
        finally:
            self._busy.release()

    def _ensure_synced(self) -> None:
        """Make the segmenter's cache agree with the project's prompts (see :mod:`.segmenter_sync`)."""
        self._sync.ensure(self.project)

    @property
    def _synced(self) -> bool:
        return self._sync.synced

    @_synced.setter
    def _synced(self, value: bool) -> None:  # False: rebuild the segmenter before its next use
        if not value:
            self._sync.invalidate()

    # ------------------------------------------------------------------ objects
    def add_object(self, name: str = "", category: str = "", color: tuple[int, int, int] | None = None) -> ObjectInfo:
        """Create an object with a fresh global id (ids are never reused)."""
        return self.project.add_object(name=name, category=category, color=color)

    @property
    def objects(self) -> list[ObjectInfo]:
        """The project's objects."""
        return self.project.objects()

    def object(self, obj_id: int) -> ObjectInfo:
        """The object with this id; :class:`~annotator_widgets.errors.ProjectError` names the known ids if none."""
        return self.project.object(obj_id)

    def update_object(self, obj_id: int, **changes: Any) -> ObjectInfo:
        """Change an object's ``name``, ``category``, ``color`` (``(r, g, b)``) or ``hidden``: one undo step.

        Returns:
            The changed object.

        Raises:
            ProjectError: No such object, or an unknown field.
            PromptError: A colour that is not three values 0..255.
        """
        return self.project.update_object(obj_id, **changes)

    def _object_for(self, obj_id: int | None) -> ObjectInfo:
        if obj_id is None:
            return self.project.add_object()
        if isinstance(obj_id, bool) or not isinstance(obj_id, int | np.integer) or obj_id < 1:
            raise PromptError(
                "obj_id must be a positive integer or None for a new object",
                given=obj_id,
                hint="use an id from session.objects, or None to create a new object",
            )
        info = self.project.get_object(int(obj_id))
        if info is not None:
            return info
        if obj_id >= self.project.next_object_id:
            return self.project.add_object(obj_id=int(obj_id))
        raise PromptError(
            f"object {obj_id} was removed and ids are never reused",
            given=obj_id,
            hint="create a new object with session.add_object() (or pass obj_id=None)",
        )

    # ------------------------------------------------------------------ validation
    def _check_frame(self, frame: Any) -> int:
        return check_frame(frame, len(self.video))

    def _points(self, points: PointsLike, labels: Iterable[int] | None) -> tuple[Point, ...]:
        return parse_points(points, labels, self.video.size)

    def _box(self, box: Box | Sequence[float]) -> Box:
        return parse_box(box, self.video.size)

    # ------------------------------------------------------------------ prompting verbs
    def _prompt_verb(
        self, frame: int, obj_id: int | None, build: Any, *, stored: RLE | None = None, source: Source = Source.PROMPTED
    ) -> dict[int, np.ndarray]:
        """Create the object if needed, build its prompt and apply it: one transaction, one undo step."""
        label = f"prompt object {obj_id if obj_id is not None else 'new'} on frame {frame}"
        with self.project.transaction(label):
            info = self._object_for(obj_id)
            return self._apply(build(info), stored=stored, source=source)

    def _apply(
        self, prompt: Prompt, *, stored: RLE | None = None, source: Source = Source.PROMPTED
    ) -> dict[int, np.ndarray]:
        self._ensure_synced()
        try:
            result: dict[int, ObjectMask] = self.segmenter.set_prompt(prompt)
        except BaseException as exc:
            self._sync.invalidate()  # it may have taken part of the prompt
            oom = out_of_memory(exc, f"the {self._segmenter_name} segmenter")
            if oom is not None:
                raise oom from exc
            raise
        try:
            om = result[prompt.obj_id]
        except KeyError:
            self._sync.invalidate()
            raise BackendError("segmenter returned no mask for the prompted object", given=prompt.obj_id) from None
        area = int(np.count_nonzero(om.mask))
        empty = empty_warning(prompt.frame, prompt.obj_id, area) if near_empty(om.mask) else None
        try:
            with self.project.transaction(f"prompt object {prompt.obj_id} on frame {prompt.frame}"):
                self.project.put_prompt(prompt)
                self.project.put_mask(
                    prompt.frame, prompt.obj_id, om.mask if stored is None else stored, score=om.score, source=source
                )
                if empty is not None:  # stored with the mask, in the same undo step
                    self.project.put_warning(empty)
        except BaseException:
            self._sync.invalidate()  # the segmenter saw a prompt the project did not keep
            raise
        if empty is not None:
            _record_empty(self, empty)
        others = self.project.annotations(prompt.frame)
        masks = {oid: ann.mask for oid, ann in others.items() if oid != prompt.obj_id}
        masks[prompt.obj_id] = om.mask if stored is None else stored.to_mask()
        return dict(sorted(masks.items()))

    def add_points(
        self,
        frame: int,
        obj_id: int | None,
        points: PointsLike,
        labels: Iterable[int] | None = None,
        *,
        clear: bool = False,
    ) -> dict[int, np.ndarray]:
        """Add clicks for one object on one frame and get that frame's masks at once.

        Points accumulate with the object's earlier points on this frame (as
        interactive clicking does); ``clear=True`` replaces them instead.

        Args:
            frame: Frame index.
            obj_id: An existing object id, a new (never used) id, or None for a new object.
            points: ``[(x, y), ...]`` in video pixels, an ``(N, 2)`` array, or Point objects.
            labels: 1 (positive) / 0 (negative) per point; default all positive.
            clear: Replace this object's points on this frame instead of adding to them.

        Returns:
            ``{obj_id: mask}`` of every object with a mask on this frame.
        """
        with self._op():
            frame = self._check_frame(frame)
            pts = self._points(points, labels)
            return self._prompt_verb(frame, obj_id, lambda info: self._with_points(frame, info, pts, clear))

    def _with_points(self, frame: int, info: ObjectInfo, pts: tuple[Point, ...], clear: bool) -> Prompt:
        stored = self.project.prompt(frame, info.obj_id)
        if stored is not None:  # points accumulate on the frame's prompt, unless they replace it
            return (
                Prompt(frame, info.obj_id, pts)
                if clear
                else Prompt(frame, info.obj_id, stored.points + pts, stored.box, stored.mask)
            )
        if getattr(self.segmenter, "refines_masks", False):
            # a correction click on a tracked frame: the stored (propagated) mask is the prior the
            # clicks refine, and it travels in the prompt so undo, redo and a rebuild give the same mask
            tracked = self.project.annotation(frame, info.obj_id)
            if tracked is not None and tracked.rle.area > 0:
                return Prompt(frame, info.obj_id, pts, mask=tracked.rle)
        return Prompt(frame, info.obj_id, pts)

    def add_box(
        self, frame: int, obj_id: int | None, box: Box | Sequence[float], *, keep_points: bool = True, text: str = ""
    ) -> dict[int, np.ndarray]:
        """Prompt one object with a box ``(x0, y0, x1, y1)``; earlier points on this frame stay
        (SAM2 reads the box first) unless ``keep_points=False``. ``text``: the phrase that found
        the box, stored on the prompt (:attr:`Prompt.text`)."""
        with self._op():
            frame = self._check_frame(frame)
            b = self._box(box)

            def build(info: ObjectInfo) -> Prompt:
                old = self.project.prompt(frame, info.obj_id)
                pts = old.points if (old is not None and keep_points) else ()
                return Prompt(frame, info.obj_id, pts, b, text=str(text))

            return self._prompt_verb(frame, obj_id, build)

    def add_mask(
        self, frame: int, obj_id: int | None, mask: np.ndarray | RLE, *, text: str = ""
    ) -> dict[int, np.ndarray]:
        """Give one object's exact mask on one frame (a drawing, an import, a correction).

        The mask is stored as drawn (source ``edited``) and replaces the object's
        points and box on this frame as the segmenter's prompt. ``text``: the phrase that
        produced the mask, stored on the prompt.
        """
        with self._op():
            frame = self._check_frame(frame)
            w, h = self.video.size
            rle = mask if isinstance(mask, RLE) else None
            if rle is None:
                arr = np.asarray(mask)
                if arr.dtype != bool and (
                    arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and np.isnan(arr).any())
                ):
                    raise PromptError(
                        "mask must hold booleans or numbers (nonzero = object)",
                        given=f"dtype {arr.dtype}",
                        hint="pass a boolean array, e.g. mask > 0",
                    )
                if arr.ndim != 2 or arr.shape != (h, w):
                    raise PromptError(
                        "mask must be (height, width) of the video", given=arr.shape, hint=f"expected ({h}, {w})"
                    )
                rle = RLE.from_mask(arr)
            elif rle.size != (h, w):
                raise PromptError(
                    "mask must be (height, width) of the video", given=rle.size, hint=f"expected ({h}, {w})"
                )
            if rle.is_empty:
                raise PromptError(
                    "mask is empty",
                    given=f"frame {frame}",
                    hint="to delete an object's mask use clear_frame() or remove_object()",
                )
            phrase = str(text)
            return self._prompt_verb(
                frame,
                obj_id,
                lambda info: Prompt(frame, info.obj_id, mask=rle, text=phrase),
                stored=rle,
                source=Source.EDITED,
            )

    # ------------------------------------------------------------------ propagation
    def propagate(
        self,
        direction: Direction = "forward",
        start: int | None = None,
        stop: int | None = None,
        *,
        show_progress: bool | None = None,
        cuts: bool | None = None,
        objects: Iterable[int] | None = None,
    ) -> Iterator[FrameResult]:
        """Track every prompted object through the video, writing each frame to the project.

        Args:
            direction: ``"forward"``, ``"backward"`` or ``"both"`` (forward from ``start`` to the end, then
                backward from ``start`` to the beginning).
            start: First frame (included). Default: the earliest prompted frame (forward, both) or the latest.
            stop: The frame where a forward or backward pass stops (excluded), as in :func:`~.types.frame_range`.
                Default: past the end in the direction of travel (the last frame forward, frame 0 backward,
                both included). Ignored for ``"both"``.
            show_progress: Override the session's tqdm setting.
            cuts: Override the session's: by default no mask crosses a shot cut (:meth:`cuts`; an object tracked
                up to one gets a ``"shot_cut"`` warning); False crosses them (:func:`~.propagation.split_at_cuts`).
            objects: Only these objects' masks are written and yielded (e.g. objects just added, filled in over
                frames the others already have); default: every object.

        Returns:
            A generator of :class:`FrameResult`; arguments are checked when it is created.
        """
        frames, name = self.project.prompt_frames(), self.project.path.name
        start, plan = propagation_plan(direction, start, stop, frames, len(self.video), name, objects)
        if not self._busy.acquire(blocking=False):
            raise SessionBusyError.running("a propagation is running")
        return PropagationRun(self._propagate(plan, start, cuts, direction, show_progress), self._busy, self._runs)

    def cuts(self) -> list[int]:
        """The first frame of each shot after the first (scanned once per project: :meth:`.CutScanner.all`)."""
        return self._cut_scan.all()

    def _propagate(
        self, plan: PassPlan, start: int, cuts: bool | None, way: str, show: bool | None
    ) -> Iterator[FrameResult]:
        from tqdm.auto import tqdm

        # propagate() holds self._busy (released below); cuts are scanned here, in the iterating thread (.cutscan)
        self.progress = prog = Progress(running=True, direction=way)
        self._cancel.clear()
        bar = tqdm(desc=f"propagate {way}", unit="frame", disable=not (self.show_progress if show is None else show))
        scan = self._cut_scan if (self.stop_at_cuts if cuts is None else cuts) else None
        try:
            passes = plan(span_cuts(scan, [start, *self.project.prompt_frames()], self._cancel, prog), self.prompts())
            bar.total = prog.total = len({f for p in passes for f in p.frames()})
            self._ensure_synced()
            prompted = {(p.frame, p.obj_id) for p in self.project.prompts()}
            with self.project.group(f"propagate {way}"):
                writer = MaskWriter(self.project, self.writer_queue, prog)
                try:
                    report, ahead = functools.partial(_record_empty, self), scan.cut_ahead if scan else None
                    run = run_passes(self.segmenter, passes, writer, prompted, prog, bar, self._cancel, report, ahead)
                    yield from run
                except BaseException as exc:
                    if isinstance(exc, GeneratorExit):
                        prog.cancelled = prog.done < prog.total
                    else:
                        prog.error = str(exc)
                    try:
                        writer.close()  # keep every frame already yielded
                    except AnnotatorError as write_exc:
                        log.error("saving propagated masks failed: %s", write_exc)
                    oom = out_of_memory(exc, f"the {self._segmenter_name} segmenter")
                    if oom is not None:
                        self._sync.invalidate()  # its state may hold part of a frame: rebuild from the project
                        prog.error = str(oom)
                        raise oom from exc
                    raise
                writer.close()
        except AnnotatorError as exc:
            prog.error = prog.error or str(exc)
            raise
        finally:
            bar.close()
            prog.running = False
            try:
                if scan is not None:
                    scan.save()  # what was scanned is kept, even when the propagation failed
            finally:
                self._busy.release()

    def run(self, direction: Direction = "forward", start: int | None = None, stop: int | None = None) -> Progress:
        """Propagate to completion without handling frames yourself; returns the progress record."""
        for _ in self.propagate(direction, start, stop):
            pass
        return self.progress

    def prepare(self, frame: int) -> bool:
        """Let the segmenter precompute ``frame``'s click-independent work (thread safe); False if it cannot.

        A segmenter not started yet is started on the video first (what the first click would do), so
        that the first click, too, finds its frame prepared. False when the segmenter has no ``prepare``.
        """
        prepare = getattr(self.segmenter, "prepare", None)
        if prepare is None:
            return False
        frame = self._check_frame(frame)
        self._sync.start()
        prepare(frame)
        return True

    def cancel(self) -> None:
        """Ask a running propagation to stop after the current frame (thread safe)."""
        self._cancel.set()

    @property
    def busy(self) -> bool:
        """True while a propagation holds the session."""
        return self._busy.locked()

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever the project's records may have (any write, undo, redo; see ``Project.revision``): equal
        revisions mean a view read in between is still true (e.g. a second annotator on the session catching up)."""
        return self.project.revision

    # ------------------------------------------------------------------ editing verbs
    def remove_object(self, obj_id: int) -> None:
        """Delete an object with its prompts and masks (undoable)."""
        with self._op():
            before = self._sync.snapshot(self.project)
            self.project.remove_object(obj_id)
            self._sync.changed(self.project, before)

    def clear_frame(self, frame: int, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Delete the prompts and masks on one frame (of one object, or all); returns what remains."""
        with self._op():
            frame = self._check_frame(frame)
            before = self._sync.snapshot(self.project)
            with self.project.transaction(f"clear frame {frame}"):
                self.project.delete_prompt(frame, obj_id)
                self.project.delete_masks(frame=frame, obj_id=obj_id)
            self._sync.changed(self.project, before)
            return self.masks(frame)

    def reset(self) -> None:
        """Delete every prompt and mask (objects stay, ids are kept); undoable."""
        with self._op():
            with self.project.transaction("reset"):
                for p in self.project.prompts():
                    self.project.delete_prompt(p.frame, p.obj_id)
                self.project.delete_masks()
            if self._sync.started:
                self.segmenter.reset()  # no prompts left: what a rebuild would replay

    def undo(self) -> str | None:
        """Undo the latest step (a click, a propagation, a removal...); returns its label."""
        with self._op():
            before = self._sync.snapshot(self.project)
            label = self.project.undo()
            self._sync.changed(self.project, before)  # only the objects whose prompts changed
            return label

    def redo(self) -> str | None:
        """Redo the latest undone step; returns its label."""
        with self._op():
            before = self._sync.snapshot(self.project)
            label = self.project.redo()
            self._sync.changed(self.project, before)
            return label

    @property
    def can_undo(self) -> bool:
        """True when :meth:`undo` has a step to revert."""
        return self.project.can_undo

    @property
    def can_redo(self) -> bool:
        """True when :meth:`redo` has a step to re-apply."""
        return self.project.can_redo

    # ------------------------------------------------------------------ reading
    def masks(self, frame: int) -> dict[int, np.ndarray]:
        """Stored masks on one frame: ``{obj_id: (H, W) bool}``."""
        return {oid: ann.mask for oid, ann in self.annotations(frame).items()}

    def annotations(self, frame: int) -> dict[int, Annotation]:
        """Stored annotations (RLE, score, source) on one frame."""
        return self.project.annotations(self._check_frame(frame))

    def prompts(self, frame: int | None = None) -> list[Prompt]:
        """Stored prompts, optionally of one frame."""
        return self.project.prompts(frame=frame)

    def prompt_frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames holding a prompt (of one object, or any)."""
        return self.project.prompt_frames(obj_id)

    def view(self, frame: int, *, low_score: float = 0.5) -> FrameView:
        """Everything stored on one frame, as one immutable :class:`~annotator_widgets.view.FrameView`; masks scoring
        below ``low_score`` are listed as low-confidence (``view.low``). Kept until the frame's records are written."""
        return self._views.get(self._check_frame(frame), low_score=low_score)

    def views(self, frames: Iterable[int], *, low_score: float = 0.5) -> dict[int, FrameView]:
        """The :meth:`view` of several frames, by frame; those not kept yet are read together (one query per kind
        of record for all of them: playback reads the next frames' records in one go)."""
        return self._views.many([self._check_frame(f) for f in frames], low_score=low_score)

    def timeline(self) -> list[ObjectTimeline]:
        """Per object: info, mask scores, prompted and pose frames, as :func:`~annotator_widgets.view.timeline`
        reads them; kept, only rows written since are read again (:mod:`~annotator_widgets.timelines`)."""
        return self._timelines.rows()

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop (a part-way propagation writes its queued masks first), release the segmenter, close what it opened."""
        self.cancel()
        for run in list(self._runs):
            run.close()
        with contextlib.suppress(Exception):
            self.segmenter.close()
        self._cut_scan.close()
        if self._own_project:
            self.project.close()
        if self._own_video:
            self.video.close()

    def __enter__(self) -> AnnotationSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def _segmenter_name(self) -> str:
        return str(getattr(self.segmenter, "name", type(self.segmenter).__name__))

    def __repr__(self) -> str:
        where = f"video={self.video!r}, project={str(self.project.path)!r}"
        return f"AnnotationSession({where}, segmenter={self._segmenter_name!r})"
