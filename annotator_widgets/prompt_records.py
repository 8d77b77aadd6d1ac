"""The JSON prompt records of ``annotate --prompts`` and ``batch --prompts-format json``: read, check, apply.

A prompts file is a JSON list with one record per object and frame::

    [{"frame": 0, "obj_id": 1, "name": "mug", "category": "cup", "points": [[320, 240], [300, 200]], "labels": [1, 0]},
     {"frame": 0, "obj_id": 2, "box": [40, 60, 200, 220]}]

``frame`` (0-based) and ``points`` and / or ``box`` are required; coordinates are video pixels; ``labels``
default to 1 (positive). ``obj_id`` says which object: a new id creates the object (with ``name`` and
``category``), so the records of one object on several frames share it; a record without ``obj_id`` is a
new object. The whole file is checked before anything is prompted, and a mistake names the record.

Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "prompts.json")
    >>> _ = open(path, "w").write(json.dumps([{"frame": 0, "obj_id": 1, "points": [[3, 4]]}]))
    >>> read_prompt_records(path)[0]["points"]
    [[3, 4]]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import AnnotatorError, PromptError

__all__ = ["RECORD_KEYS", "apply_prompt_records", "check_prompt_records", "read_prompt_records"]

#: the keys a record may have
RECORD_KEYS = frozenset({"frame", "obj_id", "name", "category", "points", "labels", "box"})

_HINT = (
    'write a JSON list of records such as {"frame": 0, "obj_id": 1, "name": "mug", "points": [[x, y], ...], '
    '"labels": [1, ...]} or {"frame": 0, "obj_id": 2, "box": [x0, y0, x1, y1]} (video pixels)'
)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_prompt_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a prompts file, checked (keys, ``frame``, ``obj_id``, points or box present).

    Raises:
        AnnotatorError: The file is missing or not JSON.
        PromptError: A record is not an object, has an unknown key, no whole ``frame``, a bad ``obj_id``,
            or neither ``points`` nor ``box``. The values themselves are checked when they are prompted.
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text())
    except FileNotFoundError:
        raise AnnotatorError("the prompts file does not exist", given=str(source), hint="check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotatorError(f"the prompts file is not JSON ({exc})", given=str(source), hint=_HINT) from None
    if not isinstance(data, list):
        raise PromptError("the prompts file must hold a list of records", given=type(data).__name__, hint=_HINT)
    for i, rec in enumerate(data):
        where = f"{source}: record {i}"
        if not isinstance(rec, dict):
            raise PromptError(f"a prompt record is not a JSON object ({where})", given=rec, hint=_HINT)
        unknown = sorted(set(rec) - RECORD_KEYS)
        if unknown:
            raise PromptError(f"unknown keys in a prompt record ({where})", given=unknown, hint=_HINT)
        if not _whole(rec.get("frame")):
            raise PromptError(
                f"a prompt record needs a whole 0-based frame ({where})", given=rec.get("frame"), hint=_HINT
            )
        if rec.get("obj_id") is not None and not (_whole(rec["obj_id"]) and rec["obj_id"] >= 1):
            raise PromptError(f"obj_id must be a whole number >= 1 ({where})", given=rec["obj_id"], hint=_HINT)
        if not rec.get("points") and not rec.get("box"):
            raise PromptError(f"a prompt record has neither points nor a box ({where})", given=rec, hint=_HINT)
    return data


def check_prompt_records(records: list[dict[str, Any]], num_frames: int, size: tuple[int, int]) -> None:
    """Check every record's frame, points, labels and box against the video (``size`` = width, height).

    Raises:
        PromptError: The first bad value, naming its record.
    """
    from .prompt_input import parse_box, parse_points

    for i, rec in enumerate(records):
        if not 0 <= rec["frame"] < num_frames:
            raise PromptError(
                f"prompt record {i}: frame out of range for a {num_frames}-frame video",
                given=rec["frame"],
                hint=f"use 0..{num_frames - 1} (frames are 0-based)",
            )
        try:
            if rec.get("points"):
                parse_points(rec["points"], rec.get("labels"), size)
            if rec.get("box"):
                parse_box(rec["box"], size)
        except PromptError as exc:
            given = {} if exc.given is None else {"given": exc.given}
            raise PromptError(f"prompt record {i}: {exc.message}", hint=exc.hint, **given) from None


def apply_prompt_records(session: Any, records: list[dict[str, Any]]) -> list[int]:
    """Prompt ``session`` with the records (box first, then points); returns the object id of each record.

    Every record is checked (:func:`check_prompt_records`) before the first one is applied, so a bad value
    changes nothing.
    """
    check_prompt_records(records, len(session.video), tuple(session.video.size))
    project = session.project
    ids = []
    for rec in records:
        obj_id = rec.get("obj_id")
        if obj_id is None or project.get_object(obj_id) is None:
            name, category = rec.get("name", ""), rec.get("category", "")
            obj_id = project.add_object(name=name, category=category, obj_id=obj_id).obj_id
        if rec.get("box"):
            session.add_box(rec["frame"], obj_id, rec["box"])
        if rec.get("points"):
            session.add_points(rec["frame"], obj_id, rec["points"], rec.get("labels"))
        ids.append(obj_id)
    return ids
