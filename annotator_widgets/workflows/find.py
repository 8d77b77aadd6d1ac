"""Find by text: the first frame where a phrase matches a region, then track it from there.

:func:`find_text` scans a video coarse-to-fine: every ``every``-th frame first (and the last
frame), then, once a frame passes ``threshold``, each frame between the last one below and that
one, so it returns the **first** frame whose best candidate passes (a target that shows up for
fewer than ``every`` frames between two scanned frames can be missed: lower ``every`` then).
On each scanned frame, candidate masks (:mod:`.candidates`: a point grid or grounding boxes
through a scratch segmenter, or masks you give) are cropped with the background masked out
(:func:`annotator_widgets.crops.masked_crop`) and scored against the phrase by a scorer
(CLIP, SigLIP; the registry's ``scorer`` kind).

Candidate embeddings are cached in the project (:meth:`Project.put_embeddings_many`, keyed by the
scorer and crop settings, the frame, and the mask's content hash (:func:`.candidates.mask_key`);
written every 32 frames and when the scan ends, one transaction each), so a second query on the same
video - another phrase, another threshold - runs only the text tower for candidates seen before
(image embeddings do not depend on the text for CLIP and SigLIP).

Nothing is created by :func:`find_text`; :func:`track_from` makes the object from the found mask
(a mask prompt that keeps the phrase) and propagates it both ways, as one undo step.

Frames are scored ``batch`` at a time (default 8): every crop of the batch in one image-model call and
one score call, then the frames are walked in order, so the first passing frame is the one a
frame-by-frame scan finds (a batch may score a few frames past it; they are in the curve).

Progress callbacks get ``(frames scored, frames expected)``, once per frame; ``cancel`` is a
:class:`threading.Event` or a callable returning True (checked between batches).

Example:
    >>> from annotator_widgets import AnnotationSession  # doctest: +SKIP
    >>> session = AnnotationSession("street.mp4", segmenter="sam2")  # doctest: +SKIP
    >>> found = find_text(session, "red shoes", every=15, threshold=0.6, scorer="clip")  # doctest: +SKIP
    >>> found.frame, round(found.score, 2)  # doctest: +SKIP
    (212, 0.74)
    >>> shoes = track_from(session, found)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import registry
from ..crops import masked_crops
from ..errors import NotFoundError, PromptError, SessionBusyError
from ..progress import Cancelled
from ..types import ObjectInfo, frame_range
from .candidates import (
    CandidateSource,
    ScratchSegmenter,
    dedupe_with_boxes,
    given_source,
    grid_source,
    grounder_source,
    mask_key,
)

if TYPE_CHECKING:
    from ..backends import MaskScorer, VideoSegmenter
    from ..session import AnnotationSession

__all__ = ["FindCancelled", "FindResult", "find_text", "track_from"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None
Cancel = threading.Event | Callable[[], bool] | None


class FindCancelled(Cancelled):
    """:func:`find_text` was cancelled; nothing was created (cached embeddings stay). A :class:`Cancelled`."""


@dataclass(frozen=True, eq=False)
class FindResult:
    """Where a phrase first matched.

    Attributes:
        text: The phrase.
        frame: The first frame whose best candidate passed the threshold.
        mask: That candidate's ``(H, W)`` bool mask.
        score: Its score in 0..1.
        threshold: The threshold it passed.
        curve: Best candidate score of every frame scanned (0.0 where there was no candidate), by frame.
            Frames are scored in batches (``batch`` of :func:`find_text`), so the frames of a batch after
            the one that passed are in it too.
        model: The scorer that scored.
    """

    text: str
    frame: int
    mask: np.ndarray
    score: float
    threshold: float
    curve: dict[int, float] = field(default_factory=dict)
    model: str = ""

    @property
    def frames_scored(self) -> int:
        """How many frames the scan scored (the coarse pass plus the refinement)."""
        return len(self.curve)


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def _check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise PromptError(
            "the phrase to find is empty", given=repr(text), hint='describe what to find, e.g. "red shoes"'
        )
    return text.strip()


def _check_options(every: Any, threshold: Any, batch: Any = 1) -> None:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise PromptError("every must be a positive int (frames between coarse samples)", given=every, hint="e.g. 10")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise PromptError("batch must be a positive int (frames scored per model call)", given=batch, hint="e.g. 8")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise PromptError("threshold must be a score in 0..1", given=threshold, hint="e.g. 0.5")


class _FrameScorer:
    """Scores batches of frames' candidates against one phrase embedding, with the embedding cache.

    :meth:`best_many` cuts the crops of every frame of a batch, embeds the ones not cached in ONE
    ``embed_images`` call and scores all of them in ONE ``score`` call (a matrix), so the model and our
    work around it run once per batch, not once per frame.

    New embeddings are written to the cache every :attr:`flush_every` frames and by :meth:`flush`
    (one transaction each, not one per frame); a crash loses only cache entries, never a result.
    """

    #: frames whose new embeddings are written together
    flush_every = 32

    def __init__(
        self,
        session: AnnotationSession,
        scorer: MaskScorer,
        text: str,
        source: CandidateSource,
        *,
        crop: dict[str, Any],
        dedupe_iou: float,
        min_area: int,
        cache: bool,
    ) -> None:
        self.session = session
        self.scorer = scorer
        self.source = source
        self.crop = crop
        self.dedupe_iou = dedupe_iou
        self.min_area = min_area
        self.cache = cache
        ident = getattr(scorer, "model_id", None) or getattr(scorer, "name", type(scorer).__name__)
        self.model = str(getattr(scorer, "name", ident))
        self.cache_model = f"{ident}|crop {crop['margin']} {crop['background']} {crop['size']}"
        self.text_embedding = scorer.embed_text([text])
        self.images_embedded = 0
        #: new embeddings by frame, not written yet (a frame is scored once per scan, so never read back)
        self._pending: dict[int, dict[str, np.ndarray]] = {}
        #: the frames the project's cache holds vectors for (others are not looked up)
        self._cached_frames = session.project.embedding_frames(self.cache_model) if cache else set()

    def best_many(self, frames: Sequence[int]) -> list[tuple[float, np.ndarray | None]]:
        """The best candidate's score and mask on each frame, in order (0.0 and None without candidates): one
        image-model call and one score call for all of them."""
        lookup = [f for f in frames if f in self._cached_frames]
        cached_by_frame = self.session.project.embeddings_many(self.cache_model, lookup) if lookup else {}
        masks_of: list[list[np.ndarray]] = []
        keys_of: list[list[str]] = []
        crops: list[np.ndarray] = []
        owners: list[tuple[int, str]] = []  # (position in frames, key) of each crop
        for pos, frame in enumerate(frames):
            image = self.session.video[frame]
            kept = dedupe_with_boxes(self.source(frame, image), iou=self.dedupe_iou, min_area=self.min_area)
            masks = [m for m, _ in kept]
            keys = [mask_key(m, b) for m, b in kept]
            cached = cached_by_frame.get(frame, {})
            todo = [i for i, k in enumerate(keys) if k not in cached]
            if todo:
                boxes = [b for b in (kept[i][1] for i in todo) if b is not None]  # None: an empty mask (min_area 0)
                crops += masked_crops(
                    image, [masks[i] for i in todo], boxes=boxes if len(boxes) == len(todo) else None, **self.crop
                )
                owners += [(pos, keys[i]) for i in todo]
            masks_of.append(masks)
            keys_of.append(keys)
        if crops:
            fresh = np.asarray(self.scorer.embed_images(crops), np.float32)
            self.images_embedded += len(crops)
            new: dict[int, dict[str, np.ndarray]] = {}
            for row, (pos, key) in enumerate(owners):
                new.setdefault(pos, {})[key] = fresh[row]
            for pos, vectors in new.items():
                frame = frames[pos]
                cached_by_frame[frame] = {**cached_by_frame.get(frame, {}), **vectors}
                if self.cache:
                    self._pending[frame] = vectors
            if len(self._pending) >= self.flush_every:
                self.flush()
        rows = [cached_by_frame[f][k] for f, keys in zip(frames, keys_of, strict=True) for k in keys]
        if not rows:
            return [(0.0, None)] * len(frames)
        scores = np.asarray(self.scorer.score(np.stack(rows), self.text_embedding), np.float64)[:, 0]
        out: list[tuple[float, np.ndarray | None]] = []
        start = 0
        for masks in masks_of:
            if not masks:
                out.append((0.0, None))
                continue
            i = int(np.argmax(scores[start : start + len(masks)]))
            out.append((float(scores[start + i]), masks[i]))
            start += len(masks)
        return out

    def flush(self) -> None:
        """Write the embeddings made since the last flush to the project's cache, in one transaction."""
        if self._pending:
            pending, self._pending = self._pending, {}
            self.session.project.put_embeddings_many(self.cache_model, pending)


