"""Argument types and options every ``annotator-widgets`` subcommand shares, built from the registry.

One place for: a registered part's name as an argparse ``type`` (:func:`part_arg`, validated by
:func:`registry.get`, so plugins are accepted and an unknown name exits with status 2 listing the
known ones), its ``--help`` text (:func:`choices`), the ``--segmenter`` option
(:func:`add_segmenter_argument`), and whole-number / unit-interval types. :mod:`.cli`,
:mod:`.cli_batch`, :mod:`.cli_auto` and :mod:`.cli_simulate` import it; it imports none of them.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_segmenter_argument(parser, default="classic")
    >>> parser.parse_args(["--segmenter", "classic"]).segmenter
    'classic'
    >>> positive_int("3")
    3
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import registry
from .errors import AnnotatorError

__all__ = ["add_cuts_argument", "add_segmenter_argument", "choices", "part_arg", "positive_int", "unit_float"]


def part_arg(kind: str, *, with_argument: bool = False) -> Callable[[str], str]:
    """An argparse ``type`` that accepts a registered part's name (validated by :func:`registry.get`)."""

    def check(value: str) -> str:
        if not with_argument and ":" in value:
            raise argparse.ArgumentTypeError(
                f"a {kind} takes no ':argument' (given: {value!r}); use one of: {', '.join(registry.names(kind))}"
            )
        try:
            registry.get(kind, value)
        except AnnotatorError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
        return value

    check.__name__ = kind  # argparse names the type in its messages
    return check


def choices(kind: str) -> str:
    """``--help`` text for a kind: every registered name with its summary (``%`` escaped for argparse)."""
    return registry.describe(kind).replace("%", "%%")


def add_segmenter_argument(parser: argparse.ArgumentParser, *, default: str = "auto") -> None:
    """``--segmenter NAME[:argument]``, checked against the registry, its help listing every segmenter."""
    parser.add_argument(
        "--segmenter",
        default=default,
        type=part_arg("segmenter", with_argument=True),
        metavar="NAME",
        help=f"segmenter name or name:argument; one of {choices('segmenter')} (default: %(default)s)",
    )


def add_cuts_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-cuts`` (``args.cuts``: True unless given): let propagation cross shot cuts, as the segmenter does."""
    parser.add_argument(
        "--no-cuts",
        dest="cuts",
        action="store_false",
        help="let masks cross shot cuts (default: propagation stops at each cut; see annotator_widgets.cuts)",
    )


def positive_int(value: str) -> int:
    """An argparse ``type``: a whole number >= 1."""
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, given {v}")
    return v


def unit_float(value: str) -> float:
    """An argparse ``type``: a number in (0, 1]."""
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], given {v}")
    return v
