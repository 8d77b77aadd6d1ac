"""The one write path of every importer: collect and check everything, then write it as one undo step.

An importer parses its source into a :class:`Pending` (objects by source id, masks, box prompts,
action segments), checks sizes and frames against the project's video as it goes, and only then
calls :func:`commit`, which writes all of it in one transaction. So a bad file raises before
anything is written, and an import is undone with one :meth:`~annotator_widgets.project.Project.undo`.

Source ids are kept as object ids where they are free (positive and unused); the others get fresh
ids and are listed in :attr:`ImportReport.remapped`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import ActionSegment, Annotation, Box, Prompt, Source
from .base import ImportReport

__all__ = ["Pending", "check_frame", "check_frame_count", "check_size", "commit"]


def check_size(project: Any, width: int, height: int, source: object) -> None:
    """Raise unless ``width x height`` is the project's video size."""
    w, h = project.size
    if (int(width), int(height)) != (w, h):
        raise AnnotatorError(
            f"the dataset's frame size {int(width)}x{int(height)} differs from the project's video ({w}x{h})",
            given=str(source),
            hint="import into a project made for the same video, at the same resolution",
        )


def check_frame_count(project: Any, frames: int, source: object) -> None:
    """Raise unless the dataset's declared frame count is the project's."""
    if int(frames) != project.num_frames:
        raise AnnotatorError(
            f"the dataset describes {int(frames)} frames, the project's video has {project.num_frames}",
            given=str(source),
            hint="import into a project made for the same video",
        )


def check_frame(project: Any, frame: int, source: object) -> int:
    """``frame`` if the project's video has it, else an error naming the source."""
    if not 0 <= int(frame) < project.num_frames:
        raise AnnotatorError(
            f"the dataset has frame {int(frame)}, beyond the project's {project.num_frames}-frame video",
            given=str(source),
            hint="import into a project made for the same video (frames count from 0 in the project)",
        )
    return int(frame)


@dataclass
class Pending:
    """What an import will write, keyed by the source's own ids."""

    objects: dict[int, tuple[str, str]] = field(default_factory=dict)
    masks: list[tuple[int, int, RLE, float | None]] = field(default_factory=list)
    boxes: list[tuple[int, int, Box]] = field(default_factory=list)
    actions: list[ActionSegment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def object(self, source_id: int, name: str = "", category: str = "") -> int:
        """Declare an object (first declaration wins); returns ``source_id``."""
        self.objects.setdefault(int(source_id), (name, category))
        return int(source_id)


def commit(project: Any, pending: Pending, label: str) -> ImportReport:
    """Write ``pending`` into ``project`` as one undo step named ``label``; returns the report."""
    report = ImportReport(notes=list(pending.notes))
    frames: set[int] = set()
    with project.transaction(label):
        # keep every free id first, so the fresh ids of the others never take an id a later object keeps
        taken = [src for src in pending.objects if src < 1 or project.get_object(src) is not None]
        for src, (name, category) in pending.objects.items():
            if src not in taken:
                report.objects[src] = project.add_object(name=name, category=category, obj_id=src).obj_id
        for src in taken:
            name, category = pending.objects[src]
            report.objects[src] = report.remapped[src] = project.add_object(name=name, category=category).obj_id
        report.objects = {src: report.objects[src] for src in pending.objects}  # the source's order
        ids = report.objects
        anns = [Annotation(f, ids[src], rle, score, Source.IMPORTED) for f, src, rle, score in pending.masks]
        report.annotations = project.put_annotations(anns, label=label)
        frames.update(a.frame for a in anns)
        for frame, src, box in pending.boxes:
            project.put_prompt(Prompt(frame, ids[src], box=box))
            frames.add(frame)
        report.prompts = len(pending.boxes)
        for seg in pending.actions:
            person, obj = _map_id(ids, seg.person_id, report), _map_id(ids, seg.obj_id, report)
            project.add_action(
                ActionSegment(seg.start, seg.stop, seg.label, person, obj, seg.description, seg.score, seg.meta)
            )
    report.frames = len(frames)
    return report


def _map_id(ids: dict[int, int], source_id: int | None, report: ImportReport) -> int | None:
    """An action's person or object id in the project: the imported object's id, or None (noted)."""
    if source_id is None:
        return None
    if source_id in ids:
        return ids[source_id]
    report.notes.append(f"an action refers to id {source_id}, which the dataset does not describe: reference dropped")
    return None
