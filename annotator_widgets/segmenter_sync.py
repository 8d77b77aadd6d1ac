"""Keep a segmenter's cache in step with the project's prompts, replaying only what changed.

The segmenter's state is a cache of the project's prompts (see
:class:`~annotator_widgets.backends.protocols.VideoSegmenter`). A full rebuild (``reset`` and ``set_prompt``
for every stored prompt) is always right but costs one model call per prompt; after an undo or a redo only
a few prompts differ, so :class:`SegmenterSync` compares the prompts before and after and touches only the
objects whose prompts changed:

- a segmenter with ``forget_prompt(frame, obj_id)`` (its prompts do not depend on each other, e.g. the
  classic one) gets ``set_prompt`` for each new or changed prompt and ``forget_prompt`` for each removed
  one: O(changed prompts);
- any other segmenter (SAM2, SAM 3, EdgeTAM: a prompt's mask can depend on the object's earlier outputs)
  gets, per changed object, ``remove_object`` and then ``set_prompt`` for each of that object's stored
  prompts, in the order a full rebuild replays them: O(that object's prompts), the same state for that
  object as a full rebuild.

An object left without prompts is removed from the segmenter. Any failure while syncing falls back to a full
rebuild before the segmenter is used again.

Example:
    >>> import numpy as np
    >>> from annotator_widgets import AnnotationSession
    >>> from annotator_widgets.data import synthetic_clip
    >>> clip = synthetic_clip(num_frames=4, size=(96, 72), num_objects=1)
    >>> session = AnnotationSession(clip.frames, segmenter="classic")
    >>> y, x = np.argwhere(clip.masks[1][0]).mean(axis=0)
    >>> _ = session.add_points(0, 1, [(x, y)])
    >>> _ = session.add_points(2, 1, [(x, y)])
    >>> session.undo(), session._sync.replayed  # only the undone prompt was forgotten, nothing replayed
    ('prompt object 1 on frame 2', 0)
    >>> session.close()
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backends import VideoSegmenter
    from .project import Project
    from .video import VideoSource

__all__ = ["PromptRows", "SegmenterSync"]

log = logging.getLogger(__name__)

PromptRows = dict[tuple[int, int], tuple[Any, ...]]  # (frame, obj_id) -> the stored row (Project.prompt_rows)


class SegmenterSync:
    """Starts a segmenter on first use and keeps its prompts equal to the project's.

    Args:
        segmenter: The session's segmenter.
        video: The video it is started on.
    """

    def __init__(self, segmenter: VideoSegmenter, video: VideoSource) -> None:
        self.segmenter = segmenter
        self.video = video
        self.started = False
        self._start_lock = threading.Lock()  # one start, also when a worker prepares while a click arrives
        self._stale = True  # a full rebuild is needed before the next use
        self.rebuilds = 0  # full rebuilds done (tests, benchmarks)
        self.replayed = 0  # set_prompt calls made to resync after an undo/redo (tests, benchmarks)

    @property
    def synced(self) -> bool:
        """True when the segmenter is started and holds exactly the project's prompts."""
        return self.started and not self._stale

    def invalidate(self) -> None:
        """The segmenter may disagree with the project: rebuild it fully before its next use."""
        self._stale = True

    def start(self) -> None:
        """Start the segmenter on the video unless it is started (thread safe: a second caller waits for the first).

        A start alone leaves the segmenter stale: its next :meth:`ensure` rebuilds it from the prompts.
        """
        with self._start_lock:
            if not self.started:
                self.segmenter.start(self.video)
                self._stale = True
                self.started = True

    def ensure(self, project: Project) -> None:
        """Start the segmenter if needed and rebuild it from every stored prompt if it is stale."""
        self.start()
        if not self._stale:
            return
        self.segmenter.reset()
        prompts = project.prompts()
        for prompt in prompts:
            self.segmenter.set_prompt(prompt)
        self._stale = False
        self.rebuilds += 1
        if prompts:
            log.debug("segmenter rebuilt from %d prompts", len(prompts))

    def snapshot(self, project: Project) -> PromptRows | None:
        """The stored prompts to compare with after a change; None when the segmenter will be rebuilt anyway."""
        return project.prompt_rows() if self.synced else None

    def changed(self, project: Project, before: PromptRows | None) -> None:
        """Bring the segmenter from the prompts in ``before`` (a :meth:`snapshot`) to the stored ones."""
        if before is None or not self.synced:
            return
        after = project.prompt_rows()
        keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if not keys:
            return
        left = {oid for _, oid in after}
        forget = getattr(self.segmenter, "forget_prompt", None)
        try:
            for oid in sorted({oid for _, oid in keys}):
                if oid not in left:
                    self.segmenter.remove_object(oid)
                elif forget is not None:
                    for frame, _ in (k for k in keys if k[1] == oid):
                        prompt = project.prompt(frame, oid) if (frame, oid) in after else None
                        if prompt is None:
                            forget(frame, oid)
                        else:
                            self.segmenter.set_prompt(prompt)
                            self.replayed += 1
                else:
                    self._replay_object(project, oid)
        except Exception:
            log.debug("incremental resync failed; the segmenter will be rebuilt", exc_info=True)
            self._stale = True

    def _replay_object(self, project: Project, obj_id: int) -> None:
        """Rebuild one object: forget it, then give it its stored prompts in the order a full rebuild would."""
        self.segmenter.remove_object(obj_id)
        prompts = project.prompts(obj_id=obj_id)
        for prompt in prompts:
            self.segmenter.set_prompt(prompt)
        self.replayed += len(prompts)
        log.debug("object %d replayed from %d prompts", obj_id, len(prompts))
