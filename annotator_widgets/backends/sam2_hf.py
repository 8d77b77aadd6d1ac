"""SAM2 (and EdgeTAM) video segmentation with transformers' ``Sam2VideoModel``, streamed frame by frame.

How it maps the :class:`~annotator_widgets.backends.VideoSegmenter` protocol onto transformers:

* Streaming: the session holds no video; every model call gets its frame from the
  :class:`~annotator_widgets.video.VideoSource`, preprocessed by the model's processor, with
  ``frame_idx`` passed explicitly. Processed frames are dropped right after use (the session
  would otherwise keep each one), so memory does not grow with the video.
* Both directions use the same streaming call (``model(session, frame_idx=i, frame=pixels,
  reverse=...)``) in our own loop: ``propagate_in_video_iterator`` needs every frame stored in
  the session (non-streaming) and derives the frame count from them.
* Tracking outputs beyond the memory window (15 frames) are archived to disk and restored on
  demand, as for the ``sam2`` backend (:mod:`._sam2_memory`); the stored ``high_res_masks``
  (never read back) are dropped.
* Prompts: transformers has no ``remove_object`` or clear-prompts, so every prompt received is
  kept; replacing a prompt (same object and frame) or removing an object rebuilds the session
  from the remaining prompts (tracking outputs are then recomputed by the next propagate).
  Every prompted frame is an initial conditioning frame computed from its whole prompt without
  memory - the same whether it was added interactively or replayed by a rebuild. A prompt with
  a mask uses the mask; points or a box in the same prompt are ignored (transformers cannot
  combine them; a warning is logged).

Example:
    >>> from annotator_widgets.backends.sam2_hf import HfSam2Segmenter  # doctest: +SKIP
    >>> seg = HfSam2Segmenter("facebook/sam2.1-hiera-tiny")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnnotatorError, BackendError
from ..types import check_frame
from ._hf import load_pretrained
from ._optional import require
from ._prepare import FrameCache, neighbour
from ._sam2_build import autocast, check_memory_window, check_prompt_mask, resolve_device, resolve_dtype, sigmoid
from ._sam2_memory import MemoryWindow, window_size
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    from ..types import Prompt
    from ..video import VideoSource

__all__ = ["HfSam2Segmenter"]

log = logging.getLogger(__name__)

#: config.model_type -> transformers class
_MODEL_CLASSES = {
    "sam2_video": "Sam2VideoModel",
    "edgetam_video": "EdgeTamVideoModel",
    "sam3_tracker_video": "Sam3TrackerVideoModel",
}


class HfSam2Segmenter:
    """The :class:`~annotator_widgets.backends.VideoSegmenter` on transformers' SAM2 video models.

    Args:
        model: A hub id (``"facebook/sam2.1-hiera-tiny"``), a local folder written by
            ``save_pretrained``, or a registry name with a ``hub_id`` (``"sam2.1_hiera_tiny"``).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (bf16 autocast on GPUs with compute capability >= 8 and on CPUs that compute bf16
            natively, fp32 on other CPUs and MPS, fp16 on older GPUs), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        memory_window: Frames of tracking memory kept on each side of the current frame:
            ``"auto"`` (what the model reads), an int, or None for unbounded.
        archive_dir: Where pruned memory is archived (default: a temporary folder).
        local_files_only: Never contact the hub (default: only when ``model`` is a folder).
        feature_cache: Frames whose image features :meth:`prepare` keeps (LRU; 0 turns it off).

    Raises:
        CheckpointError: The model cannot be found or loaded.
        BackendError: Not a SAM2-family video model, or a bad device/dtype.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: Any = "auto",
        dtype: Any = "auto",
        memory_window: int | str | None = "auto",
        archive_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool | None = None,
        feature_cache: int = 2,
    ) -> None:
        self._torch = require("torch")
        require("transformers")
        check_memory_window(memory_window)
        source = self._source(model)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._model, self._processor = self._load(source, local_files_only)
        self.name = f"hf:{model}"
        self.model_id = source
        self._memory_window = memory_window
        self._archive_dir = archive_dir
        self._lock = threading.RLock()
        self._video: VideoSource | None = None
        self._session: Any = None
        self._window: MemoryWindow | None = None
        self._prompts: dict[tuple[int, int], Prompt] = {}
        self._pos_enc: Any = None
        self._features: FrameCache[dict[str, Any]] = FrameCache(feature_cache)
        self._last_prepared: int | None = None
        self._closed = False
        self._version = 0
        log.info("%s (%s) on %s (%s)", self.name, type(self._model).__name__, self.device, self.dtype)

    def __repr__(self) -> str:
        return f"HfSam2Segmenter({self.name!r}, device={self.device}, dtype={self.dtype})"

    # -- protocol ---------------------------------------------------------------------------
    def start(self, video: VideoSource) -> None:
        """Begin a session for ``video``; frames are streamed from it."""
        with self._lock:
            self._version += 1
            self._check_open()
            if len(video) == 0:
                raise BackendError("video has no frames", given=repr(video))
            self._video = video
            self._prompts = {}
            self._features.clear()
            self._last_prepared = None
            self._new_session()

    def set_prompt(self, prompt: Prompt) -> dict[int, ObjectMask]:
        """Apply the whole prompt of ``prompt.obj_id`` on ``prompt.frame``.

        A new (object, frame) pair is added to the session; replacing an earlier prompt of the
        same pair rebuilds the session from all prompts.

        Returns:
            Masks on ``prompt.frame`` of every object in the session.
        """
        with self._lock:
            self._version += 1
            self._started()
            self._check_frame(prompt.frame, "prompt frame")
            self._check_mask(prompt)
            key = (prompt.obj_id, prompt.frame)
            replacing = key in self._prompts
            self._prompts[key] = prompt
            if replacing:
                return self._rebuild(until=key)
            return self._apply(prompt)

    def prepare(self, frame: int) -> None:
        """Compute ``frame``'s image features ahead (then its neighbour in the direction of travel,
        when the cache holds two), so that a click there runs only the prompt encoder and the mask
        decoder. Thread safe; call it from a worker while the user looks at the frame. The masks
        are the same with and without it."""
        with self._lock:
            self._started()
            frame = self._check_frame(frame, "frame")
            assert self._video is not None
            n, last, self._last_prepared = len(self._video), self._last_prepared, frame
        for f in (frame, None if self._features.size < 2 else neighbour(frame, last, n)):
            if f is not None:
                self._features.get(f, functools.partial(self._image_features, f))

    def _image_features(self, frame: int) -> dict[str, Any]:
        """What ``Sam2VideoModel._prepare_vision_features`` computes and caches for ``frame`` on a miss."""
        # the frame as the session stores it (add_new_frame) and hands it over (get_frame)
        pixels = self._pixels(frame).to(self.device, dtype=self._torch.float32)
        with self._ctx():
            out = self._model.get_image_features(pixels.unsqueeze(0), return_dict=True)
        return {"vision_feats": out.fpn_hidden_states, "vision_pos_embeds": out.fpn_position_encoding}

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track every prompted object from ``start`` (included), forward or backward.

        Raises:
            BackendError: Not started, or no prompt yet.
        """
        with self._lock:
            self._started()
            start = self._check_frame(start, "start frame")
            if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 0):
                raise BackendError("max_frames must be a non-negative int or None", given=max_frames)
            if not self._prompts:
                raise BackendError(
                    "nothing to propagate: no object has a prompt", given=start, hint="call set_prompt() first"
                )
        return self._propagate(start, max_frames, bool(reverse))

    def remove_object(self, obj_id: int) -> None:
        """Forget an object: the session is rebuilt from the other objects' prompts."""
        with self._lock:
            self._version += 1
            self._started()
            if not any(k[0] == obj_id for k in self._prompts):
                return
            self._prompts = {k: p for k, p in self._prompts.items() if k[0] != obj_id}
            self._rebuild()

    def reset(self) -> None:
        """Forget all prompts, objects and memory; keep the video and the model."""
        with self._lock:
            self._version += 1
            self._started()
            self._prompts = {}
            self._new_session()

    def close(self) -> None:
        """Release the session, the archive and the model."""
        with self._lock:
            self._version += 1
            if self._window is not None:
                self._window.close()
            self._window = None
            self._session = None
            self._video = None
            self._model = None
            self._closed = True

    def twin(self) -> HfSam2Segmenter:
        """A second segmenter on the same loaded model and processor (no session, prompts or caches shared).

        For scratch masks beside the user's tracking (find-by-text candidates) without loading the
        model twice; it must be :meth:`start`-ed on a video. Closing it leaves this one open.
        """
        with self._lock:
            self._check_open()
            twin = copy.copy(self)  # settings, the model and the processor; the state is replaced below
        twin._lock = threading.RLock()
        twin._video = twin._session = twin._window = None
        twin._prompts = {}
        twin._features = FrameCache(self._features.size)
        twin._last_prepared = None
        twin._closed = False
        twin._version = 0
        return twin

    # -- introspection ------------------------------------------------------------------------
    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects in the session, in model order."""
        return [] if self._session is None else list(self._session.obj_ids)

    @property
    def prompts(self) -> list[Prompt]:
        """The prompts the session is built from, in order."""
        return list(self._prompts.values())

    @property
    def memory_window(self) -> int | None:
        """Frames kept on each side of the current one, or None when memory is unbounded."""
        return None if self._window is None else self._window.window

    def memory_stats(self) -> dict[str, int]:
        """Tracking outputs and frames held in memory, and bytes archived."""
        with self._lock:
            self._started()
            torch = self._torch
            outs = self._session.output_dict_per_obj.values()
            return {
                "non_cond_entries": sum(len(o["non_cond_frame_outputs"]) for o in outs),
                "cond_entries": sum(len(o["cond_frame_outputs"]) for o in outs),
                "output_bytes": sum(
                    v.nbytes
                    for o in outs
                    for d in o.values()
                    for e in d.values()
                    for v in e.values()
                    if isinstance(v, torch.Tensor)
                ),
                "stored_frames": len(self._session.processed_frames or {}),
                "archived_bytes": 0 if self._window is None else self._window.archive_bytes,
                "pruned": 0 if self._window is None else self._window.pruned,
                "restored": 0 if self._window is None else self._window.restored,
            }

    # -- internals ----------------------------------------------------------------------------
    def _source(self, model: str | os.PathLike[str]) -> str:
        text = str(model)
        if Path(text).expanduser().is_dir():
            return str(Path(text).expanduser())
        from ..checkpoints import REGISTRY

        entry = REGISTRY.get(text)
        if entry is not None:
            if not entry.hub_id:
                raise BackendError(
                    "registry entry has no transformers (hub) version",
                    given=text,
                    hint="pass a hub id such as 'facebook/sam2.1-hiera-tiny' or a local folder",
                )
            return entry.hub_id
        return text

    def _load(self, source: str, local_files_only: bool | None) -> tuple[Any, Any]:
        loaded = load_pretrained(
            source,
            classes=_MODEL_CLASSES,
            family="SAM2-family video",
            example="facebook/sam2.1-hiera-tiny",
            device=self.device,
            local_files_only=local_files_only,
        )
        return loaded.model, loaded.processor

    def _new_session(self) -> None:
        assert self._video is not None
        if self._window is not None:
            self._window.close()
        self._session = self._processor.init_video_session(
            inference_device=self.device, video_storage_device=self.device, dtype=self._torch.float32
        )
        width, height = self._video.size
        self._session.video_height, self._session.video_width = height, width
        self._window = self._make_window()

    def _make_window(self) -> MemoryWindow | None:
        if self._memory_window is None:
            return None
        cfg = self._model.config
        if self._memory_window == "auto":
            # streaming mode reads max_object_pointers_in_encoder - 1 pointers whatever the video length
            keep = window_size(
                getattr(cfg, "num_maskmem", 7), 1, getattr(cfg, "max_object_pointers_in_encoder", 16), 10**9
            )
        else:
            keep = int(self._memory_window)

        def pack(entry: dict[str, Any]) -> dict[str, Any]:
            # maskmem_pos_enc is the same for every frame: keep one copy, not one per entry
            if self._pos_enc is None and entry.get("maskmem_pos_enc") is not None:
                self._pos_enc = entry["maskmem_pos_enc"].clone()
            return {k: v for k, v in entry.items() if k != "maskmem_pos_enc" and isinstance(v, self._torch.Tensor)}

        def unpack(fields: dict[str, Any]) -> dict[str, Any]:
            fields["maskmem_pos_enc"] = self._pos_enc
            return fields

        return MemoryWindow(keep, archive_dir=self._archive_dir, pack=pack, unpack=unpack)

    def _pixels(self, frame: int) -> Any:
        assert self._video is not None
        # a writable copy: torch warns about read-only arrays (VideoSource frames are read-only)
        inputs = self._processor(images=np.array(self._video.frame(frame)), device=self.device, return_tensors="pt")
        return inputs.pixel_values[0]

    def _run(self, frame: int, reverse: bool = False) -> Any:
        """One streaming model call on ``frame``; drops the stored frame and high-res masks after it."""
        session = self._session
        prepared = self._features.lookup(frame)
        if prepared is not None:
            session.cache.cache_vision_features(frame, prepared)
        try:
            out = self._model(inference_session=session, frame_idx=frame, frame=self._pixels(frame), reverse=reverse)
        except AnnotatorError:
            raise  # ours (e.g. a frame that cannot be decoded): already says what to fix
        except (RuntimeError, ValueError, IndexError, KeyError) as exc:
            raise BackendError(
                "transformers SAM2 failed", given=f"frame {frame}", hint=f"{type(exc).__name__}: {exc}"
            ) from exc
        session.processed_frames.pop(frame, None)
        for obj in session.output_dict_per_obj.values():
            for storage in obj.values():
                entry = storage.get(frame)
                if entry is not None:
                    entry.pop("high_res_masks", None)
        return out

    def _apply(self, prompt: Prompt) -> dict[int, ObjectMask]:
        session = self._session
        obj_idx = session.obj_id_to_idx(prompt.obj_id)
        self._restore(prompt.frame)
        # an initial conditioning frame from the whole prompt, as after a rebuild; its old tracking output goes
        session.frames_tracked_per_obj[obj_idx].pop(prompt.frame, None)
        session.output_dict_per_obj[obj_idx]["non_cond_frame_outputs"].pop(prompt.frame, None)
        proc = self._processor
        with self._ctx():
            if prompt.mask is not None:
                if prompt.points or prompt.box is not None:
                    log.warning(
                        "transformers SAM2 cannot combine a mask with points or a box; using the mask of %s", prompt
                    )
                proc.add_inputs_to_inference_session(
                    session,
                    frame_idx=prompt.frame,
                    obj_ids=prompt.obj_id,
                    input_masks=prompt.mask.to_mask().astype(bool),
                )
            else:
                coords, labels = prompt.point_arrays()
                kwargs: dict[str, Any] = {}
                if len(coords):
                    kwargs["input_points"] = [[coords.tolist()]]
                    kwargs["input_labels"] = [[labels.tolist()]]
                if prompt.box is not None:
                    kwargs["input_boxes"] = [[list(prompt.box.xyxy)]]
                proc.add_inputs_to_inference_session(
                    session,
                    frame_idx=prompt.frame,
                    obj_ids=prompt.obj_id,
                    original_size=(session.video_height, session.video_width),
                    **kwargs,
                )
            out = self._run(prompt.frame)
            result = self._objects(out)
        self._prune(prompt.frame)
        return result

    def _rebuild(self, until: tuple[int, int] | None = None) -> dict[int, ObjectMask]:
        """A fresh session with every kept prompt re-applied in order; returns the result of ``until``."""
        self._new_session()
        result: dict[int, ObjectMask] = {}
        for key, p in self._prompts.items():
            out = self._apply(p)
            if key == until:
                result = out
        if until is not None:
            # masks of the replaced prompt's frame as they are now, for every object
            with self._ctx():
                result = self._frame_result(until[1]) or result
        return result

    def _frame_result(self, frame: int) -> dict[int, ObjectMask]:
        session = self._session
        result: dict[int, ObjectMask] = {}
        for idx, obj_id in enumerate(session.obj_ids):
            outs = session.output_dict_per_obj[idx]
            out = outs["cond_frame_outputs"].get(frame) or outs["non_cond_frame_outputs"].get(frame)
            if out is None:
                continue
            mask = self._processor.post_process_masks(
                [out["pred_masks"]], original_sizes=[[session.video_height, session.video_width]], binarize=True
            )[0]
            score = float(out["object_score_logits"].float().reshape(-1)[0])
            result[int(obj_id)] = ObjectMask(mask=mask[0, 0].cpu().numpy(), score=sigmoid(score))
        return result

    def _propagate(self, start: int, max_frames: int | None, reverse: bool) -> Iterator[SegmenterFrame]:
        assert self._video is not None
        n = len(self._video)
        span = n if max_frames is None else max_frames
        order = range(start, max(start - span, 0) - 1, -1) if reverse else range(start, min(start + span, n - 1) + 1)
        with self._lock:
            version = self._version
            self._restore(start)
        for frame in order:
            with self._lock:
                self._started()
                if self._version != version:
                    raise BackendError(
                        "the segmenter changed while a propagation was running",
                        given=self.name,
                        hint="close the propagate() generator before start/set_prompt/remove_object/reset, "
                        "then propagate again",
                    )
                with self._ctx():
                    out = self._run(frame, reverse=reverse)
                    result = SegmenterFrame(frame=frame, objects=self._objects(out))
            yield result
            with self._lock:
                if self._version == version:
                    self._prune(frame)

    def _objects(self, out: Any) -> dict[int, ObjectMask]:
        session = self._session
        masks = self._processor.post_process_masks(
            [out.pred_masks], original_sizes=[[session.video_height, session.video_width]], binarize=True
        )[0]
        masks = masks[:, 0].cpu().numpy()
        logits = out.object_score_logits.float().reshape(-1).cpu().tolist()
        return {int(oid): ObjectMask(mask=masks[i], score=sigmoid(logits[i])) for i, oid in enumerate(out.object_ids)}

    def _restore(self, frame: int) -> None:
        if self._window is not None:
            with self._ctx():
                self._window.restore(self._session.output_dict_per_obj, self._session.obj_ids, frame)

    def _prune(self, frame: int) -> None:
        if self._window is not None:
            self._window.prune(self._session.output_dict_per_obj, self._session.obj_ids, frame)

    def _ctx(self) -> Any:
        return autocast(self.device, self.dtype)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("segmenter is closed", given=self.name, hint="create a new HfSam2Segmenter")

    def _started(self) -> None:
        self._check_open()
        if self._session is None:
            raise BackendError("no video started", given=self.name, hint="call start(video) first")

    def _check_frame(self, frame: Any, what: str) -> int:
        assert self._video is not None
        return check_frame(frame, len(self._video), what=what)

    def _check_mask(self, prompt: Prompt) -> None:
        assert self._video is not None
        check_prompt_mask(prompt, self._video)
