"""The small typed core: prompts (what the user said) and annotations (what was produced).

All records are frozen dataclasses validated at construction. Coordinates are
video pixels: x to the right, y down, origin at the top-left corner.

Example:
    >>> from annotator_widgets.types import Point, Prompt
    >>> p = Prompt(frame=0, obj_id=1, points=(Point(10, 20), Point(30, 40, label=0)))
    >>> [pt.label for pt in p.points]
    [1, 0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from .errors import PromptError
from .rle import RLE

__all__ = [
    "ActionSegment",
    "Annotation",
    "Box",
    "ObjectInfo",
    "PersonPose",
    "Point",
    "Prompt",
    "Source",
    "check_frame",
    "color_for",
]

POSITIVE = 1
NEGATIVE = 0

# Colour-blind friendly palette (Okabe-Ito, then Tableau), RGB.
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
)


def color_for(obj_id: int) -> tuple[int, int, int]:
    """The stable default RGB colour of an object id."""
    return _PALETTE[(int(obj_id) - 1) % len(_PALETTE)]


def _finite(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"{name} must be a number", given=value) from exc
    if not math.isfinite(v):
        raise PromptError(f"{name} must be finite", given=value)
    return v


def _frame_index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise PromptError("frame must be a non-negative integer", given=value, hint="frames count from 0")
    return int(value)


def check_frame(frame: Any, num_frames: int, *, what: str = "frame", error: type[Exception] = PromptError) -> int:
    """``frame`` as an int in ``0..num_frames - 1``, or ``error`` saying what was given and the valid range.

    Example:
        >>> check_frame(3, 10)
        3
        >>> check_frame(10, 10, what="start frame")
        Traceback (most recent call last):
        ...
        annotator_widgets.errors.PromptError: start frame out of range for a 10-frame video (given: 10). Fix: use 0..9
    """
    if isinstance(frame, bool) or not isinstance(frame, int | np.integer) or not 0 <= frame < num_frames:
        raise error(f"{what} out of range for a {num_frames}-frame video", given=frame, hint=f"use 0..{num_frames - 1}")
    return int(frame)


def _obj_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise PromptError(
            "obj_id must be a positive integer",
            given=value,
            hint="create objects with project.add_object() and use the id it returns",
        )
    return int(value)


class Source(str, Enum):
    """Where an annotation came from."""

    PROMPTED = "prompted"
    PROPAGATED = "propagated"
    EDITED = "edited"
    IMPORTED = "imported"


@dataclass(frozen=True)
class Point:
    """A click in video pixels; ``label`` 1 is positive (on the object), 0 negative."""

    x: float
    y: float
    label: int = POSITIVE

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _finite("Point.x", self.x))
        object.__setattr__(self, "y", _finite("Point.y", self.y))
        if self.label not in (0, 1) or isinstance(self.label, float):
            raise PromptError("Point.label must be 1 (positive) or 0 (negative)", given=self.label)
        object.__setattr__(self, "label", int(self.label))

    @property
    def positive(self) -> bool:
        """True for a positive (foreground) click."""
        return self.label == POSITIVE


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``(x0, y0)``-``(x1, y1)`` in video pixels, ``x1 > x0``, ``y1 > y0``."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            object.__setattr__(self, name, _finite(f"Box.{name}", getattr(self, name)))
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise PromptError(
                "a Box needs x1 > x0 and y1 > y0",
                given=(self.x0, self.y0, self.x1, self.y1),
                hint="pass corners as (x0, y0, x1, y1), or use Box.from_corners for a drag in any direction",
            )

    @classmethod
    def from_corners(cls, xa: float, ya: float, xb: float, yb: float) -> Box:
        """A box from two opposite corners in any order."""
        return cls(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))

    @classmethod
    def from_mask(cls, mask: np.ndarray | RLE) -> Box | None:
        """The tight box around a mask, or None for an empty mask."""
        rle = mask if isinstance(mask, RLE) else RLE.from_mask(mask)
        bb = rle.bbox
        return None if bb is None else cls(*bb)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``."""
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        """``(x, y, width, height)`` as COCO writes boxes."""
        return (self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        """Width times height."""
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    @property
    def center(self) -> tuple[float, float]:
        """The centre point ``(x, y)``."""
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def iou(self, other: Box) -> float:
        """Intersection over union with another box."""
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: int, height: int) -> Box | None:
        """This box clipped to an image; None if nothing is left."""
        x0, y0 = min(max(self.x0, 0.0), width), min(max(self.y0, 0.0), height)
        x1, y1 = min(max(self.x1, 0.0), width), min(max(self.y1, 0.0), height)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1, y1)


