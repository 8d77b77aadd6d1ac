"""What a session writes and edits outside masks: exports with a report of what was written, action segment edits.

The widget's Export and Actions tools call these (widgets never reach the project
itself); scripts can too.

* :func:`output_path` - a file or folder next to the session's project (the default destination);
* :func:`export` - write one registered format and report the paths and counts (:class:`Written`);
* :func:`segments`, :func:`segment`, :func:`edit_segment`, :func:`delete_segment` - action segments by id;
  an edit is one undo step and marks the segment ``meta["edited"]`` so a new run of
  :func:`~annotator_widgets.workflows.actions.find_interactions` keeps it.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from annotator_widgets import AnnotationSession
    >>> from annotator_widgets.types import ActionSegment
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> s = AnnotationSession(np.zeros((5, 16, 16, 3), np.uint8), folder / "p.awp", segmenter="classic")
    >>> cup = s.add_object("cup")
    >>> aid = s.project.add_action(ActionSegment(1, 3, "holds", obj_id=cup.obj_id))
    >>> seg = edit_segment(s, aid, stop=4, description="lifts it")
    >>> (seg.start, seg.stop, seg.description, seg.meta["edited"]), s.undo()
    ((1, 4, 'lifts it', True), 'edit action 1')
    >>> output_path(s, ".mp4", "blur") == folder / "p_blur.mp4"
    True
    >>> s.close()
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import registry
from ..errors import PromptError, SessionBusyError
from ..progress import Cancelled, CancelSignal, ProgressCallback, is_cancelled
from ..types import ActionSegment

if TYPE_CHECKING:
    from ..session import AnnotationSession

__all__ = ["Written", "delete_segment", "edit_segment", "export", "output_path", "segment", "segments"]

#: the fields of a segment a person edits
EDITABLE = ("start", "stop", "label", "description")
#: paths listed by :meth:`Written.html` (the rest are counted)
MAX_LISTED = 8


def output_path(session: AnnotationSession, suffix: str = "", tag: str = "") -> Path:
    """``<project folder>/<project name>[_<tag>]<suffix>``: where outputs go by default."""
    path = Path(session.project.path)
    return path.with_name(path.stem + (f"_{tag}" if tag else "") + suffix)


@dataclass(frozen=True)
class Written:
    """What an export wrote: the format, the destination, the files and what they hold."""

    format: str
    destination: Path
    paths: tuple[Path, ...]
    bytes: int
    objects: int
    frames: int
    actions: int

    def summary(self) -> str:
        """One line: ``"coco: 1 file (12.3 kB) - 2 objects, masks on 12 frames, 0 actions"``."""
        n = len(self.paths)
        return (
            f"{self.format}: {n} file{'s' if n != 1 else ''} ({self.bytes / 1000:.1f} kB) - {self.objects} objects, "
            f"masks on {self.frames} frames, {self.actions} actions"
        )

    def html(self) -> str:
        """The summary and the paths, as HTML."""
        items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.paths[:MAX_LISTED])
        if len(self.paths) > MAX_LISTED:
            items += f"<li>… and {len(self.paths) - MAX_LISTED} more</li>"
        return f"<b>written</b> {html.escape(self.summary())}<ul style='margin:2px 0'>{items}</ul>"


def export(
    session: AnnotationSession,
    fmt: str,
    out: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    images: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal | None = None,
) -> Written:
    """Write the session's project in a registered format (``registry.names("exporter")``) and say what was written.

    Args:
        session: The session.
        fmt: The format's registry name.
        out: The file or folder (default: the format's usual name next to the project).
        overwrite: Replace a folder holding files no export wrote (folder formats that have the option).
        images: Also write the frames beside the labels, read from the session's video (formats whose
            ``writes_images`` is set: YOLO, MOT, DAVIS...).
        progress: Called with ``(0, 1, text)`` before writing and ``(1, 1, text)`` after.
        cancel: Checked before writing (a format's writer runs to its end; every writer is atomic).

    Raises:
        BackendError: Unknown format.
        PromptError: ``images=True`` for a format that does not write frames.
        Cancelled: ``cancel`` was set before writing; nothing is written.
        AnnotatorError: What the writer raises (a folder in the way, a read-only destination...).
    """
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    project = session.project
    writer = registry.lookup("exporter", fmt)
    folder, stem = Path(project.path).parent, Path(project.path).stem
    dest = Path(out) if out else writer.default_path(folder, stem=stem)
    options: dict[str, Any] = {"overwrite": overwrite} if _accepts(writer.save, "overwrite") else {}
    if images:
        if not getattr(writer, "writes_images", False):
            names = registry.names("exporter")
            takes = [n for n in names if getattr(registry.lookup("exporter", n), "writes_images", False)]
            raise PromptError(
                f"the {writer.name} export does not write frame images",
                given=fmt,
                hint=f"export without images, or use a format that writes them: {', '.join(takes)}",
            )
        options.update(images=True, video=session.video)
    if progress is not None:
        progress(0, 1, f"writing {writer.name}…")
    if is_cancelled(cancel):
        raise Cancelled(f"export to {dest} was cancelled before writing")
    paths = tuple(Path(p) for p in writer.save(project, dest, **options))
    if progress is not None:
        progress(1, 1, f"{writer.name} written")
    size = sum(p.stat().st_size for p in paths if p.is_file())
    frames = len(project.mask_frames(nonempty=True))  # (what the formats write: empty masks are absences)
    return Written(writer.name, dest, paths, size, len(project.objects()), frames, len(project.actions()))


def _accepts(fn: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def segments(session: AnnotationSession) -> dict[int, ActionSegment]:
    """The action segments by id, by start frame."""
    return session.project.actions()


def segment(session: AnnotationSession, action_id: int) -> ActionSegment:
    """One action segment; :class:`~annotator_widgets.errors.ProjectError` (listing the ids) if there is none."""
    return session.project.action(int(action_id))


def edit_segment(session: AnnotationSession, action_id: int, **changes: Any) -> ActionSegment:
    """Change a segment's ``start``, ``stop`` (excluded), ``label`` or ``description``: one undo step.

    Raises:
        PromptError: A field that is not editable.
        ProjectError: No such segment, or bounds outside the video.
        SessionBusyError: A propagation is running.
    """
    bad = sorted(set(changes) - set(EDITABLE))
    if bad:
        raise PromptError("not an editable field of a segment", given=bad, hint=f"use {list(EDITABLE)}")
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    seg = segment(session, action_id)
    return session.project.update_action(int(action_id), **changes, meta={**seg.meta, "edited": True})


def delete_segment(session: AnnotationSession, action_id: int) -> None:
    """Delete a segment: one undo step."""
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    session.project.remove_action(int(action_id))
