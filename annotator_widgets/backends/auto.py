"""The ``"auto"`` segmenter: the best segmenter this machine can run without a download."""

from __future__ import annotations

from typing import Any

from .protocols import VideoSegmenter

__all__ = ["auto_segmenter"]


def auto_segmenter(**kwargs: Any) -> VideoSegmenter:
    """SAM 2.1 tiny (Meta's ``sam2`` package) when it is installed and its checkpoint is on disk, else classic."""
    from ._optional import available

    if available("sam2") and available("torch"):
        from ..checkpoints import find_local

        if find_local("sam2.1_hiera_tiny") is not None:
            from .sam2_meta import Sam2Segmenter

            return Sam2Segmenter("sam2.1_hiera_tiny", **kwargs)
    from .classic import ClassicSegmenter

    return ClassicSegmenter(**kwargs)
