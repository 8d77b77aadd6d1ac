"""One registry of parts: models, export formats, importers and effects, found by name.

Every part has a *kind* (:data:`KINDS`) and a *name*. A spec names a part and may carry
one argument after a colon, the way segmenters have always been named: ``"classic"``,
``"sam2:sam2.1_hiera_small"``, ``"hf:facebook/sam2.1-hiera-tiny"``, ``"hf:/path/to/folder"``.
:func:`resolve` turns a spec into a ready instance (``factory(arg, **kwargs)``), and passes
an instance through after checking it against the kind's protocol; :func:`lookup` returns
the registered object itself (for tables of functions such as effects and formats).

Where parts come from:

* the package's own table (:mod:`annotator_widgets.parts`): one line per built-in part,
  targets written as ``"module:attribute"`` strings so nothing heavy is imported until used;
* other installed packages, through the entry-point group ``annotator_widgets.<kind>``
  (e.g. ``[project.entry-points."annotator_widgets.segmenter"] mine = "my_pkg:MySegmenter"``);
* :func:`register` at run time.

Example:
    >>> import annotator_widgets.registry as registry
    >>> "classic" in registry.names("segmenter")
    True
    >>> part = registry.register("effect", "invert", lambda frame, mask, strength=1.0: 255 - frame)
    >>> registry.lookup("effect", "invert").__name__
    '<lambda>'
    >>> registry.unregister("effect", "invert")
    >>> registry.resolve("segmenter", "no-such-thing")
    Traceback (most recent call last):
    ...
    annotator_widgets.errors.BackendError: unknown segmenter (given: 'no-such-thing'). Fix: use one of: ...
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .backends import protocols
from .errors import AnnotatorError, BackendError

__all__ = [
    "ENTRY_POINT_PREFIX",
    "KINDS",
    "Part",
    "describe",
    "get",
    "lookup",
    "names",
    "parts",
    "refresh",
    "register",
    "resolve",
    "unregister",
]

log = logging.getLogger(__name__)

#: kind -> what such a part does (shown by ``--help`` and in errors)
KINDS: dict[str, str] = {
    "segmenter": "promptable video segmenter: points, boxes or masks -> masklets",
    "pose": "body landmarks of people on each frame",
    "hands": "hand landmarks with handedness on each frame",
    "grounder": "text -> boxes with scores (open-vocabulary detection)",
    "concept": "text -> every instance segmented and tracked (SAM 3)",
    "scorer": "text <-> image region match scores (CLIP, SigLIP)",
    "captioner": "image region -> caption or answer",
    "exporter": "writes a project in a dataset format",
    "importer": "reads a dataset format into a project",
    "effect": "changes the pixels inside masks (privacy effects)",
    "tool": "a tool of the annotator widget: its buttons, clicks, drags and keys",
}

#: kind -> protocol an instance must satisfy (kinds without one accept anything callable or any object)
PROTOCOLS: dict[str, type] = {
    "segmenter": protocols.VideoSegmenter,
    "pose": protocols.PoseEstimator,
    "hands": protocols.HandEstimator,
    "grounder": protocols.Grounder,
    "concept": protocols.ConceptSegmenter,
    "scorer": protocols.MaskScorer,
    "captioner": protocols.Captioner,
}

#: entry-point groups are ``annotator_widgets.<kind>``
ENTRY_POINT_PREFIX = "annotator_widgets."


@dataclass(frozen=True)
class Part:
    """A registered part.

    Attributes:
        kind: One of :data:`KINDS`.
        name: The name a spec uses (lower case).
        target: The factory / object, or a ``"module:attribute"`` string loaded on first use.
        summary: One line for ``--help`` and error messages.
        aliases: Other names that resolve to this part.
        origin: ``"builtin"``, ``"runtime"`` or the distribution that declared the entry point.
    """

    kind: str
    name: str
    target: Any
    summary: str = ""
    aliases: tuple[str, ...] = ()
    origin: str = "runtime"

    def load(self) -> Any:
        """The registered object, importing it if it was given as ``"module:attribute"`` or an entry point.

        Raises:
            BackendError: The import failed (a broken plugin, a missing module or attribute); the message
                names the part, where it comes from and the original error.
        """
        target = self.target
        if not isinstance(target, metadata.EntryPoint | str):
            return target
        value = target.value if isinstance(target, metadata.EntryPoint) else target
        try:
            if isinstance(target, metadata.EntryPoint):
                return target.load()
            module, _, attr = target.partition(":")
            obj: Any = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
            return obj
        except AnnotatorError:
            raise
        except Exception as exc:
            where = "this package" if self.origin == "builtin" else repr(self.origin)
            fix = (
                "reinstall annotator_widgets"
                if self.origin == "builtin"
                else f"fix or reinstall {self.origin}, or uninstall it"
                if self.origin != "runtime"
                else "check the module:attribute string given to register()"
            )
            raise BackendError(
                f"cannot load the {self.kind} {self.name!r} from {where}: {type(exc).__name__}: {exc}",
                given=value,
                hint=fix,
            ) from exc


_lock = threading.RLock()
_parts: dict[str, dict[str, Part]] = {kind: {} for kind in KINDS}
_aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
_shadowed: dict[str, dict[str, list[Part]]] = {kind: {} for kind in KINDS}  # parts a replace=True hid
_loaded = False


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise BackendError("unknown kind of part", given=kind, hint=f"use one of {sorted(KINDS)}")


def _add(part: Part, *, replace: bool) -> Part:
    table = _parts[part.kind]
    old = table.get(part.name)
    if old is not None:
        if not replace:
            raise BackendError(
                f"the {part.kind} {part.name!r} is already registered",
                given=f"{part.origin} vs {old.origin}",
                hint="choose another name, or pass replace=True",
            )
        _shadowed[part.kind].setdefault(part.name, []).append(old)
    table[part.name] = part
    for alias in part.aliases:
        _aliases[part.kind][alias] = part.name
    return part


def _load_entry_points() -> None:
    """Add every installed package's parts (entry points are read, nothing is imported)."""
    for kind in KINDS:
        for ep in metadata.entry_points(group=ENTRY_POINT_PREFIX + kind):
            dist = getattr(getattr(ep, "dist", None), "name", None) or ep.value
            name = ep.name.strip().lower()
            if not name or ":" in name:
                log.warning(
                    "ignoring %s %r from %s: a part name must be non-empty and contain no ':'", kind, name, dist
                )
                continue
            if name in _parts[kind]:
                log.warning(
                    "ignoring %s %r from %s: the name is taken by %s", kind, name, dist, _parts[kind][name].origin
                )
                continue
            _add(Part(kind, name, ep, f"from {dist} ({ep.value})", (), dist), replace=False)


