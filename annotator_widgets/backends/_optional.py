"""One place that imports optional heavy libraries and names the pip extra when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError

__all__ = ["available", "require"]

#: module -> (pip distribution, extra that installs it)
_KNOWN: dict[str, tuple[str, str]] = {
    "torch": ("torch", "sam2"),
    "torchvision": ("torchvision", "sam2"),
    "sam2": ("sam2", "sam2"),
    "transformers": ("transformers", "vlm"),
    "mediapipe": ("mediapipe", "pose"),
    "scipy": ("scipy", "pose"),
    "flatbuffers": ("flatbuffers", "pose"),
    "ipywidgets": ("ipywidgets", "widgets"),
    "ipycanvas": ("ipycanvas", "widgets"),
    "ipyevents": ("ipyevents", "widgets"),
    "ray": ("ray", "batch"),
    "supervision": ("supervision", "core"),
}


def require(module: str, extra: str | None = None, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Example:
        >>> require("json").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        dist, default_extra = _KNOWN.get(top, (top, ""))
        extra = extra or default_extra
        what = f" for {purpose}" if purpose else ""
        install = f"pip install 'annotator-widgets[{extra}]'" if extra and extra != "core" else f"pip install {dist}"
        if top == "sam2":
            install += " (sam2 builds from source: install torch first, then `pip install --no-build-isolation sam2`)"
        raise MissingDependencyError(
            f"the optional dependency {dist!r} is needed{what} but is not installed",
            given=f"import {module} failed: {exc}",
            hint=install,
        ) from exc


def available(module: str) -> bool:
    """True if ``module`` can be imported (imports it)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
