"""The export tool: write the project's annotations in a dataset format, then say what was written.

The formats are the ``"exporter"`` registry's (COCO, YOLO, MOT, DAVIS, CVAT, actions...),
the same table the CLI and batch use. The destination defaults to the format's usual name
next to the project (``<folder>/<project>.json`` for a file format, ``<folder>/<format>/``
for a folder format) and follows the format until the user types another one. **with frames**
(``images``) also writes the frames beside the labels, read from the session's video, for the
formats that take them (``writes_images``: YOLO, MOT, DAVIS...; the box is disabled for the
others, which are written without frames). Export runs
in a worker (the annotator's progress bar and Cancel); every writer is atomic, so a failed
export leaves nothing half-written under the destination's name.

Example:
    >>> ExportTool.name, ExportTool.cursor
    ('export', 'default')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import traitlets

from ... import registry
from ...workflows.outputs import Written, export, output_path
from .._deps import ipywidgets as ipw
from ..jobs import TaskJob
from .base import Tool

__all__ = ["ExportTool"]


class ExportTool(Tool):
    """Format, destination, Export (worker, progress, cancel), then the paths and counts written."""

    name = "export"
    tooltip = "write the annotations in a dataset format (COCO, YOLO, MOT, DAVIS, CVAT...)"
    hint = "export: choose a format and a destination, then Export; Esc: back to points"
    cursor = "default"

    format = traitlets.Unicode("coco", help="an 'exporter' registry name")
    destination = traitlets.Unicode("", help="the file or folder written ('': next to the project)")
    overwrite = traitlets.Bool(False, help="replace a folder that holds files no export wrote")
    images = traitlets.Bool(False, help="also write the frames, for the formats that take them (YOLO, MOT...)")

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
        self.images_box = ipw.Checkbox(value=self.images, description="with frames", indent=False)
        self.images_box.add_class("aw-export-images")
        self.export_button = ipw.Button(description="Export", icon="download", tooltip="write the chosen format")
        self.export_button.add_class("aw-export")
        self.written = ipw.HTML("")
        self.written.add_class("aw-written")
        traitlets.link((self, "format"), (self.format_choice, "value"))
        traitlets.link((self, "overwrite"), (self.overwrite_box, "value"))
        traitlets.link((self, "images"), (self.images_box, "value"))
        self._images_allowed(self.format)
        traitlets.link((self, "destination"), (self.destination_text, "value"))
        self.destination = str(self.default_destination())
        self.observe(host.guard(self._on_format, "choosing the format"), names=["format"])
        self.observe(self._on_destination, names=["destination"])
        self.export_button.on_click(host.guard(lambda _b: self.export(), "exporting"))
        host.observe(host.guard(lambda ch: setattr(self.export_button, "disabled", bool(ch["new"])), "state"), "busy")
        bar = ipw.VBox(
            [
                ipw.HBox([self.format_choice, self.overwrite_box, self.images_box]),
                ipw.HBox([self.destination_text, self.export_button]),
            ]
        )
        box = ipw.VBox([bar, self.written])
        box.add_class("aw-export-tool")
        return box

    def default_destination(self, fmt: str | None = None) -> Path:
        """Where ``fmt`` (default: the chosen format) goes next to the project."""
        path = output_path(self.host.session)
        return registry.lookup("exporter", fmt or self.format).default_path(path.parent, stem=path.name)

    def writes_images(self, fmt: str | None = None) -> bool:
        """Whether ``fmt`` (default: the chosen format) writes the frames with ``images=True``."""
        return bool(getattr(registry.lookup("exporter", fmt or self.format), "writes_images", False))

    def _images_allowed(self, fmt: str) -> None:
        allowed = self.writes_images(fmt)
        self.images_box.disabled = not allowed
        self.images_box.tooltip = (
            "write the frames beside the labels" if allowed else f"{fmt} does not write frames (YOLO, MOT... do)"
        )

    def _on_format(self, change: dict[str, Any]) -> None:
        self._images_allowed(change["new"])
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
            session, overwrite = host.session, self.overwrite
            images = self.images and self.writes_images(fmt.name)

            def work(job: TaskJob) -> Written:
                return export(
                    session,
                    fmt.name,
                    dest,
                    overwrite=overwrite,
                    images=images,
                    progress=job.report,
                    cancel=job.is_cancelled,
                )

            self.written.value = ""
            return host.run_task(f"exporting {fmt.name}", work, self._exported)

    def _exported(self, written: Written) -> str:
        self.last = written
        self.written.value = written.html()
        return f"exported {written.summary()} to {written.destination}"
