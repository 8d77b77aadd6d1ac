"""SAM 3 concept segmentation: phrases -> every instance detected, segmented and tracked (``"sam3"``).

transformers' ``Sam3VideoModel`` runs, on every frame, SAM 3's open-vocabulary detector for each
phrase and a SAM2-style tracker for the instances found so far, matches the two, adds new
instances and (after a "hotstart" delay) drops unconfirmed or duplicated ones. This part maps it
onto :class:`~annotator_widgets.backends.ConceptSegmenter`:

* :meth:`~Sam3ConceptSegmenter.add_text` registers phrases and runs the model on one frame:
  instance id -> (phrase, mask) of what was found there. Nothing found is a
  :class:`~annotator_widgets.errors.NotFoundError` naming the best detection score, and the
  new phrases are withdrawn (nothing is propagated silently).
* :meth:`~Sam3ConceptSegmenter.propagate` is a generator over frames in either direction (start
  included), yielding every instance's mask and score; SAM 3 keeps detecting, so new instances
  can appear (:meth:`~Sam3ConceptSegmenter.phrase_of` names their phrase). With
  ``hotstart_delay`` > 0 the results trail the model by that many frames, exactly as in
  transformers' ``propagate_in_video_iterator``.
* Frames stream from the :class:`~annotator_widgets.video.VideoSource` (see
  :mod:`._sam3_stream`): the session sees the whole video but holds only the frames in use, so
  the model computes what it would on a fully loaded video (tested: identical masks). Tracking
  memory beyond the window the tracker reads goes to a disk archive (:mod:`._sam2_memory`) and
  comes back when needed; per-frame bookkeeping is pruned; memory stays flat.
* Refinement: a SAM 3 video session takes no clicks. :meth:`~Sam3ConceptSegmenter.to_tracker`
  loads ``Sam3TrackerVideoModel`` from the same checkpoint (same backbone, neck and tracker
  weights) and seeds it with the instances' masks as mask prompts
  (:meth:`~Sam3ConceptSegmenter.seed_prompts`); clicks then go to that segmenter.

Instance ids are SAM 3's object ids plus one (ids start at 1, like project objects); they are
never reused. Scores are the tracker's per-frame object probability (the detection score on the
frame an instance is found).

Example:
    >>> from annotator_widgets import registry
    >>> registry.lookup("concept", "sam3").__name__
    'Sam3ConceptSegmenter'
    >>> seg = registry.resolve("concept", "sam3:facebook/sam3")  # doctest: +SKIP
    >>> seg.start(open_video("street.mp4"))  # doctest: +SKIP
    >>> found = seg.add_text(0, ["person", "bicycle"])  # doctest: +SKIP
    >>> for result in seg.propagate(0):  # doctest: +SKIP
    ...     print(result.frame, {i: seg.phrase_of(i) for i in result.objects})
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, PromptError
from ..types import Prompt, check_frame
from ._optional import require
from ._sam2_build import check_memory_window, resolve_device, resolve_dtype
from ._sam3_engine import Sam3Engine
from ._sam3_load import DEFAULT_MODEL, load_pretrained, model_source
from ._sam3_options import apply_options, check_options, check_phrases, nothing_found
from ._sam3_refine import seed_prompts, seeded_tracker
from ._sam3_stream import frame_result, withdraw_prompts
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    from ..video import VideoSource
    from .sam3_tracker import Sam3TrackerSegmenter

__all__ = ["Sam3ConceptSegmenter"]

log = logging.getLogger(__name__)

_CLASSES = {"sam3_video": ("Sam3VideoModel", "Sam3VideoProcessor")}


class Sam3ConceptSegmenter:
    """The :class:`~annotator_widgets.backends.ConceptSegmenter` on transformers' ``Sam3VideoModel``.

    Args:
        model: A hub id (default ``"facebook/sam3"``: gated, accept Meta's SAM licence on the hub
            first) or a folder written by ``save_pretrained`` (model and processor).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (bf16 autocast on recent GPUs and bf16-native CPUs, fp16 on older GPUs, else fp32),
            ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        score_threshold: Detection probability a detection needs at all (checkpoint default
            0.5). Randomly initialised test models need 0.
        new_detection_threshold: Probability a detection needs to start a new instance
            (checkpoint default 0.7).
        hotstart_delay: Frames SAM 3 waits before reporting, to drop instances that are not
            confirmed or duplicate an older one (checkpoint default 15; 0 reports at once).
            The unmatch/duplicate counts are capped at the delay.
        max_instances: At most this many instances are tracked at once; further detections are
            dropped, lowest score first (checkpoint default 10000). Bounds the cost per frame.
        memory_window: Frames of tracking memory kept on each side of the current frame:
            ``"auto"`` (what the tracker reads), an int, or None for unbounded (no pruning).
        frame_cache: Preprocessed frames held at a time (at least 1).
        archive_dir: Where pruned memory is archived (default: a temporary folder).
        local_files_only: Never contact the hub (default: only when ``model`` is a folder).

    Raises:
        CheckpointError: The checkpoint cannot be found or loaded (gated, not downloaded, offline).
        BackendError: Not a SAM 3 video checkpoint, or a bad option.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: Any = "auto",
        dtype: Any = "auto",
        score_threshold: float | None = None,
        new_detection_threshold: float | None = None,
        hotstart_delay: int | None = None,
        max_instances: int | None = None,
        memory_window: int | str | None = "auto",
        frame_cache: int = 2,
        archive_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool | None = None,
    ) -> None:
        require("torch")
        check_memory_window(memory_window)
        check_options(score_threshold, new_detection_threshold, hotstart_delay, max_instances, frame_cache)
        self.model_id = model_source(model)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._local_files_only = local_files_only
        model_obj, self._processor = load_pretrained(
            self.model_id, _CLASSES, what="a SAM 3 video model", local_files_only=local_files_only
        )
        self._model: Any = model_obj.to(self.device)
        apply_options(self._model, score_threshold, new_detection_threshold, hotstart_delay, max_instances)
        self.name = f"sam3:{model}"
        self._memory_window = memory_window
        self._archive_dir = archive_dir
        self._frame_cache = int(frame_cache)
        self._lock = threading.RLock()
        self._video: VideoSource | None = None
        self._engine: Sam3Engine | None = None
        self._last: SegmenterFrame | None = None
        self._phrases: dict[int, str] = {}  # instance id -> phrase
        self._det_scores: list[float] | None = None  # best detection score per phrase while recording
        self._model.detector_model.register_forward_hook(self._record_detection)
        self._closed = False
        self._version = 0
        log.info("%s on %s (%s)", self.name, self.device, self.dtype)

    def __repr__(self) -> str:
        return f"Sam3ConceptSegmenter({self.model_id!r}, device={self.device}, dtype={self.dtype})"

    # -- protocol ---------------------------------------------------------------------------
    def start(self, video: VideoSource) -> None:
        """Begin a session for ``video``; frames are streamed from it."""
        with self._lock:
            self._check_open()
            if len(video) == 0:
                raise BackendError("video has no frames", given=repr(video))
            self._video = video
            self._new_session()

    def add_text(self, frame: int, phrases: Sequence[str]) -> dict[int, tuple[str, ObjectMask]]:
        """Detect every instance of the phrases on ``frame``.

        The phrases stay active: :meth:`propagate` keeps detecting them. A phrase given before
        is not added twice; its instances on ``frame`` are returned too.

        Returns:
            Instance id -> (phrase, mask) for the instances of ``phrases`` on ``frame``.

        Raises:
            NotFoundError: None of the phrases found anything on ``frame`` (the message gives the
                best detection score); the phrases new in this call are withdrawn.
            PromptError: No phrase, or an empty phrase, or a bad frame.
        """
        words = check_phrases(phrases)
        with self._lock:
            self._started()
            frame = check_frame(frame, self._num_frames(), what="frame")
            self._version += 1
            engine = self._state()
            session = engine.session
            before = len(session.prompts)
            self._processor.add_text_prompt(session, words)
            self._det_scores = []
            try:
                out = engine.step(frame, reverse=False)
                scores = dict(zip(session.prompts.values(), self._det_scores, strict=False))
            finally:
                self._det_scores = None
            result = frame_result(self._processor, session, out, self._phrases)
            found = {i: (self._phrases[i], m) for i, m in result.objects.items() if self._phrases.get(i) in words}
            if not found:
                withdraw_prompts(session, before)
                engine.head = None
                raise nothing_found(words, frame, scores, self._model)
            self._last = result
            return found

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track and keep detecting every phrase's instances from ``start`` (included), forward or backward.

        Frames come in order; with ``hotstart_delay`` > 0 each is reported once the model is that
        many frames ahead (or at the end of the range).

        Raises:
            BackendError: Not started, or no phrase yet.
        """
        with self._lock:
            self._started()
            start = check_frame(start, self._num_frames(), what="start frame")
            if max_frames is not None and (
                isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0
            ):
                raise BackendError("max_frames must be a non-negative int or None", given=max_frames)
            if not self._state().session.prompts:
                raise BackendError("nothing to propagate: no phrase yet", given=start, hint="call add_text() first")
        return self._propagate(start, max_frames, bool(reverse))

    def remove_object(self, obj_id: int) -> None:
        """Forget one instance (SAM 3 may find the same thing again later, under a new id)."""
        with self._lock:
            self._started()
            engine = self._state()
            sam_id = int(obj_id) - 1
            if sam_id not in engine.session.obj_ids:
                return
            self._version += 1
            engine.remove(sam_id)

    def reset(self) -> None:
        """Forget all phrases, instances and memory; keep the video and the model."""
        with self._lock:
            self._started()
            self._new_session()

    def close(self) -> None:
        """Release the session, the archive and the model."""
        with self._lock:
            self._version += 1
            if self._engine is not None:
                self._engine.close()
            self._engine = self._video = self._last = None
            self._model = None
            self._closed = True

    # -- introspection and refinement ---------------------------------------------------------
    @property
    def phrases(self) -> list[str]:
        """The active phrases, in the order they were added."""
        return [] if self._engine is None else list(self._engine.session.prompts.values())

    @property
    def object_ids(self) -> list[int]:
        """Ids of the instances being tracked."""
        return [] if self._engine is None else [i + 1 for i in self._engine.session.obj_ids]

    def phrase_of(self, obj_id: int) -> str:
        """The phrase that found an instance (also for instances removed since).

        Raises:
            PromptError: No instance has this id.
        """
        phrase = self._phrases.get(obj_id)
        if phrase is None:
            raise PromptError("no instance has this id", given=obj_id, hint=f"known ids: {sorted(self._phrases)}")
        return phrase

    @property
    def last_result(self) -> SegmenterFrame | None:
        """The latest frame reported by :meth:`add_text` or :meth:`propagate`."""
        return self._last

    def seed_prompts(self, result: SegmenterFrame | None = None) -> list[Prompt]:
        """Mask prompts (with their phrase as ``text``) for every non-empty instance of a frame's result.

        Args:
            result: A frame reported by this segmenter (default: :attr:`last_result`).

        Raises:
            BackendError: Nothing was reported yet.
        """
        if result is None:
            result = self._last
        if result is None:
            raise BackendError("no SAM 3 result to seed from", hint="call add_text() or propagate() first")
        return seed_prompts(result, self._phrases)

    def to_tracker(self, prompts: Iterable[Prompt] | None = None, **options: Any) -> Sam3TrackerSegmenter:
        """A ``"sam3-tracker"`` segmenter from the same checkpoint, started on the same video and seeded.

        The tracker (SAM2-style: points, boxes, masks) has the video model's backbone, neck and
        tracker weights; each prompt (default :meth:`seed_prompts` of the last result) is applied
        with ``set_prompt``, so clicks on any other frame refine the instances from there.
        Store the same prompts in the project so a session can rebuild the tracker.

        Args:
            prompts: Seed prompts (mask prompts, usually).
            **options: For :class:`~annotator_widgets.backends.sam3_tracker.Sam3TrackerSegmenter`
                (default: this segmenter's device, dtype and local_files_only).
        """
        with self._lock:
            self._started()
            seeds = self.seed_prompts() if prompts is None else list(prompts)
            video = self._video
        assert video is not None
        options.setdefault("device", self.device)
        options.setdefault("dtype", self.dtype)
        options.setdefault("local_files_only", self._local_files_only)
        return seeded_tracker(self.model_id, video, seeds, **options)

    def memory_stats(self) -> dict[str, int]:
        """What the session holds: tracking entries, frames, per-frame bookkeeping, bytes archived."""
        with self._lock:
            self._started()
            return self._state().stats()

    # -- internals ----------------------------------------------------------------------------
    def _record_detection(self, module: Any, args: Any, output: Any) -> None:
        if self._det_scores is not None:
            probs = output.pred_logits.sigmoid() * output.presence_logits.sigmoid()
            self._det_scores.append(float(probs.max()) if probs.numel() else 0.0)

    def _new_session(self) -> None:
        assert self._video is not None
        self._version += 1
        if self._engine is not None:
            self._engine.close()
        self._engine = None  # a failed start leaves none
        self._engine = Sam3Engine(
            self._model,
            self._processor,
            self._video,
            device=self.device,
            dtype=self.dtype,
            memory_window=self._memory_window,
            frame_cache=self._frame_cache,
            archive_dir=self._archive_dir,
        )
        self._last = None
        self._phrases = {}

    def _propagate(self, start: int, max_frames: int | None, reverse: bool) -> Iterator[SegmenterFrame]:
        n = self._num_frames()
        span = n if max_frames is None else max_frames
        order = range(start, max(start - span, 0) - 1, -1) if reverse else range(start, min(start + span, n - 1) + 1)
        with self._lock:
            version = self._version
        buffer: list[Any] = []
        for frame in order:
            with self._lock:
                self._started()
                if self._version != version:
                    raise BackendError(
                        "the concept segmenter changed while a propagation was running",
                        given=self.name,
                        hint="close the propagate() generator before start/add_text/remove_object/reset, "
                        "then propagate again",
                    )
                engine = self._state()
                head = engine.head
                out = head[1] if head is not None and head[0] == frame else engine.step(frame, reverse)
                buffer.append(out)
                delay = self._model.hotstart_delay
                if frame == order[-1]:
                    ready, buffer = buffer, []
                elif len(buffer) >= max(delay, 1):
                    ready, buffer = buffer[:1], buffer[1:]
                else:
                    ready = []
                results = [frame_result(self._processor, engine.session, o, self._phrases) for o in ready]
            for result in results:
                self._last = result
                yield result

    def _num_frames(self) -> int:
        assert self._video is not None
        return len(self._video)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("concept segmenter is closed", given=self.name, hint="create a new one")

    def _state(self) -> Sam3Engine:
        self._check_open()
        if self._engine is None:
            raise BackendError("no video started", given=self.name, hint="call start(video) first")
        return self._engine

    def _started(self) -> None:
        self._state()
