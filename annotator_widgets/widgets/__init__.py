"""Jupyter widgets: :class:`VideoAnnotator`, its tools and its parts.

Needs the ``[widgets]`` extra (ipywidgets, ipycanvas, ipyevents); importing this
package without it raises :class:`~annotator_widgets.errors.MissingDependencyError`
naming the extra. In Colab the custom widget manager is enabled automatically.
"""

from __future__ import annotations

from .annotator import VideoAnnotator
from .geometry import Geometry
from .jobs import PropagationJob, TaskJob
from .keys import Shortcut
from .shortcuts import SHORTCUTS, help_text
from .stats import Stats
from .tools import DEFAULT_TOOLS, Tool, ToolHost

__all__ = [
    "DEFAULT_TOOLS",
    "SHORTCUTS",
    "Geometry",
    "PropagationJob",
    "Shortcut",
    "Stats",
    "TaskJob",
    "Tool",
    "ToolHost",
    "VideoAnnotator",
    "help_text",
]
