"""The classic segmenter's refinement path: clicks that correct a mask it already has (points + mask -> a mask).

A correction click on a tracked frame should fix the tracked mask, not start over from the click
alone (SAM2 does this with its memory). The mask is GrabCut's initial estimate on a crop around it
and the clicks: its eroded interior is sure foreground, the rest of it probable foreground, the
crop outside it probable background and the crop's border sure background. A positive click is a
sure-foreground disc and the region of its colours grown from it starts as probable foreground; a
negative click is a sure-background disc and the region of its colours inside the mask starts as
probable background. Only the changes connected to a click are kept (the region a positive click
adds, the spill a negative click removes): the rest of the mask stays exactly as given. A click on
the wrong side of the mask (negative inside it, positive outside) always flips at least a disc around
it (:func:`flip_discs`), so a spill whose colours look like the object still loses the spot clicked,
as a person expects; clicks flip in the order given, so the latest wins where discs overlap.
The clicks are corrections in order: a positive click far from the mask (beyond twice its equivalent
radius) says the mask is on something else, and from it on the clicks correct the mask the user saw
just before it (the first such click segmented alone, as a prompt without a mask would be, when no
positive click came before it), not the clicks segmented together from scratch (:func:`refine_mask`);
a positive click still far from that mask adds another part of the object (one cut in two by an
occluder), segmented alone.
Private: the names here may change without notice.
"""

from __future__ import annotations

import logging
from math import ceil

import cv2
import numpy as np

from ..types import Prompt
from ._classic_ops import bbox, components_touching, contrast_score, expand, grabcut, morph, upsample
from ._classic_prompt import _Crop, grow, segment_prompt

__all__ = ["refine_mask"]

log = logging.getLogger(__name__)

MARGIN_SHARE = 0.25  # the crop spans the mask and the clicks plus this share of their longer side
MIN_REACH = 8.0  # pixels: a positive click this near a small mask still refines it
FIT_SHARE = 2.0  # a positive click within this many equivalent radii of the mask refines it
REACH = 3.0  # a negative click pushes out the mask within this many times its distance from the outline
FLIP_SHARE = 0.5  # a click on the wrong side flips its colour out to this share of its distance to the outline
MIN_FLIP_SHARE = 0.15  # ... and at least this share of the mask's equivalent radius (2 pixels or more)
MAX_FLIP_SHARE = 0.5  # ... and at most this share of the mask's equivalent radius (a click far off a thin mask)
FLIP_COLOUR = 20.0  # beyond that least disc, only pixels within this Lab distance of the click's colour flip


