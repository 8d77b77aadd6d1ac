"""Where an effect applies: which objects, and the union of their masks grown (dilation) and softened (feathering).

* :func:`select_objects` turns ``"all"``, object ids or a category / name into the ids to change.
* :func:`soft_region` grows the union of the chosen masks by ``dilate`` pixels and fades it out over
  ``feather`` more pixels, working only on the masks' bounding box (plus the growth), never on the whole
  frame, so its cost follows the objects, not the video's resolution.
* :func:`blend_soft` mixes an effect's full-strength result into the frame with that soft alpha.

The geometry: with ``d = distance to the nearest mask pixel``, alpha is 1 where ``d <= dilate`` and falls
linearly to 0 over the next ``feather`` pixels (``alpha = 1 - (d - dilate) / (feather + 1)``), so the
masks grown by ``dilate`` are always fully covered (what privacy needs) and nothing beyond
``dilate + feather`` pixels from a mask changes. ``dilate=0, feather=0`` is the mask itself, hard-edged.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.render.region import soft_region
    >>> mask = np.zeros((20, 20), bool); mask[8:12, 8:12] = True
    >>> region = soft_region(mask, dilate=2, feather=3)
    >>> region.box, [round(region.alpha_at(10, x), 2) for x in (10, 13, 14, 15, 17)]
    ((3, 3, 17, 17), [1.0, 1.0, 0.75, 0.5, 0.0])
    >>> float(region.alpha_at(0, 0))
    0.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import PromptError
from ..types import ObjectInfo
from ._masks import mask_box

__all__ = ["ObjectsSpec", "SoftRegion", "blend_soft", "check_growth", "select_objects", "soft_region"]

#: which objects an effect changes: ``"all"`` / None, an object id, a category or name, or a list of those
ObjectsSpec = str | int | Iterable[str | int] | None


def select_objects(objects: Iterable[ObjectInfo] | Mapping[int, ObjectInfo], which: ObjectsSpec = "all") -> set[int]:
    """The ids of the objects ``which`` names.

    Args:
        objects: The project's objects (``project.objects()``).
        which: ``"all"`` or None (every object, hidden ones too: hiding is for display, and a privacy
            effect must not skip a face because it was hidden in the widget), an object id, a category or object
            name (every object of that category, or so named; case-insensitive), or a list mixing these.

    Raises:
        PromptError: An id that is not an object of the project, or a name no object has (the known ones are listed).

    Example:
        >>> from annotator_widgets.types import ObjectInfo
        >>> objs = [ObjectInfo(1, "ann", "person"), ObjectInfo(2, "bob", "person"), ObjectInfo(3, "", "car")]
        >>> sorted(select_objects(objs, "person")), sorted(select_objects(objs, [3, "ann"]))
        ([1, 2], [1, 3])
        >>> sorted(select_objects(objs))
        [1, 2, 3]
    """
    info = dict(objects) if isinstance(objects, Mapping) else {o.obj_id: o for o in objects}
    if which is None or (isinstance(which, str) and which.lower() == "all"):
        return set(info)
    items: Iterable[str | int] = (which,) if isinstance(which, str | int) else which
    chosen: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | np.integer):
            raise PromptError("objects are chosen by id, category or name", given=item, hint='e.g. [1, 3] or "person"')
        if isinstance(item, int | np.integer):
            if int(item) not in info:
                raise PromptError(
                    f"no object with id {int(item)}", given=item, hint=f"the project's objects are {sorted(info)}"
                )
            chosen.add(int(item))
            continue
        key = item.strip().lower()
        found = {oid for oid, o in info.items() if key in (o.category.lower(), o.name.lower())}
        if not found:
            names = sorted(
                {o.category for o in info.values() if o.category} | {o.name for o in info.values() if o.name}
            )
            raise PromptError(
                f"no object of category or name {item!r}",
                given=item,
                hint=f"use an id ({sorted(info)}), 'all', or one of {names}",
            )
        chosen |= found
    return chosen


def check_growth(dilate: int, feather: int) -> tuple[int, int]:
    """``(dilate, feather)`` as ints, checked (whole pixels, 0 or more).

    Raises:
        PromptError: A negative or non-integer value.
    """
    out = []
    for name, value in (("dilate", dilate), ("feather", feather)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise PromptError(f"{name} is a whole number of pixels, 0 or more", given=value)
        out.append(int(value))
    return out[0], out[1]


@dataclass(frozen=True)
class SoftRegion:
    """The grown, softened union of masks, held on its bounding box only.

    Attributes:
        box: ``(x0, y0, x1, y1)``, end excluded, of every pixel with alpha > 0 (None when no mask pixel).
        alpha: ``float32`` alpha on the box (1 inside the grown masks, 0..1 across the feather); None when empty.
        hard: True when alpha holds only 0 and 1 (no feathering).
        parts: The boxes of the single masks, inside ``box`` (work is done on these, not the whole box).
    """

    box: tuple[int, int, int, int] | None
    alpha: np.ndarray | None
    hard: bool
    parts: tuple[tuple[int, int, int, int], ...] = ()

    def boxes(self) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """``(box, alpha on that box)`` for each part (views of :attr:`alpha`)."""
        if self.box is None or self.alpha is None:
            return []
        ux0, uy0 = self.box[:2]
        return [(b, self.alpha[b[1] - uy0 : b[3] - uy0, b[0] - ux0 : b[2] - ux0]) for b in self.parts or (self.box,)]

    def support(self, shape: tuple[int, int]) -> np.ndarray:
        """A full-frame ``shape`` bool mask of the pixels with alpha > 0."""
        out = np.zeros(shape, bool)
        for (x0, y0, x1, y1), alpha in self.boxes():
            out[y0:y1, x0:x1] |= alpha > 0
        return out

    def alpha_at(self, y: int, x: int) -> float:
        """The alpha of one pixel (0 outside the box)."""
        if self.box is None or self.alpha is None:
            return 0.0
        x0, y0, x1, y1 = self.box
        return float(self.alpha[y - y0, x - x0]) if y0 <= y < y1 and x0 <= x < x1 else 0.0


def soft_region(masks: np.ndarray | Sequence[np.ndarray], *, dilate: int = 0, feather: int = 0) -> SoftRegion:
    """Grow masks by ``dilate`` pixels and fade them out over ``feather`` more, on their bounding boxes only.

    Args:
        masks: ``(H, W)`` bool, or several (one per object): each is grown on its own box (cheaper than
            the box of their union when objects are apart), the results are merged with ``max``.
        dilate: Pixels added around the masks at full strength.
        feather: Pixels of linear fade beyond that.
    """
    dilate, feather = check_growth(dilate, feather)
    items = [masks] if isinstance(masks, np.ndarray) and masks.ndim == 2 else list(masks)
    grow = dilate + feather
    parts: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    for mask in items:
        bb = mask_box(mask)
        if bb is None:
            continue
        h, w = mask.shape
        x0, y0, x1, y1 = max(0, bb[0] - grow), max(0, bb[1] - grow), min(w, bb[2] + grow), min(h, bb[3] + grow)
        crop = mask[y0:y1, x0:x1]
        if grow == 0:
            alpha = crop.astype(np.float32)
        else:
            # distance of every box pixel to the nearest mask pixel (0 on it); DIST_MASK_5 is within ~2% of Euclidean
            dist = cv2.distanceTransform((~crop).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
            if feather == 0:
                alpha = (dist <= dilate + 1e-3).astype(np.float32)
            else:  # 1 - (dist - dilate) / (feather + 1), clipped to 0..1, in place
                alpha = dist
                alpha -= dilate
                alpha *= -1.0 / (feather + 1.0)
                alpha += 1.0
                np.clip(alpha, 0.0, 1.0, out=alpha)
        parts.append(((x0, y0, x1, y1), alpha))
    if not parts:
        return SoftRegion(None, None, True)
    if len(parts) == 1:
        box, alpha = parts[0]
        return SoftRegion(box, alpha, feather == 0)
    ux0, uy0 = min(b[0] for b, _ in parts), min(b[1] for b, _ in parts)
    ux1, uy1 = max(b[2] for b, _ in parts), max(b[3] for b, _ in parts)
    merged = np.zeros((uy1 - uy0, ux1 - ux0), np.float32)
    for (x0, y0, x1, y1), alpha in parts:
        view = merged[y0 - uy0 : y1 - uy0, x0 - ux0 : x1 - ux0]
        np.maximum(view, alpha, out=view)
    return SoftRegion((ux0, uy0, ux1, uy1), merged, feather == 0, tuple(b for b, _ in parts))


def blend_soft(effected: np.ndarray, base_box: np.ndarray, region: SoftRegion) -> np.ndarray:
    """``effected`` with the region's feathered edge mixed back towards ``base_box`` by its alpha (in place).

    Args:
        effected: The full frame with the effect applied to the region's support at full strength.
        base_box: What the frame looks like *outside* the effect on the region's box (the source pixels
            for an effect inside the masks, the dimmed ones for ``dim``).
        region: The soft region.

    Only pixels with 0 < alpha < 1 change: at alpha 1 the effect stands, at alpha 0 inside the box the
    effect's own result stands too (an effect such as ``outline`` may draw just outside its mask).
    """
    if region.box is None or region.alpha is None or region.hard:
        return effected
    ux0, uy0, ux1, uy1 = region.box
    boxes = region.boxes()
    # parts may overlap: each reads the effect's pixels from before any blending, so a pixel blended twice is the same
    source = effected[uy0:uy1, ux0:ux1].copy() if len(boxes) > 1 else effected[uy0:uy1, ux0:ux1]
    for (x0, y0, x1, y1), alpha in boxes:
        weight = np.where(alpha > 0, alpha, np.float32(1.0))  # alpha 0: the effect's own pixels stand
        rows, cols = slice(y0 - uy0, y1 - uy0), slice(x0 - ux0, x1 - ux0)
        effected[y0:y1, x0:x1] = cv2.blendLinear(
            np.ascontiguousarray(source[rows, cols]), np.ascontiguousarray(base_box[rows, cols]), weight, 1.0 - weight
        )
    return effected
