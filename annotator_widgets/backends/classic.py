"""The zero-download default segmenter: GrabCut for prompts, DIS optical flow + banded GrabCut to propagate.

Only OpenCV and NumPy are used; there are no weights and no GPU.

Prompts: GrabCut runs on a coarse crop around the prompt (80 pixels), then the result
is redone in a band around its outline on a crop tight around it (at most
``grabcut_side`` pixels) and upsampled with a guided filter that snaps the outline to
image edges. A box is a rectangle initialisation. Clicks leave the object's size
open, so three initialisations compete on the coarse crop (a region grown from the
clicked colours, a small and a large window) and the one with the most distinct
colours and the strongest edges along its outline wins. :meth:`ClassicSegmenter.prepare`
decodes a frame ahead; the masks are the same with and without it. Positive clicks are sure-foreground discs,
negative clicks sure-background discs that also push out the region of similar
colour around them. A mask prompt is used exactly as drawn.

Propagation: the previous mask is moved two ways, by dense DIS optical flow and by
template matching of the whole object (which holds when the flow fails: fast motion,
occluders, repetitive texture); the move whose mask holds the object's colours best
wins, and a few GrabCut iterations refine it in a band around it (sure foreground in
the eroded interior, sure background outside the band, the object's colour model
overruling where it is clear). The score in 0..1 is the overlap of the moved and the
refined mask times the mean probability that the mask's pixels have the object's
colours (from its prompt frame) rather than its current surroundings', so drift shows
as a falling score. An object an occluder cuts in two (a post, another object) keeps
only the piece the motion follows; when its mask falls well below the area it had when
last seen whole, that whole shape is also slid over the frame's object-colour evidence
near it and wins where it holds clearly more of the object, so the object is found
again on the other side. A frame that holds a prompt re-anchors its object. Objects are
tracked independently: their masks may overlap, and adding, changing or removing one
object never changes another's results.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import BackendError, PromptError
from ..types import check_frame
from . import _classic_ops as ops
from ._prepare import FrameCache, neighbour
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    from ..types import Prompt
    from ..video import VideoSource

__all__ = ["ClassicSegmenter"]

log = logging.getLogger(__name__)

_FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_MIN_FLOW_SIDE = 32  # DIS crashes (segfaults) on narrower images with some presets


@dataclass(frozen=True, eq=False)
class _State:
    """An object's mask on one frame, and the prompt its chain of propagation started from."""

    frame: int
    mask: np.ndarray  # (H, W) bool in video pixels, read-only
    score: float
    anchor: int  # the prompt frame the chain started from
    serial: int  # that prompt's serial number: a replaced prompt makes the chain stale
    work: np.ndarray | None = None  # the same mask at the tracker's work scale, when it was tracked there
    colours: np.ndarray | None = None  # the object's colour histogram on its anchor frame (ops.colour_index bins)
    ref: ops.Reference | None = None  # the object the last time it was tracked whole (work scale)


@dataclass(frozen=True, eq=False)
class _Anchor:
    prompt: Prompt
    state: _State


