"""The effects tool: blur, pixelate... the chosen objects, previewed live on the current frame, rendered to an MP4.

Everything comes from the masks stored in the project (no model runs): moving the
strength slider re-renders the current frame at once (:func:`~annotator_widgets.render.preview_frame`).
Slider moves arrive faster than frames can be drawn, so previews never queue: a worker
thread draws the *latest* settings, and every request made while it was busy is folded
into its next drawing. *Render* writes the whole video in a worker (progress bar and
Cancel are the annotator's) and ends with the MP4 playing under the annotator, with a
link to the file.

While the tool is the active one (``e``, the picker, or any change of its controls), the
canvas shows the effect instead of the mask overlays.

Example:
    >>> EffectsTool.name, [s.keys for s in EffectsTool.shortcuts]
    ('effects', [('e',)])
"""

from __future__ import annotations

import html
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import traitlets

from ... import registry
from ...errors import AnnotatorError, PromptError
from ...progress import Cancelled
from ...render import preview_frame, render_video
from ...render.video import RenderCancelled
from ...view import FrameView
from ...workflows.outputs import output_path
from .._deps import ipywidgets as ipw
from ..jobs import TaskJob
from ..keys import Shortcut
from .base import Tool

__all__ = ["EffectsTool", "LatestOnly", "file_link"]

log = logging.getLogger(__name__)

#: the inline player is given the file's bytes up to this size; bigger files get only the link
MAX_INLINE_BYTES = 64 * 1024 * 1024


