"""SAM2 video segmentation with Meta's ``sam2`` package, on lazily read frames with bounded memory.

What this adds to ``SAM2VideoPredictor``:

* Frames come lazily from a :class:`~annotator_widgets.video.VideoSource` (any file, folder or
  array), preprocessed exactly like ``sam2.utils.misc`` does for a JPEG folder (PIL resize to
  ``image_size``, /255, ImageNet mean/std), with a cache of a few frames - instead of a JPEG
  folder decoded up front into 12.6 MB per frame.
* Tracking memory is bounded: outputs beyond the memory window are archived to disk and
  restored on demand, so results stay identical to an unbounded run (:mod:`._sam2_memory`).
* Refinement clicks on tracked frames become conditioning frames
  (``add_all_frames_to_correct_as_cond=True``), so they change the masklet from there on.
* Precision is chosen per device and entered per call (:mod:`._sam2_build`); fp32 inference
  does not crash when an object is first prompted after the start of tracking.
* Configs are read without Hydra's global state; errors say what to fix.

Example:
    >>> from annotator_widgets.backends.sam2_meta import Sam2Segmenter  # doctest: +SKIP
    >>> seg = Sam2Segmenter("sam2.1_hiera_tiny")  # doctest: +SKIP
    >>> seg.start(open_video("clip.mp4"))  # doctest: +SKIP
    >>> seg.set_prompt(Prompt(frame=0, obj_id=1, points=(Point(320, 240),)))  # doctest: +SKIP
    >>> for result in seg.propagate(0):  # doctest: +SKIP
    ...     print(result.frame, {k: m.score for k, m in result.objects.items()})
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnnotatorError, BackendError, CheckpointError
from ..types import check_frame
from ._optional import require
from ._prepare import FrameCache, neighbour
from ._sam2_build import (
    autocast,
    build_predictor,
    check_memory_window,
    check_prompt_mask,
    install_fp32_memory_guard,
    resolve_device,
    resolve_dtype,
    sigmoid,
)
from ._sam2_frames import LazyFrames as _LazyFrames
from ._sam2_frames import image_features
from ._sam2_memory import MemoryWindow, window_size
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    from ..types import Prompt
    from ..video import VideoSource

__all__ = ["Sam2Segmenter"]

log = logging.getLogger(__name__)

#: guards the short moments when a sam2 module attribute is swapped (frame loader, progress bar)
_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    with _PATCH_LOCK:
        old = getattr(module, name)
        setattr(module, name, value)
        try:
            yield
        finally:
            setattr(module, name, old)


def _no_progress(iterable: Any, *args: Any, **kwargs: Any) -> Any:
    return iterable


def _resolve_files(
    model: str, checkpoint: str | os.PathLike[str] | None, config: str | os.PathLike[str] | None
) -> tuple[Path, str, str]:
    """(checkpoint path, config, label) from a registry name or explicit files."""
    from ..checkpoints import REGISTRY, fetch, verify

    entry = REGISTRY.get(model)
    known = sorted(n for n, c in REGISTRY.items() if c.family == "sam2")
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(
                "SAM2 checkpoint file not found",
                given=str(path),
                hint="check the path; or use a registry name, e.g. "
                "Sam2Segmenter('sam2.1_hiera_tiny') after "
                "`python -m annotator_widgets.checkpoints fetch sam2.1_hiera_tiny`",
            )
        cfg = config if config is not None else (entry.config if entry is not None else None)
        if cfg is None:
            raise BackendError(
                "a SAM2 checkpoint outside the registry needs its config",
                given=str(path),
                hint="pass config='configs/sam2.1/sam2.1_hiera_t.yaml' (t, s, b+ or l to match the "
                "checkpoint) or the path of a YAML file",
            )
        return path, str(cfg), entry.name if entry is not None else path.stem
    if entry is None:
        raise CheckpointError(
            "unknown SAM2 model name",
            given=model,
            hint=f"use one of {known}, or pass checkpoint=<file.pt> and config=<config>",
        )
    if entry.family and entry.family != "sam2":
        raise CheckpointError(
            "registry entry is not a SAM2 model", given=f"{model} ({entry.family})", hint=f"use one of {known}"
        )
    from ..checkpoints import find_local

    local = find_local(model)
    path = verify(model, local) if local is not None else fetch(model)
    cfg = config if config is not None else entry.config
    if cfg is None:
        raise BackendError("registry entry has no SAM2 config", given=model, hint="pass config=...")
    return path, str(cfg), model


class Sam2Segmenter:
    """The :class:`~annotator_widgets.backends.VideoSegmenter` on Meta's ``sam2`` package.

    Args:
        model: A registry name (``"sam2.1_hiera_tiny"``, ``"_small"``, ``"_base_plus"``,
            ``"_large"``); its checkpoint is found on disk or fetched, and verified.
        checkpoint: An explicit ``.pt`` file (Meta's format, ``{"model": state_dict}``).
        config: The model config: a sam2 package config name or a YAML path (default: the
            registry entry's).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (bf16 autocast on GPUs with compute capability >= 8 and on CPUs that compute bf16
            natively, fp32 on other CPUs and MPS, fp16 on older GPUs), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        memory_window: Frames of tracking memory kept in RAM on each side of the current
            frame: ``"auto"`` (what the model reads, 15 for the released configs), an int,
            or None to keep everything (unbounded, as upstream).
        archive_dir: Where pruned memory is archived (default: a temporary folder, deleted
            on :meth:`close`). Disk use is about 0.8 MB per frame per object at 1024 px.
        hydra_overrides: Extra config overrides such as ``"++model.non_overlap_masks=true"``.
        frame_cache: Normalised frames kept in memory.
        feature_cache: Frames whose image features :meth:`prepare` keeps (LRU; 0 turns it off).
            About 85 MB per frame for the released models at 1024 px.
        offload_state_to_cpu: Keep tracking outputs in CPU memory (saves GPU memory).

    Raises:
        CheckpointError: Unknown name, missing or corrupt checkpoint (the message says what
            to download and where to put it), or a checkpoint that does not fit the config.
        BackendError: Bad config, device or dtype.
    """

    def __init__(
        self,
        model: str = "sam2.1_hiera_tiny",
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        config: str | os.PathLike[str] | None = None,
        device: Any = "auto",
        dtype: Any = "auto",
        memory_window: int | str | None = "auto",
        archive_dir: str | os.PathLike[str] | None = None,
        hydra_overrides: Sequence[str] = (),
        frame_cache: int = 4,
        feature_cache: int = 2,
        offload_state_to_cpu: bool = False,
    ) -> None:
        require("torch")
        require("sam2")
        if isinstance(hydra_overrides, str):
            hydra_overrides = (hydra_overrides,)
        check_memory_window(memory_window)
        path, cfg, label = _resolve_files(model, checkpoint, config)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.name = f"sam2:{label}"
        self.checkpoint = path
        self.config = cfg
        self._predictor = build_predictor(cfg, path, self.device, tuple(hydra_overrides))
        if self.dtype == require("torch").float32:
            install_fp32_memory_guard(self._predictor)
        self._memory_window = memory_window
        self._archive_dir = archive_dir
        self._frame_cache = frame_cache
        self._features: FrameCache[tuple[Any, Any]] = FrameCache(feature_cache)
        self._last_prepared: int | None = None
        self._offload_state = offload_state_to_cpu
        self._lock = threading.RLock()
        self._state: dict[str, Any] | None = None
        self._frames: _LazyFrames | None = None
        self._window: MemoryWindow | None = None
        self._video: VideoSource | None = None
        self._closed = False
        self._version = 0
        log.info("%s on %s (%s)", self.name, self.device, self.dtype)

    def __repr__(self) -> str:
        return f"Sam2Segmenter({self.name!r}, device={self.device}, dtype={self.dtype})"

    # -- protocol -----------------------------------------------------------------------
    def start(self, video: VideoSource) -> None:
        """Begin a state for ``video``; frames are read from it lazily."""
        import sam2.sam2_video_predictor as svp

        with self._lock:
            self._version += 1
            self._check_open()
            self._drop_state()
            if len(video) == 0:
                raise BackendError("video has no frames", given=repr(video))
            width, height = video.size
            frames = _LazyFrames(video, self._predictor.image_size, self.device, self._frame_cache)

            def loader(**_: Any) -> tuple[_LazyFrames, int, int]:
                return frames, height, width

            with self._ctx(), _patched(svp, "load_video_frames", loader):
                self._state = self._predictor.init_state(
                    video_path="<annotator_widgets lazy frames>", offload_state_to_cpu=self._offload_state
                )
            self._frames = frames
            self._video = video
            self._window = self._make_window(len(video))

    def set_prompt(self, prompt: Prompt) -> dict[int, ObjectMask]:
        """Apply the whole prompt of ``prompt.obj_id`` on ``prompt.frame`` (replacing its earlier one there).

        Box first, then points (``add_new_points_or_box(clear_old_points=True)``); a prompt with
        a mask goes through ``add_new_mask`` and its points, if any, are added after it.

        Returns:
            Masks on ``prompt.frame`` of every object with an output there (at least ``prompt.obj_id``).
        """
        with self._lock:
            self._version += 1
            state = self._started()
            frame = self._check_frame(prompt.frame, "prompt frame")
            pred = self._predictor
            self._restore(frame)
            prepared = self._features.lookup(frame)
            if prepared is not None:  # what upstream caches after computing them itself
                state["cached_features"] = {frame: prepared}
            coords, labels = prompt.point_arrays()
            box = None if prompt.box is None else np.array(prompt.box.xyxy, np.float32)
            mask = None if prompt.mask is None else self._mask_array(prompt)
            try:
                with self._ctx():
                    if mask is not None:
                        _, obj_ids, masks = pred.add_new_mask(state, frame, prompt.obj_id, mask)
                    if mask is None or len(coords) or box is not None:
                        # after add_new_mask its logits feed the decoder together with these clicks
                        _, obj_ids, masks = pred.add_new_points_or_box(
                            state,
                            frame,
                            prompt.obj_id,
                            points=coords if len(coords) else None,
                            labels=labels if len(coords) else None,
                            box=box,
                            clear_old_points=True,
                        )
                    result = self._objects(frame, list(obj_ids), masks, include_temp=True)
            except AnnotatorError:
                raise  # ours (e.g. a frame that cannot be decoded): already says what to fix
            except (RuntimeError, ValueError, AssertionError) as exc:
                raise BackendError("SAM2 could not apply the prompt", given=repr(prompt), hint=self._hint(exc)) from exc
            self._prune(frame)
            return result

    def prepare(self, frame: int) -> None:
        """Compute ``frame``'s image features ahead (then its neighbour in the direction of travel,
        when the cache holds two), so that a click there runs only the prompt encoder and the mask
        decoder. Thread safe; call it from a worker while the user looks at the frame. The masks
        are the same with and without it."""
        with self._lock:
            self._started()
            frame = self._check_frame(frame, "frame")
            assert self._video is not None and self._frames is not None
            frames, n, last = self._frames, len(self._video), self._last_prepared
            self._last_prepared = frame
        todo = [frame] + ([] if self._features.size < 2 else [neighbour(frame, last, n)])
        for f in todo:
            if f is not None:
                self._features.get(
                    f, functools.partial(image_features, self._predictor, frames, f, self.device, self._ctx())
                )

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track every prompted object from ``start`` (included), forward or backward.

        The generator can be closed between frames (the state stays usable). Reverse from
        frame 0 yields frame 0's current masks (upstream skips that pass entirely).

        Raises:
            BackendError: Not started, or no object has a prompt yet.
        """
        with self._lock:
            state = self._started()
            start = self._check_frame(start, "start frame")
            if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 0):
                raise BackendError("max_frames must be a non-negative int or None", given=max_frames)
            if not state["obj_ids"]:
                raise BackendError(
                    "nothing to propagate: no object has a prompt", given=start, hint="call set_prompt() first"
                )
        return self._propagate(start, max_frames, bool(reverse))

    def remove_object(self, obj_id: int) -> None:
        """Forget an object, its prompts and its memory (unknown ids are ignored)."""
        with self._lock:
            self._version += 1
            state = self._started()
            with self._ctx():
                self._predictor.remove_object(state, obj_id, strict=False, need_output=False)
            assert self._window is not None
            if state["obj_ids"]:
                self._window.forget(obj_id)
            else:
                self._window.clear()

    def reset(self) -> None:
        """Forget all prompts, objects and memory; keep the video and the model."""
        with self._lock:
            self._version += 1
            state = self._started()
            with self._ctx():
                self._predictor.reset_state(state)
            assert self._window is not None
            self._window.clear()

    def close(self) -> None:
        """Release the state, the archive and the model."""
        with self._lock:
            self._version += 1
            self._drop_state()
            self._predictor = None
            self._closed = True

    def twin(self) -> Sam2Segmenter:
        """A second segmenter on the same loaded model (weights shared, no state, prompts or caches shared).

        For scratch masks beside the user's tracking (find-by-text candidates) without loading the
        model twice; it must be :meth:`start`-ed on a video. Closing it leaves this one open.
        """
        with self._lock:
            self._check_open()
            twin = copy.copy(self)  # settings and the predictor (the model); the state is replaced below
        twin._lock = threading.RLock()
        twin._features = FrameCache(self._features.size)
        twin._last_prepared = None
        twin._state = twin._frames = twin._window = twin._video = None
        twin._closed = False
        twin._version = 0
        return twin

    # -- introspection (tests, benchmarks) --------------------------------------------
    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects in the state, in model order."""
        return [] if self._state is None else list(self._state["obj_ids"])

    @property
    def memory_window(self) -> int | None:
        """Frames kept on each side of the current one, or None when memory is unbounded."""
        return None if self._window is None else self._window.window

    def memory_stats(self) -> dict[str, int]:
        """Tracking outputs held in memory (entries, tensor bytes) and archived, for tests and benchmarks."""
        with self._lock:
            state = self._started()
            torch = require("torch")
            outs = state["output_dict_per_obj"].values()
            tensor_bytes = sum(
                v.nbytes
                for o in outs
                for d in o.values()
                for e in d.values()
                for v in e.values()
                if isinstance(v, torch.Tensor)
            )
            return {
                "output_bytes": tensor_bytes,
                "non_cond_entries": sum(len(o["non_cond_frame_outputs"]) for o in outs),
                "cond_entries": sum(len(o["cond_frame_outputs"]) for o in outs),
                "archived_bytes": 0 if self._window is None else self._window.archive_bytes,
                "pruned": 0 if self._window is None else self._window.pruned,
                "restored": 0 if self._window is None else self._window.restored,
            }

    # -- internals ----------------------------------------------------------------------
    def _propagate(self, start: int, max_frames: int | None, reverse: bool) -> Iterator[SegmenterFrame]:
        import sam2.sam2_video_predictor as svp

        with self._lock:
            state = self._started()
            version = self._version
            self._restore(start)
            if reverse and start == 0:
                # upstream skips a reverse pass from frame 0; the protocol yields the start frame
                with self._ctx():
                    self._predictor.propagate_in_video_preflight(state)
                    consolidated = self._predictor._consolidate_temp_output_across_obj(
                        state, 0, is_cond=False, consolidate_at_video_res=True
                    )
                    _, masks = self._predictor._get_orig_video_res_output(state, consolidated["pred_masks_video_res"])
                    only = SegmenterFrame(frame=0, objects=self._objects(0, list(state["obj_ids"]), masks))
                inner = None
            else:
                inner = self._predictor.propagate_in_video(
                    state, start_frame_idx=start, max_frame_num_to_track=max_frames, reverse=reverse
                )
        if inner is None:
            yield only
            return
        first = True
        try:
            while True:
                with self._lock:
                    self._check_version(version)
                    try:
                        with self._ctx(), _patched(svp, "tqdm", _no_progress) if first else contextlib.nullcontext():
                            frame_idx, obj_ids, masks = next(inner)
                            result = SegmenterFrame(
                                frame=int(frame_idx), objects=self._objects(int(frame_idx), list(obj_ids), masks)
                            )
                    except StopIteration:
                        return
                    except AnnotatorError:
                        raise  # ours (e.g. a frame that cannot be decoded): already says what to fix
                    except (RuntimeError, ValueError, AssertionError) as exc:
                        raise BackendError(
                            "SAM2 propagation failed", given=f"start={start}, reverse={reverse}", hint=self._hint(exc)
                        ) from exc
                    first = False
                yield result
                with self._lock:
                    if self._version == version:
                        self._prune(result.frame)
        finally:
            inner.close()

    def _check_version(self, version: int) -> None:
        if self._version != version:
            raise BackendError(
                "the segmenter changed while a propagation was running",
                given=self.name,
                hint="close the propagate() generator before start/set_prompt/remove_object/reset, "
                "then propagate again",
            )

    def _objects(
        self, frame: int, obj_ids: list[int], video_res_masks: Any, include_temp: bool = False
    ) -> dict[int, ObjectMask]:
        state = self._state
        assert state is not None
        binary = (video_res_masks[:, 0] > 0.0).cpu().numpy()
        result: dict[int, ObjectMask] = {}
        for idx, obj_id in enumerate(obj_ids):
            sources = [state["output_dict_per_obj"][idx]]
            if include_temp:
                sources.insert(0, state["temp_output_dict_per_obj"][idx])
            out = next(
                (
                    d[key][frame]
                    for d in sources
                    for key in ("cond_frame_outputs", "non_cond_frame_outputs")
                    if frame in d[key]
                ),
                None,
            )
            if out is None:
                continue  # this object has no output on this frame
            logit = float(out["object_score_logits"].float().reshape(-1)[0])
            result[int(obj_id)] = ObjectMask(mask=binary[idx], score=sigmoid(logit))
        return result

    def _mask_array(self, prompt: Prompt) -> np.ndarray:
        assert prompt.mask is not None and self._video is not None
        check_prompt_mask(prompt, self._video)
        return prompt.mask.to_mask().astype(bool)

    def _make_window(self, num_frames: int) -> MemoryWindow | None:
        if self._memory_window is None:
            return None
        p = self._predictor
        if self._memory_window == "auto":
            keep = window_size(
                p.num_maskmem,
                p.memory_temporal_stride_for_eval,
                p.max_obj_ptrs_in_encoder,
                num_frames,
                p.use_obj_ptrs_in_encoder,
            )
        else:
            keep = int(self._memory_window)
        state = self._state
        assert state is not None

        def pack(entry: dict[str, Any]) -> dict[str, Any]:
            # maskmem_pos_enc is a view of a per-state constant: not archived, re-attached on restore
            return {k: v for k, v in entry.items() if k != "maskmem_pos_enc"}

        def unpack(fields: dict[str, Any]) -> dict[str, Any]:
            const = state["constants"].get("maskmem_pos_enc")
            fields["maskmem_pos_enc"] = None if const is None else [x.expand(1, -1, -1, -1) for x in const]
            return fields

        return MemoryWindow(keep, archive_dir=self._archive_dir, pack=pack, unpack=unpack)

    def _restore(self, frame: int) -> None:
        if self._window is not None and self._state is not None:
            with self._ctx():
                self._window.restore(self._state["output_dict_per_obj"], self._state["obj_ids"], frame)

    def _prune(self, frame: int) -> None:
        if self._window is not None and self._state is not None:
            self._window.prune(self._state["output_dict_per_obj"], self._state["obj_ids"], frame)

    def _ctx(self) -> Any:
        return autocast(self.device, self.dtype)

    def _hint(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        if "dtype" in str(exc):
            return text + "; try dtype='bfloat16' (CPU) or the default dtype='auto'"
        return text

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("segmenter is closed", given=self.name, hint="create a new Sam2Segmenter")

    def _started(self) -> dict[str, Any]:
        self._check_open()
        if self._state is None:
            raise BackendError("no video started", given=self.name, hint="call start(video) first")
        return self._state

    def _check_frame(self, frame: Any, what: str) -> int:
        assert self._video is not None
        return check_frame(frame, len(self._video), what=what)

    def _drop_state(self) -> None:
        if self._window is not None:
            self._window.close()
        if self._frames is not None:
            self._frames.clear()
        self._features.clear()
        self._last_prepared = None
        self._window = None
        self._frames = None
        self._state = None
        self._video = None
