"""Model checkpoints: a registry with checksums, a cache folder, fetch and verify.

Files live in the cache folder (``$ANNOTATOR_WIDGETS_CACHE``, default
``~/.cache/annotator_widgets``); a repository checkout's ``checkpoints/`` folder
and ``./checkpoints`` are searched too, so files placed there by hand are found.

Where upstream publishes no checksum (Meta's SAM 2.1 checkpoints), the first
verified download records its sha256 beside the file (``<file>.sha256``) and
every later :func:`verify` checks against that record. Artifacts we build
ourselves (the MediaPipe pose bundle) have a pinned sha256.

Command line::

    python -m annotator_widgets.checkpoints list
    python -m annotator_widgets.checkpoints fetch sam2.1_hiera_tiny
    python -m annotator_widgets.checkpoints verify
    python -m annotator_widgets.checkpoints path sam2.1_hiera_tiny
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError

__all__ = [
    "REGISTRY",
    "Checkpoint",
    "add_commands",
    "cache_dir",
    "fetch",
    "find_local",
    "register",
    "run_command",
    "sha256_of",
    "verify",
]

log = logging.getLogger(__name__)

ENV_CACHE = "ANNOTATOR_WIDGETS_CACHE"
_SAM2_BASE = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


@dataclass(frozen=True)
class Checkpoint:
    """A registered model file.

    Attributes:
        name: Registry key, e.g. ``"sam2.1_hiera_tiny"``.
        filename: File name in the cache folder.
        urls: Download sources, tried in order.
        sha256: Pinned checksum, or None where upstream publishes none.
        config: The model config that goes with it (SAM2: config name in the sam2 package).
        approx_mb: Expected size, to reject error pages and partial files.
        builder: ``"module:function"`` that builds the file offline, called with the target path.
        hub_id: The same model on the Hugging Face hub (for transformers), if any.
        family: ``"sam2"``, ``"pose"``, ...
        fallback: Another registry name to fetch instead when no URL works and there is
            no builder (e.g. the official pose bundle falls back to the one built from a wheel).
    """

    name: str
    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    config: str | None = None
    approx_mb: float | None = None
    builder: str | None = None
    hub_id: str | None = None
    family: str = ""
    notes: str = field(default="", compare=False)
    fallback: str | None = None


REGISTRY: dict[str, Checkpoint] = {}


def register(ckpt: Checkpoint) -> Checkpoint:
    """Add (or replace) a registry entry."""
    REGISTRY[ckpt.name] = ckpt
    return ckpt


for _size, _cfg, _mb in (("tiny", "t", 149), ("small", "s", 176), ("base_plus", "b+", 309), ("large", "l", 857)):
    register(
        Checkpoint(
            name=f"sam2.1_hiera_{_size}",
            filename=f"sam2.1_hiera_{_size}.pt",
            urls=(_SAM2_BASE + f"sam2.1_hiera_{_size}.pt",),
            config=f"configs/sam2.1/sam2.1_hiera_{_cfg}.yaml",
            approx_mb=_mb,
            hub_id=f"facebook/sam2.1-hiera-{_size.replace('_', '-')}",
            family="sam2",
        )
    )


def cache_dir() -> Path:
    """The folder where fetched and built checkpoints are kept (created on demand)."""
    root = os.environ.get(ENV_CACHE)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "annotator_widgets"
    return path


def _search_dirs() -> list[Path]:
    dirs = [cache_dir(), Path.cwd() / "checkpoints", Path(__file__).resolve().parent.parent / "checkpoints"]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _entry(name: str) -> Checkpoint:
    try:
        return REGISTRY[name]
    except KeyError:
        raise CheckpointError("unknown checkpoint name", given=name, hint=f"known: {sorted(REGISTRY)}") from None


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_local(name: str) -> Path | None:
    """The path of a registered checkpoint already on disk, or None (never downloads)."""
    ckpt = _entry(name)
    for d in _search_dirs():
        p = d / ckpt.filename
        if p.is_file() and p.stat().st_size > 0:
            return p
    return None


def _expected_sha(ckpt: Checkpoint, path: Path) -> str | None:
    if ckpt.sha256:
        return ckpt.sha256
    side = Path(str(path) + ".sha256")
    return side.read_text().split()[0] if side.is_file() else None


def verify(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Check a checkpoint's size and sha256; returns its path or raises :class:`CheckpointError`."""
    ckpt = _entry(name)
    p = Path(path) if path is not None else find_local(name)
    if p is None or not p.is_file():
        raise CheckpointError(
            f"checkpoint {name!r} is not on disk", given=str(p or cache_dir() / ckpt.filename), hint=_manual_hint(ckpt)
        )
    if ckpt.approx_mb and p.stat().st_size < ckpt.approx_mb * 0.5 * 1e6:
        raise CheckpointError(
            f"checkpoint {name!r} is too small to be complete",
            given=f"{p} ({p.stat().st_size} bytes)",
            hint=_manual_hint(ckpt),
        )
    expected = _expected_sha(ckpt, p)
    if expected:
        actual = sha256_of(p)
        if actual != expected:
            raise CheckpointError(
                f"checkpoint {name!r} has the wrong sha256",
                given=f"{p}: actual {actual}, expected {expected}",
                hint="the file is corrupt or not the published one: delete it and fetch it again",
            )
    return p


