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

from .errors import AnnotatorError, PromptError
from .rle import RLE

__all__ = [
    "ActionSegment",
    "Annotation",
    "Box",
    "Caption",
    "Detection",
    "HandPose",
    "MaskWarning",
    "ObjectInfo",
    "PersonPose",
    "Point",
    "Prompt",
    "Source",
    "box_iou",
    "check_frame",
    "color_for",
    "frame_range",
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
        raise PromptError(
            f"{name} must be a number", given=value, hint="coordinates are numbers in video pixels"
        ) from exc
    if not math.isfinite(v):
        raise PromptError(f"{name} must be finite", given=value, hint="NaN and infinity are not pixel positions")
    return v


def _frame_index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise PromptError("frame must be a non-negative integer", given=value, hint="frames count from 0")
    return int(value)


def check_frame(frame: Any, num_frames: int, *, what: str = "frame", error: type[AnnotatorError] = PromptError) -> int:
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


def box_iou(a: Any, b: Any) -> np.ndarray:
    """The IoU of every box in ``a`` with every box in ``b``: ``(N, 4)`` x ``(M, 4)`` -> ``(N, M)``.

    The one box IoU of the package (boxes ``x0, y0, x1, y1``); empty boxes have IoU 0.

    Example:
        >>> box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]).round(3).tolist()
        [[0.333, 0.0]]
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def frame_range(start: int | None, stop: int | None, num_frames: int, *, reverse: bool = False) -> range:
    """The frames from ``start`` (included) to ``stop`` (excluded) in the direction of travel.

    This is the one convention for frame ranges everywhere (propagation, rendering, exports,
    action segments and their SQL columns): exactly Python's ``range(start, stop, step)`` with
    ``step`` = 1, or -1 when ``reverse``. ``start=None`` is the first frame in the direction of
    travel (0, or the last frame when reversed); ``stop=None`` runs to the end of the video in
    that direction (``num_frames``, or -1 when reversed, so frame 0 is included).

    Example:
        >>> list(frame_range(2, 5, 10)), list(frame_range(3, None, 10, reverse=True))
        ([2, 3, 4], [3, 2, 1, 0])
        >>> frame_range(5, 2, 10)
        Traceback (most recent call last):
        ...
        annotator_widgets.errors.PromptError: an empty frame range: ...
    """
    step = -1 if reverse else 1
    first = (num_frames - 1 if reverse else 0) if start is None else check_frame(start, num_frames, what="start frame")
    end = (-1 if reverse else num_frames) if stop is None else int(stop)
    if isinstance(stop, bool) or not -1 <= end <= num_frames:
        raise PromptError(
            f"stop frame out of range for a {num_frames}-frame video", given=stop, hint=f"use -1..{num_frames}"
        )
    if (end - first) * step <= 0:
        raise PromptError(
            "an empty frame range: stop must be after start in the direction of travel",
            given=(first, end),
            hint="forward ranges need start < stop, backward ones start > stop",
        )
    return range(first, end, step)


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
        if isinstance(self.label, float | np.floating) or self.label not in (0, 1):
            raise PromptError(
                "Point.label must be 1 (positive) or 0 (negative)",
                given=self.label,
                hint="label clicks on the object 1 and clicks on the background 0",
            )
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
        """Intersection over union with another box (:func:`box_iou` of the two)."""
        return float(box_iou(np.array([self.xyxy]), np.array([other.xyxy]))[0, 0])

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
    SAM2 receives the whole prompt each time, box first. ``text`` is the phrase that
    produced the box or mask (a text-created object), "" for clicks; segmenters ignore it.
    """

    frame: int
    obj_id: int
    points: tuple[Point, ...] = ()
    box: Box | None = None
    mask: RLE | None = None
    text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        if not isinstance(self.text, str):
            raise PromptError("Prompt.text must be a string", given=type(self.text).__name__)
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
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

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
    """A span of frames in which a person does something with an object.

    The span is ``start`` (included) to ``stop`` (excluded), like every frame range
    (:func:`frame_range`): a one-frame segment on frame 7 is ``ActionSegment(7, 8, ...)``.
    """

    start: int
    stop: int
    label: str
    person_id: int | None = None
    obj_id: int | None = None
    description: str = ""
    score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _frame_index(self.start))
        object.__setattr__(self, "stop", _frame_index(self.stop))
        if self.stop <= self.start:
            raise PromptError(
                "ActionSegment.stop must be > start (stop is excluded)",
                given=(self.start, self.stop),
                hint="a segment covering frames a..b inclusive is ActionSegment(a, b + 1, ...)",
            )
        if self.person_id is not None:
            object.__setattr__(self, "person_id", _obj_id(self.person_id))
        if self.obj_id is not None:
            object.__setattr__(self, "obj_id", _obj_id(self.obj_id))

    @property
    def frames(self) -> range:
        """The frames of the segment."""
        return range(self.start, self.stop)


