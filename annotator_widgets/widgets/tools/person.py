"""The person tool: track everybody, click a person to select or track them, mask a person from their landmarks.

Its bar (*People*) holds **Track people** (a pose model through the whole video, then
the identity tracker: every person becomes an object of category ``person`` whose
skeleton is drawn in its colour), the number of people, the detection threshold and
**Segment person**. In person mode (``o``) a plain click selects the person under it,
or detects and tracks that person from this frame. The work is done by
:mod:`annotator_widgets.workflows.people` in the annotator's worker thread, with
progress in the propagation bar and *Cancel* / ``Esc``.

Example:
    >>> PersonTool.name, [s.keys for s in PersonTool.shortcuts]
    ('person', [('o',), ('s',)])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ...errors import PromptError
from ...workflows import people
from .._deps import ipywidgets as ipw
from ..controls import button
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["PeopleBar", "PersonTool"]


class PeopleBar:
    """Track people (number of people, detection threshold) and Segment person."""

    def __init__(self) -> None:
        self.track = button("Track people", icon="users", tooltip="detect and track every person through the video")
        self.num_people = ipw.BoundedIntText(
            value=2,
            min=1,
            max=20,
            description="people",
            tooltip="most people found per frame",
            layout=ipw.Layout(width="112px"),
            style={"description_width": "initial"},
        )
        self.threshold = ipw.FloatSlider(
            value=0.3,
            min=0.05,
            max=0.95,
            step=0.05,
            description="threshold",
            readout_format=".2f",
            tooltip="pose detection confidence (lower finds more people, and more false ones)",
            layout=ipw.Layout(width="230px"),
            style={"description_width": "initial"},
        )
        self.segment = button(
            "Segment person", icon="user", tooltip="mask the current person from their landmarks on this frame (s)"
        )
        self.widget = ipw.HBox([ipw.Label("People:"), self.track, self.num_people, self.threshold, self.segment])
        self.widget.add_class("aw-people")

    def running(self, on: bool) -> None:
        """Disable the buttons that start work while a job runs (or enable them)."""
        self.track.disabled = on
        self.segment.disabled = on


class PersonTool(Tool):
    """People: track everybody, select or track the person under a click, segment a person."""

    name = "person"
    tooltip = "a click selects the person under it, or detects and tracks them (o)"
    hint = "person clicks: click a person to select them (or to track them); o or Esc: back to points"
    cursor = "pointer"
    shortcuts = (
        Shortcut(("o",), "toggle", "person clicks on / off: a click selects or tracks the person under it"),
        Shortcut(("s",), "segment", "mask the current person from their landmarks on this frame"),
    )
    mouse_help = (
        ("click (person mode)", "select the person under the pointer, or detect and track them from this frame"),
    )

    num_people = traitlets.Int(2, help="most people the pose model finds per frame")
    threshold = traitlets.Float(0.3, help="pose detection confidence threshold 0..1")
    model = traitlets.Unicode(None, allow_none=True, help="the pose model: a .task path or registry name")
    estimator = traitlets.Any(
        "mediapipe", help="a 'pose' registry name, or a ready pose estimator (used as is, never closed)"
    )

    @traitlets.validate("num_people")
    def _valid_num_people(self, proposal: dict[str, Any]) -> int:
        if not 1 <= int(proposal["value"]) <= 20:
            raise PromptError("num_people must be 1..20", given=proposal["value"])
        return int(proposal["value"])

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("the pose threshold must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    def build(self) -> Any:
        host = self.host
        self.bar = bar = PeopleBar()
        traitlets.link((self, "num_people"), (bar.num_people, "value"))
        traitlets.link((self, "threshold"), (bar.threshold, "value"))
        host.observe(host.guard(lambda ch: bar.running(bool(ch["new"])), "showing the state"), names=["busy"])
        bar.track.on_click(host.guard(lambda _b: self.track_people(), "tracking people"))
        bar.segment.on_click(host.guard(lambda _b: self.segment(), "segmenting the person"))
        return bar.widget

    def pose_options(self) -> dict[str, Any]:
        """How the workflows find people: the estimator, model, number of people and threshold set here."""
        return {
            "estimator": self.estimator,
            "model": self.model,
            "num_poses": self.num_people,
            "threshold": self.threshold,
        }

    # ------------------------------------------------------------------ events
    def on_click(self, x: float, y: float, *, button: int = 0, shift: bool = False) -> bool:
        if button != 0 or shift:
            return False  # right-click / Shift+click: a point, as in points mode
        self.pick(x, y)
        return True

    # ------------------------------------------------------------------ verbs
    def track_people(self) -> TaskJob:
        """Detect and track every person through the video in a worker thread.

        Each person becomes an object of category ``person`` with its poses (a person already
        in the project keeps its id); skeletons are drawn in the object's colour and the
        timeline shows on which frames each person's pose was found.

        Returns:
            The job; its ``result()`` is ``{track id: object id}``.
        """
        host = self.host
        options = self.pose_options()

        def work(job: TaskJob) -> dict[int, int]:
            found = people.track_everybody(host.session, progress=job.report, cancel=job.is_cancelled, **options)
            return {tid: o.obj_id for tid, o in found.items()}

        def finish(ids: dict[int, int]) -> str:
            return (
                f"tracked {len(ids)} people over {len(host.session.video)} frames: objects {sorted(ids.values())} "
                "(person clicks (o) select one; s masks it)"
            )

        with host.lock:
            host.check_idle("track people")
            return host.run_task("tracking people", work, finish)

    def pick(self, x: float, y: float) -> int | TaskJob:
        """Select the person at video pixel ``(x, y)`` on this frame, or detect and track them from here.

        With poses stored on this frame, the person whose box holds the click and whose nose
        or mid-hip is nearest becomes the current object at once. Otherwise the person is
        found (after a run-up) and tracked through the video in a worker thread from this
        frame, and becomes an object (or updates the person object they already are)
        (:func:`~annotator_widgets.workflows.people.pick_person`).

        Returns:
            The person's object id, or the job whose ``result()`` is that id.
        """
        host = self.host
        with host.lock:
            host.check_idle("pick a person")
            f = host.frame
            hit = people.person_at(host.session, f, x, y)
            if hit is not None:
                host.current_object = hit.obj_id
                host.say(f"person {hit.obj_id} selected on frame {f} (s masks them; o or Esc: point clicks)")
                return hit.obj_id
            host.canvas.show_marker(x, y, positive=True)
            options = self.pose_options()

            def work(job: TaskJob) -> int:
                found = people.pick_person(
                    host.session, f, x, y, progress=job.report, cancel=job.is_cancelled, **options
                )
                return found.obj_id

            def finish(oid: int) -> str:
                host.current_object = oid
                row = next(r for r in host.session.timeline() if r.obj_id == oid)
                return f"person {oid} tracked from frame {f}: a pose on {len(row.pose_frames())} frames (s masks them)"

            return host.run_task("tracking the person", work, finish)

    def segment(self, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Prompt the segmenter with a person's landmarks on this frame (default: the current object).

        Returns:
            ``{obj_id: mask}`` of every object on this frame.
        """
        host = self.host
        with host.lock:
            host.check_idle("segment a person")
            oid = host.current_object if obj_id is None else int(obj_id)
            if oid is None:
                raise PromptError("no person selected", hint="track people, or click a person in person mode (o)")
            f = host.frame
            masks = people.segment_people(host.session, f, [oid])
            area = int(masks[oid].sum()) if oid in masks else 0
            host.refresh(
                f"person {oid}: mask of {area} px from its landmarks on frame {f} (propagate with f / b / p)",
                masks=masks,
            )
            return masks
