"""Image operations behind :class:`~annotator_widgets.backends.classic.ClassicSegmenter`.

Mask helpers, colour models, the GrabCut wrapper, the edge-snapping upsampler, template
matching and the tracker's whole-object reference, shared by the prompt path
(:mod:`._classic_prompt`) and the tracker (:mod:`._classic_tracker`). OpenCV and NumPy only.
Private: the names here may change without notice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

COLOUR_BINS = 16**3  # colour histograms: 16 levels per Lab channel
RNG_SEED = 0x5EED  # GrabCut's k-means draws from OpenCV's thread RNG: seed it for reproducible masks


def disc(shape: tuple[int, int], centers: np.ndarray, radius: int) -> np.ndarray:
    """A boolean image with filled discs at the ``(N, 2)`` x, y ``centers``."""
    out = np.zeros(shape, np.uint8)
    for x, y in np.round(centers).astype(int):
        cv2.circle(out, (int(x), int(y)), max(1, radius), 1, -1)
    return out.astype(bool)


def morph(mask: np.ndarray, radius: int, op: int) -> np.ndarray:
    """A morphological operation (``cv2.MORPH_*``) on a boolean mask with a disc of ``radius``."""
    if radius <= 0:
        return mask.copy()
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), op, k).astype(bool)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The tight box ``(x0, y0, x1, y1)`` (exclusive ends) of a mask, or None when empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def expand(box: tuple[float, float, float, float], margin: float, w: int, h: int) -> tuple[int, int, int, int]:
    """``box`` grown by ``margin`` on every side, in whole pixels, clipped to a ``w`` x ``h`` image."""
    x0, y0, x1, y1 = box
    return (
        max(0, math.floor(x0 - margin)),
        max(0, math.floor(y0 - margin)),
        min(w, math.ceil(x1 + margin)),
        min(h, math.ceil(y1 + margin)),
    )


def components_touching(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The connected components of ``mask`` that overlap ``keep``."""
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    ids = np.unique(lab[keep & mask])
    ids = ids[ids > 0]
    return np.isin(lab, ids)


def largest_components(mask: np.ndarray, share: float = 0.25) -> np.ndarray:
    """Components of at least ``share`` of the largest component's area."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    ids = np.flatnonzero(areas >= share * areas.max()) + 1
    return np.isin(lab, ids)


def grabcut(img: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
    """Run GrabCut initialised from ``labels`` (GC_* values); returns the foreground."""
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if fg.sum() < 12 or (~fg).sum() < 12 or iterations <= 0:
        return fg
    cv2.setRNGSeed(RNG_SEED)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    out = labels.copy()
    cv2.grabCut(np.ascontiguousarray(img), out, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    return (out == cv2.GC_FGD) | (out == cv2.GC_PR_FGD)


def colour_index(img: np.ndarray) -> np.ndarray:
    """Each pixel's bin in a 16x16x16 histogram of its (slightly blurred) Lab colour."""
    lab = cv2.cvtColor(cv2.GaussianBlur(img, (3, 3), 0), cv2.COLOR_RGB2Lab) >> 4
    return (lab[..., 0].astype(np.int32) << 8) | (lab[..., 1].astype(np.int32) << 4) | lab[..., 2]


