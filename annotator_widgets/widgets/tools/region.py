"""The region tool: a drag seeds every person meeting the rectangle, then propagates them all together.

People stored on this frame keep their ids; a pose model also looks at the frame
(after a run-up) and the people it finds that are not stored become new objects
(:func:`~annotator_widgets.workflows.people.seed_region`). The pose settings are the
person tool's (its *People* bar), or the workflows' defaults without one.

Example:
    >>> RegionTool.name, RegionTool.cursor
    ('region', 'cell')
"""

from __future__ import annotations

from typing import Any, Literal

from ...types import Box, ObjectInfo
from ...workflows import people
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["REGION_COLOR", "RegionTool"]

#: colour of the rubber band of a region drag
REGION_COLOR = (255, 214, 0)


class RegionTool(Tool):
    """Region drags: every person meeting the rectangle becomes an object; all are propagated together."""

    name = "region"
    tooltip = "drag a region: every person meeting it becomes an object, propagated together (r)"
    hint = "region drags: drag over people to seed and propagate them; r or Esc: back to points"
    cursor = "cell"
    shortcuts = (Shortcut(("r",), "toggle", "region drags on / off: people meeting the rectangle are seeded"),)
    mouse_help = (
        ("drag (region mode)", "every person meeting the rectangle becomes an object; all are propagated together"),
    )

    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        if button != 0 or shift:
            return False  # right-click / Shift+click: a point, as in points mode
        self.host.say("region mode: drag a rectangle over people (r or Esc: back to point clicks)")
        return True

    def on_drag(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        self.seed(x0, y0, x1, y1)
        return True

    def drag_color(self) -> tuple[int, int, int]:
        return REGION_COLOR

    def pose_options(self) -> dict[str, Any]:
        """The person tool's pose settings, if the annotator has one."""
        person = self.host.tools.get("person")
        options = getattr(person, "pose_options", None)
        return options() if callable(options) else {}

    def seed(
        self, x0: float, y0: float, x1: float, y1: float, direction: Literal["forward", "backward", "both"] = "forward"
    ) -> TaskJob:
        """Seed every person meeting the rectangle on this frame, then propagate them together from here.

        Seeding (one undo step) runs in a worker thread, then the propagation (the
        annotator's ``job``) with its progress and Cancel.

        Returns:
            The seeding job; its ``result()`` is the seeded objects.
        """
        host = self.host
        box = Box.from_corners(x0, y0, x1, y1)
        options = self.pose_options()
        with host.lock:
            host.check_idle("seed a region")
            f = host.frame

            def work(job: TaskJob) -> list[ObjectInfo]:
                return people.seed_region(
                    host.session, f, box, propagate=False, progress=job.report, cancel=job.is_cancelled, **options
                )

            def finish(seeded: list[ObjectInfo]) -> str:
                host.propagate(direction)
                return (
                    f"seeded {len(seeded)} people {[o.obj_id for o in seeded]} on frame {f}; propagating "
                    f"{direction} together… (Esc or Cancel to stop)"
                )

            return host.run_task("seeding the region", work, finish)
