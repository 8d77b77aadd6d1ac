"""Streaming frames into a SAM 3 video session and keeping its per-frame bookkeeping bounded.

transformers' ``Sam3VideoInferenceSession`` expects either the whole preprocessed video
(``processed_frames``, float32 at 1008 x 1008: 12 MB a frame) or frames pushed one by one in
"streaming" mode, which switches off SAM 3's hotstart heuristics and changes how many object
pointers the tracker reads. :class:`StreamedFrames` gives the session the non-streaming view
(a mapping with the video's length) while preprocessing each frame from the
:class:`~annotator_widgets.video.VideoSource` only when the model asks for it and holding
just the last few: the model computes exactly what it computes on a fully loaded video.

:func:`prune_metadata` trims what the session keeps per frame besides tracking memory (the
frame-wise tracker scores and suppressed ids, which the model deep-copies on every frame, and
per-object frame lists that only ever need their length up to a threshold), without changing
anything the model reads.

:func:`make_window` is the tracking-memory archive for SAM 3's tracker outputs,
:func:`frame_result` turns a model output into a :class:`~annotator_widgets.backends.SegmenterFrame`
in video pixels, and :func:`withdraw_prompts` takes back phrases that found nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._sam2_memory import MemoryWindow
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    import os

    from ..video import VideoSource

__all__ = ["StreamedFrames", "frame_result", "make_window", "prune_metadata", "session_stats", "withdraw_prompts"]


class StreamedFrames(Mapping[int, Any]):
    """A lazy ``{frame index: preprocessed tensor}`` over a whole video, holding at most ``keep`` tensors.

    Args:
        video: Where frames come from (read when the model asks for them).
        preprocess: Turns an RGB ``(H, W, 3)`` uint8 frame into the model's ``(3, S, S)`` tensor.
        keep: How many preprocessed frames to hold (the newest used ones).

    Example:
        >>> import numpy as np
        >>> from annotator_widgets.video import open_video
        >>> frames = StreamedFrames(open_video(np.zeros((5, 4, 4, 3), np.uint8)), lambda f: f.mean(), keep=2)
        >>> len(frames), float(frames[3]), frames.held
        (5, 0.0, 1)
    """

    def __init__(self, video: VideoSource, preprocess: Callable[[Any], Any], keep: int = 2) -> None:
        self._video = video
        self._preprocess = preprocess
        self._keep = max(1, int(keep))
        self._cache: OrderedDict[int, Any] = OrderedDict()
        #: how many frames were preprocessed so far (a frame read again after eviction counts again)
        self.loaded = 0

    def __len__(self) -> int:
        return len(self._video)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._video)))

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and 0 <= index < len(self._video)

    def __getitem__(self, index: int) -> Any:
        if index not in self:
            raise KeyError(index)
        tensor = self._cache.get(index)
        if tensor is None:
            tensor = self._preprocess(self._video.frame(index))
            self.loaded += 1
            self._cache[index] = tensor
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return tensor

    @property
    def held(self) -> int:
        """Preprocessed frames held right now."""
        return len(self._cache)

    def clear(self) -> None:
        """Drop the held frames."""
        self._cache.clear()


def prune_metadata(session: Any, center: int, window: int, unmatch_keep: int, dup_keep: int) -> int:
    """Drop a SAM 3 session's per-frame bookkeeping further than ``window`` frames from ``center``.

    * ``obj_id_to_tracker_score_frame_wise`` and ``suppressed_obj_ids`` (frame -> ...): the model
      reads only the current frame's entry, but deep-copies the whole dict on every frame.
    * ``frames_tracked_per_obj`` (object -> frame -> direction): read only for objects that get
      new inputs on a frame, i.e. new detections, which have no tracked frames yet.
    * ``unmatched_frame_inds`` / ``overlap_pair_to_frame_inds`` (lists of frames): only their
      length is compared with ``hotstart_unmatch_thresh`` / ``hotstart_dup_thresh``; they are
      cut to their newest ``unmatch_keep`` / ``dup_keep`` entries, which keeps every comparison.

    Returns:
        The number of entries dropped.
    """
    dropped = 0
    for name in ("obj_id_to_tracker_score_frame_wise", "suppressed_obj_ids"):
        per_frame = getattr(session, name)
        for t in [t for t in per_frame if abs(t - center) > window]:
            del per_frame[t]
            dropped += 1
    for tracked in session.frames_tracked_per_obj.values():
        for t in [t for t in tracked if abs(t - center) > window]:
            del tracked[t]
            dropped += 1
    for lists, keep in ((session.unmatched_frame_inds, unmatch_keep), (session.overlap_pair_to_frame_inds, dup_keep)):
        keep = max(1, keep)
        for frames in lists.values():
            if len(frames) > keep:
                dropped += len(frames) - keep
                del frames[:-keep]
    return dropped


def make_window(keep: int, archive_dir: str | os.PathLike[str] | None = None) -> MemoryWindow:
    """A :class:`~annotator_widgets.backends._sam2_memory.MemoryWindow` for SAM 3 tracker outputs.

    ``maskmem_pos_enc`` is the same for every frame and object: the archive keeps one copy.
    """
    import torch

    shared: dict[str, Any] = {}

    def pack(entry: dict[str, Any]) -> dict[str, Any]:
        if "pos" not in shared and entry.get("maskmem_pos_enc") is not None:
            shared["pos"] = entry["maskmem_pos_enc"].clone()
        return {k: v for k, v in entry.items() if k != "maskmem_pos_enc" and isinstance(v, torch.Tensor)}

    def unpack(fields: dict[str, Any]) -> dict[str, Any]:
        fields["maskmem_pos_enc"] = shared.get("pos")
        return fields

    return MemoryWindow(keep, archive_dir=archive_dir, pack=pack, unpack=unpack)


def frame_result(processor: Any, session: Any, out: Any, phrases: dict[int, str]) -> SegmenterFrame:
    """Every reported instance of one model output, in video pixels; records new instances' phrases.

    Instance ids are SAM 3's object ids plus one. Scores are the tracker's object probability on
    this frame (the detection score on the frame an instance is found), clipped to 0..1.
    """
    post = processor.postprocess_outputs(session, out)
    for phrase, ids in post["prompt_to_obj_ids"].items():
        for sam_id in ids:
            phrases.setdefault(int(sam_id) + 1, phrase)
    masks = post["masks"].cpu().numpy()
    det = post["scores"].float().tolist()
    tracker = out.obj_id_to_tracker_score or {}
    objects: dict[int, ObjectMask] = {}
    for i, sam_id in enumerate(post["object_ids"].tolist()):
        score = float(tracker.get(sam_id, det[i]))
        objects[int(sam_id) + 1] = ObjectMask(mask=masks[i].astype(bool), score=min(max(score, 0.0), 1.0))
    return SegmenterFrame(frame=int(out.frame_idx), objects=objects)


def withdraw_prompts(session: Any, before: int) -> None:
    """Remove the phrases added after the first ``before`` that have no instance.

    Prompt ids are assigned as ``len(prompts)``, so only the newest can go without renumbering.
    """
    used = set(session.obj_id_to_prompt_id.values())
    while len(session.prompts) > before and len(session.prompts) - 1 not in used:
        pid = len(session.prompts) - 1
        for store in (session.prompts, session.prompt_input_ids, session.prompt_attention_masks):
            store.pop(pid, None)
        session.prompt_embeddings.pop(pid, None)


def session_stats(session: Any, frames: StreamedFrames, window: MemoryWindow | None) -> dict[str, int]:
    """What a SAM 3 session holds: tracking entries, frames, per-frame bookkeeping, bytes archived."""
    outs = session.output_dict_per_obj.values()
    return {
        "instances": len(session.obj_ids),
        "non_cond_entries": sum(len(o["non_cond_frame_outputs"]) for o in outs),
        "cond_entries": sum(len(o["cond_frame_outputs"]) for o in outs),
        "held_frames": frames.held,
        "loaded_frames": frames.loaded,
        "frame_metadata": len(session.obj_id_to_tracker_score_frame_wise) + len(session.suppressed_obj_ids),
        "archived_bytes": 0 if window is None else window.archive_bytes,
        "restored": 0 if window is None else window.restored,
    }
