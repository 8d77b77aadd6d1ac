"""The classic segmenter's tracking state and its propagation step (DIS optical flow + GrabCut at work scale).

Private to :mod:`annotator_widgets.backends.classic`: ``_State`` is one object's mask on one frame with what
the tracker needs next, ``_Tracker`` one propagation's moving parts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from . import _classic_ops as ops
from ._classic_exclusion import exclusive

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..types import Prompt
    from ..video import VideoSource

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

    def __init__(self, seg: Any, video: VideoSource) -> None:
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

    def advance(
        self, states: dict[int, _State], t: int, fixed: dict[int, np.ndarray] | None = None
    ) -> dict[int, _State]:
        """Move every state (all on the same frame) to frame ``t``.

        The moved masks exclude each other (:func:`~._classic_exclusion.exclusive`): where two
        overlap, the object whose colours the pixels have keeps them. ``fixed`` (object id -> mask in
        video pixels on ``t``: prompts there) win every overlap.
        """
        if not states:
            return {}
        prev_t = next(iter(states.values())).frame
        prev_img, prev_gray, _ = self._work(prev_t)
        cur_img, cur_gray, _ = self._work(t)
        self._frames = {prev_t: self._frames[prev_t], t: self._frames[t]}
        back = _flow(self.dis, cur_gray, prev_gray)  # for each current pixel: where it was
        mx, my = self._grid[0] + back[..., 0], self._grid[1] + back[..., 1]
        moved: dict[int, tuple[np.ndarray, float, np.ndarray, ops.Reference | None]] = {}
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
            moved[obj] = (refined, round(float(score), 4), colours, ref)
        works = self._exclusive({o: m[0] for o, m in moved.items()}, cur_img, moved, fixed, self._to_work)
        fulls = {obj: self._to_video(refined, t) for obj, refined in works.items()}
        if self.scale < 1:  # upsampling snaps each outline on its own: exclude again in video pixels
            fulls = self._exclusive(fulls, self._work(t)[2], moved, fixed, lambda m: m)
        out = {}
        for obj, s in states.items():
            refined, full = works[obj], fulls[obj]
            _, score, colours, ref = moved[obj]
            full.flags.writeable = False
            work = refined if self.scale < 1 else None
            if ref is None or np.count_nonzero(refined) >= ref.expected(t):
                ref = ops.reference(cur_img, refined, t) or ref
            out[obj] = _State(t, full, score, s.anchor, s.serial, work, colours, ref)
        return out

    @staticmethod
    def _exclusive(
        masks: dict[int, np.ndarray],
        img: np.ndarray,
        moved: dict[int, tuple[np.ndarray, float, np.ndarray, ops.Reference | None]],
        fixed: dict[int, np.ndarray] | None,
        scale: Callable[[np.ndarray], np.ndarray],
    ) -> dict[int, np.ndarray]:
        """``masks`` (on ``img``) without overlaps; ``fixed`` are in video pixels, ``scale`` brings them to ``img``."""
        pinned = {o: scale(m) for o, m in (fixed or {}).items() if o not in masks}
        claims = list(masks.values()) + list(pinned.values())
        if len(claims) < 2 or int(np.sum(claims, axis=0, dtype=np.uint8).max()) < 2:
            return masks
        colours = {o: moved[o][2] for o in masks}
        return exclusive(masks, ops.colour_index(img), colours, pinned)

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
        beyond = np.zeros_like(sub)
        if reacquire:
            # the whole shape less what clearly is not the object (the occluder) against the moved piece
            whole = subs[-1] & (p_obj >= 0.2)
            if ops.gain(p_obj, whole) > 1.2 * ops.gain(p_obj, sub) and (whole & sub).sum() >= 0.5 * sub.sum():
                pick, sub = moves, whole
            else:
                # the moved piece stays, with the pieces of the whole shape on the occluder's other side
                # that clearly have the object's colours (the part coming out from behind it)
                beyond = _pieces(subs[-1] & ~ops.morph(sub, b, cv2.MORPH_DILATE) & (p_obj > 0.5), p_obj, 4 * b * b)
                sub = sub | beyond
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
            # what GrabCut kept grown from the core, or from a piece of the moved mask too thin to have one
            # (the sliver of an object on the far side of an occluder)
            thin = sub & ~ops.morph(core, b, cv2.MORPH_DILATE)
            fg = ops.components_touching(fg, (core if core.any() else sub) | thin | beyond)
        looks = float(p_obj[fg].mean()) if fg.any() else 0.0
        out = np.zeros_like(union)
        out[y0:y1, x0:x1] = ops.upsample(fg, crop, refine_edges=seg.refine_edges)
        return out, looks, pick


def _pieces(mask: np.ndarray, p_obj: np.ndarray, min_area: int, min_p: float = 0.7) -> np.ndarray:
    """The connected pieces of ``mask`` of at least ``min_area`` pixels whose mean object probability is ``min_p``+."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    means = np.bincount(labels.ravel(), weights=p_obj.ravel(), minlength=n) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    ok = (stats[:, cv2.CC_STAT_AREA] >= min_area) & (means >= min_p)
    ok[0] = False
    return ok[labels]
