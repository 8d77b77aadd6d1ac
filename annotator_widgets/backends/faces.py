"""Faces as a grounder: MediaPipe's short-range BlazeFace detector behind the :class:`Grounder` protocol.

:class:`MediaPipeFaceDetector` answers one kind of phrase - faces - with boxes in image
pixels, clipped to the image, after a score threshold, non-maximum suppression, a minimum
size and top-k, like every grounder. It needs no download beyond the mediapipe wheel on
PyPI (see :mod:`.face_bundle`).

**Which phrases it answers.** A phrase is a face phrase when, lower-cased, trimmed and without
a leading "a"/"an"/"the", it is one of :data:`FACE_PHRASES` ("face", "faces", "human face",
"human faces"). Face phrases get every face found; other phrases get nothing. When *no*
phrase is a face phrase the detector raises :class:`~annotator_widgets.errors.NotFoundError`
(it cannot look for anything else); when some are, the others are named in a warning. An
image without a face gives an empty list, as every grounder does for an empty frame.

**Small faces.** The short-range model sees the image letterboxed to 128x128 and finds a face
when it is at least 1/8 of what it sees (16 of its 128 pixels; measured on pasted real faces:
every 16-px face in a 128-px region scores 0.7 or more, 12-px faces mostly under 0.5). So the
detector also runs on overlapping square tiles chosen from ``min_face`` (default 16 px): the
finest are ``8 * min_face`` wide, coarser levels grow by at most 3x up to the whole image
(:func:`tile_grid`). The tiles follow the face width in pixels, not the frame: a 720p frame gets
more tiles than a 360p one. Boxes cut by a tile's inner edge are dropped (the overlapping tile
sees the whole face); a face found on a coarse level must be found again by a finer tile that
holds it (two small faces side by side otherwise read as one big face on the letterboxed
frame); the rest are merged by NMS. ``tiles=`` gives the older levels relative to the frame
(``tiles=0``: the whole image only, fastest).

**Threshold.** False faces (pavement, car windows, a cartoon's face) mostly score 0.5-0.7; clean
real faces the model sees at 16 px or more score 0.75-0.96, but real faces on real footage can
score less (the helmeted cyclist of ``bikes.mp4``, about 30 px: 0.5-0.78). The default 0.7 finds
every pasted face 20-120 px wide and the cyclist (on key frame 130 of ``auto --text faces``, then
tracked back through his shot), at about one false box per ten face-free frames (0.70-0.76, on
pavement); 0.75 halves the false boxes and loses the cyclist. See ``benchmarks/bench_faces.py``.

Example:
    >>> import numpy as np
    >>> from annotator_widgets.backends.faces import MediaPipeFaceDetector, is_face_phrase
    >>> is_face_phrase("A face"), is_face_phrase("person")
    (True, False)
    >>> with MediaPipeFaceDetector(threshold=0.5) as det:  # doctest: +SKIP
    ...     boxes = det.detect(np.zeros((360, 640, 3), np.uint8), ["face"])
    >>> boxes  # doctest: +SKIP
    []
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError, CheckpointError, NotFoundError
from ..types import Box, box_iou
from ._optional import require
from .protocols import GroundingBox

__all__ = [
    "DEFAULT_MIN_FACE",
    "DEFAULT_THRESHOLD",
    "FACE_PHRASES",
    "MediaPipeFaceDetector",
    "is_face_phrase",
    "resolve_face_model",
    "tile_grid",
]

log = logging.getLogger(__name__)

#: the phrases the face detector answers (after lower-casing, trimming and dropping a leading article)
FACE_PHRASES = frozenset({"face", "faces", "human face", "human faces"})
#: the narrowest face (pixels) the detector looks for by default (see :func:`tile_grid`)
DEFAULT_MIN_FACE = 16.0
#: the lowest face score kept by default (see the module docstring)
DEFAULT_THRESHOLD = 0.7
#: the input size of the only face model the Tasks FaceDetector decodes correctly
_INPUT_SIDE = 128
#: tiles smaller than this are not worth running
_MIN_TILE = 64
#: the model finds faces from 1/8 of the region it sees (16 of its 128 input pixels) up
_SEEN_FRACTION_INV = 8
#: tile levels shrink by at most this factor (a level finds faces from 3/8 of the next finer side)
_LEVEL_RATIO = 3.0
#: a box within this many pixels of a tile's inner edge is taken as cut by it
_EDGE_PX = 2
#: a coarse-level face is confirmed by a finer tile's face overlapping it by this IoU
_CONFIRM_IOU = 0.2
#: ... by a finer tile that holds it whole at no more than this fraction of its side (the model sees such faces well)
_JUDGE_FRACTION = 0.6
#: ... with this fraction of the box's side to spare on every side (a face found whole, not cut by the edge)
_JUDGE_MARGIN = 0.25


def is_face_phrase(phrase: str) -> bool:
    """Whether the face detector answers ``phrase`` (see :data:`FACE_PHRASES`).

    Example:
        >>> [is_face_phrase(p) for p in ("faces", " The Face ", "human face", "a person", "face mask")]
        [True, True, True, False, False]
    """
    words = str(phrase).strip().lower().split()
    if words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words) in FACE_PHRASES


def _positions(length: int, side: int) -> list[int]:
    """Start offsets of tiles of ``side`` covering ``length`` with at least half a tile of overlap."""
    if side >= length:
        return [0]
    n = math.ceil((length - side) / (side / 2)) + 1
    return [round(i * (length - side) / (n - 1)) for i in range(n)]


def tile_grid(
    width: int, height: int, levels: int = 1, min_face: float | None = None
) -> list[list[tuple[int, int, int, int]]]:
    """The regions the detector runs on, coarse to fine: the whole image, then levels of square tiles.

    With ``min_face`` (pixels), the levels are chosen to find faces that wide: the model finds a
    face when it is at least 1/8 of the region it sees (16 of its 128 pixels: measured, every pasted
    face 16 px wide in a 128-px region scores 0.7 or more, 14 px faces 0.13 of them), so the finest
    tiles are ``8 * min_face`` wide; levels in between shrink by at most 3x (a tile holds whole every
    face up to half its side, and the next coarser level finds faces from 3/8 of this side up).
    Without it, ``levels`` sizes of tiles: the image's shorter side (half of it for a square
    image), each further level half the previous one. Tiles of a level overlap by at least half a
    tile; sizes under 64 px are skipped.

    Example:
        >>> tile_grid(640, 360)
        [[(0, 0, 640, 360)], [(0, 0, 360, 360), (140, 0, 500, 360), (280, 0, 640, 360)]]
        >>> [len(level) for level in tile_grid(640, 360, levels=2)], len(tile_grid(640, 360, levels=0))
        ([1, 3, 21], 1)
        >>> [level[0][2] for level in tile_grid(640, 272, min_face=20)]  # tile sides: the finest is 8 x 20
        [640, 272, 160]
        >>> len(tile_grid(640, 360, min_face=80))  # the whole image finds faces of 640 / 8 px and up
        1
    """
    grid = [[(0, 0, int(width), int(height))]]
    if min_face is not None:
        sides = _sides_for(int(width), int(height), float(min_face))
    else:
        side = min(width, height) // (2 if width == height else 1)
        sides = [side // 2**k for k in range(max(0, int(levels)))]
    for side in sides:
        if side < _MIN_TILE:
            break
        grid.append([(x, y, x + side, y + side) for y in _positions(height, side) for x in _positions(width, side)])
    return grid


def _sides_for(width: int, height: int, min_face: float) -> list[int]:
    """Tile sides, coarse to fine, so that a face ``min_face`` wide is 1/8 of the finest tile."""
    longest, shortest = max(width, height), min(width, height)
    finest = max(_MIN_TILE, math.ceil(_SEEN_FRACTION_INV * min_face))
    if finest >= longest:
        return []
    n = math.ceil(math.log(longest / finest) / math.log(_LEVEL_RATIO))
    sides = [round(longest * (finest / longest) ** (i / n)) for i in range(1, n + 1)]
    out: list[int] = []
    for side in sides:
        side = min(side, shortest // (2 if width == height else 1))
        if not out or side < out[-1]:
            out.append(side)
    return out


def resolve_face_model(model: str | os.PathLike[str] | None = None) -> Path:
    """The ``.tflite`` face detector to load.

    Args:
        model: A path, a checkpoint registry name, or None: Google's official
            ``blaze_face_short_range`` when it is on disk, else the one taken from the
            mediapipe wheel when it is on disk, else ``checkpoints.fetch("blaze_face_short_range")``
            (downloads the official file, or takes it from the wheel offline).

    Raises:
        CheckpointError: The path does not exist or the registry entry cannot be fetched.
    """
    from .. import checkpoints

    if model is None:
        for name in ("blaze_face_short_range", "face_detector_short_range_wheel"):
            if checkpoints.find_local(name) is not None:
                return checkpoints.fetch(name, progress=False)
        return checkpoints.fetch("blaze_face_short_range", progress=False)
    if isinstance(model, str) and model in checkpoints.REGISTRY:
        return checkpoints.fetch(model, progress=False)
    path = Path(model).expanduser()
    if not path.is_file():
        raise CheckpointError(
            "face model not found",
            given=str(model),
            hint="pass a .tflite file or a registry name: "
            + ", ".join(n for n, c in checkpoints.REGISTRY.items() if c.family == "face"),
        )
    return path


def _check_short_range(path: Path) -> None:
    """Refuse what the Tasks FaceDetector cannot decode: it hard-codes the 128x128 short-range anchors."""
    from mediapipe.tasks.metadata import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
        graph = model.Subgraphs(0)
        shape = graph.Tensors(graph.Inputs(0)).ShapeAsNumpy().tolist()
    except Exception as exc:  # a flatbuffer parser meets arbitrary bytes: any failure means "not a model"
        raise BackendError(
            "MediaPipe cannot load the face model", given=str(path), hint="pass a .tflite face detector"
        ) from exc
    if list(shape)[1:3] != [_INPUT_SIDE, _INPUT_SIDE]:
        raise BackendError(
            "the MediaPipe face detector decodes only 128x128 short-range BlazeFace models",
            given=f"{path.name}: input shape {shape}",
            hint="use 'blaze_face_short_range' or 'face_detector_short_range_wheel'; for small faces "
            "raise tiles= instead of using the full-range model (the task decodes it with the wrong anchors)",
        )


def _unit(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise BackendError(f"{name} must lie in 0..1", given=value)
    return v


class MediaPipeFaceDetector:
    """BlazeFace (short range) as a :class:`~annotator_widgets.backends.Grounder` for the phrase "face".

    Args:
        model: A ``.tflite`` path, a registry name, or None (see :func:`resolve_face_model`).
        threshold: Minimum face score in 0..1 (see the module docstring for why 0.7).
        nms_iou: Boxes overlapping a better one by more than this IoU are dropped (within a
            tile by MediaPipe's weighted NMS, across tiles by plain NMS).
        top_k: Most faces returned (best first).
        min_size: Smallest box side kept, in pixels.
        tiles: Levels of square tiles relative to the image (see :func:`tile_grid`); 0 runs
            on the whole image only (fastest, faces wider than ~1/8 of the longer side). Give
            ``tiles`` or ``min_face``, not both.
        min_face: The narrowest face to find, in pixels (default :data:`DEFAULT_MIN_FACE` when
            ``tiles`` is not given): the tiles are chosen so that such a face is 1/8 of the finest.
            Cost grows as ``1 / min_face**2`` (at 16 px: 41 model runs on a 640x272 frame, 263
            at 1280x720).

    Example:
        >>> det = MediaPipeFaceDetector(threshold=0.6, tiles=2)  # doctest: +SKIP
        >>> [(b.box.xyxy, round(b.score, 2)) for b in det.detect(frame, ["faces"])]  # doctest: +SKIP
        >>> det.close()  # doctest: +SKIP
    """

    name = "mediapipe-face"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        nms_iou: float = 0.3,
        top_k: int = 20,
        min_size: float = 0.0,
        tiles: int | None = None,
        min_face: float | None = None,
    ) -> None:
        self.threshold = _unit("threshold", threshold)
        self.nms_iou = _unit("nms_iou", nms_iou)
        for label, v in (("top_k", top_k), ("tiles", 0 if tiles is None else tiles)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < (1 if label == "top_k" else 0):
                raise BackendError(f"{label} must be an integer >= {1 if label == 'top_k' else 0}", given=v)
        if tiles is not None and min_face is not None:
            raise BackendError(
                "give tiles or min_face, not both",
                given={"tiles": tiles, "min_face": min_face},
                hint="min_face (pixels) chooses the tiles itself",
            )
        if tiles is None and min_face is None:
            min_face = DEFAULT_MIN_FACE
        if min_face is not None and (
            isinstance(min_face, bool)
            or not isinstance(min_face, int | float | np.number)
            or not (math.isfinite(min_face) and min_face > 0)
        ):
            raise BackendError("min_face must be a width in pixels > 0", given=min_face)
        self.top_k = int(top_k)
        self.tiles = None if tiles is None else int(tiles)
        self.min_face = None if min_face is None else float(min_face)
        if not np.isfinite(min_size) or min_size < 0:
            raise BackendError("min_size must be a number of pixels >= 0", given=min_size)
        self.min_size = float(min_size)
        mp = require("mediapipe", purpose="face detection")
        self.model_path = resolve_face_model(model)
        _check_short_range(self.model_path)
        vision = mp.tasks.vision
        options = vision.FaceDetectorOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=self.threshold,
            min_suppression_threshold=self.nms_iou,
        )
        try:
            self._detector: Any = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(
                "MediaPipe cannot load the face model",
                given=str(self.model_path),
                hint="use blaze_face_short_range.tflite or the file from "
                "`python -m annotator_widgets.checkpoints fetch face_detector_short_range_wheel`",
            ) from exc
        self._mp = mp

    # ------------------------------------------------------------------ protocol
    def detect(self, image: np.ndarray, phrases: Sequence[str] | str) -> list[GroundingBox]:
        """Faces on an RGB image, best first, for the face phrases among ``phrases``.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            phrases: What to look for; only face phrases are answered (see :func:`is_face_phrase`).

        Returns:
            One :class:`GroundingBox` per face, labelled with the first face phrase given;
            empty when the image shows no face.

        Raises:
            NotFoundError: No phrase is a face phrase.
            BackendError: The image is not ``(H, W, 3)`` uint8, or the detector is closed.
        """
        asked = [phrases] if isinstance(phrases, str) else [str(p) for p in phrases]
        faces = [p for p in asked if is_face_phrase(p)]
        if not faces:
            raise NotFoundError(
                "the mediapipe-face grounder finds only faces",
                given=asked,
                hint="ask for 'face' or 'faces', or use a text grounder for other things",
            )
        others = [p for p in asked if not is_face_phrase(p)]
        if others:
            log.warning("mediapipe-face answers only faces; no boxes for %s", others)
        return [GroundingBox(box, score, faces[0]) for box, score in self.detect_faces(image)]

    def detect_faces(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """``(box, score)`` of every face on an RGB image, best first, after all filters."""
        if self._detector is None:
            raise BackendError("the face detector is closed", given=repr(self), hint="create a new one")
        arr = np.asarray(image)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise BackendError("image must be an (H, W, 3) uint8 RGB array", given=(arr.shape, str(arr.dtype)))
        h, w = arr.shape[:2]
        grid = tile_grid(w, h, self.tiles or 0, min_face=self.min_face)
        found = [[self._run_tile(arr, rect) for rect in level] for level in grid]
        boxes: list[tuple[float, float, float, float]] = []
        scores: list[float] = []
        for lvl, level in enumerate(found):
            for tile_dets in level:
                for box, score in tile_dets:
                    if lvl + 1 == len(grid) or _confirmed(box, grid[lvl + 1], found[lvl + 1]):
                        boxes.append(box)
                        scores.append(score)
        keep = _nms(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores), self.nms_iou)
        out = []
        for i in keep:
            x0, y0, x1, y1 = boxes[i]
            if min(x1 - x0, y1 - y0) >= self.min_size:
                out.append((Box(x0, y0, x1, y1), scores[i]))
        return out[: self.top_k]

    def _run_tile(
        self, arr: np.ndarray, rect: tuple[int, int, int, int]
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Faces in one region, in image pixels, without those cut by the region's inner edges."""
        h, w = arr.shape[:2]
        x0, y0, x1, y1 = rect
        crop = np.ascontiguousarray(arr[y0:y1, x0:x1])
        result = self._detector.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=crop))
        out = []
        for det in result.detections or []:
            bb = det.bounding_box
            bx0, by0 = max(x0, x0 + bb.origin_x), max(y0, y0 + bb.origin_y)
            bx1, by1 = min(x1, x0 + bb.origin_x + bb.width), min(y1, y0 + bb.origin_y + bb.height)
            cut = (
                (x0 > 0 and bx0 <= x0 + _EDGE_PX)
                or (y0 > 0 and by0 <= y0 + _EDGE_PX)
                or (x1 < w and bx1 >= x1 - _EDGE_PX)
                or (y1 < h and by1 >= y1 - _EDGE_PX)
            )
            score = float(det.categories[0].score) if det.categories else 0.0
            if bx1 > bx0 and by1 > by0 and not cut and score >= self.threshold:
                out.append(((float(bx0), float(by0), float(bx1), float(by1)), score))
        return out

    def close(self) -> None:
        """Release the model (idempotent)."""
        det, self._detector = getattr(self, "_detector", None), None
        if det is not None:
            det.close()

    def __enter__(self) -> MediaPipeFaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MediaPipeFaceDetector({self.model_path.name!r}, threshold={self.threshold:g}, "
            f"nms_iou={self.nms_iou:g}, top_k={self.top_k}, min_size={self.min_size:g}, "
            + (f"tiles={self.tiles})" if self.min_face is None else f"min_face={self.min_face:g})")
        )


