"""Exports: pure ``to_*`` functions returning data, thin ``save_*`` writers.

Output is deterministic (sorted, no timestamps), so exporting the same project
twice gives byte-identical files.
"""

from .coco import load_coco, save_coco, to_coco
from .png import save_masks_png

__all__ = ["load_coco", "save_coco", "save_masks_png", "to_coco"]
