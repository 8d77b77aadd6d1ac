"""The classic segmenter's prompt path: one click, clicks or a box on one frame -> a mask.

Points alone leave the object's size open, so competing GrabCut hypotheses (a region grown from
the clicked colours, a small and a large window) run on a coarse crop, on worker threads, and the
winner is redone in a band around its outline on a crop tight around it. The colour region runs
first: when it is clearly good (a strong edge all around, inside the window) a positive click skips
the windows, which saves two of the four GrabCut runs when no spare core runs them in parallel; a box is one hypothesis
with fallbacks for texture on texture. The shared image operations live in :mod:`._classic_ops`.
Private: the names here may change without notice.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from ._classic_ops import (
    bbox,
    components_touching,
    contrast_score,
    disc,
    expand,
    grabcut,
    largest_components,
    morph,
    upsample,
)

if TYPE_CHECKING:
    from ..types import Prompt

__all__ = ["segment_prompt"]

log = logging.getLogger(__name__)

COARSE_SIDE = 80  # prompt hypotheses compete at this crop size
COARSE_ITERATIONS = 2  # GrabCut iterations of each competing hypothesis
REFINE_ITERATIONS = 2  # GrabCut iterations of the winner's refinement in a band around its outline
REFINE_SHARE = 0.7  # the refinement crop is downscaled to this share of grabcut_side (it is tight around the object)
MIN_BOX_SHARE = 0.05  # a box's GrabCut result below this share of the box has collapsed: fall back
FALLBACK_MIN_SHARE = 0.15  # the colour-model fallback must fill this share of the box to be believed
FALLBACK_SCORE = 0.05  # the score of the last resort (the box's ellipse): "nothing was found here"
HYPOTHESIS_WORKERS = min(3, os.cpu_count() or 1)  # threads a click's competing hypotheses run on at once
# positive clicks: the colour-region hypothesis wins alone when its rank (contrast x weakest edge) reaches this
# and it stays inside the window; the window hypotheses are not run (None: always run them)
EARLY_ACCEPT_RANK: float | None = 0.7
# a result hardly larger than the clicks' seeds is a small object, not a collapse, when ranked at least this
SMALL_REGION_RANK = 0.5
# a positive click's colour region grows from the sample disc's colours within SPOT_DISTANCE (Lab) of the
# clicked pixel's alone when less than SPOT_SHARE of the region grown from the whole disc is of those colours
SPOT_DISTANCE = 30.0
SPOT_SHARE = 0.65
EDGE_SHARE_MAX = 0.04  # a mask covering more of the window's outermost pixels runs into its sides: look wider


def nearest_distance(pixels: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Distance of every ``(N, 3)`` pixel to its nearest of the ``(K, 3)`` samples."""
    if len(samples) == 0:
        return np.full(len(pixels), np.inf, np.float32)
    d2 = (pixels**2).sum(1)[:, None] - 2 * pixels @ samples.T + (samples**2).sum(1)[None]
    return np.sqrt(np.maximum(d2.min(1), 0))


