"""Keyboard shortcuts as data: a :class:`Shortcut` binds keys to a method of the annotator or of a tool.

Keys are matched on the browser's ``KeyboardEvent.key``. Single characters are
case-sensitive (``"C"`` is Shift+c); other keys take ``Shift+`` / ``Ctrl+`` prefixes
(Cmd counts as Ctrl).

Example:
    >>> key_name("z", ctrl=True), key_name("ArrowRight", shift=True), key_name("C", shift=True)
    ('Ctrl+z', 'Shift+ArrowRight', 'C')
    >>> Shortcut(("o",), "toggle", "person clicks on / off").matches("o")
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Shortcut", "key_name"]


@dataclass(frozen=True)
class Shortcut:
    """Keys that trigger one action (a method name of its owner) and what it does.

    Attributes:
        keys: Key names as :func:`key_name` writes them (``"z"``, ``"Ctrl+z"``, ``"Shift+ArrowRight"``).
        action: The owner's method to call (no arguments).
        help: One line for the help panel and the README's table.
    """

    keys: tuple[str, ...]
    action: str
    help: str

    def matches(self, name: str) -> bool:
        """True if the normalised key ``name`` is one of this shortcut's keys."""
        return name in self.keys


def key_name(key: str, *, shift: bool = False, ctrl: bool = False, meta: bool = False) -> str:
    """Normalise a browser key event to the names shortcuts use."""
    prefix = "Ctrl+" if (ctrl or meta) else ""
    if len(key) != 1 and shift:
        prefix += "Shift+"
    return prefix + key
