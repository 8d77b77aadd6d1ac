"""The project: one SQLite file (WAL) that is the single source of truth of an annotation.

A :class:`Project` holds the objects, the prompts (what the user said), the annotations (masks as
COCO RLE with a score and a source), poses, hands, action segments, detections, captions, mask
warnings, an embeddings cache and an undo history. Every change is one transaction, so a crash loses
nothing that was committed; a second process that tries to open the same project for writing gets a
:class:`~annotator_widgets.errors.ProjectError`.

Undo and redo work on *groups* of row changes: a click is one group, a whole propagation is one group
(written in many small transactions). Undo and redo are the same operation - swap the stored row image
with the current one - run in opposite orders.

The pieces: :mod:`.project_base` (file, video, history, objects), :mod:`.project_masks` (prompts,
masks, warnings), :mod:`.project_people` (poses, hands, actions), :mod:`.project_models` (detections,
captions, embeddings); the tables are declared in :mod:`.project_schema`, older files are upgraded by
:mod:`.project_migrations`, and the storage is :mod:`annotator_widgets.store`.

Example:
    >>> import tempfile, os, numpy as np
    >>> from annotator_widgets import ActionSegment, Project
    >>> d = tempfile.mkdtemp()
    >>> video = {"frames": 10, "width": 64, "height": 48, "fps": 25.0}
    >>> with Project.create(os.path.join(d, "demo.awp"), video) as project:
    ...     cup = project.add_object(name="cup")
    ...     mask = np.zeros((48, 64), bool); mask[10:20, 5:15] = True
    ...     _ = project.put_mask(3, cup.obj_id, mask, score=0.9)
    ...     project.annotation(3, cup.obj_id).box
    ...     _ = project.undo()
    ...     project.annotation(3, cup.obj_id) is None
    ...     aid = project.add_action(ActionSegment(2, 5, "lift", obj_id=cup.obj_id))
    ...     list(project.update_action(aid, stop=6).frames)
    Box(x0=5.0, y0=10.0, x1=15.0, y1=20.0)
    True
    [2, 3, 4, 5]
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ProjectError
from .project_masks import ProjectMasks
from .project_models import ProjectModels
from .project_people import ProjectPeople
from .project_schema import SCHEMA_VERSION
from .store import HistoryEntry

__all__ = ["SCHEMA_VERSION", "HistoryEntry", "Project", "open_for_video"]

log = logging.getLogger(__name__)


class Project(ProjectMasks, ProjectPeople, ProjectModels):
    """An annotation project stored in one SQLite file.

    Create one with :meth:`create`, reopen it with :meth:`open` (which upgrades a file from an older
    version in place, keeping a copy). All methods are thread safe; writes from several threads are
    serialised.
    """


def open_for_video(project: Project | str | os.PathLike[str] | None, video: Any) -> Project:
    """The project a session on ``video`` works in: ``project`` itself, a path (opened if it exists, else created
    for the video), or None (a new project in a temporary folder).

    Raises:
        ProjectError: The project was made for another video (frame count or size); one this call opened is
            closed again (its write lock released).
    """
    if isinstance(project, Project):
        proj = project
    elif project is None:
        folder = tempfile.mkdtemp(prefix="annotator_widgets-")
        proj = Project.create(Path(folder) / "session.awp", video)
        log.info("new project in %s (pass project=PATH to keep it somewhere else)", proj.path)
    elif Path(project).exists():
        proj = Project.open(project)
    else:
        proj = Project.create(project, video)
    info = proj.video_info
    if (info.get("frames"), info.get("width"), info.get("height")) != (len(video), *video.size):
        if proj is not project:
            proj.close()  # release the write lock just taken
        raise ProjectError(
            "project was made for a different video",
            given=f"project: {info.get('frames')} frames {info.get('width')}x{info.get('height')}, "
            f"video: {len(video)} frames {video.width}x{video.height}",
            hint="open the project with the video it was created for",
        )
    return proj