def _ensure_loaded() -> None:
    """Load the built-in table and the entry points once (lazily: importing this module is cheap)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        from .parts import BUILTIN

        for kind, name, target, summary, aliases in BUILTIN:
            if name not in _parts[kind]:  # a runtime registration made before loading wins
                _add(Part(kind, name, target, summary, tuple(aliases), "builtin"), replace=False)
        _load_entry_points()
        _loaded = True


def refresh() -> None:
    """Read the installed packages' entry points again (after ``pip install``-ing a plugin in a running kernel).

    Parts from packages that are no longer installed go; built-in and runtime registrations stay.
    """
    global _loaded
    with _lock:
        if not _loaded:
            _ensure_loaded()
            return
        importlib.invalidate_caches()
        for kind in KINDS:
            for name, part in list(_parts[kind].items()):
                if part.origin not in ("builtin", "runtime"):
                    unregister(kind, name)
        _load_entry_points()


def register(
    kind: str,
    name: str,
    target: Any,
    *,
    summary: str = "",
    aliases: tuple[str, ...] = (),
    replace: bool = False,
) -> Part:
    """Register a part under ``kind`` and ``name``.

    Args:
        kind: One of :data:`KINDS`.
        name: The name specs use (case-insensitive, no ``:``).
        target: A factory (called by :func:`resolve`), an object (returned by :func:`lookup`),
            or a ``"module:attribute"`` string imported on first use.
        summary: One line for ``--help``.
        aliases: Other names for it.
        replace: Replace an existing part of that name instead of raising.
    """
    _check_kind(kind)
    key = name.strip().lower()
    if not key or ":" in key:
        raise BackendError("a part name must be non-empty and contain no ':'", given=name)
    _ensure_loaded()
    with _lock:
        return _add(Part(kind, key, target, summary, tuple(a.lower() for a in aliases), "runtime"), replace=replace)


def unregister(kind: str, name: str) -> None:
    """Remove a part (a test's or a user's); the part it replaced, if any, comes back. Unknown names are ignored."""
    _check_kind(kind)
    key = name.strip().lower()
    with _lock:
        part = _parts[kind].pop(key, None)
        for alias in part.aliases if part else ():
            if _aliases[kind].get(alias) == key:
                del _aliases[kind][alias]
        hidden = _shadowed[kind].get(key)
        if part is not None and hidden:
            previous = hidden.pop()
            _parts[kind][key] = previous
            for alias in previous.aliases:
                _aliases[kind][alias] = key


def parts(kind: str) -> list[Part]:
    """Every part of a kind, sorted by name."""
    _check_kind(kind)
    _ensure_loaded()
    return [_parts[kind][n] for n in sorted(_parts[kind])]


def names(kind: str) -> list[str]:
    """The names of every part of a kind, sorted (the CLI's choices)."""
    return [p.name for p in parts(kind)]


def describe(kind: str) -> str:
    """``name: summary`` lines of a kind, for ``--help``."""
    return "; ".join(f"{p.name}: {p.summary}" if p.summary else p.name for p in parts(kind))


def _split(spec: str) -> tuple[str, str]:
    name, _, arg = spec.partition(":")
    return name.strip().lower(), arg.strip()


def get(kind: str, spec: str) -> Part:
    """The part a spec names (``"name"`` or ``"name:argument"``); :class:`BackendError` lists the known ones."""
    _check_kind(kind)
    _ensure_loaded()
    name, _ = _split(spec)
    name = _aliases[kind].get(name, name)
    part = _parts[kind].get(name)
    if part is None:
        raise BackendError(f"unknown {kind}", given=spec, hint=f"use one of: {', '.join(names(kind))}")
    return part


def lookup(kind: str, spec: str) -> Any:
    """The registered object itself (an effect function, an export format)."""
    return get(kind, spec).load()


def _protocol_members(proto: type) -> list[str]:
    """A protocol's public methods and attributes (annotated attributes such as ``name`` included)."""
    members: set[str] = set()
    for cls in proto.__mro__:
        if cls.__module__ in ("typing", "builtins"):
            continue
        members.update(vars(cls), getattr(cls, "__annotations__", {}))
    return sorted(m for m in members if not m.startswith("_"))


def _check_instance(kind: str, obj: Any) -> Any:
    proto = PROTOCOLS.get(kind)
    if proto is not None and not isinstance(obj, proto):
        wanted = [m for m in _protocol_members(proto) if not hasattr(obj, m)]
        raise BackendError(
            f"object is not a {kind} ({proto.__name__})",
            given=type(obj).__name__,
            hint=f"it lacks {wanted}; pass a name such as {names(kind)[:3]} or an object with those methods",
        )
    return obj


def resolve(kind: str, spec: Any, **kwargs: Any) -> Any:
    """A ready part: ``spec`` may be a name, ``"name:argument"``, or an instance (checked and returned).

    The part's factory is called as ``factory(argument, **kwargs)`` when the spec carries an
    argument, else ``factory(**kwargs)``.
    """
    _check_kind(kind)
    if not isinstance(spec, str):
        return _check_instance(kind, spec)
    part = get(kind, spec)
    _, arg = _split(spec)
    factory: Callable[..., Any] = part.load()
    try:
        obj = factory(arg, **kwargs) if arg else factory(**kwargs)
    except TypeError as exc:
        raise BackendError(
            f"cannot build the {kind} {part.name!r} with these arguments",
            given=f"{spec!r} with {sorted(kwargs)}",
            hint=f"{exc}; {part.name}: {part.summary}" if part.summary else str(exc),  # the summary shows the form
        ) from exc
    return _check_instance(kind, obj)