def prior_fits(prior: np.ndarray, pos: np.ndarray) -> bool:
    """Whether every positive click lies near ``prior``: within ``FIT_SHARE`` times its equivalent radius (at least
    ``MIN_REACH`` pixels) of it. A click farther off says the tracked mask is on something else (the
    tracker drifted or jumped): the clicks start over instead of growing a wrong mask."""
    if not len(pos):
        return True
    h, w = prior.shape
    radius = FIT_SHARE * max(MIN_REACH, float(np.sqrt(prior.sum() / np.pi)))
    away = cv2.distanceTransform((~prior).astype(np.uint8), cv2.DIST_L2, 5)
    xs = np.clip(np.round(pos[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(pos[:, 1]).astype(int), 0, h - 1)
    return bool((away[ys, xs] <= radius).all())


def refine_mask(
    img: np.ndarray, prompt: Prompt, prior: np.ndarray, *, grabcut_side: int, iterations: int, refine_edges: bool
) -> tuple[np.ndarray, float]:
    """Correct ``prior`` (an ``(H, W)`` bool mask in video pixels) with the prompt's points.

    The points are corrections in the order given. While every positive click lies near ``prior``
    (:func:`prior_fits`) all of them correct it at once. From the first positive click far from it the
    mask the user saw before that click is what the clicks correct: ``prior`` corrected by the clicks
    before it, or, where no positive click came before it, that click segmented alone (the tracked
    mask was on something else: start over). Each positive click even that mask leaves far off adds
    its own part, segmented alone (an object cut in two by an occluder: the clicks segmented together
    would take in what lies between the parts), and the clicks then all correct the union; only where
    that mask is empty are the positive clicks segmented together, the negative ones then correcting
    that mask.

    Returns the corrected mask in video pixels (``prior`` is not modified) and its contrast score.
    A prompt without points, or an empty ``prior``, returns ``prior`` unchanged.
    """
    coords, labels = prompt.point_arrays()

    def correct(clicks: Prompt, mask: np.ndarray) -> tuple[np.ndarray, float]:
        return _correct(img, clicks, mask, grabcut_side=grabcut_side, iterations=iterations, refine_edges=refine_edges)

    def segment(clicks: Prompt) -> tuple[np.ndarray, float]:
        return segment_prompt(img, clicks, grabcut_side=grabcut_side, iterations=iterations, refine_edges=refine_edges)

    if not prior.any() or not len(coords):
        return np.array(prior, dtype=bool, copy=True), 0.0
    far = [i for i in np.flatnonzero(labels == 1) if not prior_fits(prior, coords[i : i + 1])]
    if not far:
        return correct(prompt, prior)
    j = int(far[0])
    log.debug("object %d frame %d: click %d lies far from the mask", prompt.obj_id, prompt.frame, j)
    if (labels[:j] == 1).any():
        base, score = correct(Prompt(prompt.frame, prompt.obj_id, prompt.points[:j]), prior)
    else:
        one = Prompt(prompt.frame, prompt.obj_id, prompt.points[j : j + 1])
        base, score = segment(one)
        if len(coords) == 1:
            return base, score
    if base.any() and prior_fits(base, coords[labels == 1]):
        return correct(prompt, base)
    if base.any():
        # each positive click still far from the mask adds another part of the object (one cut in two by an
        # occluder), segmented alone: the clicks segmented together take in what lies between the parts
        for i in np.flatnonzero(labels == 1):
            if not prior_fits(base, coords[i : i + 1]):
                part, _ = segment(Prompt(prompt.frame, prompt.obj_id, prompt.points[i : i + 1]))
                base = base | part
        return correct(prompt, base)
    log.debug("object %d frame %d: the clicks lie far apart; segmenting them", prompt.obj_id, prompt.frame)
    positives = Prompt(prompt.frame, prompt.obj_id, tuple(p for p in prompt.points if p.label == 1))
    start, score = segment(positives)
    if (labels == 1).all() or not start.any():
        return start, score
    # the negative clicks correct what the positive ones found (a negative click only ever removes),
    # instead of changing which of the prompt path's hypotheses wins
    return correct(prompt, start)


def _correct(
    img: np.ndarray, prompt: Prompt, prior: np.ndarray, *, grabcut_side: int, iterations: int, refine_edges: bool
) -> tuple[np.ndarray, float]:
    """All of the prompt's clicks correct ``prior`` at once (GrabCut on a crop, then :func:`flip_discs`)."""
    h, w = img.shape[:2]
    coords, labels = prompt.point_arrays()
    pos, neg = coords[labels == 1], coords[labels == 0]
    out = np.array(prior, dtype=bool, copy=True)
    bb = bbox(out)
    if bb is None or not len(coords):
        return out, 0.0
    x0 = min(bb[0], float(coords[:, 0].min()))
    y0 = min(bb[1], float(coords[:, 1].min()))
    x1 = max(bb[2], float(coords[:, 0].max()) + 1)
    y1 = max(bb[3], float(coords[:, 1].max()) + 1)
    roi = expand((x0, y0, x1, y1), max(12.0, MARGIN_SHARE * max(x1 - x0, y1 - y0)), w, h)
    rx0, ry0, rx1, ry1 = roi
    crop = _Crop(img, roi, pos, neg, grabcut_side)
    ch, cw = crop.shape
    window = out[ry0:ry1, rx0:rx1]
    small = cv2.resize(window.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA) > 0.5
    band = max(1, round(0.02 * max(crop.shape)))
    pix = crop.pix

    gc = np.full(crop.shape, cv2.GC_PR_BGD, np.uint8)
    gc[crop.border & ~small] = cv2.GC_BGD
    if crop.has_pos:
        # a click adds the missed part around it, not whatever of the scene shares its colours: additions
        # stay within the mask's equivalent radius of a positive click
        add_reach = max(2, round(crop.scale * max(MIN_REACH, float(np.sqrt(out.sum() / np.pi)))))
        p = (pos - crop.origin[:2]) * crop.scale
        allowed = np.zeros(crop.shape, np.uint8)
        for x, y in np.round(p).astype(int):
            cv2.circle(allowed, (int(x), int(y)), add_reach, 1, -1)
        gc[~allowed.astype(bool) & ~morph(small, band, cv2.MORPH_DILATE)] = cv2.GC_BGD
    gc[small] = cv2.GC_PR_FGD
    core = morph(small, band, cv2.MORPH_ERODE)
    if crop.has_pos:
        # the missed region under a positive click: its colours, grown from it, outside the mask
        others = crop.border & ~small | crop.neg_sample
        grown = grow(pix, pix[crop.pos_sample.ravel()], pix[others.ravel()], crop.pos_seed)
        gc[grown & ~small] = cv2.GC_PR_FGD
    if crop.has_neg:
        # the spill under a negative click: its colours, grown from it, inside the mask
        keep = core & ~morph(crop.neg_sample, band, cv2.MORPH_DILATE)
        fg_samples = pix[keep.ravel()] if keep.any() else pix[small.ravel()]
        pushed = grow(pix, pix[crop.neg_sample.ravel()], fg_samples, crop.neg_seed) & small
        # and the mask around it, out to twice the click's distance from the mask's outline (the simulated
        # annotator and people click the middle of a spill): GrabCut's colour models take back what is object
        inside = cv2.distanceTransform(np.pad(small, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        for x, y in np.round((neg - crop.origin[:2]) * crop.scale).astype(int):
            if 0 <= y < ch and 0 <= x < cw and small[y, x]:
                reach = np.zeros(crop.shape, np.uint8)
                cv2.circle(reach, (int(x), int(y)), max(2, round(REACH * float(inside[y, x]))), 1, -1)
                pushed |= reach.astype(bool) & small
        gc[pushed] = cv2.GC_PR_BGD
        core &= ~morph(pushed, band, cv2.MORPH_DILATE)
    gc[core] = cv2.GC_FGD
    gc[crop.pos_seed] = cv2.GC_FGD
    gc[crop.neg_seed] = cv2.GC_BGD
    fg = grabcut(crop.img, gc, iterations)

    # keep only the changes the clicks asked for: what a positive click adds, what a negative one removes
    none = np.zeros(crop.shape, bool)
    added = components_touching(fg & ~small, crop.pos_seed) if crop.has_pos else none
    removed = components_touching(small & ~fg, crop.neg_seed) if crop.has_neg else none
    if added.any() or removed.any():
        fixed = (small | added) & ~removed
        # the new outline (snapped to the image's edges) only where something changed; elsewhere the mask as given
        changed = upsample(morph(added | removed, 1, cv2.MORPH_DILATE), window, refine_edges=False)
        detail = upsample(fixed, img[ry0:ry1, rx0:rx1], refine_edges=refine_edges)
        window[changed] = detail[changed]
    else:
        log.debug("object %d frame %d: GrabCut changes nothing in the mask", prompt.obj_id, prompt.frame)
        fixed = small
    if flip_discs(img, out, prior, coords, labels):
        fixed = cv2.resize(window.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA) > 0.5
    return out, contrast_score(crop.lab, fixed)


def flip_discs(img: np.ndarray, mask: np.ndarray, prior: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> bool:
    """Make every click's spot what the click says, in place: the least a click does.

    A click on the wrong side of ``prior`` or of ``mask`` (negative inside, positive outside) flips
    its spot: a negative click removes it from ``mask``, a positive one adds it, in the clicks' order
    (the latest wins where spots overlap). The spot is a small disc (``MIN_FLIP_SHARE`` of ``prior``'s
    equivalent radius, 2 pixels or more) and, out to ``FLIP_SHARE`` of the click's distance to
    ``prior``'s outline on the wrong side (people and the simulated annotator click the middle of the
    error) but no farther than ``MAX_FLIP_SHARE`` of that radius, the pixels of the click's colour
    connected to it (:func:`colour_spot`): a spill whose colours are the object's still loses the spot
    clicked, and a post between a click and the mask is not taken with it. Returns whether ``mask`` changed.
    """
    h, w = mask.shape
    radius = float(np.sqrt(prior.sum() / np.pi))  # the mask's equivalent radius
    least = max(2.0, MIN_FLIP_SHARE * radius)
    inside = cv2.distanceTransform(np.pad(prior, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    outside = cv2.distanceTransform((~prior).astype(np.uint8), cv2.DIST_L2, 5)
    changed = False
    for (x, y), label in zip(coords, labels, strict=True):
        xi, yi = min(max(int(np.floor(x)), 0), w - 1), min(max(int(np.floor(y)), 0), h - 1)  # the pixel clicked
        if prior[yi, xi] == bool(label) and mask[yi, xi] == bool(label):
            continue  # a click on the right side (a positive one inside the mask) asks for no change here
        depth = float((outside if label else inside)[yi, xi])
        reach = max(least, min(FLIP_SHARE * depth, MAX_FLIP_SHARE * radius))
        x0, y0 = max(0, xi - ceil(reach)), max(0, yi - ceil(reach))
        x1, y1 = min(w, xi + ceil(reach) + 1), min(h, yi + ceil(reach) + 1)
        spot = colour_spot(img[y0:y1, x0:x1], (xi - x0, yi - y0), least, reach)
        window = mask[y0:y1, x0:x1]
        changed |= bool((window[spot] != bool(label)).any())
        window[spot] = bool(label)
    return changed


def colour_spot(img: np.ndarray, click: tuple[int, int], least: float, reach: float) -> np.ndarray:
    """The disc of radius ``least`` around ``click`` (x, y in ``img``), and within ``reach`` of it the
    pixels whose (blurred) colour is within ``FLIP_COLOUR`` of that disc's mean colour, connected to it."""
    h, w = img.shape[:2]
    small, large = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    cv2.circle(small, click, round(least), 1, -1)
    cv2.circle(large, click, round(reach), 1, -1)
    core = small.astype(bool)
    if reach <= least:
        return core
    lab = cv2.cvtColor(cv2.GaussianBlur(img, (0, 0), 1.5), cv2.COLOR_RGB2Lab).astype(np.float32)
    near = np.linalg.norm(lab - lab[core].mean(axis=0), axis=2) < FLIP_COLOUR
    return components_touching((near & large.astype(bool)) | core, core)