@dataclass(frozen=True)
class Detection:
    """What a model said about one region of one frame: a box with a score for a phrase or class.

    Stored in the project as the model said it, so re-rendering or exporting never re-runs the model.

    Attributes:
        frame: Frame index.
        box: The box in video pixels, clipped to the frame.
        score: The model's confidence in 0..1.
        label: The phrase or class the box answers ("red mug", "face", "person").
        model: Which part produced it (a registry name such as ``"owlv2"``), "" if unknown.
        obj_id: The object it was accepted as, or None (a candidate, not accepted or rejected yet).
        meta: Anything else the model said (JSON-serialisable: landmarks, class ids, prompt text).
    """

    frame: int
    box: Box
    score: float
    label: str
    model: str = ""
    obj_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        if not isinstance(self.box, Box):
            object.__setattr__(self, "box", Box.from_corners(*[float(v) for v in self.box]))
        score = _finite("Detection.score", self.score)
        if not 0.0 <= score <= 1.0:
            raise PromptError("Detection.score must be in 0..1", given=score)
        object.__setattr__(self, "score", score)
        if self.obj_id is not None:
            object.__setattr__(self, "obj_id", _obj_id(self.obj_id))


@dataclass(frozen=True)
class Caption:
    """A description of an object (or, with ``obj_id`` 0, of the whole frame) on one frame.

    Attributes:
        frame: Frame index.
        obj_id: The object described, or 0 for the whole frame.
        text: The description.
        model: The captioner that wrote it ("" when a person typed it).
        prompt: The question asked ("" for a plain caption).
        edited: True once a person changed the model's text.
    """

    frame: int
    obj_id: int
    text: str
    model: str = ""
    prompt: str = ""
    edited: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        if self.obj_id != 0:
            object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        if not isinstance(self.text, str):
            raise PromptError("Caption.text must be a string", given=type(self.text).__name__)


@dataclass(frozen=True, eq=False)
class HandPose:
    """One hand on one frame: 21 landmarks (MediaPipe's hand topology) and which hand it is.

    Attributes:
        frame: Frame index.
        person_id: The tracked person it belongs to (assigned by wrist proximity), or None.
        handedness: ``"left"`` or ``"right"`` (the person's own left/right).
        landmarks: ``(21, 3)`` x, y in video pixels and visibility (or presence) in 0..1.
        world_landmarks: ``(21, 3)`` metres, or None.
        score: The handedness / presence confidence in 0..1.
    """

    frame: int
    person_id: int | None
    handedness: str
    landmarks: np.ndarray
    world_landmarks: np.ndarray | None = None
    score: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        if self.person_id is not None:
            object.__setattr__(self, "person_id", _obj_id(self.person_id))
        if self.handedness not in ("left", "right"):
            raise PromptError("HandPose.handedness must be 'left' or 'right'", given=self.handedness)
        lm = np.asarray(self.landmarks, np.float32)
        if lm.ndim != 2 or lm.shape[1] != 3:
            raise PromptError("HandPose.landmarks must be (N, 3): x, y, visibility", given=lm.shape)
        object.__setattr__(self, "landmarks", lm)
        if self.world_landmarks is not None:
            wl = np.asarray(self.world_landmarks, np.float32)
            if wl.shape != (lm.shape[0], 3):
                raise PromptError("HandPose.world_landmarks must match landmarks", given=wl.shape)
            object.__setattr__(self, "world_landmarks", wl)

    def box(self) -> Box:
        """The box around the hand's landmarks."""
        x0, y0 = self.landmarks[:, 0].min(), self.landmarks[:, 1].min()
        x1, y1 = self.landmarks[:, 0].max(), self.landmarks[:, 1].max()
        return Box(float(x0), float(y0), float(max(x1, x0 + 1)), float(max(y1, y0 + 1)))


@dataclass(frozen=True)
class MaskWarning:
    """A problem noticed with one object's mask on one frame (an empty or near-empty result of a prompt
    or a propagation), kept in the project until that mask is replaced.

    Attributes:
        frame: Frame index.
        obj_id: The object whose mask it is.
        kind: A short machine-readable kind such as ``"empty_mask"`` or ``"small_mask"``.
        message: What happened, for people.
    """

    frame: int
    obj_id: int
    kind: str
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame_index(self.frame))
        object.__setattr__(self, "obj_id", _obj_id(self.obj_id))
        if not isinstance(self.kind, str) or not self.kind:
            raise PromptError("MaskWarning.kind must be a non-empty string", given=self.kind)
        if not isinstance(self.message, str):
            raise PromptError("MaskWarning.message must be a string", given=type(self.message).__name__)
