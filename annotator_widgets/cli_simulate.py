"""``annotator-widgets simulate``: measure how many clicks a segmenter needs on a video with known masks.

::

    annotator-widgets simulate VIDEO --truth MASKS [--segmenter classic] [--target-j 0.9]
        [--max-clicks 200] [--project P.awp] [--json]

``MASKS`` is a folder of indexed PNGs as the ``davis`` exporter writes them and the ``davis`` importer
reads them: a DAVIS root (``Annotations/<video>/00000.png``, ...) or a plain folder of PNGs named after
their frame; a pixel's value is its object id (0 = background). Frames without a PNG are not scored.
The simulated annotator (:func:`annotator_widgets.simulate.simulate_annotator`) clicks as the SAM 2
paper's protocol does; the command prints a summary line, or with ``--json`` one JSON object
(:meth:`~annotator_widgets.simulate.SimulationReport.to_json`). Exit status 0 when it ran (see
``reached``), 2 for bad arguments or unreadable masks.

Registered on the main parser by :func:`add_simulate_parser` (one line in :mod:`annotator_widgets.cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .cli_args import add_segmenter_argument, positive_int, unit_float
from .errors import AnnotatorError

__all__ = ["PngTruth", "add_simulate_parser"]


class PngTruth:
    """Ground truth read lazily from a folder of indexed PNGs (pixel value = object id).

    Only the file list and the object ids are kept; each frame's image is read when asked for
    (the latest one is cached, since every object of a frame reads the same file).

    Args:
        folder: A DAVIS root (``Annotations/<video>/``) or a folder of PNGs named after their frame.
        num_frames: Frames of the video; a PNG of a later frame is an error.
        size: ``(width, height)`` of the video; a PNG of another size is an error.
        video: Which video of a DAVIS root that holds several.

    Raises:
        AnnotatorError: No PNGs, a name without a frame number, a frame beyond the video, a size
            that differs from the video's, or an image that is not indexed or grey.
    """

    def __init__(
        self, folder: str | os.PathLike[str], num_frames: int, size: tuple[int, int], *, video: str | None = None
    ) -> None:
        root = Path(folder)
        if (root / "Annotations").is_dir():
            videos = sorted(p.name for p in (root / "Annotations").iterdir() if p.is_dir())
            if video is None and len(videos) != 1:
                raise AnnotatorError("the DAVIS folder holds several videos", given=videos, hint="pass video=NAME")
            root = root / "Annotations" / (video or videos[0])
        self.files: dict[int, Path] = {}
        for path in sorted(root.glob("*.png")):
            found = re.findall(r"\d+", path.stem)
            if not found:
                raise AnnotatorError("cannot tell the frame of a PNG from its name", given=str(path))
            frame = int(found[-1])
            if not 0 <= frame < num_frames:
                raise AnnotatorError(
                    f"a mask PNG is for frame {frame}, beyond the video's {num_frames} frames", given=str(path)
                )
            self.files[frame] = path
        if not self.files:
            raise AnnotatorError("no PNG masks found", given=str(root), hint="pass a DAVIS root or a folder of PNGs")
        self.size = (int(size[0]), int(size[1]))
        self._cached: tuple[int, np.ndarray] | None = None
        ids: set[int] = set()
        for frame in self.files:
            ids.update(int(v) for v in np.unique(self.label(frame)) if v)
        self.objects = sorted(ids)
        if not self.objects:
            raise AnnotatorError("the mask PNGs hold no object (every pixel is 0)", given=str(root))

    def label(self, frame: int) -> np.ndarray:
        """The label image of ``frame`` (raises KeyError when it has no PNG)."""
        from PIL import Image

        if self._cached is not None and self._cached[0] == frame:
            return self._cached[1]
        path = self.files[frame]
        with Image.open(path) as im:
            if im.size != self.size:
                raise AnnotatorError(
                    f"mask PNG is {im.size[0]}x{im.size[1]}, the video {self.size[0]}x{self.size[1]}",
                    given=str(path),
                    hint="give masks at the video's resolution",
                )
            if im.mode not in ("P", "L", "I", "I;16", "1"):
                raise AnnotatorError("not an indexed or grey PNG", given=f"{path} ({im.mode})")
            label = np.asarray(im)
        self._cached = (frame, label)
        return label

    def reader(self, obj_id: int) -> Callable[[int], np.ndarray | None]:
        """``frame -> mask`` of one object (None where the frame has no PNG)."""

        def read(frame: int) -> np.ndarray | None:
            return self.label(frame) == obj_id if frame in self.files else None

        return read

    def truth(self) -> dict[int, Callable[[int], np.ndarray | None]]:
        """Every object's reader, as :func:`~annotator_widgets.simulate.simulate_annotator` takes them."""
        return {obj: self.reader(obj) for obj in self.objects}


def _run(args: argparse.Namespace) -> int:
    from .simulate import simulate_annotator
    from .video import open_video

    video = open_video(args.video)
    try:
        truth = PngTruth(args.truth, len(video), video.size, video=args.video_name)
        report = simulate_annotator(
            video,
            truth.truth(),
            segmenter=args.segmenter,
            target_j=args.target_j,
            max_clicks=args.max_clicks,
            max_rounds=args.max_clicks,
            project=args.project,
        )
    finally:
        video.close()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(
            f"{report.clicks} clicks for {report.frames} frames x {report.objects} objects "
            f"({report.clicks_per_frame:.3f} per frame): mean J {report.final_mean_j:.3f}, worst frame "
            f"{report.min_j:.3f}, target {report.target_j} {'reached' if report.reached else 'NOT reached'}; "
            f"{report.seconds:.1f} s ({report.seconds_per_frame * 1000:.0f} ms per frame)"
        )
    return 0


def add_simulate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to the main parser's subparsers."""
    s = sub.add_parser(
        "simulate",
        help="count the clicks a simulated annotator needs to reach a J target (ground truth: indexed PNGs)",
        description="Play the SAM 2 paper's interactive protocol with ground-truth masks and report the effort.",
    )
    s.add_argument("video")
    s.add_argument("--truth", required=True, metavar="MASKS", help="a DAVIS root or a folder of indexed PNGs")
    s.add_argument("--video-name", help="which video of a DAVIS root holding several")
    add_segmenter_argument(s, default="classic")
    s.add_argument("--target-j", type=unit_float, default=0.9, help="J every frame should reach (default: %(default)s)")
    s.add_argument("--max-clicks", type=positive_int, default=200, help="click budget (default: %(default)s)")
    s.add_argument("--project", help="keep the prompts and masks in this new project file")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_run)
    return s
