"""Jupyter widgets: :class:`VideoAnnotator` and its parts.

Needs the ``[widgets]`` extra (ipywidgets, ipycanvas, ipyevents); importing this
package without it raises :class:`~annotator_widgets.errors.MissingDependencyError`
naming the extra. In Colab the custom widget manager is enabled automatically.
"""

from __future__ import annotations

from .annotator import VideoAnnotator
from .canvas import Geometry
from .jobs import PropagationJob
from .shortcuts import SHORTCUTS, help_text
from .stats import Stats
from .timeline import TimelineRow

__all__ = ["SHORTCUTS", "Geometry", "PropagationJob", "Stats", "TimelineRow", "VideoAnnotator", "help_text"]
