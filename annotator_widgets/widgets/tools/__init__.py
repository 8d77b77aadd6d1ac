"""The annotator's tools: each one small class in its own file, registered as a ``"tool"`` part.

* :class:`~.points.PointsTool` (``"points"``, the base tool): clicks, box drags, positive/negative, clear;
* :class:`~.person.PersonTool` (``"person"``): track people, select or track the person under a click,
  segment a person;
* :class:`~.region.RegionTool` (``"region"``): region drags seed the people in them;
* :class:`~.effects.EffectsTool` (``"effects"``): blur, pixelate... from the stored masks, live preview, render;
* :class:`~.export.ExportTool` (``"export"``): write a dataset format, list what was written;
* :class:`~.interactions.ActionsTool` (``"actions"``): action segments: find, describe, jump, edit, delete.

A new tool is one file (a :class:`~.base.Tool` subclass) plus one registration: a line in
:mod:`annotator_widgets.parts` (kind ``"tool"``), an entry point in the group
``annotator_widgets.tool``, or :func:`annotator_widgets.registry.register` at run time. Then
``VideoAnnotator(session, tools=["points", "person", "region", "mine"])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import registry
from ...errors import BackendError
from .base import Tool, ToolHost

__all__ = ["DEFAULT_TOOLS", "Tool", "ToolHost", "make_tools"]

#: the tools of an annotator when none are given (registry names; the first is the base tool)
DEFAULT_TOOLS: tuple[str, ...] = ("points", "person", "region", "text", "captions", "effects", "export", "actions")


def make_tools(specs: Sequence[Any] | None = None) -> list[Tool]:
    """Tool instances from registry names, tool classes or instances; ``"points"`` is always there, first.

    Raises:
        BackendError: An unknown name, something that is not a :class:`Tool`, or two tools with one name.
    """
    tools = []
    for spec in DEFAULT_TOOLS if specs is None else specs:
        tool = registry.resolve("tool", spec) if isinstance(spec, str) else spec
        if isinstance(tool, type) and issubclass(tool, Tool):
            tool = tool()
        if not isinstance(tool, Tool):
            raise BackendError(
                "a tool must be a Tool (annotator_widgets.widgets.tools.Tool)",
                given=type(tool).__name__,
                hint=f"pass registry names such as {registry.names('tool')}, Tool subclasses or instances",
            )
        tools.append(tool)
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or not all(names):
        raise BackendError("every tool needs its own non-empty name", given=names)
    if "points" not in names:
        tools.insert(0, registry.resolve("tool", "points"))
    else:
        tools.insert(0, tools.pop(names.index("points")))
    return tools
