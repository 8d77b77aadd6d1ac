"""Exports and imports: pure ``to_*`` / ``iter_*`` functions returning data, thin ``save_*`` writers.

Output is deterministic (sorted, no timestamps), so exporting the same project twice gives
byte-identical files; every ``save_*`` writes atomically (see :mod:`._io`). The formats and
importers are registry parts (kinds ``"exporter"`` and ``"importer"``, listed in
:mod:`annotator_widgets.parts`), which the CLI, the widget and batch look up by name.
"""

from .base import ExportFormat, Importer, ImportReport
from .coco import load_coco, save_coco, to_coco
from .coco_import import import_coco
from .png import save_masks_png

__all__ = [
    "ExportFormat",
    "ImportReport",
    "Importer",
    "import_coco",
    "load_coco",
    "save_coco",
    "save_masks_png",
    "to_coco",
]