def _scan(
    frames: range,
    every: int,
    threshold: float,
    best_many: Callable[[Sequence[int]], list[tuple[float, np.ndarray | None]]],
    progress: Progress,
    cancel: Cancel,
    batch: int = 1,
) -> tuple[int | None, dict[int, float], dict[int, np.ndarray | None]]:
    """Coarse-to-fine: the first frame of ``frames`` whose score passes, the curve and the masks seen.

    Frames are scored ``batch`` at a time (in scan order), then walked one by one: the first passing
    frame is the one a frame-by-frame scan finds, and the frames of its batch after it are in the curve too.
    """
    coarse = list(frames[::every])
    if frames and coarse[-1] != frames[-1]:
        coarse.append(frames[-1])
    curve: dict[int, float] = {}
    masks: dict[int, np.ndarray | None] = {}
    expected = len(coarse) + min(every, len(frames)) - 1

    def first(order: Sequence[int]) -> int | None:
        """The first passing frame of ``order``, scoring it a batch at a time (None: none passes)."""
        for at in range(0, len(order), batch):
            if _cancelled(cancel):
                raise FindCancelled("find_text was cancelled", given=f"after {len(curve)} frames", hint="run it again")
            chunk = order[at : at + batch]
            hit = None
            for f, (value, mask) in zip(chunk, best_many(chunk), strict=True):
                curve[f], masks[f] = value, mask
                if progress is not None:
                    progress(len(curve), max(expected, len(curve)))
                if hit is None and mask is not None and value >= threshold:
                    hit = f
            if hit is not None:
                return hit
        return None

    found = first(coarse)
    if found is None:
        return None, curve, masks
    k = coarse.index(found)
    lo = frames.start if k == 0 else coarse[k - 1] + 1
    fine = first(range(lo, found))
    return (found if fine is None else fine), curve, masks


