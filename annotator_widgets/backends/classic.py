"""The zero-download default segmenter: GrabCut for prompts, DIS optical flow + banded GrabCut to propagate.

Only OpenCV and NumPy are used; there are no weights and no GPU.

Prompts: GrabCut runs on a coarse crop around the prompt (80 pixels), then the result
is redone in a band around its outline on a crop tight around it (at most
``grabcut_side`` pixels) and upsampled with a guided filter that snaps the outline to
image edges. A box is a rectangle initialisation. Clicks leave the object's size
open, so three initialisations compete on the coarse crop, on worker threads (a region grown from the
clicked colours, a small and a large window) and the one with the most distinct
colours and the strongest edges along its outline wins. :meth:`ClassicSegmenter.prepare`
decodes a frame ahead; the masks are the same with and without it. Positive clicks are sure-foreground discs,
negative clicks sure-background discs that also push out the region of similar
colour around them. A mask prompt is used exactly as drawn; clicks added to it correct it
(the region a positive click adds, the spill a negative click removes, the rest kept as given), so a
correction click on a tracked frame refines the tracked mask (``refines_masks``).

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
again on the other side. A frame that holds a prompt re-anchors its object. Objects that
one propagation tracks together exclude each other: where two masks overlap (one passes in
front of the other, or a mask leaked onto its neighbour), each piece of the overlap goes to
the object whose colours it has, and a prompt on the frame wins over tracked masks, so the
hidden object is occluded there instead of jumping onto the one in front. Objects that
never touch are tracked exactly as they would be alone; the silent catch-up (``catch_up``) tracks
one object alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import BackendError, PromptError
from ..types import check_frame
from ._classic_prompt import segment_prompt
from ._classic_refine import refine_mask
from ._classic_tracker import _FLOW_PRESETS, _Anchor, _State, _Tracker
from ._prepare import FrameCache, neighbour
from .protocols import ObjectMask, SegmenterFrame

if TYPE_CHECKING:
    from ..types import Prompt
    from ..video import VideoSource

__all__ = ["ClassicSegmenter"]

log = logging.getLogger(__name__)


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
    refines_masks = True  # points with a mask correct that mask (see VideoSegmenter)

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

        A mask prompt is used as drawn (a box with it is ignored); points with a mask correct it: the
        region a positive click adds and the spill a negative click removes change, the rest stays.

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
            if prompt.box is not None:
                log.debug("object %d frame %d: a mask prompt's box is ignored", prompt.obj_id, prompt.frame)
            mask, score = np.ascontiguousarray(prompt.mask.to_mask(), dtype=bool), 1.0
            if prompt.points and mask.any():
                mask, score = refine_mask(
                    img,
                    prompt,
                    mask,
                    grabcut_side=self.grabcut_side,
                    iterations=self.prompt_iterations,
                    refine_edges=self.refine_edges,
                )
        else:
            mask, score = segment_prompt(
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
            moved = tracker.advance(
                {o: s for o, s in current.items() if o not in anchors}, t, {o: a.mask for o, a in anchors.items()}
            )
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
