"""The ``annotator-widgets`` command: the same session, headless.

Commands::

    annotator-widgets demo --out out/                 # generated clip -> masks, MP4s, COCO, summary
    annotator-widgets info VIDEO
    annotator-widgets annotate VIDEO --project P.awp --prompts prompts.json [--segmenter NAME] [--propagate both]
    annotator-widgets export P.awp --format NAME --out PATH [--images [--video VIDEO]] [--overwrite]
    annotator-widgets render P.awp --out out.mp4 [--video VIDEO] [--effect NAME --strength 0.6]
                      [--objects all|IDS|CATEGORY] [--dilate PX] [--feather PX] [--trails N]
    annotator-widgets parts [KIND] [--json]           # every registered part: name, origin, summary
    annotator-widgets batch "videos/*.mp4" --out DIR  # many videos, resumable, local or Ray (see cli_batch)
    annotator-widgets auto "videos/*.mp4" --text "faces" --out DIR  # phrase -> masklets -> exports (cli_auto)
    annotator-widgets simulate VIDEO --truth MASKS    # clicks a simulated annotator needs (cli_simulate)
    annotator-widgets checkpoints list|fetch|verify|path

``--quiet`` and ``--json`` also keep native libraries' own log lines (MediaPipe's LiteRT and absl
INFO / WARNING lines, which ignore ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL``) off stderr:
the process's stderr file descriptor goes to the null device while the command runs, and Python's
``sys.stderr`` (errors, warnings, logging, tracebacks, :mod:`faulthandler`) keeps the terminal.

Every choice (``--segmenter``, ``--format``, ``--effect``) and its ``--help`` comes from the registry
(:mod:`annotator_widgets.registry`), so installed plugins appear there too; an unknown name exits with
status 2 and lists the known ones. ``python -m annotator_widgets`` runs the same command.

``prompts.json`` is a list of ``{"frame": 0, "obj_id": 1, "points": [[x, y], ...],
"labels": [1, ...], "box": [x0, y0, x1, y1], "name": "mug", "category": "cup"}`` records (points and / or
box; see :mod:`annotator_widgets.prompt_records`).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoints, registry
from .cli_args import add_cuts_argument, add_segmenter_argument, choices, part_arg
from .cli_auto import add_auto_parser
from .cli_batch import add_batch_parser
from .cli_simulate import add_simulate_parser
from .errors import AnnotatorError

__all__ = ["main", "run_demo"]

log = logging.getLogger(__name__)


def run_demo(
    out: str | Path,
    *,
    segmenter: str = "auto",
    frames: int = 90,
    size: tuple[int, int] = (480, 270),
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the whole headless pipeline on a generated clip with known ground truth.

    Writes ``sample.mp4`` (the input), ``project.awp``, ``masks/`` (label PNGs),
    ``annotated.mp4``, ``blurred.mp4``, ``coco.json`` and ``summary.json`` into
    ``out``; returns the summary (timings and mean IoU against the ground truth).
    """
    from .data import synthetic_clip, write_video
    from .export import save_coco, save_masks_png
    from .render import render_video
    from .rle import mask_iou
    from .session import AnnotationSession
    from .video import open_video

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = synthetic_clip(num_frames=frames, size=size, num_objects=2, seed=7)
    sample = write_video(clip.frames, out_dir / "sample.mp4", fps=clip.fps)
    video = open_video(sample)
    project_path = out_dir / "project.awp"
    for suffix in ("", "-wal", "-shm"):
        Path(str(project_path) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    with AnnotationSession(video, project_path, segmenter, show_progress=show_progress) as session:
        for oid, gt in clip.masks.items():
            ys, xs = np.nonzero(gt[0])
            order = np.argsort((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
            pts = [(float(xs[i]), float(ys[i])) for i in order[:: max(1, len(order) // 3)][:3]]
            obj = session.add_object(name=f"shape {oid}", category="shape")
            session.add_points(0, obj.obj_id, pts)
        t1 = time.perf_counter()
        session.run("forward")
        t2 = time.perf_counter()
        ious = []
        for ann in session.project.iter_annotations():
            gt = clip.masks[ann.obj_id][ann.frame]
            ious.append(mask_iou(ann.rle, gt))
        save_coco(session, out_dir / "coco.json")
        pngs = save_masks_png(session, out_dir / "masks")
        render_video(session, video, out_dir / "annotated.mp4", show_progress=show_progress)
        render_video(session, video, out_dir / "blurred.mp4", effect="blur", strength=0.8, show_progress=show_progress)
        summary = {
            "segmenter": getattr(session.segmenter, "name", type(session.segmenter).__name__),
            "frames": len(video),
            "size": list(video.size),
            "objects": len(session.objects),
            "prompt_s": round(t1 - t0, 3),
            "propagate_s": round(t2 - t1, 3),
            "ms_per_frame": round((t2 - t1) / len(video) * 1000, 2),
            "mean_iou_vs_ground_truth": round(float(np.mean(ious)), 4),
            "mask_pngs": len(pngs),
        }
    summary["outputs"] = sorted(  # not SQLite's side files nor the writer lock's (the lock file stays by design)
        p.name for p in out_dir.iterdir() if not p.name.startswith("project.awp-") and p.name != "project.awp.lock"
    )
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _cmd_info(args: argparse.Namespace) -> int:
    from .video import open_video

    print(json.dumps(open_video(args.video).info, indent=2))
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from .prompt_records import apply_prompt_records, read_prompt_records
    from .session import AnnotationSession

    if not args.prompts and args.propagate != "none" and not Path(args.project).exists():
        raise AnnotatorError(
            "nothing to propagate: a new project and no prompts",
            given=args.project,
            hint="pass --prompts prompts.json (records of points or boxes per object and frame)",
        )
    prompts = read_prompt_records(args.prompts) if args.prompts else []  # checked before the project is touched
    with AnnotationSession(
        args.video, args.project, args.segmenter, show_progress=not args.quiet, cuts=args.cuts
    ) as session:
        apply_prompt_records(session, prompts)
        if args.propagate != "none":
            progress = session.run(args.propagate)
            log.info("propagated %d frames", progress.done)
        segmenter = getattr(session.segmenter, "name", type(session.segmenter).__name__)  # what "auto" chose
        print(json.dumps({"project": str(session.project.path), "segmenter": segmenter, **session.project.stats()}))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .project import Project

    fmt = registry.lookup("exporter", args.format)
    if not callable(getattr(fmt, "save", None)):
        raise AnnotatorError(
            f"the exporter {args.format!r} has no save(project, out, **options)",
            given=type(fmt).__name__,
            hint="register an annotator_widgets.export.base.ExportFormat",
        )
    options: dict[str, Any] = {}
    if args.images or args.video:
        if not _writes_images(args.format):
            with_images = [n for n in registry.names("exporter") if _writes_images(n)]
            raise AnnotatorError(
                f"the {args.format} export does not write frame images",
                given="--images" if args.images else f"--video {args.video}",
                hint=f"drop --images / --video, or use a format that writes them: {', '.join(with_images)}",
            )
        options["images"] = True
        if args.video:
            options["video"] = args.video
    if args.overwrite and getattr(fmt, "target", "file") == "folder":
        options["overwrite"] = True  # a file target is always replaced
    with Project.open(args.project, readonly=True) as project:
        paths = fmt.save(project, args.out, **options)
    if getattr(fmt, "target", "file") == "folder":
        print(f"{len(paths)} files in {args.out}")
    else:
        print("\n".join(str(p) for p in paths))
    return 0


def _writes_images(name: str) -> bool:
    """Whether the exporter ``name`` writes the frames with ``images=True``."""
    return bool(getattr(registry.lookup("exporter", name), "writes_images", False))


def _cmd_render(args: argparse.Namespace) -> int:
    from .project import Project
    from .render import render_video

    with Project.open(args.project, readonly=True) as project:
        video = args.video or project.video_info.get("path")
        if not video:
            raise AnnotatorError(
                "the project does not know its video file", given=args.project, hint="pass --video PATH"
            )
        if not args.video and not Path(video).exists():
            raise AnnotatorError(
                "the project's video is no longer where it was annotated",
                given=video,
                hint="pass --video PATH (the same video, moved or copied)",
            )
        print(
            render_video(
                project,
                video,
                args.out,
                effect=args.effect,
                strength=args.strength,
                objects=args.objects,
                dilate=args.dilate,
                feather=args.feather,
                trails=args.trails,
                show_progress=not args.quiet,
            )
        )
    return 0


def _objects_arg(value: str) -> str | list[str | int]:
    """``--objects``: ``all``, or comma-separated object ids and category or object names."""
    if value.strip().lower() == "all":
        return "all"
    return [int(t) if t.strip().isdigit() else t.strip() for t in value.split(",") if t.strip()]


def _cmd_parts(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(registry.KINDS)
    if args.json:
        rows = [
            {"kind": p.kind, "name": p.name, "origin": p.origin, "summary": p.summary, "aliases": list(p.aliases)}
            for kind in kinds
            for p in registry.parts(kind)
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for kind in kinds:
        found = registry.parts(kind)
        if args.kind is None and not found:
            continue
        print(f"{kind}: {registry.KINDS[kind]}")
        width = max((len(p.name) for p in found), default=0)
        origin_width = max((len(p.origin) for p in found), default=0)
        for p in found:
            aliases = f" (also: {', '.join(p.aliases)})" if p.aliases else ""
            print(f"  {p.name:<{width}}  {p.origin:<{origin_width}}  {p.summary}{aliases}")
        if not found:
            print("  (none registered)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    summary = run_demo(args.out, segmenter=args.segmenter, frames=args.frames, show_progress=not args.quiet)
    print(json.dumps(summary, indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="annotator-widgets", description=__doc__.split("\n")[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the headless pipeline on a generated clip")
    d.add_argument("--out", default="out")
    add_segmenter_argument(d)
    d.add_argument("--frames", type=int, default=90)
    d.set_defaults(func=_cmd_demo)
    i = sub.add_parser("info", help="print a video's frames, size and fps")
    i.add_argument("video")
    i.set_defaults(func=_cmd_info)
    a = sub.add_parser("annotate", help="prompt and propagate headless")
    a.add_argument("video")
    a.add_argument("--project", required=True)
    a.add_argument("--prompts", help="JSON list of prompt records")
    add_segmenter_argument(a)
    a.add_argument("--propagate", choices=["forward", "backward", "both", "none"], default="both")
    add_cuts_argument(a)
    a.set_defaults(func=_cmd_annotate)
    e = sub.add_parser("export", help="export the project in a dataset format")
    e.add_argument("project")
    e.add_argument(
        "--format",
        default="coco",
        type=part_arg("exporter"),
        metavar="NAME",
        help=f"one of {choices('exporter')} (default: %(default)s)",
    )
    e.add_argument("--out", required=True, help="a file or a folder, as the format writes")
    e.add_argument(
        "--images",
        action="store_true",
        help="also write the frames (yolo, yolo-seg, mot, mots, davis), as trainers and evaluators expect",
    )
    e.add_argument("--video", help="read the frames for --images from this video (default: the project's video)")
    e.add_argument("--overwrite", action="store_true", help="replace an output folder that holds other files")
    e.set_defaults(func=_cmd_export)
    r = sub.add_parser("render", help="render overlays or a privacy effect to MP4")
    r.add_argument("project")
    r.add_argument("--out", required=True)
    r.add_argument("--video")
    r.add_argument(
        "--effect",
        type=part_arg("effect"),
        metavar="NAME",
        help=f"anonymise the objects instead of drawing them; one of {choices('effect')}",
    )
    r.add_argument("--strength", "--intensity", type=float, default=0.6, help="effect strength 0..1")
    r.add_argument(
        "--objects",
        type=_objects_arg,
        default="all",
        metavar="WHICH",
        help="all (default), or comma-separated object ids and category or object names, e.g. person or 1,3",
    )
    r.add_argument("--dilate", type=int, default=0, metavar="PX", help="grow the masks by PX pixels (default 0)")
    r.add_argument("--feather", type=int, default=0, metavar="PX", help="soft effect edge over PX pixels (default 0)")
    r.add_argument("--trails", type=int, default=0, metavar="N", help="draw centroid trails over N frames (default 0)")
    r.set_defaults(func=_cmd_render)
    add_batch_parser(sub)
    add_auto_parser(sub)
    add_simulate_parser(sub)
    c = sub.add_parser("checkpoints", help="list, fetch, verify or locate model checkpoints")
    checkpoints.add_commands(c)
    c.set_defaults(func=checkpoints.run_command)
    p = sub.add_parser("parts", help="list the registered models, formats and effects (with plugins)")
    p.add_argument(
        "kind",
        nargs="?",
        type=_kind,
        metavar="KIND",
        help="one kind of part: " + ", ".join(registry.KINDS),
    )
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(func=_cmd_parts)
    return parser


def _kind(value: str) -> str:
    if value not in registry.KINDS:
        raise argparse.ArgumentTypeError(f"unknown kind of part {value!r}; use one of: {', '.join(registry.KINDS)}")
    return value


@contextlib.contextmanager
def native_stderr_off(off: bool = True) -> Iterator[None]:
    """While inside, what native code writes to file descriptor 2 goes to the null device; Python's own
    ``sys.stderr`` keeps the original stream (a duplicate of it when it was fd 2 itself). Restored after."""
    if not off:
        yield
        return
    try:
        sys.stderr.flush()
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured stream (pytest, a notebook): not fd 2
        real = False
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    old_stderr, faults = sys.stderr, faulthandler.is_enabled()
    if real:
        sys.stderr = open(  # noqa: SIM115 - closed below
            os.dup(saved), "w", buffering=1, encoding=old_stderr.encoding, errors="backslashreplace"
        )
        faulthandler.enable(sys.stderr)  # a native crash still says where it happened
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        if real:
            sys.stderr.flush()
            faulthandler.disable()
            sys.stderr.close()
            sys.stderr = old_stderr
            if faults:
                faulthandler.enable(old_stderr)
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``annotator-widgets`` command; returns the exit status (2 for bad arguments or names)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad arguments (2, message on stderr)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    quiet = bool(args.quiet or getattr(args, "json", False) or getattr(args, "batch_quiet", False))
    with native_stderr_off(quiet):
        level = logging.DEBUG if args.verbose else logging.WARNING
        handler = logging.StreamHandler(sys.stderr)  # this run's stderr (see native_stderr_off)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        root = logging.getLogger()
        added = not root.handlers
        if added:
            root.addHandler(handler)
            root.setLevel(level)
        try:
            return int(args.func(args))
        except AnnotatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            if added:
                root.removeHandler(handler)


if __name__ == "__main__":
    raise SystemExit(main())
