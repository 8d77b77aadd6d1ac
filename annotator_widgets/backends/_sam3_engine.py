"""One SAM 3 video session on a streamed video: each model call with tracking memory restored before and pruned after.

:class:`Sam3Engine` owns transformers' ``Sam3VideoInferenceSession`` for one video: frames come
lazily from the :class:`~annotator_widgets.video.VideoSource` through
:class:`~._sam3_stream.StreamedFrames`, tracking memory outside the window the tracker reads is
archived (:mod:`._sam2_memory`) and per-frame bookkeeping pruned (:func:`~._sam3_stream.prune_metadata`),
so memory stays flat over a long video while every model call computes what it would on the whole
video in memory. The concept segmenter (:mod:`.sam3`) adds phrases, ids, locking and errors on top.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnnotatorError, BackendError
from ._optional import require
from ._sam2_build import autocast
from ._sam2_memory import MemoryWindow, window_size
from ._sam3_stream import StreamedFrames, make_window, prune_metadata, session_stats

if TYPE_CHECKING:
    from ..video import VideoSource

__all__ = ["Sam3Engine"]


class Sam3Engine:
    """A ``Sam3VideoModel`` session over a streamed video with bounded memory.

    Args:
        model: A loaded ``Sam3VideoModel`` (on ``device``).
        processor: Its ``Sam3VideoProcessor``.
        video: The video (read lazily).
        device: Torch device of the model and the session.
        dtype: Autocast dtype of model calls.
        memory_window: Frames of tracking memory kept on each side of the current frame:
            ``"auto"`` (what the tracker reads), an int, or None (no pruning).
        frame_cache: Preprocessed frames held at a time.
        archive_dir: Where pruned memory is archived (default: a temporary folder).
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        video: VideoSource,
        *,
        device: Any,
        dtype: Any,
        memory_window: int | str | None,
        frame_cache: int,
        archive_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        torch = require("torch")
        self.model, self.processor, self.video = model, processor, video
        self.device, self.dtype = device, dtype
        self.session: Any = processor.init_video_session(
            inference_device=device, video_storage_device=device, dtype=torch.float32
        )
        self.frames = StreamedFrames(video, self._preprocess, keep=frame_cache)
        self.session.processed_frames = self.frames
        width, height = video.size
        self.session.video_height, self.session.video_width = height, width
        self.window: MemoryWindow | None = None
        if memory_window is not None:
            keep = self._auto_window() if memory_window == "auto" else int(memory_window)
            self.window = make_window(keep, archive_dir)
        #: the latest model output as (frame, output); None after a change that invalidates it
        self.head: tuple[int, Any] | None = None

    def step(self, frame: int, reverse: bool) -> Any:
        """One model call on ``frame`` (detect, track, match), with memory restored before and pruned after.

        Raises:
            BackendError: transformers failed on this frame.
        """
        session, model = self.session, self.model
        with autocast(self.device, self.dtype):
            if self.window is not None:
                self.window.restore(session.output_dict_per_obj, self.obj_ids(), frame)
            try:
                out = model(inference_session=session, frame_idx=frame, reverse=reverse)
            except AnnotatorError:
                raise  # ours (e.g. a frame that cannot be decoded): already says what to fix
            except (RuntimeError, ValueError, IndexError, KeyError) as exc:
                raise BackendError(
                    "transformers SAM 3 failed", given=f"frame {frame}", hint=f"{type(exc).__name__}: {exc}"
                ) from exc
        if model.hotstart_delay > 0:
            session.hotstart_removed_obj_ids.update(out.removed_obj_ids)
        for obj in session.output_dict_per_obj.values():  # high-res masks are never read back
            for storage in obj.values():
                entry = storage.get(frame)
                if entry is not None:
                    entry.pop("high_res_masks", None)
        self.head = (frame, out)
        if self.window is not None:
            self.window.prune(session.output_dict_per_obj, self.obj_ids(), frame)
            prune_metadata(session, frame, self.window.window, model.hotstart_unmatch_thresh, model.hotstart_dup_thresh)
        return out

    def remove(self, sam_id: int) -> None:
        """Drop one SAM 3 object from the session and the archive."""
        self.head = None
        self.session.remove_object(sam_id, strict=False)
        if self.window is not None:
            self.window.forget(sam_id)

    def obj_ids(self) -> list[int]:
        """SAM 3's ids of the objects in the session, in its index order."""
        session = self.session
        return [session.obj_idx_to_id(i) for i in range(session.get_obj_num())]

    def stats(self) -> dict[str, int]:
        """See :func:`~._sam3_stream.session_stats`."""
        return session_stats(self.session, self.frames, self.window)

    def close(self) -> None:
        """Release the archive and the held frames."""
        if self.window is not None:
            self.window.close()
        self.frames.clear()
        self.head = None

    def _preprocess(self, frame: np.ndarray) -> Any:
        torch = require("torch")
        # a writable copy: torch warns about read-only arrays (VideoSource frames are read-only)
        inputs = self.processor(images=np.array(frame), device=self.device, return_tensors="pt")
        return inputs.pixel_values[0].to(torch.float32)

    def _auto_window(self) -> int:
        cfg = self.model.config.tracker_config
        return window_size(
            getattr(cfg, "num_maskmem", 7), 1, getattr(cfg, "max_object_pointers_in_encoder", 16), len(self.video)
        )