class ClassicSegmenter:
    """A promptable video segmenter built from GrabCut and DIS optical flow (no weights, no GPU).

    Args:
        work_side: Frames are tracked at this longer side at most (downscaled, never upscaled).
        grabcut_side: GrabCut runs on a crop around the object downscaled to this longer side at most.
        prompt_iterations: GrabCut iterations for a prompt.
        refine_iterations: GrabCut iterations per propagated frame (0 keeps the flow-warped mask).
        band: Width of the uncertain band around a warped mask, as a share of the object's radius.
        flow_preset: DIS optical flow preset: ``"ultrafast"``, ``"fast"`` or ``"medium"``.
        refine_edges: Upsample masks with a guided filter that snaps them to image edges.
        catch_up: When :meth:`propagate` starts on a frame where an object has no mask yet but an
            earlier one (in the direction of travel), track it up to ``start`` silently first.
        prepared_frames: Frames :meth:`prepare` keeps decoded for clicks (0 turns the cache off).

    Example:
        >>> from annotator_widgets.backends.classic import ClassicSegmenter
        >>> from annotator_widgets.data import synthetic_clip
        >>> from annotator_widgets.types import Box, Prompt
        >>> clip = synthetic_clip(num_frames=3, seed=0)
        >>> seg = ClassicSegmenter()
        >>> seg.start(clip.video())
        >>> x0, y0, x1, y1 = clip.boxes[1][0]
        >>> first = seg.set_prompt(Prompt(frame=0, obj_id=1, box=Box(x0, y0, x1, y1)))
        >>> first[1].mask.shape
        (240, 320)
        >>> [(out.frame, sorted(out.objects)) for out in seg.propagate(0)]
        [(0, [1]), (1, [1]), (2, [1])]
    """

    name = "classic"

    def __init__(
        self,
        *,
        work_side: int = 480,
        grabcut_side: int = 160,
        prompt_iterations: int = 4,
        refine_iterations: int = 2,
        band: float = 0.2,
        flow_preset: str = "medium",
        refine_edges: bool = True,
        catch_up: bool = True,
        prepared_frames: int = 2,
    ) -> None:
        if work_side < 32 or grabcut_side < 32:
            raise BackendError("work_side and grabcut_side must be at least 32 pixels", given=(work_side, grabcut_side))
        if prompt_iterations < 1 or refine_iterations < 0:
            raise BackendError(
                "need prompt_iterations >= 1 and refine_iterations >= 0", given=(prompt_iterations, refine_iterations)
            )
        if not 0 < band <= 1:
            raise BackendError("band must be in (0, 1]", given=band, hint="0.2 is a good start")
        if flow_preset not in _FLOW_PRESETS:
            raise BackendError("unknown flow_preset", given=flow_preset, hint=f"use one of {sorted(_FLOW_PRESETS)}")
        self.work_side = int(work_side)
        self.grabcut_side = int(grabcut_side)
        self.prompt_iterations = int(prompt_iterations)
        self.refine_iterations = int(refine_iterations)
        self.band = float(band)
        self.flow_preset = flow_preset
        self.refine_edges = bool(refine_edges) and hasattr(cv2, "ximgproc")
        self.catch_up = bool(catch_up)
        self._video: VideoSource | None = None
        self._anchors: dict[int, dict[int, _Anchor]] = {}  # obj_id -> frame -> prompt and its mask
        self._tracks: dict[int, _State] = {}  # obj_id -> most recent propagated mask
        self._lock = threading.RLock()
        self._generation = 0  # bumped by reset/start/close: running propagations stop
        self._serial = 0  # counts prompts
        self._prepared: FrameCache[np.ndarray] = FrameCache(prepared_frames)  # frame -> decoded, read-only
        self._last_prepared: int | None = None

    # -- the protocol ----------------------------------------------------------------------------
    def start(self, video: VideoSource) -> None:
        """Begin a state for ``video`` (frames are read lazily, one or two at a time)."""
        with self._lock:
            self.reset()
            self._video = video
            self._prepared.clear()
            self._last_prepared = None

    def prepare(self, frame: int) -> None:
        """Decode ``frame`` ahead (then its neighbour in the direction of travel), so a click there only segments.

        Thread safe; call it from a worker while the user looks at the frame. The click reads the same
        decoded pixels either way, so the masks are the same with and without it.

        Raises:
            PromptError: ``frame`` is out of range.
            BackendError: :meth:`start` was not called.
        """
        video = self._require_video()
        frame = check_frame(frame, len(video), what="frame")
        with self._lock:
            last, self._last_prepared = self._last_prepared, frame
        for f in (frame, None if self._prepared.size < 2 else neighbour(frame, last, len(video))):
            if f is not None:
                self._frame(video, f)

    def _frame(self, video: VideoSource, frame: int) -> np.ndarray:
        """The decoded frame, from the prepared cache when :meth:`prepare` computed it."""

        def decode() -> np.ndarray:
            img = np.array(video.frame(frame), copy=True)
            img.flags.writeable = False
            return img

        return self._prepared.get(frame, decode)

    def set_prompt(self, prompt: Prompt) -> dict[int, ObjectMask]:
        """Segment one object on one frame from its whole prompt, replacing its earlier prompt there.

        Returns:
            ``{prompt.obj_id: ObjectMask}`` on ``prompt.frame``.

        Raises:
            PromptError: The frame, a point, the box or the mask does not fit the video.
            BackendError: :meth:`start` was not called.
        """
        video = self._require_video()
        self._check_prompt(prompt, video)
        img = self._frame(video, prompt.frame)
        if prompt.mask is not None:
            if prompt.points or prompt.box is not None:
                log.debug(
                    "object %d frame %d: the mask prompt is used as drawn; points and box are ignored",
                    prompt.obj_id,
                    prompt.frame,
                )
            mask, score = np.ascontiguousarray(prompt.mask.to_mask(), dtype=bool), 1.0
        else:
            mask, score = ops.segment_prompt(
                img,
                prompt,
                grabcut_side=self.grabcut_side,
                iterations=self.prompt_iterations,
                refine_edges=self.refine_edges,
            )
        mask.flags.writeable = False
        with self._lock:
            self._serial += 1
            state = _State(prompt.frame, mask, score, prompt.frame, self._serial)
            self._anchors.setdefault(prompt.obj_id, {})[prompt.frame] = _Anchor(prompt, state)
            track = self._tracks.get(prompt.obj_id)
            if track is not None and min(track.anchor, track.frame) <= prompt.frame <= max(track.anchor, track.frame):
                del self._tracks[prompt.obj_id]  # computed without this prompt
        return {prompt.obj_id: ObjectMask(mask, score)}

    def remove_object(self, obj_id: int) -> None:
        """Forget an object, its prompts and its tracked mask (unknown ids are ignored)."""
        with self._lock:
            self._anchors.pop(obj_id, None)
            self._tracks.pop(obj_id, None)

    def forget_prompt(self, frame: int, obj_id: int) -> None:
        """Forget one object's prompt on one frame, as if it had never been given (unknown ones are ignored).

        Each prompt is segmented from its own frame alone, so this leaves the state that a rebuild from
        the other prompts gives; a tracked mask whose chain started from that prompt goes with it.
        """
        with self._lock:
            anchors = self._anchors.get(obj_id, {})
            if anchors.pop(frame, None) is None:
                return
            if not anchors:
                self.remove_object(obj_id)
            track = self._tracks.get(obj_id)
            if track is not None and not self._current(obj_id, track):
                del self._tracks[obj_id]

    def reset(self) -> None:
        """Forget all prompts and objects; keep the video. Running propagations stop."""
        with self._lock:
            self._anchors.clear()
            self._tracks.clear()
            self._generation += 1

    def close(self) -> None:
        """Forget everything, including the video."""
        with self._lock:
            self.reset()
            self._video = None
            self._prepared.clear()

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        """Track every object that has a mask on ``start``, yielding ``start`` first.

        Objects with a prompt further along join when their prompt frame is reached, and a
        prompt frame always re-anchors its object. Stop iterating at any time: the state
        keeps the last yielded frame of each object.

        Args:
            start: First frame (yielded as is: prompt masks or earlier results).
            max_frames: Frames to process after ``start`` at most (None: to the end of the video).
            reverse: Go backward in time.

        Returns:
            An iterator of one :class:`SegmenterFrame` per frame, with a mask and a score in 0..1
            for each object; frames are computed as they are requested.

        Raises:
            PromptError: ``start`` or ``max_frames`` is out of range (raised here, not on first use).
            BackendError: :meth:`start` was not called.
        """
        video = self._require_video()
        start = check_frame(start, len(video), what="start frame")
        if max_frames is not None and max_frames < 0:
            raise PromptError("max_frames must be >= 0 or None", given=max_frames)
        start = int(start)
        step = -1 if reverse else 1
        last = 0 if reverse else len(video) - 1
        if max_frames is not None:
            last = max(last, start - max_frames) if reverse else min(last, start + max_frames)
        return self._propagate(video, start, step, last, self._generation)

    def _propagate(
        self, video: VideoSource, start: int, step: int, last: int, generation: int
    ) -> Iterator[SegmenterFrame]:
        tracker = _Tracker(self, video)
        with self._lock:
            found = {obj: self._state_at(obj, start, step, tracker) for obj in sorted(self._anchors)}
            current = {obj: s for obj, s in found.items() if s is not None}
            self._remember(current, start)
        yield SegmenterFrame(start, {obj: ObjectMask(s.mask, s.score) for obj, s in current.items()})

        for t in range(start + step, last + step, step):
            with self._lock:
                if generation != self._generation:
                    log.debug("propagation stopped: the segmenter was reset")
                    return
                # objects removed, or whose starting prompt was replaced, since: their chain is stale
                current = {obj: s for obj, s in current.items() if self._current(obj, s)}
                anchors = {obj: a[t].state for obj, a in self._anchors.items() if t in a}
            moved = tracker.advance({o: s for o, s in current.items() if o not in anchors}, t)
            current = {**moved, **anchors}
            current = dict(sorted(current.items()))
            with self._lock:
                if generation != self._generation:
                    return
                self._remember(current, t)
            yield SegmenterFrame(t, {obj: ObjectMask(s.mask, s.score) for obj, s in current.items()})

    def resume_from(self, frame: int, objects: dict[int, ObjectMask], reverse: bool = False) -> bool:
        """Continue an interrupted propagation from results saved on ``frame`` without recomputing them.

        Each object's stored mask becomes its tracked state on ``frame``, with the colour model of
        the prompt its chain started from (the nearest prompt behind ``frame`` in the direction of
        travel), as an uninterrupted :meth:`propagate` would hold it there (its whole-object reference
        is rebuilt from the stored mask: exact unless the object was partly hidden there); the next
        ``propagate(frame, reverse=reverse)`` then continues with the same results.

        Returns:
            False (changing nothing) where the state cannot be restored exactly: frames are tracked
            below full size (the video's longer side exceeds ``work_side``) or an object has no
            prompt behind ``frame``.
        """
        video = self._require_video()
        frame = check_frame(frame, len(video), what="resume frame")
        tracker = _Tracker(self, video)
        if tracker.scale < 1:
            return False
        step = -1 if reverse else 1
        with self._lock:
            states = {}
            for obj, om in objects.items():
                anchors = self._anchors.get(obj, {})
                behind = [f for f in anchors if (f - frame) * step <= 0]
                if not behind:
                    return False
                a = max(behind, key=lambda f: f * step)
                if a == frame:
                    continue  # the prompt itself re-anchors the object
                anchor = anchors[a].state
                colours = tracker._colours(a, tracker._to_work(anchor.mask))
                mask = np.array(om.mask, dtype=bool)
                mask.flags.writeable = False
                states[obj] = _State(frame, mask, float(om.score or 0.0), a, anchor.serial, None, colours)
            self._tracks.update(states)
        return True

    # -- internals -------------------------------------------------------------------------------
    def _require_video(self) -> VideoSource:
        if self._video is None:
            raise BackendError("the classic segmenter has no video", hint="call start(video) first")
        return self._video

    def _current(self, obj: int, state: _State) -> bool:
        """Whether ``state`` still follows from the object's prompts (its starting prompt is unchanged)."""
        anchor = self._anchors.get(obj, {}).get(state.anchor)
        return anchor is not None and anchor.state.serial == state.serial

    def _remember(self, states: dict[int, _State], frame: int) -> None:
        for obj, s in states.items():
            if frame not in self._anchors.get(obj, {}) and self._current(obj, s):
                self._tracks[obj] = s

    def _state_at(self, obj: int, frame: int, step: int, tracker: _Tracker) -> _State | None:
        """The object's mask on ``frame``: its prompt there, its tracked mask there, or a silent catch-up."""
        anchors = self._anchors.get(obj, {})
        if frame in anchors:
            return anchors[frame].state
        track = self._tracks.get(obj)
        if track is not None and not self._current(obj, track):
            track = None
        if track is not None and track.frame == frame:
            return track
        if not self.catch_up:
            return None
        behind = [s.state for f, s in anchors.items() if (f - frame) * step < 0]
        if track is not None and (track.frame - frame) * step < 0:
            behind.append(track)
        if not behind:
            return None
        state = min(behind, key=lambda s: abs(s.frame - frame))
        log.debug("object %d: catching up from frame %d to %d", obj, state.frame, frame)
        for t in range(state.frame + step, frame + step, step):
            state = anchors[t].state if t in anchors else tracker.advance({obj: state}, t)[obj]
        return state

    def _check_prompt(self, prompt: Prompt, video: VideoSource) -> None:
        w, h = video.size
        check_frame(prompt.frame, len(video), what="prompt frame")
        for p in prompt.points:
            if not (0 <= p.x <= w and 0 <= p.y <= h):
                raise PromptError(
                    f"point lies outside the {w}x{h} frame",
                    given=(p.x, p.y),
                    hint=f"use video pixels: 0 <= x <= {w}, 0 <= y <= {h}",
                )
        if prompt.box is not None and prompt.box.clip(w, h) is None:
            raise PromptError(
                f"box lies outside the {w}x{h} frame", given=prompt.box.xyxy, hint="use video pixels (x0, y0, x1, y1)"
            )
        if prompt.mask is not None and prompt.mask.size != (h, w):
            raise PromptError(
                f"mask size does not match the {w}x{h} frame",
                given=prompt.mask.size,
                hint=f"masks are (height, width) = ({h}, {w})",
            )