def subsample(samples: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` rows of ``samples``, evenly spread."""
    if len(samples) <= k:
        return samples
    return samples[np.linspace(0, len(samples) - 1, k).astype(int)]


def segment_prompt(
    img: np.ndarray, prompt: Prompt, *, grabcut_side: int, iterations: int, refine_edges: bool
) -> tuple[np.ndarray, float]:
    """GrabCut on a crop around the prompt; returns the mask in video pixels and its contrast score.

    A box is one hypothesis. Points alone leave the object's size open, so three
    initialisations compete: a region grown from the clicked colours, and a small and a
    large window around the clicks. The winner has the highest colour contrast to its
    surroundings times the strength of the image edges along its weakest stretch of
    outline; the window grows while the winner runs into its sides. Without negative
    points, a colour region ranked at least :data:`EARLY_ACCEPT_RANK` that stays inside
    the window wins without the window hypotheses. When the colour region's colours are mostly
    unlike the clicked pixel's (:data:`SPOT_SHARE`), it grows again from the clicked colours alone,
    so a click on a sliver beside other colours does not take them in; a result hardly larger than
    the clicks' seeds is a collapse (look wider) unless it has a strong edge and unlike colours all
    around (:data:`SMALL_REGION_RANK`).
    """
    h, w = img.shape[:2]
    coords, labels = prompt.point_arrays()
    pos, neg = coords[labels == 1], coords[labels == 0]
    out = np.zeros((h, w), bool)
    if prompt.box is None and not len(pos):
        log.debug("object %d frame %d: only negative points, the mask is empty", prompt.obj_id, prompt.frame)
        return out, 0.0
    box = None if prompt.box is None else prompt.box.clip(w, h)
    if box is not None:
        roi = expand(box.xyxy, max(8.0, 0.2 * max(box.x1 - box.x0, box.y1 - box.y0)), w, h)
        crop = _Crop(img, roi, pos, neg, min(grabcut_side, COARSE_SIDE))
        best = crop.hypothesis(box.xyxy, min(iterations, COARSE_ITERATIONS))
        if crop.scale < 1 and best.mask.sum() >= MIN_BOX_SHARE * crop.box_area(box.xyxy):
            refined = refine_in_band(
                img, crop, roi, best, pos, neg, grabcut_side, refine_edges=refine_edges, inside=box.xyxy
            )
            if refined is not None:
                return refined
        crop = _Crop(img, roi, pos, neg, grabcut_side)
        best = crop.hypothesis(box.xyxy, iterations)
        box_area = crop.box_area(box.xyxy)
        if best.mask.sum() < MIN_BOX_SHARE * box_area:
            # GrabCut's colour models could not tell the box from its surroundings (texture on texture):
            # model the object from the box's inner region instead, and say so when even that fails
            log.info(
                "object %d frame %d: GrabCut on the box collapsed (%d of %d pixels); using the box's colour model",
                prompt.obj_id,
                prompt.frame,
                int(best.mask.sum()),
                int(box_area),
            )
            best = crop.box_fallback(box.xyxy, iterations)
            if best.mask.sum() < FALLBACK_MIN_SHARE * box_area:
                log.warning(
                    "object %d frame %d: nothing stands out inside the box; using its ellipse with a low score",
                    prompt.obj_id,
                    prompt.frame,
                )
                best = crop.box_ellipse(box.xyxy)
    else:
        x0, y0 = pos.min(0)
        x1, y1 = pos.max(0) + 1
        roi = expand((x0, y0, x1, y1), max(12.0, 0.25 * min(w, h)), w, h)
        coarse_side = min(grabcut_side, COARSE_SIDE)
        for _ in range(3):
            # the hypotheses compete on a coarse crop; the winner is redone in full detail below
            crop = _Crop(img, roi, pos, neg, coarse_side)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            half = min(max(cx - roi[0], roi[2] - cx), max(cy - roi[1], roi[3] - cy))
            inits: list[str | tuple[float, float, float, float]] = ["grow"]
            inits += [
                (
                    cx - k * half - (x1 - x0) / 2,
                    cy - k * half - (y1 - y0) / 2,
                    cx + k * half + (x1 - x0) / 2,
                    cy + k * half + (y1 - y0) / 2,
                )
                for k in (0.35, 0.65)
            ]
            detailed = crop.scale == 1.0 or coarse_side == grabcut_side
            its = iterations if detailed else min(COARSE_ITERATIONS, iterations)
            jobs: list[Callable[[], _Hypothesis]] = [partial(crop.hypothesis, init, its) for init in inits]
            if crop.has_neg:  # a correction: the full competition
                found = _in_parallel(jobs)
            else:  # the colour region first: when it is clearly good, the windows are not needed
                found = [jobs[0]()]
                if not _clearly_good(found[0]):
                    found += _in_parallel(jobs[1:])
            pick = max(range(len(found)), key=lambda i: found[i].rank)
            # look wider when the object runs into a side of the window, or when every hypothesis
            # collapsed onto the clicks (the window may lie inside a large object)
            if roi == (0, 0, w, h) or (found[pick].rank >= 0 and _edge_share(found[pick].mask) < EDGE_SHARE_MAX):
                break
            roi = expand(roi, 0.5 * max(roi[2] - roi[0], roi[3] - roi[1]), w, h)
        best = found[pick]
        if best.rank < 0:
            log.debug(
                "object %d frame %d: GrabCut found no edge around the clicks; using the colour region",
                prompt.obj_id,
                prompt.frame,
            )
            best = _Hypothesis(found[0].seed, contrast_score(crop.lab, found[0].seed), -1.0, found[0].seed)
        elif not detailed:
            refined = refine_in_band(img, crop, roi, best, pos, neg, grabcut_side, refine_edges=refine_edges)
            if refined is not None:
                return refined
    rx0, ry0, rx1, ry1 = roi
    out[ry0:ry1, rx0:rx1] = upsample(best.mask, img[ry0:ry1, rx0:rx1], refine_edges=refine_edges)
    return out, best.contrast


def _edge_share(fg: np.ndarray) -> float:
    """The share of the window's outermost pixels a mask covers (it runs into the window's sides)."""
    return float(np.concatenate([fg[0], fg[-1], fg[:, 0], fg[:, -1]]).mean())


def _clearly_good(hyp: _Hypothesis) -> bool:
    """True when the colour region needs no competitor: a strong edge all around, well inside the window."""
    return EARLY_ACCEPT_RANK is not None and hyp.rank >= EARLY_ACCEPT_RANK and _edge_share(hyp.mask) < EDGE_SHARE_MAX


_T = TypeVar("_T")
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:
    global _POOL
    _POOL = None  # a forked child has none of the parent's worker threads: it starts its own pool


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _in_parallel(jobs: list[Callable[[], _T]]) -> list[_T]:
    """Run independent jobs (the competing hypotheses) on worker threads; results in the jobs' order.

    GrabCut, the colour distances and the morphology release the GIL, so on a machine with a spare
    core the hypotheses of a click compete at the same time instead of one after another. Each job
    seeds OpenCV's random generator of its own thread (:func:`grabcut`), so results do not depend on
    which thread runs which job. One core: they run in this thread.
    """
    global _POOL
    workers = min(len(jobs), HYPOTHESIS_WORKERS)
    if workers <= 1:
        return [job() for job in jobs]
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=HYPOTHESIS_WORKERS - 1, thread_name_prefix="classic-hypothesis")
        pool = _POOL
    futures = [pool.submit(job) for job in jobs[1:]]
    out = [jobs[0]()]  # this thread works too instead of waiting, and takes jobs no worker has started
    for job, fut in zip(jobs[1:], futures, strict=True):
        out.append(job() if fut.cancel() else fut.result())
    return out


@dataclass(frozen=True, eq=False)
class _Hypothesis:
    mask: np.ndarray  # at crop scale
    contrast: float  # colour contrast to the surroundings, 0..1
    rank: float  # contrast x edge strength along the weakest part of the outline; < 0 when collapsed
    seed: np.ndarray  # the initial foreground GrabCut started from


class _Crop:
    """A prompt's neighbourhood, downscaled for GrabCut, with what every hypothesis shares."""

    def __init__(
        self,
        img: np.ndarray,
        roi: tuple[int, int, int, int],
        pos: np.ndarray,
        neg: np.ndarray,
        max_side: int,
        *,
        hypotheses: bool = True,
    ) -> None:
        """``hypotheses=False``: only what a refinement needs (the image, its colours, the clicks' seeds)."""
        x0, y0, x1, y1 = roi
        crop = img[y0:y1, x0:x1]
        self.scale = s = min(1.0, max_side / max(x1 - x0, y1 - y0))
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        self.img = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if s < 1 else np.ascontiguousarray(crop)
        self.shape = shape = self.img.shape[:2]
        side = max(shape)
        # colour statistics on a blurred copy: stripes and grain average out into the object's colours
        self.lab = cv2.cvtColor(cv2.GaussianBlur(self.img, (0, 0), max(1.5, 0.02 * side)), cv2.COLOR_RGB2Lab)
        self.origin = np.array([x0, y0, x0, y0], np.float32)
        p, n = (pos - self.origin[:2]) * s, (neg - self.origin[:2]) * s
        self.has_pos, self.has_neg = len(p) > 0, len(n) > 0
        r, rs = max(2, round(0.015 * side)), max(3, round(0.04 * side))
        self.pos_seed, self.neg_seed = disc(shape, p, r), disc(shape, n, r)
        if not hypotheses:
            return
        self.pix = self.lab.reshape(-1, 3).astype(np.float32)
        lab = cv2.cvtColor(self.img, cv2.COLOR_RGB2Lab).astype(np.float32)
        grad = np.sqrt(cv2.Sobel(lab, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(lab, cv2.CV_32F, 0, 1) ** 2).sum(2)
        self.grad = cv2.GaussianBlur(grad, (0, 0), 1.0)
        self.grad_ref = float(np.percentile(self.grad, 90)) + 1e-6
        self.pos_sample, self.neg_sample = disc(shape, p, rs), disc(shape, n, rs)
        # the sample disc's colours like the clicked pixels' own: on a sliver the disc also covers its neighbours
        xy = np.clip(np.round(p).astype(int), 0, [shape[1] - 1, shape[0] - 1])
        spot = nearest_distance(self.pix, self.lab[xy[:, 1], xy[:, 0]].astype(np.float32)).reshape(shape)
        self.spot_sample = self.pos_sample & (spot < SPOT_DISTANCE)
        strip = max(2, round(0.04 * side))
        self.border = np.ones(shape, bool)
        self.border[strip:-strip, strip:-strip] = False

    def _box_rect(self, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        """``box`` (video pixels) in crop pixels, at least one pixel wide and high."""
        x0, y0, x1, y1 = ((np.asarray(box, np.float32) - self.origin) * self.scale).round().astype(int)
        h, w = self.shape
        x0, y0 = min(max(0, x0), w - 1), min(max(0, y0), h - 1)
        return x0, y0, max(x0 + 1, min(w, x1)), max(y0 + 1, min(h, y1))

    def box_area(self, box: tuple[float, float, float, float]) -> int:
        """The box's area in crop pixels."""
        x0, y0, x1, y1 = self._box_rect(box)
        return (x1 - x0) * (y1 - y0)

    def _ellipse(self, rect: tuple[int, int, int, int], share: float) -> np.ndarray:
        x0, y0, x1, y1 = rect
        out = np.zeros(self.shape, np.uint8)
        centre = (round((x0 + x1 - 1) / 2), round((y0 + y1 - 1) / 2))
        axes = (max(1, round(share * (x1 - x0) / 2)), max(1, round(share * (y1 - y0) / 2)))
        cv2.ellipse(out, centre, axes, 0, 0, 360, 1, -1)
        return out.astype(bool)

    def box_fallback(self, box: tuple[float, float, float, float], iterations: int) -> _Hypothesis:
        """GrabCut seeded by the box's own colour model (its inner ellipse against the pixels outside it).

        Used when the plain box initialisation collapses: a noise-textured object on a textured
        background, whose pixels GrabCut's models cannot separate from the box edges inwards.
        """
        x0, y0, x1, y1 = rect = self._box_rect(box)
        inside = np.zeros(self.shape, bool)
        inside[y0:y1, x0:x1] = True
        inner, core = self._ellipse(rect, 0.5), self._ellipse(rect, 0.2)
        pix = self.pix
        outside = ~inside | self.neg_sample
        fg_samples = pix[(inner | self.pos_sample).ravel()]
        bg_samples = pix[outside.ravel()] if outside.any() else pix[:0]
        seeds = core | self.pos_seed
        region = grow(pix, fg_samples, bg_samples, seeds) & inside
        labels = np.full(self.shape, cv2.GC_BGD, np.uint8)
        labels[inside] = cv2.GC_PR_BGD
        labels[region] = cv2.GC_PR_FGD
        labels[seeds & inside] = cv2.GC_FGD
        labels[self.neg_seed] = cv2.GC_BGD
        seed = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        # on the blurred crop (as the colour statistics): grain and noise textures average out into the
        # object's colours, where GrabCut's pairwise term on the raw pixels shrinks the object onto its seeds
        smooth = cv2.GaussianBlur(self.img, (0, 0), max(1.5, 0.02 * max(self.shape)))
        fg = grabcut(smooth, labels, iterations) & inside
        fg = components_touching(fg, seeds)
        contrast = contrast_score(self.lab, fg)
        return _Hypothesis(fg, contrast, contrast, seed)

    def box_ellipse(self, box: tuple[float, float, float, float]) -> _Hypothesis:
        """The last resort: the ellipse inscribed in the box, with a score that says nothing was found."""
        fg = self._ellipse(self._box_rect(box), 1.0)
        return _Hypothesis(fg, min(FALLBACK_SCORE, contrast_score(self.lab, fg)), -1.0, fg)

    def hypothesis(self, init: str | tuple[float, float, float, float], iterations: int) -> _Hypothesis:
        """GrabCut from ``init``: ``"grow"`` or a rectangle ``(x0, y0, x1, y1)`` in video pixels."""
        pix = self.pix
        labels = np.full(self.shape, cv2.GC_PR_BGD, np.uint8)
        if isinstance(init, str):
            fg_samples = pix[self.pos_sample.ravel()]
            bg_samples = np.concatenate([pix[self.border.ravel()], pix[self.neg_sample.ravel()]])
            region = grow(pix, fg_samples, bg_samples, self.pos_seed)
            spot_samples = pix[self.spot_sample.ravel()]
            if _like_share(pix[region.ravel()], spot_samples) < SPOT_SHARE:
                # much of the region's colours are unlike the clicked spot's: the sample disc also covered a
                # neighbour of another colour (the click is on a sliver); grow from the spot's own colours
                fg_samples = spot_samples
                region = grow(pix, fg_samples, bg_samples, self.pos_seed)
            labels[region] = cv2.GC_PR_FGD
        else:
            bx0, by0, bx1, by1 = np.maximum(0, ((np.asarray(init, np.float32) - self.origin) * self.scale).round())
            labels[:] = cv2.GC_BGD
            labels[int(by0) : int(by1), int(bx0) : int(bx1)] = cv2.GC_PR_FGD
            fg_samples = pix[(self.pos_sample if self.has_pos else labels == cv2.GC_PR_FGD).ravel()]
        if self.has_neg:
            # the colours around a negative click start out as background
            pushed = grow(pix, pix[self.neg_sample.ravel()], fg_samples, self.neg_seed)
            labels[pushed & (labels == cv2.GC_PR_FGD)] = cv2.GC_PR_BGD
        labels[self.pos_seed] = cv2.GC_FGD
        labels[self.neg_seed] = cv2.GC_BGD
        seed = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        fg = grabcut(self.img, labels, iterations)
        fg = components_touching(fg, self.pos_seed) if self.has_pos else largest_components(fg)
        contrast = contrast_score(self.lab, fg)
        outline = morph(fg, 1, cv2.MORPH_GRADIENT)
        weakest = float(np.percentile(self.grad[outline], 10)) / self.grad_ref if outline.any() else 0.0
        rank = contrast * weakest
        if fg.sum() <= 3 * max(1, self.pos_seed.sum()) and rank < SMALL_REGION_RANK:
            # collapsed onto the clicks: inside a large object the seed's outline has no edge and its
            # ring the seed's colours; a small object (a sliver beside an occluder) has both all around
            return _Hypothesis(fg, contrast, -1.0, seed)
        return _Hypothesis(fg, contrast, rank, seed)


def _like_share(pixels: np.ndarray, spot: np.ndarray) -> float:
    """The share of ``pixels`` within :data:`SPOT_DISTANCE` of a clicked spot's colours (1.0 without pixels)."""
    if not len(pixels) or not len(spot):
        return 1.0
    return float((nearest_distance(pixels, subsample(spot, 64)) < SPOT_DISTANCE).mean())


def grow(pix: np.ndarray, samples: np.ndarray, others: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Pixels nearer in colour to ``samples`` than to ``others`` (and near enough), connected to ``seeds``."""
    d_in = nearest_distance(pix, subsample(samples, 64)).reshape(seeds.shape)
    d_out = nearest_distance(pix, subsample(others, 96)).reshape(seeds.shape)
    near = (d_in < d_out) & (d_in < 20.0)
    near = morph(near, 1, cv2.MORPH_OPEN) | seeds
    return components_touching(near, seeds)


def refine_in_band(
    img: np.ndarray,
    coarse: _Crop,
    roi: tuple[int, int, int, int],
    hyp: _Hypothesis,
    pos: np.ndarray,
    neg: np.ndarray,
    side: int,
    *,
    refine_edges: bool,
    inside: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, float] | None:
    """Redo a coarse hypothesis in detail: GrabCut in a band around its outline on a crop tight around it.

    The crop spans the coarse mask's box plus a margin (not the whole search window), downscaled to
    ``side``; the coarse mask's eroded interior is sure foreground and everything beyond its dilation
    sure background, so a couple of iterations settle the outline. ``inside`` (a box prompt) bounds
    the result. Returns the mask in video pixels and its contrast score, or None when the refinement
    collapsed (the caller falls back to the slow path).
    """
    h, w = img.shape[:2]
    bb = bbox(hyp.mask)
    if bb is None:
        return None
    rx0, ry0 = roi[0], roi[1]
    s0 = coarse.scale
    vb = (rx0 + bb[0] / s0, ry0 + bb[1] / s0, rx0 + bb[2] / s0, ry0 + bb[3] / s0)
    margin = max(8.0, 0.15 * max(vb[2] - vb[0], vb[3] - vb[1]), 4.0 / s0)
    fx0, fy0, fx1, fy1 = froi = expand(vb, margin, w, h)
    fine = _Crop(img, froi, pos, neg, max(32, round(REFINE_SHARE * side)), hypotheses=False)
    # the coarse mask resampled onto the fine crop (its pixels in video coordinates; zero outside the window)
    coarse_px = cv2.resize(hyp.mask.astype(np.float32), (roi[2] - rx0, roi[3] - ry0), interpolation=cv2.INTER_LINEAR)
    sub = np.zeros((fy1 - fy0, fx1 - fx0), np.float32)
    ix0, iy0, ix1, iy1 = max(fx0, rx0), max(fy0, ry0), min(fx1, roi[2]), min(fy1, roi[3])
    if ix1 > ix0 and iy1 > iy0:
        sub[iy0 - fy0 : iy1 - fy0, ix0 - fx0 : ix1 - fx0] = coarse_px[iy0 - ry0 : iy1 - ry0, ix0 - rx0 : ix1 - rx0]
    fh, fw = fine.shape
    sub = cv2.resize(sub, (fw, fh), interpolation=cv2.INTER_AREA) if sub.shape != (fh, fw) else sub
    prior = sub > 0.5
    if prior.sum() < 16:
        return None
    band = max(2, math.ceil(1.5 * fine.scale / s0))
    labels = np.full(fine.shape, cv2.GC_BGD, np.uint8)
    labels[morph(prior, band, cv2.MORPH_DILATE)] = cv2.GC_PR_BGD
    labels[prior] = cv2.GC_PR_FGD
    core = morph(prior, band, cv2.MORPH_ERODE)
    labels[core] = cv2.GC_FGD
    if inside is not None:
        keep = np.zeros(fine.shape, bool)
        bx0, by0, bx1, by1 = fine._box_rect(inside)
        keep[by0:by1, bx0:bx1] = True
        labels[~keep] = cv2.GC_BGD
    labels[fine.pos_seed] = cv2.GC_FGD
    labels[fine.neg_seed] = cv2.GC_BGD
    fg = grabcut(fine.img, labels, REFINE_ITERATIONS)
    anchor = fine.pos_seed if fine.has_pos else core if core.any() else prior
    fg = components_touching(fg, anchor)
    if fg.sum() < 0.5 * prior.sum():
        return None
    out = np.zeros((h, w), bool)
    out[fy0:fy1, fx0:fx1] = upsample(fg, img[fy0:fy1, fx0:fx1], refine_edges=refine_edges)
    return out, contrast_score(fine.lab, fg)