def _source(
    session: AnnotationSession,
    text: str,
    candidates: str | Mapping[int, Sequence[Any]] | CandidateSource,
    segmenter: str | VideoSegmenter | None,
    grid: int,
    closers: list[Callable[[], None]],
) -> CandidateSource:
    if not isinstance(candidates, str):
        return given_source(candidates)
    kind, _, spec = candidates.partition(":")
    if kind not in ("grid", "grounder"):
        raise PromptError(
            "unknown candidates", given=candidates, hint="use 'grid', 'grounder[:spec]', {frame: [masks]} or a callable"
        )
    scratch = None
    if kind == "grid" or segmenter is not None:
        if segmenter is None:  # the session's kind, on its already loaded model where it can lend it
            scratch = ScratchSegmenter.beside(session.segmenter, session.video)
        else:
            scratch = ScratchSegmenter(segmenter, session.video)
        closers.append(scratch.close)
    if kind == "grid":
        assert scratch is not None
        return grid_source(scratch, grid)
    grounder = registry.resolve("grounder", spec or "owlv2")
    closers.append(grounder.close)
    return grounder_source(scratch, grounder, text)


def find_text(
    session: AnnotationSession,
    text: str,
    *,
    every: int = 10,
    threshold: float = 0.5,
    scorer: str | MaskScorer = "clip",
    candidates: str | Mapping[int, Sequence[Any]] | CandidateSource = "grid",
    segmenter: str | VideoSegmenter | None = None,
    grid: int = 8,
    start: int | None = None,
    stop: int | None = None,
    margin: float = 0.1,
    background: str | tuple[int, int, int] = "mean",
    crop_size: int | Literal["model"] | None = "model",
    dedupe_iou: float = 0.8,
    min_area: int = 16,
    cache: bool = True,
    batch: int = 8,
    progress: Progress = None,
    cancel: Cancel = None,
) -> FindResult:
    """The first frame where a region matches ``text``, its mask and score, and the score curve.

    Args:
        session: The annotation session (its video is scanned; its project caches embeddings).
        text: The phrase, e.g. ``"red shoes"``.
        every: Frames between coarse samples (1 scores every frame).
        threshold: Score in 0..1 the best candidate must reach.
        scorer: A scorer spec (``"clip"``, ``"siglip:<id or folder>"``...) or instance; a spec's
            model is closed at the end.
        candidates: ``"grid"`` (a point grid through a scratch segmenter), ``"grounder[:spec]"`` (its
            boxes for ``text`` turned into masks), ``{frame: [masks]}`` or ``callable(frame, image) -> masks``.
        segmenter: The scratch segmenter for ``"grid"`` and box candidates: a spec or an instance of its
            own (never the session's: it is restarted). Default: the session's kind (a twin on its loaded model
            where the segmenter has ``twin()``, e.g. SAM2: no second copy of the weights; else a new
            instance of its registry name).
        grid: Points per side of the grid.
        start: First frame scanned (included); None: 0.
        stop: Where the scan stops (excluded); None: the end.
        margin: Crop context around each candidate's box (see :func:`~annotator_widgets.crops.masked_crop`).
        background: What replaces pixels outside the candidate in its crop.
        crop_size: Crops are resized to this side: ``"model"`` (default) the scorer's input size
            (its ``image_size``; 224 when it has none), so the model's processor does not resize them again;
            None: as cut.
        dedupe_iou: Candidates overlapping a larger one by at least this IoU are dropped.
        min_area: Candidates smaller than this many pixels are dropped.
        cache: Read and write candidate embeddings in the project.
        batch: Frames scored together: their crops go to the image model in one call and are scored in
            one call, then the frames are walked in order, so the first passing frame is the same as with
            ``batch=1``; up to ``batch - 1`` frames past it may be scored (and are in the curve).
        progress: Called with ``(frames scored, frames expected)``, once per frame.
        cancel: Stop between batches of frames (raises :class:`FindCancelled`).

    Returns:
        The :class:`FindResult`.

    Raises:
        PromptError: An empty phrase, bad options.
        NotFoundError: No frame passed the threshold; says the best score seen and where. Nothing is created.
        FindCancelled: ``cancel`` was set.
        SessionBusyError: A propagation is running.
    """
    text = _check_text(text)
    _check_options(every, threshold, batch)
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    frames = frame_range(start, stop, len(session.video))
    if not frames:
        raise PromptError("no frame to scan", given=f"start={start}, stop={stop}", hint="widen the range")
    closers: list[Callable[[], None]] = []
    model: MaskScorer = registry.resolve("scorer", scorer)
    if crop_size == "model":
        crop_size = int(getattr(model, "image_size", None) or 224)
    crop = {"margin": margin, "background": background, "size": crop_size}
    if isinstance(scorer, str):
        closers.append(model.close)
    try:
        source = _source(session, text, candidates, segmenter, grid, closers)
        scoring = _FrameScorer(
            session, model, text, source, crop=crop, dedupe_iou=dedupe_iou, min_area=min_area, cache=cache
        )
        try:
            found, curve, masks = _scan(frames, every, float(threshold), scoring.best_many, progress, cancel, batch)
        finally:
            scoring.flush()  # also on cancel: what was embedded stays cached
    finally:
        for close in reversed(closers):
            close()
    log.info(
        "find %r: %d of %d frames scored, %d crops embedded (%s)",
        text,
        len(curve),
        len(frames),
        scoring.images_embedded,
        scoring.model,
    )
    if found is None:
        seen = {f: s for f, s in curve.items() if masks.get(f) is not None}
        if not seen:
            raise NotFoundError(
                f"no candidate region for {text!r} on any of the {len(curve)} frames scanned",
                given=f"candidates={candidates if isinstance(candidates, str) else 'given'}",
                hint="use another candidate source (grid, grounder) or a finer grid",
            )
        top = max(seen, key=lambda f: seen[f])
        raise NotFoundError(
            f"no frame matches {text!r}: the best score was {seen[top]:.3f} on frame {top} "
            f"(threshold {threshold:g}, {len(curve)} frames scanned every {every})",
            given=text,
            hint="lower the threshold, rephrase, or scan more frames (smaller every)",
        )
    mask = masks[found]
    assert mask is not None
    return FindResult(text, found, mask, curve[found], float(threshold), dict(sorted(curve.items())), scoring.model)