def _flow(dis: cv2.DISOpticalFlow, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from ``a`` to ``b``, padding images smaller than DIS accepts."""
    h, w = a.shape
    if min(h, w) >= _MIN_FLOW_SIDE:
        return dis.calc(a, b, None)
    ph, pw = max(0, _MIN_FLOW_SIDE - h), max(0, _MIN_FLOW_SIDE - w)
    pad = [cv2.copyMakeBorder(x, 0, ph, 0, pw, cv2.BORDER_REPLICATE) for x in (a, b)]
    return dis.calc(pad[0], pad[1], None)[:h, :w]


class _Tracker:
    """One propagation's moving parts: the DIS flow objects and the previous frame at work scale."""

    def __init__(self, seg: ClassicSegmenter, video: VideoSource) -> None:
        self.seg = seg
        self.video = video
        w, h = video.size
        # track at work_side, but keep images wide enough for DIS
        self.scale = max(min(1.0, seg.work_side / max(w, h)), min(1.0, _MIN_FLOW_SIDE / min(w, h)))
        self.work_size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        self.dis = cv2.DISOpticalFlow_create(_FLOW_PRESETS[seg.flow_preset])
        self._frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # previous and current only
        ww, wh = self.work_size
        self._grid = np.meshgrid(np.arange(ww, dtype=np.float32), np.arange(wh, dtype=np.float32))

    def _work(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``t`` at work scale (RGB and grey) and at full size."""
        hit = self._frames.get(t)
        if hit is None:
            full = self.video.frame(t)
            img = cv2.resize(full, self.work_size, interpolation=cv2.INTER_AREA) if self.scale < 1 else full
            hit = (np.ascontiguousarray(img), cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), full)
            self._frames[t] = hit
        return hit

    def advance(self, states: dict[int, _State], t: int) -> dict[int, _State]:
        """Move every state (all on the same frame) to frame ``t``."""
        if not states:
            return {}
        prev_t = next(iter(states.values())).frame
        prev_img, prev_gray, _ = self._work(prev_t)
        cur_img, cur_gray, _ = self._work(t)
        self._frames = {prev_t: self._frames[prev_t], t: self._frames[t]}
        back = _flow(self.dis, cur_gray, prev_gray)  # for each current pixel: where it was
        mx, my = self._grid[0] + back[..., 0], self._grid[1] + back[..., 1]
        out = {}
        for obj, s in states.items():
            prev = s.work if s.work is not None else self._to_work(s.mask)
            colours = s.colours if s.colours is not None else self._colours(prev_t, prev)
            prev_f = prev.astype(np.float32)
            # two guesses: the dense flow's warp, and the whole object shifted to where its
            # appearance matches best, which holds when the flow fails (fast motion, occluders)
            candidates = [cv2.remap(prev_f, mx, my, cv2.INTER_LINEAR, borderValue=0) > 0.5]
            shift = ops.match_shift(prev_img, prev, cur_img)
            if shift is not None:
                m = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32)
                candidates.append(cv2.warpAffine(prev_f, m, self.work_size, flags=cv2.INTER_LINEAR) > 0.5)
            ref = s.ref if s.ref is not None else ops.reference(prev_img, prev, prev_t)
            whole = None
            if ref is not None and np.count_nonzero(prev) < ops.WHOLE_SHARE * ref.expected(t):
                # partly hidden (an occluder cuts it): look for the whole object as well, to find it again
                whole = ops.reacquire(ref, prev, cur_img, colours)
                candidates += [] if whole is None else [whole]
            refined, looks, pick = self._refine(cur_img, candidates, colours, reacquire=whole is not None)
            warped = candidates[pick]
            score = 0.0
            if warped.any():
                union = np.count_nonzero(warped | refined)
                agree = np.count_nonzero(warped & refined) / union
                score = agree * looks
                if agree < 0.5 and not (whole is not None and pick == len(candidates) - 1):
                    # GrabCut lost the object (or leaked): keep the motion's mask, the score says it
                    # (not the whole shape found again: GrabCut cut the occluder out of it)
                    refined = warped
            full = self._to_video(refined, t)
            full.flags.writeable = False
            work = refined if self.scale < 1 else None
            if ref is None or np.count_nonzero(refined) >= ref.expected(t):
                ref = ops.reference(cur_img, refined, t) or ref
            out[obj] = _State(t, full, round(score, 4), s.anchor, s.serial, work, colours, ref)
        return out

    def _colours(self, t: int, mask: np.ndarray) -> np.ndarray:
        """The colour histogram of a work-scale mask on frame ``t``."""
        bb = ops.bbox(mask)
        if bb is None:
            return np.full(ops.COLOUR_BINS, 1.0 / ops.COLOUR_BINS, np.float32)
        x0, y0, x1, y1 = bb
        img = self._work(t)[0][y0:y1, x0:x1]
        return ops.histogram(ops.colour_index(img), mask[y0:y1, x0:x1])

    def _to_work(self, mask: np.ndarray) -> np.ndarray:
        if self.scale >= 1:
            return mask
        return cv2.resize(mask.astype(np.float32), self.work_size, interpolation=cv2.INTER_AREA) > 0.5

    def _to_video(self, mask: np.ndarray, t: int) -> np.ndarray:
        """A work-scale mask in video pixels, its edges snapped to the full-size frame's."""
        if self.scale >= 1:
            return mask
        w, h = self.video.size
        out = np.zeros((h, w), bool)
        bb = ops.bbox(mask)
        if bb is None:
            return out
        x0, y0, x1, y1 = ops.expand(bb, 2, *self.work_size)
        fx0, fy0 = math.floor(x0 / self.scale), math.floor(y0 / self.scale)
        fx1, fy1 = min(w, math.ceil(x1 / self.scale)), min(h, math.ceil(y1 / self.scale))
        # resample exactly the full-size pixels that the work-scale crop covers
        sub = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[fy0:fy1, fx0:fx1]
        full = self._work(t)[2]
        out[fy0:fy1, fx0:fx1] = ops.upsample(
            sub, full[fy0:fy1, fx0:fx1], refine_edges=self.seg.refine_edges, factor=1 / self.scale
        )
        return out

    def _refine(
        self, img: np.ndarray, candidates: list[np.ndarray], colours: np.ndarray, *, reacquire: bool = False
    ) -> tuple[np.ndarray, float, int]:
        """Pick the likelier of the warped masks and run a few GrabCut iterations in a band around it.

        The object's colours (``colours``, from its anchor frame) against the background's
        around it here decide between the candidates and overrule the warp where they are
        clear: background colours inside the mask (an occluder, or flow that lagged) are not
        sure foreground, object colours just outside it are probable foreground.

        Returns:
            The mask, the mean probability that its pixels have the object's colours, and the
            index of the candidate it grew from.
        """
        seg = self.seg
        union = np.logical_or.reduce(candidates)
        area = max(int(c.sum()) for c in candidates)
        if area < 16:
            return candidates[0], 0.0, 0
        band = int(np.clip(seg.band * math.sqrt(area / math.pi), 3, 24))
        h, w = union.shape
        x0, y0, x1, y1 = ops.expand(ops.bbox(union), 3 * band, w, h)  # type: ignore[arg-type]
        crop = img[y0:y1, x0:x1]
        s = min(1.0, seg.grabcut_side / max(x1 - x0, y1 - y0))
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if s < 1 else np.ascontiguousarray(crop)
        subs = [c[y0:y1, x0:x1] for c in candidates]
        if s < 1:
            subs = [cv2.resize(c.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5 for c in subs]
        b = max(1, round(band * s))
        index = ops.colour_index(small)
        outside = ~ops.morph(np.logical_or.reduce(subs), b, cv2.MORPH_DILATE)
        p_obj = np.full(small.shape[:2], 0.5, np.float32)
        if outside.sum() >= 16:
            pf, pb = colours[index], ops.histogram(index, outside)[index]
            p_obj = np.where(pf + pb > 0, pf / (pf + pb + 1e-12), 0.5).astype(np.float32)
        moves = len(subs) - reacquire  # the last candidate may be the whole object found again
        pick = max(range(moves), key=lambda i: ops.separation(p_obj, subs[i], b)) if moves > 1 else 0
        sub = subs[pick]
        if reacquire:
            # the whole shape less what clearly is not the object (the occluder) against the moved piece
            whole = subs[-1] & (p_obj >= 0.2)
            if ops.gain(p_obj, whole) > 1.2 * ops.gain(p_obj, sub) and (whole & sub).sum() >= 0.5 * sub.sum():
                pick, sub = moves, whole
        if seg.refine_iterations == 0 or sub.sum() < 16:
            fg = sub
        else:
            core = ops.morph(sub, b, cv2.MORPH_ERODE)
            labels = np.full(sub.shape, cv2.GC_BGD, np.uint8)
            labels[ops.morph(sub, b, cv2.MORPH_DILATE)] = cv2.GC_PR_BGD
            labels[sub] = cv2.GC_PR_FGD
            labels[core] = cv2.GC_FGD
            labels[core & (p_obj < 0.2)] = cv2.GC_PR_BGD
            labels[(labels == cv2.GC_PR_BGD) & (p_obj > 0.8)] = cv2.GC_PR_FGD
            fg = ops.grabcut(small, labels, seg.refine_iterations)
            dropped = sub & ~fg
            n_dropped = int(np.count_nonzero(dropped))
            if n_dropped > 0.1 * np.count_nonzero(sub) and float(p_obj[dropped].mean()) > 0.7:
                # GrabCut cut away a large part of the mask whose colours say object: on noise textures its
                # smoothness term shrinks the object onto its core, a little more every frame; keep those pixels
                fg |= dropped & (p_obj > 0.8)
            fg = ops.components_touching(fg, core if core.any() else sub)
        looks = float(p_obj[fg].mean()) if fg.any() else 0.0
        out = np.zeros_like(union)
        out[y0:y1, x0:x1] = ops.upsample(fg, crop, refine_edges=seg.refine_edges)
        return out, looks, pick
