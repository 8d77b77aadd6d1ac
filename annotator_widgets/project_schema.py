"""The project's tables (schema version 2): one declaration each, with its record <-> row hooks.

Every column list the project reads, writes or logs for undo comes from here. A column that holds
an object id declares ``references="objects"`` and what removing the object does to its row
(``"delete"`` it, or set the link to ``"null"``), so :meth:`Project.remove_object` stays complete
when a table is added.

Frame ranges follow the package's one convention (start included, stop excluded), also in
``actions.stop``.

Example:
    >>> from annotator_widgets.project_schema import SCHEMA, SCHEMA_VERSION
    >>> SCHEMA_VERSION, [t.name for t in SCHEMA.tables if not t.undoable]
    (2, ['embeddings'])
    >>> [f"{t.name}.{c.name}:{c.on_remove}" for t, c in SCHEMA.references_to("objects")][:3]
    ['prompts.obj_id:delete', 'masks.obj_id:delete', 'poses.person_id:delete']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from .errors import ProjectError
from .rle import RLE
from .store.tables import Column, Index, RowLike, Schema, Table
from .types import ActionSegment, Box, Caption, Detection, HandPose, MaskWarning, ObjectInfo, PersonPose, Point, Prompt

__all__ = ["SCHEMA", "SCHEMA_VERSION", "to_json"]

SCHEMA_VERSION = 2


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text, or a :class:`ProjectError` naming the field when it cannot be stored."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{what} must be JSON-serialisable", given=value, hint=str(exc)) from exc


def _f32(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.ascontiguousarray(array, "<f4").tobytes()


def _points(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, "<f4").reshape(-1, 3)


def _obj(name: str = "obj_id", *, nullable: bool = False, on_remove: Literal["delete", "null"] = "delete") -> Column:
    return Column(name, "INTEGER", nullable=nullable, references="objects", on_remove=on_remove)


# ---------------------------------------------------------------------- objects
def _object_values(info: ObjectInfo) -> Mapping[str, Any]:
    return {
        "obj_id": info.obj_id,
        "name": info.name,
        "category": info.category,
        "color": json.dumps(list(info.color)),
        "hidden": int(info.hidden),
        "meta": to_json(info.meta, "ObjectInfo.meta"),
    }


def _object(r: RowLike) -> ObjectInfo:
    return ObjectInfo(
        r["obj_id"], r["name"], r["category"], tuple(json.loads(r["color"])), bool(r["hidden"]), json.loads(r["meta"])
    )


OBJECTS = Table(
    "objects",
    (
        Column("obj_id", "INTEGER"),
        Column("name", "TEXT"),
        Column("category", "TEXT"),
        Column("color", "TEXT"),
        Column("hidden", "INTEGER"),
        Column("meta", "TEXT", default="{}"),
    ),
    key=("obj_id",),
    decode=_object,
    encode=_object_values,
)


# ---------------------------------------------------------------------- prompts (seq orders them by last change)
def _prompt_values(p: Prompt) -> Mapping[str, Any]:
    return {
        "frame": p.frame,
        "obj_id": p.obj_id,
        "points": json.dumps([[pt.x, pt.y, pt.label] for pt in p.points]),
        "box": json.dumps(list(p.box.xyxy)) if p.box else None,
        "mask": json.dumps(p.mask.to_coco()) if p.mask else None,
        "text": p.text,
    }


def _prompt(r: RowLike) -> Prompt:
    return Prompt(
        frame=r["frame"],
        obj_id=r["obj_id"],
        points=tuple(Point(x, y, int(lab)) for x, y, lab in json.loads(r["points"])),
        box=Box(*json.loads(r["box"])) if r["box"] else None,
        mask=RLE.from_coco(json.loads(r["mask"])) if r["mask"] else None,
        text=r["text"],
    )


PROMPTS = Table(
    "prompts",
    (
        Column("frame", "INTEGER"),
        _obj(),
        Column("points", "TEXT"),
        Column("box", "TEXT", nullable=True),
        Column("mask", "TEXT", nullable=True),
        Column("seq", "INTEGER"),
        Column("text", "TEXT", default=""),
    ),
    key=("frame", "obj_id"),
    without_rowid=True,
    decode=_prompt,
    encode=_prompt_values,
)

# ---------------------------------------------------------------------- masks (decoded by the project: needs the size)
MASKS = Table(
    "masks",
    (
        Column("frame", "INTEGER"),
        _obj(),
        Column("counts", "TEXT"),
        Column("area", "INTEGER"),
        Column("score", "REAL", nullable=True),
        Column("source", "TEXT"),
    ),
    key=("frame", "obj_id"),
    indexes=(Index("masks_by_object", ("obj_id", "frame")),),
    without_rowid=True,
)


# ---------------------------------------------------------------------- poses
def _pose_values(p: PersonPose) -> Mapping[str, Any]:
    return {
        "frame": p.frame,
        "person_id": p.person_id,
        "landmarks": _f32(p.landmarks),
        "world": _f32(p.world_landmarks),
        "score": float(p.score),
    }


def _pose(r: RowLike) -> PersonPose:
    return PersonPose(r["frame"], r["person_id"], _points(r["landmarks"]), _points(r["world"]), r["score"])  # type: ignore[arg-type]


POSES = Table(
    "poses",
    (
        Column("frame", "INTEGER"),
        _obj("person_id"),
        Column("landmarks", "BLOB"),
        Column("world", "BLOB", nullable=True),
        Column("score", "REAL"),
    ),
    key=("frame", "person_id"),
    indexes=(Index("poses_by_person", ("person_id", "frame")),),
    without_rowid=True,
    decode=_pose,
    encode=_pose_values,
)


# ---------------------------------------------------------------------- actions (stop excluded)
def _action_values(s: ActionSegment) -> Mapping[str, Any]:
    return {
        "start": s.start,
        "stop": s.stop,
        "label": s.label,
        "person_id": s.person_id,
        "obj_id": s.obj_id,
        "description": s.description,
        "score": s.score,
        "meta": to_json(s.meta, "ActionSegment.meta"),
    }


def _action(r: RowLike) -> ActionSegment:
    return ActionSegment(
        r["start"],
        r["stop"],
        r["label"],
        r["person_id"],
        r["obj_id"],
        r["description"],
        r["score"],
        json.loads(r["meta"]),
    )


ACTIONS = Table(
    "actions",
    (
        Column("action_id", "INTEGER"),
        Column("start", "INTEGER"),
        Column("stop", "INTEGER"),
        Column("label", "TEXT"),
        _obj("person_id", nullable=True),
        _obj("obj_id", nullable=True),
        Column("description", "TEXT"),
        Column("score", "REAL", nullable=True),
        Column("meta", "TEXT"),
    ),
    key=("action_id",),
    decode=_action,
    encode=_action_values,
)


# ---------------------------------------------------------------------- detections (rejected ones are kept)
def _detection_values(d: Detection) -> Mapping[str, Any]:
    x0, y0, x1, y1 = d.box.xyxy
    return {
        "frame": d.frame,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "score": d.score,
        "label": d.label,
        "model": d.model,
        "obj_id": d.obj_id,
        "meta": to_json(d.meta, "Detection.meta"),
    }


def _detection(r: RowLike) -> Detection:
    box = Box(r["x0"], r["y0"], r["x1"], r["y1"])
    return Detection(r["frame"], box, r["score"], r["label"], r["model"], r["obj_id"], json.loads(r["meta"]))


DETECTIONS = Table(
    "detections",
    (
        Column("det_id", "INTEGER"),
        Column("frame", "INTEGER"),
        Column("x0", "REAL"),
        Column("y0", "REAL"),
        Column("x1", "REAL"),
        Column("y1", "REAL"),
        Column("score", "REAL"),
        Column("label", "TEXT"),
        Column("model", "TEXT"),
        _obj(nullable=True, on_remove="null"),
        Column("rejected", "INTEGER", default=0),
        Column("meta", "TEXT", default="{}"),
    ),
    key=("det_id",),
    indexes=(Index("detections_by_frame", ("frame", "model")), Index("detections_by_object", ("obj_id", "frame"))),
    decode=_detection,
    encode=_detection_values,
)


# ---------------------------------------------------------------------- captions (obj_id 0 = the whole frame)
def _caption_values(c: Caption) -> Mapping[str, Any]:
    return {
        "frame": c.frame,
        "obj_id": c.obj_id,
        "text": c.text,
        "model": c.model,
        "prompt": c.prompt,
        "edited": int(c.edited),
    }


def _caption(r: RowLike) -> Caption:
    return Caption(r["frame"], r["obj_id"], r["text"], r["model"], r["prompt"], bool(r["edited"]))


CAPTIONS = Table(
    "captions",
    (
        Column("frame", "INTEGER"),
        _obj(),
        Column("text", "TEXT"),
        Column("model", "TEXT", default=""),
        Column("prompt", "TEXT", default=""),
        Column("edited", "INTEGER", default=0),
    ),
    key=("frame", "obj_id"),
    indexes=(Index("captions_by_object", ("obj_id", "frame")),),
    without_rowid=True,
    decode=_caption,
    encode=_caption_values,
)


# ---------------------------------------------------------------------- warnings about masks
def _warning_values(w: MaskWarning) -> Mapping[str, Any]:
    return {"frame": w.frame, "obj_id": w.obj_id, "kind": w.kind, "message": w.message}


def _warning(r: RowLike) -> MaskWarning:
    return MaskWarning(r["frame"], r["obj_id"], r["kind"], r["message"])


WARNINGS = Table(
    "warnings",
    (Column("frame", "INTEGER"), _obj(), Column("kind", "TEXT"), Column("message", "TEXT", default="")),
    key=("frame", "obj_id", "kind"),
    indexes=(Index("warnings_by_object", ("obj_id", "frame")),),
    without_rowid=True,
    decode=_warning,
    encode=_warning_values,
)


# ---------------------------------------------------------------------- hands (hand = index on the frame)
def _hand(r: RowLike) -> HandPose:
    lm, world = _points(r["landmarks"]), _points(r["world"])
    return HandPose(r["frame"], r["person_id"], r["handedness"], lm, world, r["score"])  # type: ignore[arg-type]


def _hand_values(h: HandPose) -> Mapping[str, Any]:
    return {
        "frame": h.frame,
        "person_id": h.person_id,
        "handedness": h.handedness,
        "landmarks": _f32(h.landmarks),
        "world": _f32(h.world_landmarks),
        "score": float(h.score),
    }


HANDS = Table(
    "hands",
    (
        Column("frame", "INTEGER"),
        Column("hand", "INTEGER"),
        _obj("person_id", nullable=True, on_remove="null"),
        Column("handedness", "TEXT", check="handedness IN ('left', 'right')"),
        Column("landmarks", "BLOB"),
        Column("world", "BLOB", nullable=True),
        Column("score", "REAL"),
    ),
    key=("frame", "hand"),
    indexes=(Index("hands_by_person", ("person_id", "frame")),),
    without_rowid=True,
    decode=_hand,
    encode=_hand_values,
)

# ---------------------------------------------------------------------- embeddings: a cache, never undone
EMBEDDINGS = Table(
    "embeddings",
    (Column("model", "TEXT"), Column("frame", "INTEGER"), Column("key", "TEXT"), Column("vector", "BLOB")),
    key=("model", "frame", "key"),
    undoable=False,
    without_rowid=True,
)

SCHEMA = Schema(
    SCHEMA_VERSION, (OBJECTS, PROMPTS, MASKS, POSES, ACTIONS, DETECTIONS, CAPTIONS, WARNINGS, HANDS, EMBEDDINGS)
)
