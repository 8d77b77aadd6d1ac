"""``annotator-widgets batch``: many videos, one project and one set of exports each, resumable.

::

    annotator-widgets batch "videos/*.mp4" --out runs/ --segmenter classic \\
        --prompts "prompts/{stem}.txt" --prompts-format mot --format coco,yolo [--track-people] \\
        [--executor ray --ray-address auto] [--json | --quiet]

Exit status: 0 every video done (or skipped as already done), 1 some videos failed (see the manifest,
``OUT/manifest.sqlite``), 2 bad arguments. ``--json`` prints one JSON object per line on stdout
(``{"event": "video" | "step" | "frame" | "export" | "summary", ...}``); otherwise a progress bar
(tqdm) or a plain line per video goes to stderr, and ``--quiet`` silences both.

Registered on the main parser by :func:`add_batch_parser` (one line in :mod:`annotator_widgets.cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from . import registry
from .cli_args import add_cuts_argument, add_segmenter_argument, choices

__all__ = ["add_batch_parser", "add_common_arguments", "export_options", "run_settings"]


def _formats(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    for name in names:
        if not _known("exporter", name):
            raise argparse.ArgumentTypeError(
                f"unknown export format {name!r}; use one or more of: {', '.join(registry.names('exporter'))}"
            )
    if not names:
        raise argparse.ArgumentTypeError("give at least one export format")
    return names


def _known(kind: str, name: str) -> bool:
    from .errors import AnnotatorError

    try:
        registry.get(kind, name)
    except AnnotatorError:
        return False
    return True


def _importer(value: str) -> str:
    if value != "json" and not _known("importer", value):
        raise argparse.ArgumentTypeError(
            f"unknown prompts format {value!r}; use json or one of: {', '.join(registry.names('importer'))}"
        )
    return value


def add_batch_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to the main parser's subparsers."""
    b = sub.add_parser(
        "batch",
        help="annotate many videos (resumable; locally or on Ray)",
        description="Annotate many videos: one project and one set of exports each; a re-run resumes.",
        epilog="exit status: 0 all done, 1 some videos failed (see OUT/manifest.sqlite), 2 bad arguments",
    )
    add_common_arguments(b)
    b.add_argument("--prompts", help="prompts file for every video; {stem} / {name} stand for the video's")
    b.add_argument(
        "--prompts-format",
        default="json",
        type=_importer,
        metavar="NAME",
        help=f"json (the annotate command's records) or an importer: {choices('importer')} (default: %(default)s)",
    )
    b.add_argument("--propagate", choices=["both", "forward", "backward", "none"], default="both")
    b.add_argument("--track-people", action="store_true", help="track every person with the pose model")
    b.add_argument("--text", metavar="PHRASES", help="what to track, e.g. 'faces, license plates' (re-detected)")
    b.add_argument("--text-route", default="auto", help="faces, people, grounder[:spec]... (default: %(default)s)")
    b.add_argument("--redetect-every", type=int, default=10, metavar="K", help="re-detect every K frames")
    b.set_defaults(func=_cmd_batch)
    return b


def add_common_arguments(b: argparse.ArgumentParser) -> None:
    """The arguments every many-videos command shares: inputs, --out, --segmenter, --format, executor, progress."""
    b.add_argument("videos", nargs="+", metavar="VIDEO_OR_GLOB", help="video files or glob patterns (quote them)")
    b.add_argument("--out", required=True, help="output folder: the manifest and one folder per video")
    add_segmenter_argument(b)
    add_cuts_argument(b)
    b.add_argument(
        "--format",
        default=("coco",),
        type=_formats,
        metavar="NAME[,NAME...]",
        help=f"comma-separated export formats: {choices('exporter')} (default: coco)",
    )
    b.add_argument(
        "--images",
        action="store_true",
        help="also write the frames beside the labels of the formats that take them (yolo, yolo-seg, mot, mots, davis)",
    )
    b.add_argument("--executor", choices=["local", "ray"], default="local", help="(default: %(default)s)")
    b.add_argument("--ray-address", help="an existing Ray cluster (auto, ray://host:10001); default: a local Ray")
    b.add_argument("--json", action="store_true", help="machine-readable progress: one JSON object per line")
    b.add_argument("--quiet", dest="batch_quiet", action="store_true", help="no progress output")


