"""Masks to polygons and back, exactly.

**Convention.** Polygon coordinates are continuous image coordinates in which pixel ``(x, y)`` is
the unit square ``[x, x + 1) x [y, y + 1)`` (COCO's and CVAT's convention). A polygon covers a
pixel when the pixel's centre ``(x + 0.5, y + 0.5)`` lies inside it by the even-odd rule.

**Tracing.** :func:`mask_to_rings` follows the *pixel edges* around the mask (not the centres of
the boundary pixels, as ``cv2.findContours`` does), so the outline has integer vertices, encloses
exactly the mask's area, and :func:`polygon_to_mask` of it gives back the mask pixel for pixel.
Pixels touching only at a corner belong to one outline that passes through that corner twice.

**Holes and parts.** Formats that hold one polygon per object (a YOLO label line, a CVAT track
shape) get :func:`mask_to_polygon`: every ring (outer outlines of the parts and the outlines of
the holes) bridged into one closed polygon, each bridge walked there and back along the same
segment (the Ultralytics / supervision convention for multi-part masks). Under the even-odd rule
a bridge walked twice covers nothing, so the round trip stays exact; pycocotools rasterises such
a polygon exactly too. Readers that fill polygons with ``cv2.fillPoly`` treating vertices as pixel
centres (supervision's ``polygon_to_mask``, Ultralytics' training loader) draw the outline and the
bridges as one-pixel lines, so they see the mask grown by up to one pixel.

**Tolerance.** ``tolerance=0`` (the default everywhere) is exact. ``tolerance=t > 0`` simplifies
each ring with Douglas-Peucker (``cv2.approxPolyDP``): every point of the exact outline stays
within ``t`` pixels of the simplified one.

Example:
    >>> import numpy as np
    >>> donut = np.zeros((8, 8), bool); donut[1:7, 1:7] = True; donut[3:5, 3:5] = False
    >>> [(len(r), polygon_area(r)) for r in mask_to_rings(donut)]
    [(4, 36.0), (4, -4.0)]
    >>> poly = mask_to_polygon(donut)
    >>> bool((polygon_to_mask(poly, (8, 8)) == donut).all())
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import AnnotatorError
from ..rle import RLE

__all__ = [
    "format_points",
    "mask_to_polygon",
    "mask_to_rings",
    "polygon_area",
    "polygon_to_mask",
    "polygons_to_mask",
]

_KERNEL = np.ones((3, 3), np.uint8)


def _fix_ring(contour: np.ndarray) -> np.ndarray:
    """A traced lattice contour (doubled coordinates) as the rectilinear pixel-edge outline.

    Eight-connected tracing cuts each concave corner with a half-pixel diagonal step between two edge
    midpoints; the corner is the one of the two candidate points whose lattice indices are both odd
    (pixel corners; pixel centres sit at even indices). Collinear points are dropped afterwards.
    """
    p = contour.reshape(-1, 2).astype(np.int64)
    if len(p) == 1:  # cannot happen for a dilated lattice, kept for safety
        return p.astype(np.float64) / 2.0
    q = np.roll(p, -1, axis=0)
    diag = (p[:, 0] != q[:, 0]) & (p[:, 1] != q[:, 1])
    c1 = np.stack([q[:, 0], p[:, 1]], 1)
    c2 = np.stack([p[:, 0], q[:, 1]], 1)
    corner = np.where(((c1 % 2) == 1).all(1)[:, None], c1, c2)
    at = np.arange(len(p)) + np.concatenate(([0], np.cumsum(diag)[:-1]))
    out = np.empty((len(p) + int(diag.sum()), 2), np.int64)
    out[at] = p
    out[at[diag] + 1] = corner[diag]
    prev, nxt = np.roll(out, 1, axis=0), np.roll(out, -1, axis=0)
    cross = (out[:, 0] - prev[:, 0]) * (nxt[:, 1] - out[:, 1]) - (out[:, 1] - prev[:, 1]) * (nxt[:, 0] - out[:, 0])
    return out[cross != 0].astype(np.float64) / 2.0


def mask_to_rings(mask: np.ndarray | RLE, tolerance: float = 0.0) -> list[np.ndarray]:
    """The outlines of a mask: outer rings (positive area) and hole rings (negative area).

    Args:
        mask: A 2-D boolean (or 0/1) mask, or an :class:`~annotator_widgets.rle.RLE`.
        tolerance: 0 for the exact pixel-edge outline, else the Douglas-Peucker tolerance in pixels.

    Returns:
        ``(N, 2)`` float arrays of ``x, y`` vertices, outer rings first in tracing order, each starting at
        its top-left vertex. Outer rings run clockwise on screen (positive :func:`polygon_area`), holes
        the other way.
    """
    if isinstance(mask, RLE):  # the box comes from the runs, no scan of the whole frame
        bbox, m = mask.bbox, mask.to_mask()
    else:
        m = np.asarray(mask)
        if m.ndim != 2:
            raise AnnotatorError("a mask must be 2-D (height, width)", given=m.shape)
        m = m if m.dtype == bool else m != 0
        ys, xs = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
        bbox = None if ys.size == 0 else (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
    if bbox is None:
        return []
    x0, y0, x1, y1 = bbox
    crop = m[y0:y1, x0:x1].view(np.uint8)
    h, w = crop.shape
    lattice = np.zeros((2 * h + 3, 2 * w + 3), np.uint8)  # one spare lattice line around the outline
    lattice[2 : 2 * h + 1 : 2, 2 : 2 * w + 1 : 2] = crop
    lattice = cv2.dilate(lattice, _KERNEL)
    contours, hierarchy = cv2.findContours(lattice, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    outer: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    for contour, info in zip(contours, hierarchy[0], strict=True):
        ring = _fix_ring(contour) + np.array([x0 - 0.5, y0 - 0.5])
        if tolerance > 0 and len(ring) > 4:
            approx = cv2.approxPolyDP(ring.astype(np.float32).reshape(-1, 1, 2), float(tolerance), True)
            if len(approx) >= 3:
                ring = approx.reshape(-1, 2).astype(np.float64)
        is_hole = info[3] >= 0
        if (polygon_area(ring) < 0) != is_hole:
            ring = ring[::-1]
        ring = np.roll(ring, -int(np.lexsort((ring[:, 0], ring[:, 1]))[0]), axis=0)  # start at the top-left
        (holes if is_hole else outer).append(ring)
    return outer + holes


def polygon_area(points: np.ndarray) -> float:
    """Signed area (shoelace) of a closed polygon in image coordinates (y down): positive when the
    vertices run clockwise on screen."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def bridge(rings: Sequence[np.ndarray]) -> np.ndarray:
    """Join rings into one closed polygon with bridges walked there and back (zero area under even-odd).

    Each ring after the first is entered from the vertex of the polygon built so far that is
    closest to the ring's first vertex.
    """
    if not rings:
        return np.zeros((0, 2), np.float64)
    poly = np.asarray(rings[0], np.float64)
    for ring in rings[1:]:
        r = np.asarray(ring, np.float64)
        j = int(np.argmin(((poly - r[0]) ** 2).sum(axis=1)))
        poly = np.concatenate([poly[: j + 1], r, r[:1], poly[j : j + 1], poly[j + 1 :]])
    return poly