class LatestOnly:
    """Run ``draw()`` in one worker thread whenever asked, folding requests made meanwhile into one more run.

    Requests never queue: ten slider moves during one drawing cause one more drawing (of the
    latest settings, which ``draw`` reads when it starts), not ten.

    Example:
        >>> runs = []
        >>> latest = LatestOnly(lambda: runs.append(1))
        >>> latest.request(); latest.wait(5)
        True
        >>> len(runs), latest.requested, latest.drawn
        (1, 1, 1)
        >>> latest.close()
    """

    def __init__(self, draw: Any, name: str = "effect-preview") -> None:
        self._draw = draw
        self._name = name
        self._cv = threading.Condition()
        self.requested = 0  # requests so far
        self.drawn = 0  # requests covered by a finished drawing
        self.runs = 0  # drawings made
        self._thread: threading.Thread | None = None
        self._closed = False

    def request(self) -> None:
        """Ask for a drawing of the latest state (returns at once)."""
        with self._cv:
            if self._closed:
                return
            self.requested += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._closed or self.requested > self.drawn)
                if self._closed:
                    return
                target = self.requested
            try:
                self._draw()
            except Exception:
                log.exception("drawing a preview failed")
            with self._cv:
                self.drawn = target
                self.runs += 1
                self._cv.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every request so far is drawn; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self.drawn >= self.requested or self._closed, timeout)

    @property
    def dropped(self) -> int:
        """Requests that were folded into a later drawing instead of being drawn one by one."""
        return self.drawn - self.runs

    def close(self) -> None:
        """Stop the worker (after its current drawing)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()


def file_link(path: str | os.PathLike[str]) -> str:
    """HTML linking to a written file (relative to the notebook's folder when it lies inside it)."""
    p = Path(path).resolve()
    try:
        href = p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        href = p.as_uri()
    size = p.stat().st_size / 1e6 if p.exists() else 0.0
    return (
        f"<a href='{html.escape(href)}' target='_blank' download>{html.escape(p.name)}</a> "
        f"<code>{html.escape(str(p))}</code> ({size:.1f} MB)"
    )


class EffectsTool(Tool):
    """Effects from stored masks: effect, strength, which objects, dilate and feather; live preview; Render."""

    name = "effects"
    tooltip = "blur, pixelate... objects from their stored masks: live preview, render an MP4 (e)"
    hint = "effects: the frame shows the effect on the chosen objects; Render writes the video; e or Esc: back"
    cursor = "default"
    shortcuts = (Shortcut(("e",), "toggle", "effects preview on / off (blur, pixelate... from the stored masks)"),)

    effect = traitlets.Unicode("blur", help="an 'effect' registry name")
    strength = traitlets.Float(0.6, help="effect strength 0..1")
    which = traitlets.Unicode("all", help="'all', 'current' (the current object), or a category or object name")
    dilate = traitlets.Int(0, help="grow the masks by this many pixels")
    feather = traitlets.Int(0, help="soft edge over this many pixels")
    output = traitlets.Unicode("", help="the MP4 a render writes ('' : next to the project)")

    @traitlets.validate("effect")
    def _valid_effect(self, proposal: dict[str, Any]) -> str:
        name = str(proposal["value"])
        registry.get("effect", name)  # raises, listing the known effects
        return name

    @traitlets.validate("strength")
    def _valid_strength(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= float(proposal["value"]) <= 1.0:
            raise PromptError("strength must be in 0..1", given=proposal["value"])
        return float(proposal["value"])

    @traitlets.validate("dilate", "feather")
    def _valid_growth(self, proposal: dict[str, Any]) -> int:
        if int(proposal["value"]) < 0:
            raise PromptError("dilate and feather are pixels, 0 or more", given=proposal["value"])
        return int(proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latest = LatestOnly(self._draw_preview)
        self.last_render: Path | None = None

    # ------------------------------------------------------------------ widgets
    def build(self) -> Any:
        host = self.host
        self.effect_choice = ipw.Dropdown(
            options=registry.names("effect"), value=self.effect, description="Effect", layout=ipw.Layout(width="180px")
        )
        self.strength_slider = ipw.FloatSlider(
            value=self.strength, min=0.0, max=1.0, step=0.05, description="strength", continuous_update=True
        )
        self.strength_slider.add_class("aw-effect-strength")
        self.which_choice = ipw.Dropdown(
            options=self._which_options(), value=self.which, description="objects", layout=ipw.Layout(width="200px")
        )
        self.dilate_slider = ipw.IntSlider(value=self.dilate, min=0, max=64, description="dilate")
        self.feather_slider = ipw.IntSlider(value=self.feather, min=0, max=64, description="feather")
        self.output_text = ipw.Text(
            value=self.output,
            placeholder=str(self.default_output()),
            description="MP4",
            layout=ipw.Layout(width="420px"),
        )
        self.render_button = ipw.Button(description="Render", icon="film", tooltip="render the effect to an MP4")
        self.render_button.add_class("aw-render")
        self.link = ipw.HTML("")
        self.player = ipw.VBox([])
        for trait, widget in [
            ("effect", self.effect_choice),
            ("strength", self.strength_slider),
            ("which", self.which_choice),
            ("dilate", self.dilate_slider),
            ("feather", self.feather_slider),
            ("output", self.output_text),
        ]:
            traitlets.link((self, trait), (widget, "value"))
        self.observe(host.guard(self._on_setting, "previewing the effect"), names=["effect", "strength", "which"])
        self.observe(host.guard(self._on_setting, "previewing the effect"), names=["dilate", "feather"])
        self.render_button.on_click(host.guard(lambda _b: self.render(), "rendering"))
        host.observe(host.guard(lambda ch: self._on_busy(bool(ch["new"])), "showing the state"), names=["busy"])
        host.observe(host.guard(lambda _ch: self._refresh_which(), "listing objects"), names=["current_object"])
        bar = ipw.VBox(
            [
                ipw.HBox([self.effect_choice, self.strength_slider, self.which_choice]),
                ipw.HBox([self.dilate_slider, self.feather_slider]),
                ipw.HBox([self.output_text, self.render_button]),
                self.link,
                self.player,
            ]
        )
        bar.add_class("aw-effects")
        return bar

    def _which_options(self) -> list[str]:
        objects = self.host.session.objects
        names = [o.category for o in objects if o.category] + [o.name for o in objects if o.name]
        extra = [self.which] if self.which not in ("all", "current") else []
        return list(dict.fromkeys(["all", "current", *names, *extra]))

    def _refresh_which(self) -> None:
        options = self._which_options()
        if list(self.which_choice.options) != options:
            self.which_choice.options = options
            self.which_choice.value = self.which

    def _on_busy(self, busy: bool) -> None:
        self.render_button.disabled = busy
        if not busy:
            self._refresh_which()

    def _on_setting(self, change: dict[str, Any]) -> None:
        if self.host.tool != self.name:
            self.host.tool = self.name  # activate() asks for the preview
        else:
            self.latest.request()

    # ------------------------------------------------------------------ the preview
    def settings(self) -> dict[str, Any]:
        """The effect, its strength and the composer's settings (``objects``, ``dilate``, ``feather``)."""
        if self.which == "current":
            oid = self.host.current_object
            objects: Any = [] if oid is None else [oid]
        else:
            objects = self.which
        return {
            "effect": self.effect,
            "strength": self.strength,
            "objects": objects,
            "dilate": self.dilate,
            "feather": self.feather,
        }

    def preview(self, frame: int | None = None, rgb: np.ndarray | None = None) -> np.ndarray:
        """The frame (default: the current one) with the effect, from its stored masks, at video size."""
        f = self.host.frame if frame is None else int(frame)
        s = self.host.session
        pixels = s.video.frame(f) if rgb is None else rgb
        return preview_frame(s, pixels, f, **self.settings())

    draws_picture = True

    def picture(self, view: FrameView, rgb: np.ndarray) -> np.ndarray | None:
        try:
            return self.preview(view.frame, rgb)
        except AnnotatorError as exc:
            self.host.show_error(f"previewing the effect failed: {exc}")
            return None

    def _draw_preview(self) -> None:
        host = self.host
        if host.tool != self.name:
            return
        f = host.frame
        try:
            img = self.preview(f)
        except AnnotatorError as exc:
            host.show_error(f"previewing the effect failed: {exc}")
            return
        host.canvas.wait_for_client(2)
        with host.lock:
            if host.tool == self.name and host.frame == f:
                host.canvas.show_image(f, img)
                host.stats.count("previews")

    def on_refresh(self) -> None:
        # the bar is shown with any tool active: an object added or renamed there is offered at once
        self._refresh_which()

    def activate(self) -> None:
        super().activate()
        self._refresh_which()
        self.latest.request()

    def deactivate(self) -> None:
        self.host.refresh()  # the masks again

    def wait_preview(self, timeout: float | None = 10.0) -> bool:
        """Block until every preview asked for so far is drawn (False on timeout)."""
        return self.latest.wait(timeout)

    # ------------------------------------------------------------------ render
    def default_output(self) -> Path:
        """``<project folder>/<project name>_<effect>.mp4``."""
        return output_path(self.host.session, ".mp4", self.effect)

    def render(self) -> TaskJob:
        """Render the whole video with the effect to :attr:`output` in a worker; the MP4 then plays inline.

        Returns:
            The job; its ``result()`` is the path written.
        """
        host = self.host
        with host.lock:
            host.check_idle("render")
            settings = self.settings()
            path = Path(self.output) if self.output else self.default_output()
            session = host.session

            def work(job: TaskJob) -> Path:
                try:
                    return render_video(
                        session,
                        session.video,
                        path,
                        progress=job.report,
                        cancel=job.is_cancelled,
                        **settings,
                    )
                except RenderCancelled as exc:
                    raise Cancelled(str(exc)) from exc

            return host.run_task(f"rendering {path.name}", work, self._rendered)

    def _rendered(self, path: Path) -> str:
        self.last_render = path
        self.link.value = file_link(path)
        size = path.stat().st_size
        if size <= MAX_INLINE_BYTES:
            video = ipw.Video(value=path.read_bytes(), format="mp4", controls=True, autoplay=False, loop=False)
            video.layout = ipw.Layout(max_width=f"{self.host.canvas.geometry.display_size[0]}px")
            video.add_class("aw-rendered")
            old = self.player.children
            self.player.children = (video,)
            for w in old:
                w.close()
        return f"rendered {path.name} ({size / 1e6:.1f} MB)"

    def close(self) -> None:
        self.latest.close()
        super().close()