def histogram(index: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The normalised colour histogram of the pixels under ``mask`` (bins from :func:`colour_index`)."""
    counts = np.bincount(index[mask], minlength=COLOUR_BINS).astype(np.float32)
    return counts / max(1.0, float(counts.sum()))


def match_shift(
    prev_img: np.ndarray, mask: np.ndarray, cur_img: np.ndarray, max_side: int = 48
) -> tuple[float, float] | None:
    """Where the masked object of ``prev_img`` reappears in ``cur_img`` (template matching), as a shift."""
    bb = bbox(mask)
    if bb is None:
        return None
    x0, y0, x1, y1 = bb
    h, w = mask.shape
    sx0, sy0, sx1, sy1 = expand(bb, max(x1 - x0, y1 - y0) / 2 + 4, w, h)
    s = min(1.0, max_side / max(x1 - x0, y1 - y0))

    def shrink(img: np.ndarray) -> np.ndarray:
        if s >= 1:
            return np.ascontiguousarray(img)
        size = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    templ = shrink(prev_img[y0:y1, x0:x1])
    weights = shrink(mask[y0:y1, x0:x1].astype(np.uint8) * 255)
    search = shrink(cur_img[sy0:sy1, sx0:sx1])
    if search.shape[0] < templ.shape[0] or search.shape[1] < templ.shape[1] or not weights.any():
        return None
    res = cv2.matchTemplate(search, templ, cv2.TM_SQDIFF, mask=cv2.merge([weights] * 3))
    _, _, (bx, by), _ = cv2.minMaxLoc(res)
    return sx0 + bx / s - x0, sy0 + by / s - y0


def separation(p_obj: np.ndarray, mask: np.ndarray, ring: int) -> float:
    """How well ``mask`` holds the object's colours and its surroundings do not."""
    if not mask.any():
        return -1.0
    around = morph(mask, ring, cv2.MORPH_DILATE) & ~mask
    return float(p_obj[mask].mean()) - (float(p_obj[around].mean()) if around.any() else 0.0)


def gain(p_obj: np.ndarray, mask: np.ndarray) -> float:
    """Evidence that ``mask`` is the object: its pixels' object probabilities, each counted from -1 to 1."""
    return float((2 * p_obj[mask] - 1).sum())


def contrast_score(lab: np.ndarray, mask: np.ndarray) -> float:
    """How different the object's colours are from its surroundings: 1 - overlap of colour histograms."""
    if mask.sum() < 8:
        return 0.0
    r = max(2, int(0.25 * math.sqrt(mask.sum())))
    ring = morph(mask, r, cv2.MORPH_DILATE) & ~mask
    if ring.sum() < 8:
        return 1.0
    img = np.clip(lab, 0, 255).astype(np.uint8)
    bins, ranges = [8, 8, 8], [0, 256, 0, 256, 0, 256]
    h_in = cv2.calcHist([img], [0, 1, 2], mask.astype(np.uint8), bins, ranges)
    h_out = cv2.calcHist([img], [0, 1, 2], ring.astype(np.uint8), bins, ranges)
    return float(np.clip(cv2.compareHist(h_in, h_out, cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def upsample(mask: np.ndarray, guide: np.ndarray, *, refine_edges: bool, factor: float | None = None) -> np.ndarray:
    """Resize a mask (boolean, or soft in 0..1) to ``guide``'s size.

    When that enlarges it (by ``factor``, else measured from the sizes) and ``refine_edges``
    is set, a guided filter snaps the edges to the guide image's.
    """
    gh, gw = guide.shape[:2]
    soft = mask.astype(np.float32)
    if soft.shape != (gh, gw):
        soft = cv2.resize(soft, (gw, gh), interpolation=cv2.INTER_LINEAR)
    factor = gw / mask.shape[1] if factor is None else factor
    if refine_edges and factor > 1.3:
        radius = max(2, round(factor * 1.5))
        return guided_threshold(guide, soft, radius, 0.02 * 255**2)
    return soft > 0.5


def guided_threshold(guide: np.ndarray, soft: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """``guidedFilter(guide, soft, radius, eps) > 0.5``, filtering only where the result can differ from ``soft``.

    A guided filter's output at a pixel depends on the input within ``2 * radius`` of it, and where
    that input is constant the output is the same constant. So the image is cut into tiles, tiles whose
    neighbourhood is constant keep ``soft``, and each run of the other tiles along a tile row (merged with
    the same run on the rows below) is filtered on its own with a margin of ``2 * radius`` (clipped at
    the image border, where the filter's own border handling then applies as on the whole image), or the
    busy tiles' bounding box at once where that filters fewer pixels: the same mask as filtering the whole
    image (up to the float rounding of the filter's running sums) at the cost of the band around the outline. At 720p an
    upsampled mask's outline covers a small share of the frame.
    """
    h, w = soft.shape
    reach = 2 * radius + 1
    tile = max(48, 2 * reach)
    ny, nx = -(-h // tile), -(-w // tile)
    padded = np.pad(soft, ((0, ny * tile - h), (0, nx * tile - w)), mode="edge").reshape(ny, tile, nx, tile)
    lo, hi = padded.min(axis=(1, 3)), padded.max(axis=(1, 3))
    near = np.ones((3, 3), np.uint8)  # reach <= tile: only the 8 neighbouring tiles can reach into a tile
    busy = cv2.erode(lo, near, borderType=cv2.BORDER_REPLICATE) != cv2.dilate(hi, near, borderType=cv2.BORDER_REPLICATE)
    # runs of busy tiles along each tile row, a run extended downwards while the next row has the same run
    rects: list[list[int]] = []  # [ty0, ty1, tx0, tx1] in tiles, ends exclusive
    open_runs: dict[tuple[int, int], list[int]] = {}
    for ty in range(ny):
        row, tx, runs = busy[ty], 0, {}
        while tx < nx:
            if not row[tx]:
                tx += 1
                continue
            end = tx
            while end < nx and row[end]:
                end += 1
            rect = open_runs.get((tx, end))
            if rect is None:
                rect = [ty, ty + 1, tx, end]
                rects.append(rect)
            rect[1] = ty + 1
            runs[(tx, end)] = rect
            tx = end
        open_runs = runs
    out = soft > 0.5
    if not rects:
        return out

    def margin(r: list[int]) -> tuple[int, int, int, int, int, int, int, int]:
        y0, y1, x0, x1 = r[0] * tile, min(h, r[1] * tile), r[2] * tile, min(w, r[3] * tile)
        return y0, y1, x0, x1, max(0, y0 - reach), min(h, y1 + reach), max(0, x0 - reach), min(w, x1 + reach)

    crops = [margin(r) for r in rects]
    ty0, ty1 = min(r[0] for r in rects), max(r[1] for r in rects)
    whole = margin([ty0, ty1, min(r[2] for r in rects), max(r[3] for r in rects)])
    if (whole[5] - whole[4]) * (whole[7] - whole[6]) <= sum((c[5] - c[4]) * (c[7] - c[6]) for c in crops):
        crops = [whole]  # one filter over the busy tiles' box costs less than the runs' margins
    guide = np.ascontiguousarray(guide)
    for y0, y1, x0, x1, cy0, cy1, cx0, cx1 in crops:
        q = cv2.ximgproc.guidedFilter(guide[cy0:cy1, cx0:cx1], soft[cy0:cy1, cx0:cx1], radius, eps)
        out[y0:y1, x0:x1] = q[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] > 0.5
    return out


WHOLE_SHARE = 0.8  # a tracked mask below this share of the object's expected area may be partly hidden
AREA_DECAY = 0.99  # the expected area falls by this factor a frame (objects shrink slowly, an occluder fast)


@dataclass(frozen=True, eq=False)
class Reference:
    """How an object looked the last time it was seen whole (at the tracker's work scale)."""

    img: np.ndarray  # the image under the mask's box
    mask: np.ndarray  # the mask in that box
    area: int
    frame: int

    def expected(self, frame: int) -> float:
        """The least area the whole object should have on ``frame``: the reference's, slowly decaying.

        A mask that keeps this renews the reference; one well below it (``WHOLE_SHARE``) shrank faster
        than an object does by itself, so part of it may be hidden.
        """
        return self.area * AREA_DECAY ** abs(frame - self.frame)


def reference(img: np.ndarray, mask: np.ndarray, frame: int) -> Reference | None:
    """The object's appearance under ``mask`` on ``img``, or None when the mask is empty."""
    bb = bbox(mask)
    if bb is None:
        return None
    x0, y0, x1, y1 = bb
    return Reference(img[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy(), int(np.count_nonzero(mask)), frame)


def reacquire(ref: Reference, prev: np.ndarray, cur_img: np.ndarray, colours: np.ndarray) -> np.ndarray | None:
    """The reference mask placed where it covers the most object colour in ``cur_img``, near the previous mask.

    Used when the tracked mask has shrunk well below the reference (the object went partly behind an
    occluder and the tracker kept only the visible piece): the whole shape slides over a map of how
    likely each pixel has the object's colours (``colours``, its histogram) rather than its surroundings',
    within one object size of the piece, and stops where it holds the most evidence. An occluder
    costs the same wherever the shape covers it, so the visible pieces on both sides decide.
    """
    h, w = prev.shape
    rh, rw = ref.mask.shape
    bb = bbox(prev)
    if bb is None:
        return None
    cx, cy = (bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2
    sx0, sy0, sx1, sy1 = expand((cx - rw / 2, cy - rh / 2, cx + rw / 2, cy + rh / 2), max(rw, rh), w, h)
    if sx1 - sx0 < rw or sy1 - sy0 < rh:
        return None
    index = colour_index(cur_img[sy0:sy1, sx0:sx1])
    near = morph(prev[sy0:sy1, sx0:sx1], max(2, max(rw, rh) // 4), cv2.MORPH_DILATE)
    if near.all():
        return None
    pf, pb = colours[index], histogram(index, ~near)[index]
    evidence = np.where(pf + pb > 0, (pf - pb) / (pf + pb + 1e-12), 0.0).astype(np.float32)  # 2 p - 1
    res = cv2.matchTemplate(evidence, ref.mask.astype(np.float32), cv2.TM_CCORR)
    _, _, _, (bx, by) = cv2.minMaxLoc(res)
    out = np.zeros((h, w), bool)
    out[sy0 + by : sy0 + by + rh, sx0 + bx : sx0 + bx + rw] = ref.mask
    return out