def mask_to_polygon(mask: np.ndarray | RLE, tolerance: float = 0.0) -> np.ndarray:
    """One closed polygon for a mask with any number of parts and holes (see the module notes).

    Returns an ``(N, 2)`` float array, empty for an empty mask.
    """
    return bridge(mask_to_rings(mask, tolerance))


def polygons_to_mask(polygons: Sequence[np.ndarray | Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """Rasterise polygons together with the even-odd rule, sampling pixel centres.

    Args:
        polygons: ``(N, 2)`` arrays or flat ``[x0, y0, x1, y1, ...]`` lists.
        size: ``(height, width)`` of the mask.

    Returns:
        A ``(height, width)`` boolean mask. Polygons that overlap cancel out (even-odd); pass them one
        at a time and OR the results for a union.
    """
    h, w = int(size[0]), int(size[1])
    out = np.zeros((h, w), bool)
    edges = []
    for poly in polygons:
        p = np.asarray(poly, np.float64).reshape(-1, 2)
        if len(p) < 3:
            continue
        if not np.isfinite(p).all():
            raise AnnotatorError("polygon has coordinates that are not finite numbers", given=p[:4].tolist())
        edges.append(np.concatenate([p, np.roll(p, -1, axis=0)], axis=1))
    if not edges:
        return out
    e = np.concatenate(edges)
    e = e[e[:, 1] != e[:, 3]]  # horizontal edges never cross a scanline
    if e.size == 0:
        return out
    ya, yb = np.minimum(e[:, 1], e[:, 3]), np.maximum(e[:, 1], e[:, 3])
    slope = (e[:, 2] - e[:, 0]) / (e[:, 3] - e[:, 1])
    # an edge crosses the centre line y = row + 0.5 of the rows with ya <= row + 0.5 < yb (half-open,
    # so every scanline crosses each closed polygon an even number of times)
    first = np.ceil(ya - 0.5).astype(np.int64)
    count = np.ceil(yb - 0.5).astype(np.int64) - first
    keep = count > 0
    first, count = first[keep], count[keep]
    idx = np.repeat(np.arange(len(first)), count)
    rows = first[idx] + (np.arange(idx.size) - np.repeat(np.cumsum(count) - count, count))
    xs = e[keep, 0][idx] + (rows + 0.5 - e[keep, 1][idx]) * slope[keep][idx]
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    lo, hi = np.ceil(xs[0::2] - 0.5), np.ceil(xs[1::2] - 0.5)
    row = rows[0::2]
    inside = (row >= 0) & (row < h)
    row, lo, hi = row[inside], np.clip(lo[inside], 0, w).astype(np.int64), np.clip(hi[inside], 0, w).astype(np.int64)
    if row.size == 0:
        return out
    top = int(row.min())
    diff = np.zeros((int(row.max()) - top + 1, w + 1), np.int32)
    np.add.at(diff, (row - top, lo), 1)
    np.add.at(diff, (row - top, hi), -1)
    out[top : top + diff.shape[0]] = np.cumsum(diff[:, :w], axis=1) > 0
    return out


def polygon_to_mask(polygon: np.ndarray | Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """Rasterise one polygon (even-odd rule, pixel centres) into a ``(height, width)`` boolean mask."""
    return polygons_to_mask([polygon], size)


def format_points(points: np.ndarray, decimals: int, pair: str = " ", sep: str = " ") -> str:
    """Vertices as text with a fixed number of decimals, e.g. ``"x y x y"`` or ``"x,y;x,y"`` (one format call)."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if len(p) == 0:
        return ""
    one = f"%.{int(decimals)}f{pair}%.{int(decimals)}f"
    return sep.join([one] * len(p)) % tuple(p.ravel().tolist())
