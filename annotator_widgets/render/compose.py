"""One rendered frame from stored masks only: an effect (or overlays) plus optional layers, and the live preview.

:class:`FrameComposer` holds every render setting, checked once up front (so a bad effect name or
strength fails before any file is opened), and turns ``(frame index, pixels)`` into the rendered frame
from the masks *stored in the project*; it never touches a model, so changing the effect or its
strength re-renders without segmenting again. :func:`render_video` streams it over a whole video;
:func:`preview_frame` renders one frame, what a widget's slider calls on every move::

    image = preview_frame(session, session.video, frame, "blur", strength, objects="person", feather=8)

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from annotator_widgets import Project, open_video
    >>> from annotator_widgets.render import preview_frame
    >>> video = open_video(np.full((3, 40, 60, 3), 200, np.uint8))
    >>> project = Project.create(pathlib.Path(tempfile.mkdtemp()) / "p.awp", video)
    >>> oid = project.add_object(name="face", category="person").obj_id
    >>> mask = np.zeros((40, 60), bool); mask[10:20, 10:30] = True
    >>> _ = project.put_mask(1, oid, mask)
    >>> out = preview_frame(project, video, 1, "solid", 1.0, objects="person", dilate=2)
    >>> int(out[15, 20, 0]), int(out[9, 20, 0]), int(out[5, 20, 0])
    (0, 0, 200)
    >>> project.close()
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import AnnotatorError, PromptError
from ..types import ObjectInfo, color_for
from .effects import EffectFn, _check_options, apply_effect, effect_function
from .layers import Trails
from .overlay import Renderer
from .region import ObjectsSpec, check_growth, select_objects

__all__ = ["Captions", "FrameComposer", "preview_frame"]

#: frame-level captions: ``{frame: text}`` or a function ``frame -> text or None``
Captions = Mapping[int, str] | Callable[[int], str | None]


class FrameComposer:
    """Renders frames of a project from its stored masks: an effect on chosen objects, or overlays, plus layers.

    Args:
        project: A :class:`~annotator_widgets.project.Project`, or a session (its project is used).
        effect: An effect name (``registry.names("effect")``) or function; None draws overlays instead.
        strength: Effect strength, 0..1.
        objects: Which objects: ``"all"`` (default), ids, a category or name, or a list of those.
        dilate: Grow the chosen masks by this many pixels.
        feather: Soft edge over this many pixels beyond the grown masks.
        effect_options: The effect's keyword options, e.g. ``{"color": (255, 255, 255)}``.
        renderer: Overlay settings when ``effect`` is None.
        trails: Draw each object's centroid trail over this many frames (0: none).
        labels: With an effect, also write each chosen object's label at its mask.
        captions: Frame captions drawn in a band at the top.

    Raises:
        BackendError: Unknown effect.
        PromptError: Strength outside 0..1, negative dilate/feather/trails, an unknown object, a wrong option.
    """

    project: Any
    fn: EffectFn | None
    effect_name: str
    strength: float
    dilate: int
    feather: int
    options: dict[str, Any]
    renderer: Renderer
    info: dict[int, ObjectInfo]
    chosen: set[int]
    trails: Trails | None
    label_renderer: Renderer | None
    captions: Captions | None

    def __init__(
        self,
        project: Any,
        *,
        effect: str | EffectFn | None = "blur",
        strength: float = 0.6,
        objects: ObjectsSpec = "all",
        dilate: int = 0,
        feather: int = 0,
        effect_options: Mapping[str, Any] | None = None,
        renderer: Renderer | None = None,
        trails: int = 0,
        labels: bool = False,
        captions: Captions | None = None,
    ) -> None:
        self.project = getattr(project, "project", project)
        self.fn = effect_function(effect) if effect is not None else None
        self.effect_name = effect if isinstance(effect, str) else getattr(self.fn, "__name__", "effect")
        if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0.0 <= float(strength) <= 1.0:
            raise PromptError("strength must be in 0..1", given=strength)
        self.strength = float(strength)
        self.dilate, self.feather = check_growth(dilate, feather)
        self.options = dict(effect_options or {})
        if self.fn is not None:
            _check_options(self.fn, self.effect_name, self.options)
        self.renderer = renderer or Renderer()
        self.info = {o.obj_id: o for o in self.project.objects()}
        self.chosen = select_objects(self.info, objects)
        if isinstance(trails, bool) or not isinstance(trails, int) or trails < 0:
            raise PromptError("trails is a number of frames, 0 or more", given=trails)
        self.trails = Trails(trails) if trails else None
        self.label_renderer = (
            Renderer(opacity=0.0, outline=False, labels=True, points=False, skeleton=False) if labels else None
        )
        self.captions = captions

    def check_has_masks(self) -> None:
        """Raise unless the project holds a mask of a chosen object (an effect with none would change nothing).

        Raises:
            AnnotatorError: No stored masks (propagate first), or none of the chosen objects.
        """
        frames = self.project.mask_frames()
        name = getattr(self.project, "path", None) or "(in memory)"
        if not frames:
            raise AnnotatorError(
                f"project {name} has no masks: propagate first",
                given=str(name),
                hint="prompt the objects and run session.propagate() (or import masks) before rendering an effect",
            )
        if not any(self.project.mask_frames(oid) for oid in self.chosen):
            raise AnnotatorError(
                f"project {name} has no masks of the chosen objects: propagate them first",
                given=sorted(self.chosen),
                hint=f"objects with masks: {sorted(o for o in self.info if self.project.mask_frames(o))}",
            )

    def _color(self, oid: int) -> tuple[int, int, int]:
        o = self.info.get(oid)
        return o.color if o is not None else color_for(oid)

    def _caption(self, index: int) -> str | None:
        if self.captions is None:
            return None
        if callable(self.captions):
            return self.captions(index)
        return self.captions.get(index)

    def compose(self, index: int, image: np.ndarray) -> np.ndarray:
        """The rendered frame ``index`` (``image`` holds its source pixels and is not changed).

        Frames are expected in order (trails follow them); a jump back restarts the trails.
        """
        anns = {oid: a for oid, a in self.project.annotations(index).items() if oid in self.chosen}
        if self.trails is not None:
            self.trails.update(index, anns)
        if self.fn is not None:
            out = apply_effect(
                image, anns, self.fn, self.strength, dilate=self.dilate, feather=self.feather, **self.options
            )
            if self.label_renderer is not None and anns:
                out = self.label_renderer.annotate(out, anns, objects=self.info)
        else:
            out = self.renderer.annotate(
                image,
                anns,
                objects=self.info,
                prompts=self.project.prompts(frame=index),
                poses=self.project.poses(index),
            )
        if self.trails is not None:
            self.trails.draw(out, {oid: self._color(oid) for oid in self.chosen})
        caption = self._caption(index)
        if caption:
            out = Renderer(points=False, skeleton=False).annotate(out, None, caption=caption)
        return out

    def preview(self, index: int, image: np.ndarray) -> np.ndarray:
        """One frame on its own (trails filled from the stored masks of the frames before it)."""
        if self.trails is not None:
            self.trails.fill(self.project, index - 1, self.chosen)
        return self.compose(index, image)


def preview_frame(
    project: Any,
    video: Any,
    frame: int,
    effect: str | EffectFn | None = "blur",
    strength: float = 0.6,
    **settings: Any,
) -> np.ndarray:
    """One frame re-rendered from the project's stored masks, for a live slider; no model is run.

    Args:
        project: A project or a session.
        video: The project's video (a VideoSource or anything :func:`~annotator_widgets.open_video` takes),
            or the frame's pixels already decoded (``(H, W, 3)`` uint8 RGB), which skips decoding.
        frame: Frame index.
        effect: An effect name or function, or None for overlays.
        strength: 0..1.
        **settings: :class:`FrameComposer`'s other settings (``objects``, ``dilate``, ``feather``,
            ``effect_options``, ``trails``, ``labels``, ``captions``, ``renderer``).

    Returns:
        The rendered ``(H, W, 3)`` uint8 RGB frame.
    """
    composer = FrameComposer(project, effect=effect, strength=strength, **settings)
    if isinstance(video, np.ndarray) and video.ndim == 3:
        image = video
    else:
        from ..video import VideoSource, open_video

        vid = video if isinstance(video, VideoSource) else open_video(video)
        image = vid.frame(vid.check_index(frame))
    return composer.preview(int(frame), image)
