"""Score a video segmenter against a synthetic clip's ground truth (for tests and benchmarks).

Prompts are built from the ground truth the way a careful user would click:
interior points far from the object's edge (``"points"``) or the tight box
(``"box"``) on one frame; then the segmenter propagates through the clip and
every frame's mask is compared with the truth.

Example:
    >>> from annotator_widgets.backends.classic import ClassicSegmenter
    >>> from annotator_widgets.data import synthetic_clip
    >>> from annotator_widgets.metrics import propagation_miou
    >>> clip = synthetic_clip(num_frames=5, seed=0)
    >>> propagation_miou(ClassicSegmenter(), clip, "box") > 0.8
    True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np

from .backends import VideoSegmenter
from .data import CrossingClip, SyntheticClip
from .errors import PromptError
from .rle import mask_iou
from .types import Box, PersonPose, Point, Prompt

__all__ = ["count_id_switches", "evaluate_propagation", "match_ground_truth", "prompt_from_truth", "propagation_miou"]

PromptKind = Literal["points", "box", "mask"]


def _interior_points(mask: np.ndarray, count: int) -> list[tuple[float, float]]:
    """The deepest interior pixel, then pixels spread far apart among the deep ones."""
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    ys, xs = np.nonzero(dist >= 0.5 * dist.max())
    depth = dist[ys, xs]
    chosen = [int(np.argmax(depth))]
    far = np.full(len(xs), np.inf)
    for _ in range(1, min(count, len(xs))):
        last = chosen[-1]
        far = np.minimum(far, np.hypot(xs - xs[last], ys - ys[last]))
        chosen.append(int(np.argmax(far * depth)))
    return [(float(xs[i]) + 0.5, float(ys[i]) + 0.5) for i in chosen]


def prompt_from_truth(
    clip: SyntheticClip, obj_id: int, frame: int, kind: PromptKind = "points", num_points: int = 3
) -> Prompt:
    """A prompt for one object on one frame, made from the ground truth.

    Args:
        clip: The clip.
        obj_id: Object id in ``clip.masks``.
        frame: Frame index.
        kind: ``"points"`` (``num_points`` positive interior clicks), ``"box"`` (the tight box)
            or ``"mask"`` (the true mask itself).
        num_points: Clicks for ``"points"``.

    Raises:
        PromptError: Unknown object or kind, or the object is not visible on ``frame``.
    """
    from .rle import RLE

    if obj_id not in clip.masks:
        raise PromptError("no such object in the clip", given=obj_id, hint=f"use one of {sorted(clip.masks)}")
    truth = clip.masks[obj_id][frame]
    if not truth.any():
        raise PromptError(f"object {obj_id} is not visible on frame {frame}", given=frame)
    if kind == "points":
        pts = tuple(Point(x, y) for x, y in _interior_points(truth, num_points))
        return Prompt(frame=frame, obj_id=obj_id, points=pts)
    if kind == "box":
        return Prompt(frame=frame, obj_id=obj_id, box=Box(*clip.boxes[obj_id][frame]))
    if kind == "mask":
        return Prompt(frame=frame, obj_id=obj_id, mask=RLE.from_mask(truth))
    raise PromptError("unknown prompt kind", given=kind, hint="use 'points', 'box' or 'mask'")


def evaluate_propagation(
    segmenter: VideoSegmenter,
    clip: SyntheticClip,
    prompt_kind: PromptKind = "points",
    *,
    reverse: bool = False,
    num_points: int = 3,
) -> dict[str, Any]:
    """Prompt every object on the first frame (the last when ``reverse``), propagate, and compare with the truth.

    Args:
        segmenter: Any :class:`~annotator_widgets.backends.VideoSegmenter`; it is (re)started on the clip.
        clip: The clip with ground truth.
        prompt_kind: See :func:`prompt_from_truth`.
        reverse: Prompt the last frame and propagate backward.
        num_points: Clicks per object for ``"points"``.

    Returns:
        A JSON-able dict: ``miou`` (mean over frames and objects), ``per_object`` (object id -> mean IoU),
        ``prompt_iou`` (object id -> IoU on the prompted frame), ``worst_frame_iou``, ``frames``,
        ``set_prompt_ms`` (mean per prompt) and ``propagate_ms_per_frame`` (mean over frames after the first).
    """
    first = clip.num_frames - 1 if reverse else 0
    segmenter.start(clip.video())
    prompt_iou: dict[int, float] = {}
    t0 = time.perf_counter()
    for obj in sorted(clip.masks):
        prompted = segmenter.set_prompt(prompt_from_truth(clip, obj, first, prompt_kind, num_points))
        prompt_iou[obj] = mask_iou(prompted[obj].mask, clip.masks[obj][first])
    set_ms = (time.perf_counter() - t0) * 1000 / max(1, len(clip.masks))

    ious = np.zeros((clip.num_frames, len(clip.masks)))
    seen = np.zeros(clip.num_frames, bool)
    t0 = time.perf_counter()
    t_first = t0
    for i, out in enumerate(segmenter.propagate(first, reverse=reverse)):
        if i == 0:
            t_first = time.perf_counter()
        seen[out.frame] = True
        for j, obj in enumerate(sorted(clip.masks)):
            got = out.objects.get(obj)
            truth = clip.masks[obj][out.frame]
            ious[out.frame, j] = mask_iou(got.mask, truth) if got is not None else float(not truth.any())
    steps = max(1, int(seen.sum()) - 1)
    prop_ms = (time.perf_counter() - t_first) * 1000 / steps
    return {
        "miou": float(ious.mean()),
        "per_object": {obj: float(ious[:, j].mean()) for j, obj in enumerate(sorted(clip.masks))},
        "prompt_iou": prompt_iou,
        "worst_frame_iou": float(ious.min()),
        "frames": int(seen.sum()),
        "set_prompt_ms": set_ms,
        "propagate_ms_per_frame": prop_ms,
    }


def propagation_miou(
    segmenter: VideoSegmenter, clip: SyntheticClip, prompt_kind: PromptKind = "points", *, reverse: bool = False
) -> float:
    """Mean IoU over all frames and objects after prompting one end of the clip (see :func:`evaluate_propagation`).

    Example:
        >>> from annotator_widgets.backends.classic import ClassicSegmenter
        >>> from annotator_widgets.data import synthetic_clip
        >>> round(propagation_miou(ClassicSegmenter(), synthetic_clip(num_frames=2), "mask"), 1)
        1.0
    """
    return float(evaluate_propagation(segmenter, clip, prompt_kind, reverse=reverse)["miou"])


def match_ground_truth(
    poses: Sequence[PersonPose], clip: CrossingClip, frame: int, max_dist: float = 0.5, min_visible: float = 0.5
) -> dict[int, int]:
    """Ground-truth person -> tracked ``person_id`` on one frame.

    A pose matches a person when its nose lies within ``max_dist`` face widths of
    the person's face centre (nearest pairs first, one-to-one). People whose face
    is less than ``min_visible`` visible are not scored on this frame.
    """
    pairs = []
    for pose in poses:
        nose = pose.landmarks[0, :2]
        for pid, track in clip.tracks.items():
            if clip.visible[pid][frame] < min_visible:
                continue
            d = float(np.linalg.norm(nose - track[frame])) / clip.face_width[pid]
            if d <= max_dist:
                pairs.append((d, pid, pose.person_id))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, pid, tid in sorted(pairs):
        if pid not in out and tid not in used:
            out[pid] = tid
            used.add(tid)
    return out


def count_id_switches(
    tracked: Sequence[Sequence[PersonPose]], clip: CrossingClip, frames: Sequence[int] | None = None
) -> int:
    """Identity switches (MOT's IDSW): times a person is matched to a different track id than before.

    Args:
        tracked: Per-frame tracked poses (``tracked[k]`` belongs to ``frames[k]``).
        clip: The ground truth.
        frames: Frame index of each entry of ``tracked`` (default 0, 1, 2, ...).
    """
    frames = list(range(len(tracked))) if frames is None else list(frames)
    last: dict[int, int] = {}
    switches = 0
    for f, poses in zip(frames, tracked, strict=True):
        for pid, tid in match_ground_truth(poses, clip, f).items():
            if pid in last and last[pid] != tid:
                switches += 1
            last[pid] = tid
    return switches
