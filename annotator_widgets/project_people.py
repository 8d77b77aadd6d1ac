"""What people do: body poses, hands and action segments (frame ranges: start included, stop excluded)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from typing import Any

from .errors import ProjectError
from .project_base import ProjectBase
from .types import ActionSegment, HandPose, PersonPose

__all__ = ["ProjectPeople"]

_ACTION_FIELDS = tuple(f.name for f in fields(ActionSegment))


class ProjectPeople(ProjectBase):
    """Poses, hands and actions of a :class:`~annotator_widgets.Project`."""

    # ------------------------------------------------------------------ poses
    def put_poses(self, frame: int, poses: Iterable[PersonPose], *, label: str | None = None) -> None:
        """Replace the poses stored on ``frame``."""
        self._check_frame(frame)
        with self.transaction(label or f"poses on frame {frame}"):
            old = {r[0] for r in self._store.query("SELECT person_id FROM poses WHERE frame=?", (frame,))}
            new = set()
            for pose in poses:
                self.object(pose.person_id)
                self._put("poses", pose, frame=frame)
                new.add(pose.person_id)
            for pid in old - new:
                self._store.delete("poses", (frame, pid))

    def poses(self, frame: int) -> list[PersonPose]:
        """Poses on one frame, by person id."""
        return self._store.records("poses", "frame=?", (frame,), order="person_id")

    def poses_many(self, frames: Iterable[int]) -> dict[int, list[PersonPose]]:
        """:meth:`poses` of each of several frames (``[]`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        return self._records_in_frames("poses", frames, "person_id")

    def pose_frames(self, person_id: int | None = None) -> list[int]:
        """Sorted frames holding a pose (of one person, or anybody); cheap, no landmark is decoded."""
        return self._frames("poses", person_id=person_id)

    def iter_poses(self, person_id: int | None = None) -> Iterator[PersonPose]:
        """All poses ordered by frame (of one person, or all), streamed."""
        return self._stream("poses", "person_id", person_id, "frame, person_id")

    def _stream(self, table: str, column: str, value: int | None, order: str) -> Iterator[Any]:
        sql = f"SELECT * FROM {table} WHERE frame>=? AND frame<?" + ("" if value is None else f" AND {column}=?")
        args = () if value is None else (int(value),)
        for rows in self._store.pages(f"{sql} ORDER BY {order}", 0, self.num_frames, args):
            for r in rows:
                yield self._decode(table, r)

    # ------------------------------------------------------------------ hands
    def put_hands(self, frame: int, hands: Iterable[HandPose], *, label: str | None = None) -> None:
        """Replace the hands stored on ``frame`` (their order on the frame is kept)."""
        self._check_frame(frame)
        with self.transaction(label or f"hands on frame {frame}"):
            old = {r[0] for r in self._store.query("SELECT hand FROM hands WHERE frame=?", (frame,))}
            n = 0
            for n, hand in enumerate(hands, 1):
                if hand.frame != frame:
                    raise ProjectError("a hand from another frame", given=hand.frame, hint=f"put_hands({frame}, ...)")
                if hand.person_id is not None:
                    self.object(hand.person_id)
                self._put("hands", hand, hand=n - 1)
            for index in old - set(range(n)):
                self._store.delete("hands", (frame, index))

    def hands(self, frame: int) -> list[HandPose]:
        """Hands on one frame, in the order they were stored."""
        return self._store.records("hands", "frame=?", (frame,), order="hand")

    def hands_many(self, frames: Iterable[int]) -> dict[int, list[HandPose]]:
        """:meth:`hands` of each of several frames (``[]`` where none), in one query per
        :data:`~.project_base.FRAMES_PER_QUERY` frames."""
        return self._records_in_frames("hands", frames, "hand")

    def hand_frames(self, person_id: int | None = None) -> list[int]:
        """Sorted frames holding a hand (of one person, or anybody)."""
        return self._frames("hands", person_id=person_id)

    def iter_hands(self, person_id: int | None = None) -> Iterator[HandPose]:
        """All hands ordered by frame (of one person, or all), streamed."""
        return self._stream("hands", "person_id", person_id, "frame, hand")

    # ------------------------------------------------------------------ actions
    def _check_action(self, segment: ActionSegment) -> None:
        self._check_frame(segment.start, "action start")
        if segment.stop > self.num_frames:
            raise ProjectError(
                f"action stop out of range for a {self.num_frames}-frame video (stop is excluded)",
                given=segment.stop,
                hint=f"use at most {self.num_frames}",
            )
        self._objects_exist([segment.person_id, segment.obj_id])

    def add_action(self, segment: ActionSegment) -> int:
        """Store an action segment; returns its id (ids are never reused)."""
        self._check_action(segment)
        with self.transaction(f"action {segment.label}"):
            aid = self._store.reserve_id("action")
            self._put("actions", segment, action_id=aid)
        return aid

    def action(self, action_id: int) -> ActionSegment:
        """The action segment with this id; raises :class:`ProjectError` if there is none."""
        found = self._store.records("actions", "action_id=?", (action_id,))
        if not found:
            known = [r[0] for r in self._store.query("SELECT action_id FROM actions ORDER BY action_id")]
            raise ProjectError("no such action", given=action_id, hint=f"known action ids: {known}")
        return found[0]

    def update_action(self, action_id: int, **changes: Any) -> ActionSegment:
        """Change fields of an action (move ``start``/``stop``, relabel, edit ``description``...); one undo step."""
        bad = set(changes) - set(_ACTION_FIELDS)
        if bad:
            raise ProjectError("unknown action field", given=sorted(bad), hint=f"use one of {list(_ACTION_FIELDS)}")
        with self.transaction(f"edit action {action_id}"):
            segment = replace(self.action(action_id), **changes)
            self._check_action(segment)
            self._put("actions", segment, action_id=action_id)
        return segment

    def remove_action(self, action_id: int) -> None:
        """Delete an action segment."""
        with self.transaction(f"remove action {action_id}"):
            self.action(action_id)
            self._store.delete("actions", (action_id,))

    def actions(self, *, person_id: int | None = None, obj_id: int | None = None) -> dict[int, ActionSegment]:
        """Action segments keyed by id, ordered by start frame (of one person and/or object, or all)."""
        where, args = self._where(person_id=person_id, obj_id=obj_id)
        sql = "SELECT * FROM actions" + (f" WHERE {where}" if where else "") + " ORDER BY start, action_id"
        return {r["action_id"]: self._decode("actions", r) for r in self._store.query(sql, args)}
