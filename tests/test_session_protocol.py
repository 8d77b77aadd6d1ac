"""One protocol suite for every real segmenter, driven through the session.

Every verb, both directions, an object added mid-video after propagation, a
refinement click on a later frame, remove, undo, clear, reset, determinism.
Assertions are about bookkeeping and structure (the SAM2 models here are tiny
and randomly initialised), plus quality for the classic segmenter.
"""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, Source
from annotator_widgets.data import synthetic_clip

T = 16


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=T, size=(160, 120), num_objects=2, seed=3)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def _make(kind: str, model_dir):
    if kind == "classic":
        from annotator_widgets.backends.classic import ClassicSegmenter

        return ClassicSegmenter()
    if kind == "sam2":
        from tests.support.models import build_micro_sam2

        return build_micro_sam2(model_dir / "sam2").segmenter()
    if kind == "sam3-tracker":
        from annotator_widgets.backends.sam3_tracker import Sam3TrackerSegmenter
        from tests.support.sam3_models import build_tiny_sam3

        path = model_dir / "sam3"
        if not path.exists():
            build_tiny_sam3(path)
        return Sam3TrackerSegmenter(str(path), device="cpu")
    from annotator_widgets.backends.sam2_hf import HfSam2Segmenter
    from tests.support.models import build_tiny_hf_sam2

    path = model_dir / "hf"
    if not path.exists():
        build_tiny_hf_sam2(path)
    return HfSam2Segmenter(str(path), device="cpu")


@pytest.fixture(params=["classic", "sam2", "hf", "sam3-tracker"])
def make_session(request, clip, model_dir, tmp_path):
    sessions = []

    def make(name: str = "s"):
        s = AnnotationSession(clip.frames, tmp_path / f"{name}.awp", _make(request.param, model_dir))
        sessions.append(s)
        return s

    make.kind = request.param
    make.model_dir = model_dir
    yield make
    for s in sessions:
        s.close()


def _center(clip, obj_id: int, frame: int) -> tuple[float, float]:
    ys, xs = np.nonzero(clip.masks[obj_id][frame])
    i = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return float(xs[i]), float(ys[i])


def _masks(session, obj_id):
    return {a.frame: a.mask for a in session.project.iter_annotations(obj_id=obj_id)}


def test_every_verb(make_session, clip):
    s = make_session()
    a = s.add_object(name="a")
    masks = s.add_points(0, a.obj_id, [_center(clip, 1, 0)])
    assert list(masks) == [a.obj_id] and masks[a.obj_id].shape == (120, 160) and masks[a.obj_id].dtype == bool

    # forward over the whole clip, saved as it streams
    frames = [r.frame for r in s.propagate()]
    assert frames == list(range(T))
    first = _masks(s, a.obj_id)
    assert sorted(first) == list(range(T))
    assert s.project.annotation(0, a.obj_id).source is Source.PROMPTED
    assert all(s.project.annotation(f, a.obj_id).score is not None for f in (1, T - 1))

    # a new object on a later frame, after propagation; backward from there
    k = T // 2
    b = s.add_object(name="b")
    s.add_box(k, b.obj_id, clip.boxes[2][k])
    back = [r.frame for r in s.propagate("backward", start=k)]
    assert back == list(range(k, -1, -1))
    assert sorted(_masks(s, b.obj_id)) == list(range(k + 1))
    fwd = list(s.propagate("forward", start=k))
    assert [r.frame for r in fwd] == list(range(k, T)) and all(b.obj_id in r.masks for r in fwd)
    assert sorted(_masks(s, b.obj_id)) == list(range(T))
    # the first object's masklet survived: still on every frame
    assert sorted(_masks(s, a.obj_id)) == list(range(T))

    # refinement click on a later frame changes the masklet from there on
    before = _masks(s, a.obj_id)
    m = T - 5
    inside = np.argwhere(before[m])
    if len(inside):
        y, x = inside[len(inside) // 2]
        s.add_points(m, a.obj_id, [(float(x), float(y))], labels=[0])
    else:
        s.add_points(m, a.obj_id, [_center(clip, 1, m)])
    assert not np.array_equal(s.project.annotation(m, a.obj_id).mask, before[m])
    list(s.propagate(start=m))
    after = _masks(s, a.obj_id)
    assert any(not np.array_equal(after[f], before[f]) for f in range(m + 1, T))
    assert all(np.array_equal(after[f], before[f]) for f in range(m))

    # remove, undo the removal, clear a frame, reset
    s.remove_object(b.obj_id)
    assert s.project.mask_frames(b.obj_id) == [] and s.project.prompts(obj_id=b.obj_id) == []
    assert all(b.obj_id not in r.masks for r in s.propagate(start=0))
    s.undo()  # the propagation
    s.undo()  # the removal
    assert sorted(_masks(s, b.obj_id)) == list(range(T))
    assert any(b.obj_id in r.masks for r in s.propagate("forward", start=k, stop=k + 3))
    s.clear_frame(m, a.obj_id)
    assert s.project.prompt(m, a.obj_id) is None and s.project.annotation(m, a.obj_id) is None
    assert [r.frame for r in s.propagate("both", start=k)][: T - k] == list(range(k, T))
    assert s.project.mask_frames() == list(range(T))
    s.reset()
    assert s.project.prompts() == [] and s.project.mask_frames() == []
    s.add_points(3, a.obj_id, [_center(clip, 1, 3)])
    assert [r.frame for r in s.propagate(stop=6, start=3)] == [3, 4, 5]


def test_same_prompts_give_the_same_masks(make_session, clip):
    results = []
    for name in ("one", "two"):
        s = make_session(name)
        s.add_points(2, 1, [_center(clip, 1, 2)])
        s.add_points(2, 2, [_center(clip, 2, 2)])
        list(s.propagate("both"))
        results.append({(a.frame, a.obj_id): a.rle for a in s.project.iter_annotations()})
    assert results[0] == results[1]
    assert len(results[0]) == 2 * T


def test_reopened_project_continues(make_session, clip):
    s = make_session("first")
    s.add_points(0, 1, [_center(clip, 1, 0)])
    list(s.propagate(stop=6))
    path = s.project.path
    s.close()
    s2 = AnnotationSession(clip.frames, path, _make(make_session.kind, make_session.model_dir))
    try:
        assert s2.project.mask_frames(1) == list(range(6))
        frames = [r.frame for r in s2.propagate(start=5)]
        assert frames == list(range(5, T)) and s2.project.mask_frames(1) == list(range(T))
    finally:
        s2.close()
