"""CVAT for video 1.1 XML: one track per object, one polygon per frame, so a person can continue in CVAT.

* ``<meta><task>``: ``size`` (frames), ``mode`` interpolation, ``labels`` (the categories, each with
  the attributes ``name`` (the object's name) and ``source`` (prompted / propagated / edited /
  imported)), one segment over the whole video, ``original_size``. No dates, so the bytes repeat.
* ``<track id label>`` per object, ``id`` = the object's id. Each frame with a mask gets a
  ``<polygon>`` (the exact outline with holes and parts bridged, see :mod:`.polygons`; coordinates
  with two decimals, as CVAT writes them) with ``outside="0" occluded="0"``. Where the object is
  known absent (an empty mask) or no longer known (the frame after a run of masks, e.g. after the
  track's last mask), a shape with ``outside="1"`` ends the run, repeating the last points.
* ``keyframe``: CVAT imports only keyframes and interpolates between them (cvat-ai/cvat#7498), so
  with ``keyframes="all"`` (the default) every shape is a keyframe and CVAT shows exactly the
  project's masks. ``keyframes="prompted"`` marks only the frames where the object was prompted or
  edited (and every track's first shape and every ``outside`` shape, which CVAT needs): the
  structure of the work, for tools that read keyframes, at the cost of CVAT interpolating between
  them on import.
* ``tags``: the hook for frame-level tags (action segments belong to the actions work): pass
  :class:`CvatTag` records and they are written as ``<tag frame label>`` with their labels declared.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> p = Project.create(os.path.join(tempfile.mkdtemp(), "p.awp"), {"frames": 3, "width": 8, "height": 6})
    >>> m = np.zeros((6, 8), bool); m[1:3, 2:5] = True
    >>> _ = p.put_mask(0, p.add_object(category="cup", obj_id=5).obj_id, m)
    >>> xml = to_cvat(p)
    >>> print(xml[xml.index("<track"):xml.index("</track>")].replace("  ", "").replace(".00", "").strip())
    <track id="5" label="cup" source="manual">
    <polygon frame="0" keyframe="1" outside="0" occluded="0" z_order="0" points="2,1;5,1;5,3;2,3">
    <attribute name="name"></attribute>
    <attribute name="source">edited</attribute>
    </polygon>
    <polygon frame="1" keyframe="1" outside="1" occluded="0" z_order="0" points="2,1;5,1;5,3;2,3">
    <attribute name="name"></attribute>
    <attribute name="source">edited</attribute>
    </polygon>
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from ..errors import AnnotatorError
from ..types import Source
from ._common import category_of, project_of, video_name
from ._io import atomic_path
from .base import ExportFormat
from .polygons import format_points, mask_to_polygon

__all__ = ["FORMAT", "CvatTag", "iter_cvat", "save_cvat", "to_cvat"]

_SOURCES = "\n".join(s.value for s in Source)


@dataclass(frozen=True)
class CvatTag:
    """A frame-level tag: ``<tag frame label>`` with optional attributes (the hook for action segments)."""

    frame: int
    label: str
    attributes: dict[str, str] = field(default_factory=dict)


def _attr(name: str, value: str) -> str:
    return f'      <attribute name="{name}">{escape(value)}</attribute>\n'


def _label(name: str, shape: str) -> str:
    attrs = ""
    if shape != "tag":
        attrs = (
            "          <attributes>\n"
            "            <attribute><name>name</name><mutable>False</mutable><input_type>text</input_type>"
            "<default_value></default_value><values></values></attribute>\n"
            "            <attribute><name>source</name><mutable>True</mutable><input_type>select</input_type>"
            f"<default_value>propagated</default_value><values>{escape(_SOURCES)}</values></attribute>\n"
            "          </attributes>\n"
        )
    head = f"        <label>\n          <name>{escape(name)}</name>\n          <type>{shape}</type>\n"
    return f"{head}{attrs}        </label>\n"


def _meta(project: Any, labels: list[str], tag_labels: list[str]) -> str:
    (w, h), n = project.size, project.num_frames
    return (
        "  <meta>\n    <task>\n      <id>1</id>\n"
        f"      <name>{escape(video_name(project))}</name>\n      <size>{n}</size>\n"
        "      <mode>interpolation</mode>\n      <overlap>0</overlap>\n      <bugtracker></bugtracker>\n"
        f"      <flipped>False</flipped>\n      <start_frame>0</start_frame>\n      <stop_frame>{n - 1}</stop_frame>\n"
        "      <labels>\n"
        + "".join(_label(name, "polygon") for name in labels)
        + "".join(_label(name, "tag") for name in tag_labels)
        + "      </labels>\n"
        f"      <segments>\n        <segment><id>0</id><start>0</start><stop>{n - 1}</stop><url></url></segment>\n"
        "      </segments>\n"
        f"      <original_size>\n        <width>{w}</width>\n        <height>{h}</height>\n      </original_size>\n"
        "    </task>\n  </meta>\n"
    )


def _shape(frame: int, points: str, *, keyframe: bool, outside: bool, name: str, source: str) -> str:
    return (
        f'    <polygon frame="{frame}" keyframe="{int(keyframe)}" outside="{int(outside)}" occluded="0" z_order="0" '
        f'points="{points}">\n' + _attr("name", name) + _attr("source", source) + "    </polygon>\n"
    )


def _track(project: Any, obj: Any, tolerance: float, keyframes: str) -> Iterator[str]:
    """The ``<track>`` of one object, shape by shape (one mask decoded at a time)."""
    prompted = set(project.prompt_frames(obj.obj_id)) if keyframes == "prompted" else set()
    last_points: str | None = None
    last_source, last_frame, opened = "", -2, False
    for ann in project.iter_annotations(obj_id=obj.obj_id):
        if last_points is not None and ann.frame > last_frame + 1:  # a gap: the run ended after last_frame
            yield _shape(last_frame + 1, last_points, keyframe=True, outside=True, name=obj.name, source=last_source)
            last_points = None
        if ann.rle.is_empty:
            if last_points is not None:  # known absent from here
                yield _shape(ann.frame, last_points, keyframe=True, outside=True, name=obj.name, source=last_source)
                last_points = None
            last_frame = ann.frame
            continue
        points = format_points(mask_to_polygon(ann.rle, tolerance), 2, ",", ";")
        if not opened:
            yield f'  <track id="{obj.obj_id}" label={quoteattr(category_of(obj))} source="manual">\n'
            opened = True
        # a run's first shape is always a keyframe: CVAT needs it to end the outside state
        key = keyframes == "all" or last_points is None or ann.frame in prompted
        key = key or ann.source in (Source.PROMPTED, Source.EDITED)
        yield _shape(ann.frame, points, keyframe=key, outside=False, name=obj.name, source=ann.source.value)
        last_points, last_source, last_frame = points, ann.source.value, ann.frame
    if last_points is not None and last_frame + 1 < project.num_frames:
        yield _shape(last_frame + 1, last_points, keyframe=True, outside=True, name=obj.name, source=last_source)
    if opened:
        yield "  </track>\n"


def iter_cvat(
    project: Any,
    *,
    tolerance: float = 0.0,
    keyframes: Literal["all", "prompted"] = "all",
    tags: Iterable[CvatTag] = (),
) -> Iterator[str]:
    """The XML as text chunks, object by object (memory stays at one mask and one polygon)."""
    if keyframes not in ("all", "prompted"):
        raise AnnotatorError("unknown keyframes mode", given=keyframes, hint='use "all" or "prompted"')
    project = project_of(project)
    objects = project.objects()
    labels = sorted({category_of(o) for o in objects})
    tag_list = sorted(tags, key=lambda t: (t.frame, t.label))
    tag_labels = sorted({t.label for t in tag_list} - set(labels))
    yield '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
    yield _meta(project, labels, tag_labels)
    for obj in objects:
        yield from _track(project, obj, tolerance, keyframes)
    for tag in tag_list:
        attrs = "".join(_attr(k, str(v)) for k, v in sorted(tag.attributes.items()))
        yield f'  <tag frame="{int(tag.frame)}" label={quoteattr(tag.label)} source="manual">\n{attrs}  </tag>\n'
    yield "</annotations>\n"


def to_cvat(project: Any, **options: Any) -> str:
    """The whole CVAT for video 1.1 XML as a string (options as :func:`iter_cvat`)."""
    return "".join(iter_cvat(project, **options))


def save_cvat(project: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Stream the XML into ``path`` atomically; returns the path. Options as :func:`iter_cvat`."""
    final = Path(path)
    with atomic_path(final, "CVAT export") as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for chunk in iter_cvat(project, **options):
            fh.write(chunk)
    return final


def _save(project: Any, out: str | os.PathLike[str], **options: Any) -> list[Path]:
    return [save_cvat(project, out, **options)]


#: the registry entry (``registry.lookup("exporter", "cvat")``)
FORMAT = ExportFormat("cvat", "CVAT for video 1.1 XML: one track per object, exact polygons", "file", _save, ".xml")
