"""Read MOT Challenge boxes (as box prompts) or MOTS masks back into a project.

``source`` is a sequence folder (``gt/gt.txt``, with ``seqinfo.ini`` and ``gt/labels.txt`` when
present) or the ``.txt`` file itself. The format is told from the rows: comma-separated rows are MOT
boxes (``frame,id,x,y,w,h,conf,class,...``), space-separated six-field rows are MOTS masks. Track
ids are kept as object ids where free. MOT rows with ``conf`` 0 (ignored in ground truth) and MOTS
ignore regions (id 10000) are skipped and counted in the report's notes; boxes reaching outside the
frame are clipped. A MOT box becomes the object's box prompt on that frame: run the segmenter to
turn boxes into masks.

Example:
    >>> import os, tempfile, numpy as np
    >>> from annotator_widgets import Project
    >>> from annotator_widgets.export.mot import save_mot
    >>> video = {"frames": 2, "width": 10, "height": 5}
    >>> src = Project.create(os.path.join(tempfile.mkdtemp(), "a.awp"), video)
    >>> m = np.zeros((5, 10), bool); m[1:4, 2:7] = True
    >>> _ = src.put_mask(1, src.add_object(category="cup", obj_id=3).obj_id, m)
    >>> out = os.path.join(tempfile.mkdtemp(), "seq")
    >>> _ = save_mot(src, out)
    >>> dst = Project.create(os.path.join(tempfile.mkdtemp(), "b.awp"), video)
    >>> report = import_mot(dst, out)
    >>> report.prompts, dst.prompt(1, 3).box
    (1, Box(x0=2.0, y0=1.0, x1=7.0, y1=4.0))
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

from ..errors import AnnotatorError
from ..rle import RLE
from ..types import Box
from ._common import project_of
from ._importing import Pending, check_frame, check_frame_count, check_size, commit
from .base import Importer, ImportReport

__all__ = ["IMPORTER", "import_mot"]

_MOTS_IGNORE = 10000


def _seqinfo(root: Path, project: Any) -> None:
    ini = root / "seqinfo.ini"
    if not ini.is_file():
        return
    cfg = configparser.ConfigParser()
    try:
        cfg.read_string(ini.read_text())
        seq = cfg["Sequence"]
        if "imWidth" in seq and "imHeight" in seq:
            check_size(project, int(seq["imWidth"]), int(seq["imHeight"]), ini)
        if "seqLength" in seq:
            check_frame_count(project, int(seq["seqLength"]), ini)
    except (configparser.Error, KeyError, ValueError) as exc:
        raise AnnotatorError("cannot read seqinfo.ini", given=str(ini), hint=str(exc)) from exc


def import_mot(project: Any, source: str | os.PathLike[str], *, first_frame: int = 1) -> ImportReport:
    """Import MOT boxes as box prompts, or MOTS masks as annotations (one undo step).

    Args:
        project: The project (or a session).
        source: A sequence folder or a ``gt.txt`` file.
        first_frame: The number of the video's first frame in the file (1 in MOT and MOTSChallenge).

    Raises:
        AnnotatorError: Malformed rows, or a size, frame count or frame the project's video does not have.
    """
    project = project_of(project)
    path = Path(source)
    gt = path / "gt" / "gt.txt" if path.is_dir() else path
    if not gt.is_file():
        raise AnnotatorError("no MOT ground truth found", given=str(path), hint="pass the sequence folder or gt.txt")
    root = gt.parent.parent if gt.parent.name == "gt" else gt.parent
    _seqinfo(root, project)
    labels_file = gt.parent / "labels.txt"
    labels = [ln.strip() for ln in labels_file.read_text().splitlines()] if labels_file.is_file() else []
    w, h = project.size
    pending = Pending()
    ignored = 0
    for k, line in enumerate(gt.read_text().splitlines()):
        if not line.strip():
            continue
        where = f"{gt}:{k + 1}"
        fields = line.split(",") if "," in line else line.split()
        try:
            frame = check_frame(project, int(float(fields[0])) - first_frame, where)
            tid = int(float(fields[1]))
            if "," in line:  # MOT: frame,id,x,y,w,h,conf,class,visibility
                x, y, bw, bh = (float(v) for v in fields[2:6])
                conf = float(fields[6]) if len(fields) > 6 else 1.0
                cls = int(float(fields[7])) if len(fields) > 7 else -1
            else:  # MOTS: frame id class_id height width rle
                cls, mh, mw, counts = int(fields[2]), int(fields[3]), int(fields[4]), fields[5]
        except (ValueError, IndexError) as exc:
            raise AnnotatorError(
                f"a MOT / MOTS row is malformed: {line[:60]!r}",
                given=where,
                hint="MOT rows are 'frame,id,x,y,w,h[,conf,class,visibility]' (1-based frames, box left, top, width, "
                "height in pixels); MOTS rows are 'frame id class height width rle'; for the annotate command's "
                "JSON records pass --prompts-format json",
            ) from exc
        category = labels[cls - 1] if 0 < cls <= len(labels) else ("" if cls < 0 else str(cls))
        if "," in line:
            if conf == 0:
                ignored += 1
                continue
            box = Box.from_corners(x, y, x + max(bw, 1e-3), y + max(bh, 1e-3)).clip(w, h)
            if box is None:
                pending.notes.append(f"{where}: a box outside the frame was skipped")
                continue
            pending.object(tid, "", category)
            pending.boxes.append((frame, tid, box))
        else:
            if tid == _MOTS_IGNORE:
                ignored += 1
                continue
            check_size(project, mw, mh, where)
            pending.object(tid, "", category)
            pending.masks.append((frame, tid, RLE.from_coco({"size": [mh, mw], "counts": counts}), None))
    if ignored:
        pending.notes.append(f"{ignored} ignored rows skipped (MOT conf 0, MOTS id 10000)")
    return commit(project, pending, "import MOT")


def _load(project: Any, source: str | os.PathLike[str], **options: Any) -> ImportReport:
    return import_mot(project, source, **options)


#: the registry entry (``registry.lookup("importer", "mot")``, also ``"mots"``)
IMPORTER = Importer("mot", "MOT boxes as box prompts, or MOTS RLE masks, with track ids", _load)