@dataclass(frozen=True)
class Prompt:
    """Everything the user said about one object on one frame.

    Points accumulate (each click adds one); a box and a mask are optional.
    SAM2 receives the whole prompt each time, box first.
    """

    frame: int
    obj_id: int
    points: tuple[Point, ...] = ()
    box: Box | None = None
    mask: RLE | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        pts = tuple(self.points)
        for p in pts:
            if not isinstance(p, Point):
                raise PromptError("Prompt.points must hold Point objects", given=p)
        object.__setattr__(self, "points", pts)
        if self.box is not None and not isinstance(self.box, Box):
            raise PromptError("Prompt.box must be a Box", given=self.box)
        if self.mask is not None and not isinstance(self.mask, RLE):
            raise PromptError("Prompt.mask must be an RLE", given=type(self.mask).__name__)
        if not pts and self.box is None and self.mask is None:
            raise PromptError(
                "a Prompt needs at least one point, a box or a mask",
                given=(self.frame, self.obj_id),
            )

    @property
    def is_empty(self) -> bool:
        """Never true for a constructed prompt; kept for symmetry with lookups."""
        return False

    def point_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(coords (N, 2) float32, labels (N,) int32)`` as SAM2 expects them."""
        coords = np.array([(p.x, p.y) for p in self.points], np.float32).reshape(-1, 2)
        labels = np.array([p.label for p in self.points], np.int32)
        return coords, labels


@dataclass(frozen=True)
class ObjectInfo:
    """An object (a masklet's identity): a global id that is never reused."""

    obj_id: int
    name: str = ""
    category: str = ""
    color: tuple[int, int, int] = (0, 0, 0)
    hidden: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        if len(self.color) != 3 or any(not 0 <= int(c) <= 255 for c in self.color):
            raise PromptError("ObjectInfo.color must be three ints in 0..255", given=self.color)
        object.__setattr__(self, "color", tuple(int(c) for c in self.color))

    @property
    def label(self) -> str:
        """A display label such as ``"3 mug"``."""
        text = self.name or self.category
        return f"{self.obj_id} {text}".strip()


@dataclass(frozen=True)
class Annotation:
    """What a model or a person produced for one object on one frame."""

    frame: int
    obj_id: int
    rle: RLE
    score: float | None = None
    source: Source = Source.PROPAGATED

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        if not isinstance(self.rle, RLE):
            raise PromptError("Annotation.rle must be an RLE", given=type(self.rle).__name__)
        if self.score is not None:
            object.__setattr__(self, "score", _finite("Annotation.score", self.score))
        object.__setattr__(self, "source", Source(self.source))

    @property
    def mask(self) -> np.ndarray:
        """The decoded ``(height, width)`` boolean mask."""
        return self.rle.to_mask()

    @property
    def box(self) -> Box | None:
        """The tight box around the mask (derived, never stored), or None when empty."""
        bb = self.rle.bbox
        return None if bb is None else Box(*bb)

    @property
    def area(self) -> int:
        """Foreground pixel count."""
        return self.rle.area


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One tracked person on one frame.

    Attributes:
        frame: Frame index.
        person_id: Stable object id of this person across the video.
        landmarks: ``(33, 3)`` array of x, y in video pixels and visibility in 0..1.
        world_landmarks: ``(33, 3)`` metres (hip-centred), or None.
        score: Mean landmark visibility (or presence).
    """

    frame: int
    person_id: int
    landmarks: np.ndarray
    world_landmarks: np.ndarray | None = None
    score: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        object.__setattr__(self, "person_id", _obj_id(self.person_id))
        lm = np.asarray(self.landmarks, np.float32)
        if lm.ndim != 2 or lm.shape[1] != 3:
            raise PromptError("PersonPose.landmarks must be (N, 3): x, y, visibility", given=lm.shape)
        object.__setattr__(self, "landmarks", lm)
        if self.world_landmarks is not None:
            wl = np.asarray(self.world_landmarks, np.float32)
            if wl.shape != (lm.shape[0], 3):
                raise PromptError("PersonPose.world_landmarks must match landmarks", given=wl.shape)
            object.__setattr__(self, "world_landmarks", wl)

    def box(self, min_visibility: float = 0.0) -> Box | None:
        """Box around landmarks with visibility >= ``min_visibility`` (None if none qualify)."""
        sel = self.landmarks[self.landmarks[:, 2] >= min_visibility]
        if len(sel) == 0:
            return None
        x0, y0 = sel[:, 0].min(), sel[:, 1].min()
        x1, y1 = sel[:, 0].max(), sel[:, 1].max()
        return Box(float(x0), float(y0), float(max(x1, x0 + 1)), float(max(y1, y0 + 1)))


@dataclass(frozen=True)
class ActionSegment:
    """A span of frames in which a person does something with an object."""

    start: int
    end: int
    label: str
    person_id: int | None = None
    obj_id: int | None = None
    description: str = ""
    score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _frame_index(self.start))
        object.__setattr__(self, "end", _frame_index(self.end))
        if self.end < self.start:
            raise PromptError("ActionSegment.end must be >= start", given=(self.start, self.end))
        if self.person_id is not None:
            object.__setattr__(self, "person_id", _obj_id(self.person_id))
        if self.obj_id is not None:
            object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
