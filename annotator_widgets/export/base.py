"""What an export format and an importer are: table entries the CLI, the widget and batch look up by name.

An :class:`ExportFormat` wraps a thin ``save(project, out, **options) -> list[Path]`` writer around a pure
``to_*`` function; an :class:`Importer` reads a dataset back into a project and reports what it did. Both are
registered in :mod:`annotator_widgets.parts` (kinds ``"exporter"`` and ``"importer"``), so adding a format is one
module plus one line there, and other packages add theirs through entry points.

Example:
    >>> from annotator_widgets import registry
    >>> fmt = registry.lookup("exporter", "coco")
    >>> fmt.name, fmt.target
    ('coco', 'file')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["ExportFormat", "ImportReport", "Importer"]


@dataclass(frozen=True)
class ExportFormat:
    """One dataset format the project can be written in.

    Attributes:
        name: The registry name (``--format`` value).
        summary: One line for ``--help`` and the widget's Export tool.
        target: ``"file"`` (``out`` is a file path) or ``"folder"`` (``out`` is a directory).
        save: ``save(project, out, **options) -> list[Path]``: writes atomically (no half-written file under its
            final name) and returns the paths written.
        suffix: The usual file suffix for ``"file"`` targets (e.g. ``".json"``), "" for folders.
        writes_images: ``save`` takes ``images=True`` (and ``video=``) and then writes the frames beside the
            labels, as trainers and evaluators of the format expect (``export --images``, ``batch --images``).
    """

    name: str
    summary: str
    target: Literal["file", "folder"]
    save: Callable[..., list[Path]]
    suffix: str = ""
    writes_images: bool = False

    def default_path(self, folder: str | os.PathLike[str], stem: str = "annotations") -> Path:
        """Where this format goes inside ``folder`` by default (a file with :attr:`suffix`, or a subfolder)."""
        base = Path(folder)
        return base / (stem + self.suffix) if self.target == "file" else base / self.name


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        objects: Source id -> project object id of every object the import touched.
        remapped: Source id -> project id for the ids that were already taken and got a new id.
        annotations: Masks written.
        prompts: Prompts written (e.g. MOT boxes imported as box prompts).
        frames: Frames that received something.
        notes: Anything the user should know (skipped records, clipped boxes).
    """

    objects: dict[int, int] = field(default_factory=dict)
    remapped: dict[int, int] = field(default_factory=dict)
    annotations: int = 0
    prompts: int = 0
    frames: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Importer:
    """One dataset format that can be read back into a project.

    Attributes:
        name: The registry name.
        summary: One line for ``--help``.
        load: ``load(project, source, **options) -> ImportReport``; one undo step; nothing half-imported on error.
    """

    name: str
    summary: str
    load: Callable[..., ImportReport]
    options: dict[str, Any] = field(default_factory=dict)
