"""``annotator-widgets auto``: a phrase becomes masklets and exports on many videos, in one command.

Seed 003's whole pipeline with no clicks::

    annotator-widgets auto "videos/*.mp4" --text "faces, license plates" --out runs/ \\
        [--segmenter sam2:tiny] [--grounder owlv2 | --concept sam3:<id or folder> | --route faces] \\
        [--redetect-every 10] [--direction both] [--no-cuts] [--track-people] [--actions [--captioner blip:<id>]] \\
        --format coco,yolo [--executor ray] [--json | --quiet]

For each video it grounds the phrases on key frames (the first frame, then every K frames) until one shows
them, propagates forward and backward from there with re-detection every K frames (new instances become
objects, lost ones are picked up again; no mask crosses a shot cut unless ``--no-cuts``), optionally tracks
people and finds hand-object actions, and exports (:mod:`annotator_widgets.batch.language`). It is a batch
(:mod:`annotator_widgets.cli_batch`): one project and one set of exports per video under ``--out``, a
manifest, resumable after a kill, locally or on Ray. Exit status: 0 every video done, 1 some videos failed
(see ``OUT/manifest.sqlite``), 2 bad arguments. Registered on the main parser by :func:`add_auto_parser` (one
line in :mod:`annotator_widgets.cli`).
"""

from __future__ import annotations

import argparse
from typing import Any

from .cli_args import choices, part_arg, positive_int
from .cli_batch import add_common_arguments, export_options, run_settings

__all__ = ["add_auto_parser", "auto_settings"]


def add_auto_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``auto`` subcommand to the main parser's subparsers."""
    a = sub.add_parser(
        "auto",
        help="auto-label videos from a phrase: ground, propagate both ways with re-detection, export",
        description="Auto-label videos from a phrase: ground on key frames, propagate both ways with re-detection "
        "every K frames, export. Resumable; locally or on Ray.",
        epilog="exit status: 0 all done, 1 some videos failed (see OUT/manifest.sqlite), 2 bad arguments",
    )
    add_common_arguments(a)
    a.add_argument("--text", required=True, metavar="PHRASES", help="what to label, e.g. 'faces, the red mug'")
    which = a.add_mutually_exclusive_group()
    which.add_argument(
        "--grounder",
        type=part_arg("grounder", with_argument=True),
        metavar="NAME",
        help=f"answer every phrase with this grounder: {choices('grounder')}",
    )
    which.add_argument(
        "--concept",
        type=part_arg("concept", with_argument=True),
        metavar="NAME",
        help=f"a text-to-masklets model instead of grounder + segmenter: {choices('concept')}",
    )
    which.add_argument(
        "--route",
        default="auto",
        help="auto (faces -> face detector, people -> pose model, other phrases -> owlv2), faces, people, "
        "detector[:spec], grounder[:spec], concept[:spec] (default: %(default)s)",
    )
    a.add_argument("--threshold", type=float, metavar="S", help="the model's lowest score kept (default: its own)")
    a.add_argument("--redetect-every", type=positive_int, default=10, metavar="K", help="key frames: every K frames")
    a.add_argument("--direction", choices=["both", "forward", "backward"], default="both", help="(default: both)")
    a.add_argument("--track-people", action="store_true", help="also track every person with the pose model")
    a.add_argument("--actions", action="store_true", help="find hand-object interactions (needs --track-people)")
    a.add_argument("--hands", metavar="NAME", help="hand model for --actions (default: the pose model's hand points)")
    a.add_argument("--captioner", metavar="NAME", help="describe each action in words with this captioner")
    a.set_defaults(func=_cmd_auto)
    return a


def auto_settings(args: argparse.Namespace) -> Any:
    """The batch :class:`~annotator_widgets.batch.Settings` that ``auto``'s arguments describe."""
    from .batch import Settings
    from .errors import AnnotatorError

    if args.actions and not args.track_people:
        raise AnnotatorError(
            "--actions pairs people with objects", given="--actions without --track-people", hint="add --track-people"
        )
    route = f"grounder:{args.grounder}" if args.grounder else f"concept:{args.concept}" if args.concept else args.route
    text: dict[str, Any] = {"phrases": args.text, "route": route, "every": args.redetect_every}
    text["direction"] = args.direction
    if args.threshold is not None:
        text["threshold"] = args.threshold
    options: dict[str, Any] = {"text": text, **export_options(args), **({} if args.cuts else {"cuts": False})}
    if args.actions:
        options["actions"] = {"hands": args.hands, "captioner": args.captioner}
    return Settings(
        segmenter=args.segmenter,
        direction="none",  # the text step propagates, with re-detection
        track_people=args.track_people,
        formats=args.format,
        options=options,
    )


def _cmd_auto(args: argparse.Namespace) -> int:
    return run_settings(args, auto_settings(args))