class _Printer:
    """Progress to the terminal: tqdm bars when tqdm is installed, else one line per video (stderr)."""

    def __init__(self, mode: str, total: int) -> None:
        self.mode = mode
        self.total = total
        self.finished = 0
        self.bar: Any = None
        self.frames: Any = None
        if mode == "bars":
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.mode = "lines"
            else:
                self.tqdm = tqdm
                self.bar = tqdm(total=total, desc="videos", unit="video", position=0)

    def __call__(self, event: dict[str, Any]) -> None:
        if self.mode == "json":
            print(json.dumps(event), flush=True)
            return
        if self.mode == "quiet":
            return
        kind = event.get("event")
        if kind == "video":
            self.finished += 1
            if self.frames is not None:
                self.frames.close()
                self.frames = None
            text = f"{event['video']}: {event['status']}" + (f" ({event['error']})" if event.get("error") else "")
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix_str(text[:60])
            else:
                print(f"[{self.finished}/{self.total}] {text}", file=sys.stderr, flush=True)
        elif kind == "frame" and self.bar is not None:
            if self.frames is None:
                total, name = event["total"], event["video"]
                self.frames = self.tqdm(total=total, desc=name, unit="frame", position=1, leave=False)
            self.frames.n = event["done"]
            self.frames.refresh()

    def close(self) -> None:
        for bar in (self.frames, self.bar):
            if bar is not None:
                bar.close()


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import Settings, expand_inputs
    from .errors import AnnotatorError

    expand_inputs(args.videos)  # a pattern that matches nothing is said first
    if not (args.prompts or args.text or args.track_people):
        raise AnnotatorError(  # checked before any video is opened: every one of them would fail
            "nothing gives the videos their objects",
            given="no --prompts, --text or --track-people",
            hint='pass --prompts "prompts/{stem}.txt" (a file per video), --text PHRASES or --track-people',
        )
    settings = Settings(
        segmenter=args.segmenter,
        prompts=os.path.abspath(args.prompts) if args.prompts else None,  # workers may run elsewhere
        prompts_format=args.prompts_format,
        direction=args.propagate,
        track_people=args.track_people,
        formats=args.format,
        options={
            **(
                {"text": {"phrases": args.text, "route": args.text_route, "every": args.redetect_every}}
                if args.text
                else {}
            ),
            **export_options(args),
            **({} if args.cuts else {"cuts": False}),  # the default leaves the settings' digest as it was
        },
    )
    return run_settings(args, settings)


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``export`` entry of the batch settings' options that the common arguments ask for (``--images``)."""
    return {"export": {"images": True}} if args.images else {}


def run_settings(args: argparse.Namespace, settings: Any) -> int:
    """Run the batch the parsed common arguments describe with ``settings``; print progress; the exit status."""
    from .batch import expand_inputs, run_batch

    mode = "json" if args.json else "quiet" if (args.batch_quiet or args.quiet) else "bars"

    printer = _Printer(mode, len(expand_inputs(args.videos)))
    try:
        report = run_batch(
            args.videos,
            args.out,
            settings,
            executor=args.executor,
            progress=printer,
            ray_address=args.ray_address,
        )
    finally:
        printer.close()
    summary = {
        "event": "summary",
        "manifest": str(report.manifest),
        "done": sum(r.status == "done" for r in report.results),
        "skipped": len(report.skipped),
        "failed": [{"video": r.key, "error": r.error} for r in report.failed],
    }
    if mode == "json":
        print(json.dumps(summary), flush=True)
    elif mode != "quiet" or report.failed:
        for r in report.failed:
            print(f"failed: {r.key}: {r.error}", file=sys.stderr)
        print(
            f"{summary['done']} done, {summary['skipped']} skipped, {len(report.failed)} failed; "
            f"manifest: {report.manifest}",
            file=sys.stderr,
        )
    return 1 if report.failed else 0