def _manual_hint(ckpt: Checkpoint) -> str:
    where = cache_dir() / ckpt.filename
    parts = []
    if ckpt.urls:
        parts.append(f"download {ckpt.urls[0]} by hand and save it as {where}")
    if ckpt.builder:
        parts.append(f"or build it offline with `python -m annotator_widgets.checkpoints fetch {ckpt.name}`")
    parts.append(f"(set ${ENV_CACHE} to use another folder)")
    return " ".join(parts)


def _download(url: str, target: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with (
            open(target, "wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar,
        ):
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _call_builder(spec: str) -> Callable[[Path], object]:
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


def fetch(name: str, *, progress: bool = True, force: bool = False) -> Path:
    """Return a verified local copy of a checkpoint: found on disk, built, or downloaded.

    Raises:
        CheckpointError: Offline and nothing can be built; the message says what to
            download by hand and where to put it.
    """
    ckpt = _entry(name)
    if not force:
        local = find_local(name)
        if local is not None:
            return verify(name, local)
    target_dir = cache_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / ckpt.filename
    errors: list[str] = []
    for url in ckpt.urls:
        fd, tmp_name = tempfile.mkstemp(dir=target_dir, suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(url, tmp, progress)
            if ckpt.sha256 and (actual := sha256_of(tmp)) != ckpt.sha256:
                raise CheckpointError(
                    "downloaded file has the wrong sha256",
                    given=f"{url}: actual {actual}, expected {ckpt.sha256}",
                    hint="the source serves another file; download it by hand from a trusted source",
                )
            os.replace(tmp, target)
            if not ckpt.sha256:
                Path(str(target) + ".sha256").write_text(f"{sha256_of(target)}  {ckpt.filename}\n")
            return verify(name, target)
        except (urllib.error.URLError, OSError, CheckpointError) as exc:
            errors.append(f"{url}: {exc}")
            log.info("download of %s failed: %s", url, exc)
        finally:
            tmp.unlink(missing_ok=True)
    if ckpt.builder:
        _call_builder(ckpt.builder)(target)
        return verify(name, target)
    if ckpt.fallback:
        log.warning("cannot download checkpoint %r; using %r instead", name, ckpt.fallback)
        return fetch(ckpt.fallback, progress=progress, force=force)
    raise CheckpointError(
        f"cannot fetch checkpoint {name!r} (offline or blocked?)",
        given="; ".join(errors) or "no download source",
        hint=_manual_hint(ckpt),
    )


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The ``list | fetch | verify | path`` subcommands (``python -m annotator_widgets.checkpoints`` and
    ``annotator-widgets checkpoints``); :func:`run_command` runs the parsed one."""
    sub = parser.add_subparsers(dest="checkpoints_cmd", required=True)
    sub.add_parser("list", help="list registered checkpoints and whether they are on disk")
    f = sub.add_parser("fetch", help="download or build a checkpoint")
    f.add_argument("names", nargs="+")
    f.add_argument("--force", action="store_true")
    v = sub.add_parser("verify", help="check sizes and sha256 of checkpoints on disk")
    v.add_argument("names", nargs="*")
    p = sub.add_parser("path", help="print the local path of a checkpoint")
    p.add_argument("name")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annotator_widgets.checkpoints", description=__doc__.split("\n")[0])
    add_commands(parser)
    return run_command(parser.parse_args(argv))


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed :func:`add_commands` subcommand; 0 done, 1 a checkpoint failed, 2 an unknown name (as the other
    commands' bad names; nothing is run then). The message goes to stderr."""
    from .errors import AnnotatorError

    asked = [*(getattr(args, "names", None) or []), *([args.name] if args.checkpoints_cmd == "path" else [])]
    unknown = [n for n in asked if n not in REGISTRY]
    if unknown:
        err = CheckpointError("unknown checkpoint name", given=", ".join(unknown), hint=f"known: {', '.join(REGISTRY)}")
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.checkpoints_cmd == "list":
            for ck in REGISTRY.values():
                local = find_local(ck.name)
                print(f"{ck.name:28s} {ck.family:6s} {'on disk: ' + str(local) if local else 'not on disk'}")
        elif args.checkpoints_cmd == "fetch":
            for n in args.names:
                print(fetch(n, force=args.force))
        elif args.checkpoints_cmd == "verify":
            names = args.names or [n for n in REGISTRY if find_local(n)]
            for n in names:
                print(f"{n}: ok ({verify(n)})")
        elif args.checkpoints_cmd == "path":
            local = find_local(args.name)
            if local is None:
                raise CheckpointError(
                    f"checkpoint {args.name!r} is not on disk", given=args.name, hint=_manual_hint(_entry(args.name))
                )
            print(local)
    except AnnotatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def copy_into_cache(name: str, path: str | os.PathLike[str]) -> Path:
    """Copy a file you downloaded yourself into the cache under its registered name."""
    ckpt = _entry(name)
    target = cache_dir() / ckpt.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return verify(name, target)


# Modules that register their own checkpoints (light at import time: heavy imports stay inside functions).
for _module in (
    "annotator_widgets.backends.pose_bundle",
    "annotator_widgets.backends.face_bundle",
    "annotator_widgets.backends.hand_bundle",
):
    importlib.import_module(_module)


if __name__ == "__main__":
    # run against the importable module, whose REGISTRY the modules above registered into
    from annotator_widgets import checkpoints as _checkpoints

    raise SystemExit(_checkpoints._main())
