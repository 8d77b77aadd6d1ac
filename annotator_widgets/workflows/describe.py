"""Describe regions in words: an object (its mask's box), a region, or whole frames, with a captioner.

:func:`describe` crops each frame around the object's mask (or the region you give), asks a
captioner (the registry's ``captioner`` kind: Florence-2, BLIP, BLIP-2, SmolVLM, Qwen-VL) for a
caption or the answer to ``prompt`` in batches, and stores one
:class:`~annotator_widgets.types.Caption` per (frame, object) with the model and the prompt:

* **editable**: a person's change (:func:`edit_caption`, no model) is marked ``edited``, and a
  later model run does not overwrite it unless ``overwrite_edited``;
* **undoable**: one call is one undo step (each finished batch is committed at once, so a cancel
  or a crash keeps what was done).

Frames are read one batch at a time, never all at once. Progress callbacks get
``(frames done, frames total)``; ``cancel`` is a :class:`threading.Event` or a callable
returning True (checked between batches).

Example:
    >>> from annotator_widgets.workflows.describe import describe  # doctest: +SKIP
    >>> caps = describe(session, range(0, 300, 30), obj_id=3, captioner="blip",  # doctest: +SKIP
    ...                 prompt="What is the {object} doing?")
    >>> caps[0].text, caps[0].model  # doctest: +SKIP
    ('riding a bike', 'blip')
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import registry
from ..crops import MEAN_RGB
from ..errors import PromptError, SessionBusyError
from ..types import Annotation, Box, Caption, check_frame

if TYPE_CHECKING:
    from ..backends import Captioner
    from ..project import Project
    from ..session import AnnotationSession

__all__ = ["describe", "edit_caption", "region_crop"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None
Cancel = threading.Event | Callable[[], bool] | None


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def region_crop(
    image: np.ndarray,
    box: Box | Sequence[float],
    *,
    margin: float = 0.15,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """``image`` cut to ``box`` grown by ``margin`` (a fraction of its longer side), clipped to the frame.

    With ``mask``, pixels outside it become :data:`~annotator_widgets.crops.MEAN_RGB` (the object
    alone); without, the surroundings stay (context for "what is it doing?").

    Example:
        >>> img = np.zeros((20, 30, 3), np.uint8); img[5:10, 10:20] = 255
        >>> region_crop(img, (10, 5, 20, 10), margin=0.0).shape
        (5, 10, 3)
        >>> region_crop(img, (10, 5, 20, 10), margin=0.5).shape  # 5 px more on each side
        (15, 20, 3)
    """
    x0, y0, x1, y1 = box.xyxy if isinstance(box, Box) else tuple(float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise PromptError("the region is empty", given=(x0, y0, x1, y1), hint="give (x0, y0, x1, y1) with x1>x0, y1>y0")
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
        raise PromptError("margin must be a finite number >= 0", given=margin, hint="e.g. 0.15")
    h, w = image.shape[:2]
    pad = margin * max(x1 - x0, y1 - y0)
    rx0, ry0 = max(0, math.floor(x0 - pad)), max(0, math.floor(y0 - pad))
    rx1, ry1 = min(w, math.ceil(x1 + pad)), min(h, math.ceil(y1 + pad))
    if rx1 <= rx0 or ry1 <= ry0:
        raise PromptError("the region lies outside the frame", given=(x0, y0, x1, y1), hint=f"the frame is {w}x{h}")
    crop = np.array(image[ry0:ry1, rx0:rx1], np.uint8)
    if mask is not None:
        crop[~np.asarray(mask, bool)[ry0:ry1, rx0:rx1]] = MEAN_RGB
    return crop


def _frames(frames: int | Iterable[int], num_frames: int) -> list[int]:
    items = [frames] if isinstance(frames, int | np.integer) else list(frames)
    out = []
    for f in items:
        if isinstance(f, bool) or not isinstance(f, int | np.integer) or not 0 <= f < num_frames:
            raise PromptError("frames must be frame indices of the video", given=f, hint=f"0..{num_frames - 1}")
        out.append(int(f))
    if not out:
        raise PromptError("no frame to describe", given=frames, hint="pass a frame index or a list of them")
    return list(dict.fromkeys(out))


def _object_name(project: Project, obj_id: int | None) -> str:
    if obj_id is None:
        return "scene"
    info = project.object(obj_id)
    return info.name or info.category or "object"


def _prompt_for(template: str, name: str) -> str:
    try:
        return template.format_map({"object": name})
    except (KeyError, IndexError, ValueError) as exc:
        raise PromptError(
            "the prompt has an unknown placeholder", given=template, hint="use {object}, and {{ }} for literal braces"
        ) from exc


def _check_targets(project: Project, frames: list[int], obj_id: int) -> None:
    """Every frame must hold the object's mask; else say which frames and how to fix it."""
    have = set(project.mask_frames(obj_id))
    missing = [f for f in frames if f not in have]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        near = f"; it has masks on {len(have)} frames" if have else "; it has no mask on any frame"
        raise PromptError(
            f"object {obj_id} has no mask on frame(s) {shown}{near}",
            given=f"frames {shown}, object {obj_id}",
            hint="propagate it first (session.propagate()), or describe frames where it has a mask",
        )