def track_from(
    session: AnnotationSession,
    result: FindResult,
    *,
    name: str | None = None,
    category: str = "",
    propagate: bool = True,
    progress: Progress = None,
    cancel: Cancel = None,
) -> ObjectInfo:
    """Create an object from a found mask (a mask prompt keeping the phrase) and track it both ways.

    One undo step: the object, its prompt and every propagated mask.

    Args:
        session: The session the result was found in.
        result: What :func:`find_text` returned.
        name: The object's name (default: the phrase).
        category: The object's category.
        propagate: Track forward and backward from the found frame.
        progress: Called with ``(frames tracked, frames in the video)``.
        cancel: Stop between frames; what was tracked stays.

    Returns:
        The new object.
    """
    if not isinstance(result, FindResult):
        raise PromptError("track_from needs what find_text returned", given=type(result).__name__)
    project = session.project
    label = f"track {result.text!r} from frame {result.frame}"
    with project.group(label):
        info = project.add_object(
            name=result.text if name is None else name,
            category=category,
            meta={"found_by": result.text, "score": round(result.score, 4), "scorer": result.model},
        )
        session.add_mask(result.frame, info.obj_id, result.mask)
        prompt = project.prompt(result.frame, info.obj_id)
        if prompt is not None:
            project.put_prompt(replace(prompt, text=result.text))
        if propagate:
            run = session.propagate("both", start=result.frame)
            try:
                for done, _ in enumerate(run, 1):
                    if progress is not None:
                        progress(done, len(session.video))
                    if _cancelled(cancel):
                        break
            finally:
                close = getattr(run, "close", None)  # stops the run and flushes what it tracked
                if close is not None:
                    close()
    return project.object(info.obj_id)
