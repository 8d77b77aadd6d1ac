"""Action segments as JSON or CSV (frames and seconds).

One record per segment: ``id``, ``label``, ``description``, ``person_id`` (the person's object id,
the same as their pose track and masklet), ``object_id``, ``object`` (its name or category),
``start_frame`` (included), ``stop_frame`` (excluded, like every frame range), ``start_s`` /
``stop_s`` (frame / fps; None when the fps is unknown), ``score``, ``hand`` and ``edited``.

The writer picks the format by the file's suffix: ``.csv`` writes CSV, anything else JSON
(``{"video": {...}, "actions": [...]}``). Output is deterministic and written atomically.

COCO writes the same segments as video-level ``actions`` records and CVAT as frame-level tags
(:func:`annotator_widgets.export.cvat.action_tags`).

Example:
    >>> import os, tempfile
    >>> from annotator_widgets import Project
    >>> from annotator_widgets.types import ActionSegment
    >>> video = {"frames": 50, "width": 8, "height": 6, "fps": 25}
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), video)
    >>> person, cup = p.add_object(category="person").obj_id, p.add_object(category="cup").obj_id
    >>> _ = p.add_action(ActionSegment(10, 35, "interaction", person, cup, "drinking", 0.8, {"hand": "left"}))
    >>> [(r["start_frame"], r["stop_frame"], r["start_s"], r["stop_s"], r["object"]) for r in to_actions(p)]
    [(10, 35, 0.4, 1.4, 'cup')]
    >>> print(to_actions_csv(p).splitlines()[0])
    id,label,description,person_id,object_id,object,start_frame,stop_frame,start_s,stop_s,score,hand,edited
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from ._common import category_of, project_of
from ._io import write_text
from .base import ExportFormat

__all__ = ["COLUMNS", "FORMAT", "save_actions", "to_actions", "to_actions_csv"]

#: the record fields, in the CSV's column order
COLUMNS = (
    "id",
    "label",
    "description",
    "person_id",
    "object_id",
    "object",
    "start_frame",
    "stop_frame",
    "start_s",
    "stop_s",
    "score",
    "hand",
    "edited",
)


def to_actions(project: Any) -> list[dict[str, Any]]:
    """One record per action segment (see the module), ordered by start frame then id."""
    project = project_of(project)
    fps = float(project.video_info.get("fps") or 0.0)
    names = {o.obj_id: (o.name or category_of(o)) for o in project.objects()}
    return [
        {
            "id": aid,
            "label": seg.label,
            "description": seg.description,
            "person_id": seg.person_id,
            "object_id": seg.obj_id,
            "object": names.get(seg.obj_id, "") if seg.obj_id is not None else "",
            "start_frame": seg.start,
            "stop_frame": seg.stop,
            "start_s": round(seg.start / fps, 6) if fps else None,
            "stop_s": round(seg.stop / fps, 6) if fps else None,
            "score": seg.score,
            "hand": seg.meta.get("hand", ""),
            "edited": bool(seg.meta.get("edited", False)),
        }
        for aid, seg in project.actions().items()
    ]


def to_actions_csv(project: Any) -> str:
    """The records as CSV text (header + one row per segment; empty cells for None)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in to_actions(project):
        writer.writerow({k: "" if v is None else v for k, v in rec.items()})
    return buf.getvalue()


def save_actions(project: Any, path: str | os.PathLike[str]) -> Path:
    """Write the segments to ``path`` atomically: CSV for a ``.csv`` suffix, else JSON. Returns the path."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return write_text(path, to_actions_csv(project), "action segments (CSV)")
    project = project_of(project)
    video = {k: project.video_info.get(k) for k in ("name", "frames", "width", "height", "fps")}
    doc = {
        "video": video,
        "frames": "start_frame included, stop_frame excluded; seconds = frame / fps",
        "actions": to_actions(project),
    }
    return write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n", "action segments (JSON)")


def _save(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return [save_actions(project, out, **options)]


#: the registry entry (``registry.lookup("exporter", "actions")``)
FORMAT = ExportFormat(
    "actions", "action segments as JSON, or CSV for a .csv path (frames and seconds)", "file", _save, ".json"
)