def describe(
    session: AnnotationSession,
    frames: int | Iterable[int],
    obj_id: int | None = None,
    *,
    region: Box | Sequence[float] | None = None,
    captioner: str | Captioner = "florence2",
    prompt: str = "",
    batch_size: int = 8,
    margin: float = 0.15,
    masked: bool = False,
    overwrite_edited: bool = False,
    progress: Progress = None,
    cancel: Cancel = None,
) -> list[Caption]:
    """Caption (or ask ``prompt`` about) one object, a region, or whole frames; store the captions.

    Args:
        session: The annotation session.
        frames: A frame index or several.
        obj_id: The object to describe (cropped to its mask's box plus ``margin``); None for
            ``region`` or the whole frame.
        region: ``(x0, y0, x1, y1)`` in video pixels, the same on every frame (with ``obj_id`` None).
            Region captions are returned, not stored: the store keys captions by (frame, object).
            With neither, whole frames are described and stored as object 0.
        captioner: A captioner spec (``"blip:<id or folder>"``...) or instance; a spec's model is closed at the end.
        prompt: ``""`` for a caption, else a question; ``{object}`` is the object's name (or category).
        batch_size: Crops per captioner call.
        margin: Context around the object's box or the region, as a fraction of its longer side.
        masked: Replace everything outside the object's mask (only the object is seen).
        overwrite_edited: Also replace captions a person edited.
        progress: Called with ``(frames done, frames total)``.
        cancel: Stop between batches; captions already stored stay.

    Returns:
        The captions now stored (an edited caption that was kept is returned as kept), in frame order;
        for a region, the unstored captions.

    Raises:
        PromptError: Bad frames, an unknown object, an object with no mask on a frame, a bad prompt,
            region or batch size.
        SessionBusyError: A propagation is running.
    """
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise PromptError("batch_size must be a positive int", given=batch_size)
    if not isinstance(prompt, str):
        raise PromptError("prompt must be a string ('' for a caption)", given=type(prompt).__name__)
    if obj_id is not None and region is not None:
        raise PromptError("give an object or a region, not both", given=(obj_id, region))
    project = session.project
    todo = _frames(frames, len(session.video))
    if obj_id is not None:
        known = project.get_object(obj_id) if isinstance(obj_id, int | np.integer) else None
        if known is None:
            ids = [o.obj_id for o in project.objects()]
            raise PromptError("unknown object", given=obj_id, hint=f"known object ids: {ids}; None for whole frames")
        obj_id = known.obj_id
        _check_targets(project, todo, obj_id)
    box = None if region is None else (region if isinstance(region, Box) else Box(*(float(v) for v in region)))
    question = _prompt_for(prompt, _object_name(project, obj_id))
    model = registry.resolve("captioner", captioner)
    name = str(getattr(model, "name", type(model).__name__))
    out: list[Caption] = []
    label = f"describe {'object ' + str(obj_id) if obj_id else 'region' if box else 'frames'}"
    try:
        with project.group(label):
            for lo in range(0, len(todo), batch_size):
                if _cancelled(cancel):
                    log.info("describe cancelled after %d of %d frames", lo, len(todo))
                    break
                batch = todo[lo : lo + batch_size]
                anns = {} if obj_id is None else project.object_annotations(obj_id, batch)  # one query
                crops = [_crop(session, f, obj_id, box, margin, masked, anns) for f in batch]
                texts = model.describe(crops, [question] * len(crops))
                captions = [
                    Caption(f, obj_id or 0, str(t).strip(), model=name, prompt=question)
                    for f, t in zip(batch, texts, strict=True)
                ]
                if box is None:
                    captions = project.put_captions(captions, overwrite_edited=overwrite_edited, label=label)
                out += captions
                if progress is not None:
                    progress(min(lo + batch_size, len(todo)), len(todo))
    finally:
        if isinstance(captioner, str):
            model.close()
    return out


def _crop(
    session: AnnotationSession,
    frame: int,
    obj_id: int | None,
    box: Box | None,
    margin: float,
    masked: bool,
    anns: Mapping[int, Annotation],
) -> np.ndarray:
    """The crop of one frame; ``anns`` holds the object's annotations of the batch (read together)."""
    image = session.video[frame]
    if obj_id is not None:
        ann = anns.get(frame)
        found = None if ann is None else ann.box  # derived from the runs: computed once
        if ann is None or found is None:  # removed since the check: say so the same way
            _check_targets(session.project, [frame], obj_id)
            raise PromptError(f"object {obj_id} has an empty mask on frame {frame}", given=frame)
        return region_crop(image, found, margin=margin, mask=ann.mask if masked else None)
    if box is not None:
        return region_crop(image, box, margin=margin)
    return np.ascontiguousarray(image)


def edit_caption(session: AnnotationSession, frame: int, obj_id: int, text: str) -> Caption | None:
    """A person's description of an object (``obj_id`` 0: the whole frame) on one frame; one undo step.

    Over a model's caption the text is marked ``edited`` (the model and prompt stay), so a later
    :func:`describe` keeps it. An empty or whitespace ``text`` deletes the caption.

    Returns:
        The caption now stored, or None when it was deleted (or there was none to delete).

    Raises:
        PromptError: A frame outside the video, an unknown object, text that is not a string.
        SessionBusyError: A propagation is running.
    """
    if session.busy:
        raise SessionBusyError.running("a propagation is running")
    if not isinstance(text, str):
        raise PromptError("a caption is text", given=type(text).__name__)
    project = session.project
    frame = check_frame(frame, len(session.video))
    if obj_id and project.get_object(obj_id) is None:
        ids = [o.obj_id for o in project.objects()]
        raise PromptError("unknown object", given=obj_id, hint=f"known object ids: {ids}; 0 for the whole frame")
    if not text.strip():
        project.delete_caption(frame, obj_id)
        return None
    return project.put_caption(Caption(frame, obj_id, text.strip()))