def _confirmed(
    box: tuple[float, float, float, float],
    finer: list[tuple[int, int, int, int]],
    finer_found: list[list[tuple[tuple[float, float, float, float], float]]],
) -> bool:
    """Whether a face found on a coarser level survives the next finer one.

    Where a finer tile holds the whole box, a quarter of its side off every edge, at a size the
    model sees well (at most 0.6 of the tile), that tile must have found an overlapping face too
    (without the margin, the finer tile's box of a face half its size touched its edge, was
    dropped as cut, and the face was lost: 4 of 32 80-px faces with ``min_face=20``). This drops the short-range
    model's typical false positive on a letterboxed frame: two small faces side by side read
    as the eyes of one big face.
    """
    x0, y0, x1, y1 = box
    m = _JUDGE_MARGIN * max(x1 - x0, y1 - y0)  # the finer tile's own box may be larger: keep it off the edges
    judges = [
        k
        for k, (tx0, ty0, tx1, ty1) in enumerate(finer)
        if tx0 <= x0 - m
        and ty0 <= y0 - m
        and x1 + m <= tx1
        and y1 + m <= ty1
        and max(x1 - x0, y1 - y0) <= _JUDGE_FRACTION * (tx1 - tx0)
    ]
    if not judges:
        return True
    others = [b for k in judges for b, _ in finer_found[k]]
    return bool(others) and float(box_iou(box, others).max()) >= _CONFIRM_IOU


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        i = int(order.pop(0))
        keep.append(i)
        if order:
            overlaps = box_iou(boxes[i], boxes[order])[0]
            order = [j for j, o in zip(order, overlaps, strict=True) if o <= iou]
    return keep
