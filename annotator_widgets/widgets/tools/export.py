"""The export tool: write the project's annotations in a dataset format, then say what was written.

The formats are the ``"exporter"`` registry's (COCO, YOLO, MOT, DAVIS, CVAT, actions...),
the same table the CLI and batch use. The destination defaults to the format's usual name
next to the project (``<folder>/<project>.json`` for a file format, ``<folder>/<format>/``
for a folder format) and follows the format until the user types another one. Export runs
in a worker (the annotator's progress bar and Cancel); every writer is atomic, so a failed
export leaves nothing half-written under the destination's name.

Example:
    >>> ExportTool.name, ExportTool.cursor
    ('export', 'default')
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import traitlets

from ... import registry
from ...progress import Cancelled
from .._deps import ipywidgets as ipw
from ..jobs import TaskJob
from .base import Tool

__all__ = ["ExportTool", "Written"]

#: paths listed in the "written" panel (the rest are counted)
MAX_LISTED = 8


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
        """The summary and the paths, for the panel."""
        items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.paths[:MAX_LISTED])
        if len(self.paths) > MAX_LISTED:
            items += f"<li>… and {len(self.paths) - MAX_LISTED} more</li>"
        return f"<b>written</b> {html.escape(self.summary())}<ul style='margin:2px 0'>{items}</ul>"


def _accepts(fn: Any, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class ExportTool(Tool):
    """Format, destination, Export (worker, progress, cancel), then the paths and counts written."""

    name = "export"
    tooltip = "write the annotations in a dataset format (COCO, YOLO, MOT, DAVIS, CVAT...)"
    hint = "export: choose a format and a destination, then Export; Esc: back to points"
    cursor = "default"

    format = traitlets.Unicode("coco", help="an 'exporter' registry name")
    destination = traitlets.Unicode("", help="the file or folder written ('': next to the project)")
    overwrite = traitlets.Bool(False, help="replace a folder that holds files no export wrote")

    @traitlets.validate("format")
    def _valid_format(self, proposal: dict[str, Any]) -> str:
        return registry.get("exporter", str(proposal["value"])).name  # raises, listing the formats

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last: Written | None = None
        self._auto_destination = True

    def build(self) -> Any:
        host = self.host
        self.format_choice = ipw.Dropdown(
            options=[(f"{p.name} - {p.summary}", p.name) for p in registry.parts("exporter")],
            value=self.format,
            description="Format",
            layout=ipw.Layout(width="420px"),
        )
        self.destination_text = ipw.Text(description="to", layout=ipw.Layout(width="420px"))
        self.overwrite_box = ipw.Checkbox(value=self.overwrite, description="overwrite", indent=False)
        self.export_button = ipw.Button(description="Export", icon="download", tooltip="write the chosen format")
        self.export_button.add_class("aw-export")
        self.written = ipw.HTML("")
        self.written.add_class("aw-written")
        traitlets.link((self, "format"), (self.format_choice, "value"))
        traitlets.link((self, "overwrite"), (self.overwrite_box, "value"))
        traitlets.link((self, "destination"), (self.destination_text, "value"))
        self.destination = str(self.default_destination())
        self.observe(host.guard(self._on_format, "choosing the format"), names=["format"])
        self.observe(self._on_destination, names=["destination"])
        self.export_button.on_click(host.guard(lambda _b: self.export(), "exporting"))
        host.observe(host.guard(lambda ch: setattr(self.export_button, "disabled", bool(ch["new"])), "state"), "busy")
        bar = ipw.VBox(
            [ipw.HBox([self.format_choice, self.overwrite_box]), ipw.HBox([self.destination_text, self.export_button])]
        )
        box = ipw.VBox([bar, self.written])
        box.add_class("aw-export-tool")
        return box

    def default_destination(self, fmt: str | None = None) -> Path:
        """Where ``fmt`` (default: the chosen format) goes next to the project."""
        path = Path(self.host.session.project.path)
        return registry.lookup("exporter", fmt or self.format).default_path(path.parent, stem=path.stem)

    def _on_format(self, change: dict[str, Any]) -> None:
        if self._auto_destination:
            self._setting = True
            try:
                self.destination = str(self.default_destination(change["new"]))
            finally:
                self._setting = False

    def _on_destination(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_setting", False):
            self._auto_destination = change["new"] in ("", str(self.default_destination()))

    def export(self) -> TaskJob:
        """Write the chosen format to the destination in a worker; the panel then lists what was written.

        Returns:
            The job; its ``result()`` is a :class:`Written`.
        """
        host = self.host
        with host.lock:
            host.check_idle("export")
            fmt = registry.lookup("exporter", self.format)
            dest = Path(self.destination) if self.destination else self.default_destination()
            options: dict[str, Any] = {}
            if _accepts(fmt.save, "overwrite"):
                options["overwrite"] = self.overwrite
            project = host.session.project

            def work(job: TaskJob) -> Written:
                job.report(0, 1, f"writing {fmt.name}…")
                if job.is_cancelled():
                    raise Cancelled(f"export to {dest} was cancelled before writing")
                paths = tuple(Path(p) for p in fmt.save(project, dest, **options))
                job.report(1, 1, f"{fmt.name} written")
                return Written(
                    fmt.name,
                    dest,
                    paths,
                    sum(p.stat().st_size for p in paths if p.is_file()),
                    len(project.objects()),
                    len(project.mask_frames()),
                    len(project.actions()),
                )

            self.written.value = ""
            return host.run_task(f"exporting {fmt.name}", work, self._exported)

    def _exported(self, written: Written) -> str:
        self.last = written
        self.written.value = written.html()
        return f"exported {written.summary()} to {written.destination}"
