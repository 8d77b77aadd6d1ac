"""Undo/redo resync the segmenter incrementally, with exactly the results of a full rebuild.

The same script runs twice on the same segmenter kind: once as a user would (the session touches only the
objects whose prompts an undo or redo changed) and once with a full rebuild (reset + every stored prompt)
forced after every undo and redo. Every mask the verbs return and every mask the propagations store must
be identical (RLE), for the classic segmenter and the micro SAM2 model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annotator_widgets import AnnotationSession
from annotator_widgets.data import synthetic_clip
from annotator_widgets.rle import RLE

T = 10


@pytest.fixture(scope="module")
def clip() -> Any:
    return synthetic_clip(num_frames=T, size=(96, 72), num_objects=2, seed=5)


@pytest.fixture(scope="module")
def micro_sam2(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.models import build_micro_sam2

    return build_micro_sam2(tmp_path_factory.mktemp("micro"))


def _segmenter(kind: str, micro_sam2: Any) -> Any:
    if kind == "classic":
        from annotator_widgets.backends.classic import ClassicSegmenter

        return ClassicSegmenter()
    return micro_sam2.segmenter()


def _centre(clip: Any, obj: int, frame: int, shift: int = 0) -> tuple[float, float]:
    ys, xs = np.nonzero(clip.masks[obj][frame])
    i = np.argmin((xs - xs.mean() - shift) ** 2 + (ys - ys.mean()) ** 2)
    return float(xs[i]), float(ys[i])


def _rles(masks: dict[int, np.ndarray]) -> list[tuple[int, str]]:
    return [(oid, str(RLE.from_mask(m).counts)) for oid, m in sorted(masks.items())]


def _stored(s: AnnotationSession) -> list[tuple[int, int, str]]:
    return [(f, oid, str(a.rle.counts)) for f in range(T) for oid, a in sorted(s.project.annotations(f).items())]


def _script(s: AnnotationSession, clip: Any, *, rebuild: bool, propagate_midway: bool) -> list[Any]:
    """Prompts on two objects (several frames, a refinement click), undos and redos, new prompts, propagations."""
    out: list[Any] = []

    def undo_or_redo(verb: str) -> None:
        out.append(getattr(s, verb)())
        if rebuild:
            s._sync.invalidate()  # the reference: reset + replay every stored prompt before the next use

    out.append(_rles(s.add_points(0, 1, [_centre(clip, 1, 0)])))
    out.append(_rles(s.add_box(2, 2, clip.boxes[2][2])))
    out.append(_rles(s.add_points(4, 1, [_centre(clip, 1, 4)])))
    out.append(_rles(s.add_points(4, 1, [_centre(clip, 1, 4, shift=3)])))  # a second click on the same frame
    out.append(_rles(s.add_mask(6, 2, clip.masks[2][6])))
    if propagate_midway:
        s.run("forward", start=2, stop=8)
        out.append(_stored(s))
    undo_or_redo("undo")  # propagation, or the mask on frame 6
    undo_or_redo("undo")  # ... the second click: object 1 back to one point on frame 4
    undo_or_redo("undo")  # object 1 loses frame 4 but keeps frame 0 (one of several prompts removed)
    undo_or_redo("redo")
    out.append(_stored(s))
    out.append(_rles(s.add_points(5, 2, [_centre(clip, 2, 5)])))  # a new prompt after undo (redo stack dropped)
    out.append(_rles(s.add_points(4, 1, [_centre(clip, 1, 4, shift=-2)])))  # refine the redone prompt
    s.run("forward")
    out.append(_stored(s))
    undo_or_redo("undo")  # the propagation
    undo_or_redo("undo")  # the refinement
    out.append(_rles(s.add_points(7, 1, [_centre(clip, 1, 7)])))
    s.remove_object(2)
    undo_or_redo("undo")  # object 2 comes back with its prompts
    s.run("forward")
    out.append(_stored(s))
    return out


# SAM2's prompts given after a propagation see its tracked memory: there the live state is not a rebuild's
# state, with or without undo, so SAM2 runs the script without the midway propagation
@pytest.mark.parametrize(("kind", "propagate_midway"), [("classic", False), ("classic", True), ("sam2", False)])
def test_incremental_resync_equals_full_rebuild(
    kind: str, propagate_midway: bool, clip: Any, micro_sam2: Any, tmp_path: Path
) -> None:
    runs = {}
    for rebuild in (False, True):
        seg = _segmenter(kind, micro_sam2)
        with AnnotationSession(clip.frames, tmp_path / f"{rebuild}.awp", seg) as s:
            runs[rebuild] = _script(s, clip, rebuild=rebuild, propagate_midway=propagate_midway)
            if not rebuild:
                assert s._sync.rebuilds == 1  # only the first start: every undo/redo was incremental
    incremental, full = runs[False], runs[True]
    assert len(incremental) == len(full)
    for step, (a, b) in enumerate(zip(incremental, full, strict=True)):
        assert a == b, f"step {step} differs"
    assert max(len(x) for x in incremental if isinstance(x, list)) >= T + 5  # the propagations stored masks


def test_undo_replays_only_what_changed(clip: Any, micro_sam2: Any, tmp_path: Path) -> None:
    """Classic: an undo costs O(changed prompts); SAM2: O(the changed object's prompts), never every prompt."""
    from annotator_widgets.backends.classic import ClassicSegmenter

    with AnnotationSession(clip.frames, tmp_path / "c.awp", ClassicSegmenter()) as s:
        for f in range(T):
            s.add_points(f, 1, [_centre(clip, 1, f)])
            s.add_points(f, 2, [_centre(clip, 2, f)])
        for _ in range(6):
            s.undo()
        for _ in range(3):
            s.redo()
        assert (s._sync.rebuilds, s._sync.replayed) == (1, 3)  # 6 forgotten prompts, 3 given back
        assert len(s.prompts()) == 2 * T - 3
    sam2 = micro_sam2.segmenter()
    with AnnotationSession(clip.frames, tmp_path / "s.awp", sam2) as s:
        for f in range(4):
            s.add_points(f, 1, [_centre(clip, 1, f)])
        s.add_points(0, 2, [_centre(clip, 2, 0)])
        s.add_points(1, 2, [_centre(clip, 2, 1)])
        s.undo()  # object 2 loses frame 1: object 2 is replayed from its one remaining prompt
        assert (s._sync.rebuilds, s._sync.replayed) == (1, 1)
        assert sorted(sam2.object_ids) == [1, 2]
