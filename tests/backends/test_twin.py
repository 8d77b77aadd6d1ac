"""``twin()``: a second SAM2 segmenter on the same loaded weights, with a state of its own.

find-by-text's grid candidates run on it, so a scan neither loads the model again nor touches the
user's tracking state; masks are those a separately loaded instance gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video
from annotator_widgets.data import synthetic_clip
from annotator_widgets.types import Point, Prompt
from annotator_widgets.workflows.candidates import ScratchSegmenter
from annotator_widgets.workflows.find import find_text
from tests.support.models import build_micro_sam2, build_tiny_hf_sam2


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=5, size=(96, 72), num_objects=2, seed=4)


def _centre(clip, obj, frame):
    ys, xs = np.nonzero(clip.masks[obj][frame])
    return Point(float(xs.mean()), float(ys.mean()))


@pytest.fixture(scope="module", params=["meta", "hf"])
def make(request, tmp_path_factory):
    """A factory of independently loaded segmenters on one saved tiny model, and the attribute holding its weights."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "meta":
        micro = build_micro_sam2(folder / "micro")
        return micro.segmenter, "_predictor"
    from annotator_widgets.backends.sam2_hf import HfSam2Segmenter

    tiny = build_tiny_hf_sam2(folder / "tiny")
    return (lambda: HfSam2Segmenter(tiny, device="cpu")), "_model"


def _user_steps(seg, clip, video, between=None):
    """Prompt, track, (something in between), prompt again, track again: every mask, in order."""
    seg.start(video)
    mine = Prompt(1, 1, (_centre(clip, 1, 1),))
    out = [seg.set_prompt(mine)[1].mask]
    out += [f.objects[1].mask for f in seg.propagate(1, max_frames=2)]
    if between is not None:
        between()
    out.append(seg.set_prompt(Prompt(2, 1, (_centre(clip, 1, 2),)))[1].mask)
    out += [f.objects[1].mask for f in seg.propagate(1, max_frames=3)]
    assert seg.object_ids == [1]
    return out


def test_twin_shares_the_weights_keeps_its_own_state_and_gives_the_same_masks(make, clip):
    factory, weights = make
    video = open_video(clip.frames)
    scratch = Prompt(3, 99, (_centre(clip, 2, 3),))
    user = factory()
    got: list[np.ndarray] = []

    def use_a_twin():
        twin = user.twin()
        assert getattr(twin, weights) is getattr(user, weights)  # loaded once
        twin.start(video)
        got.append(twin.set_prompt(scratch)[99].mask)
        twin.reset()
        twin.close()

    with_twin = _user_steps(user, clip, video, between=use_a_twin)
    control = factory()
    without = _user_steps(control, clip, video)
    # the user's tracking is exactly what it is when no twin ran beside it
    for a, b in zip(with_twin, without, strict=True):
        np.testing.assert_array_equal(a, b)
    # the twin's mask is the one a separately loaded instance gives
    separate = factory()
    separate.start(video)
    np.testing.assert_array_equal(got[0], separate.set_prompt(scratch)[99].mask)
    for seg in (user, control, separate):
        seg.close()


def test_scratch_beside_the_session_segmenter_uses_its_twin_and_a_plain_one_is_made_again(make, clip):
    from annotator_widgets.backends.classic import ClassicSegmenter

    factory, weights = make
    video = open_video(clip.frames)
    user = factory()
    user.start(video)
    scratch = ScratchSegmenter.beside(user, video)
    assert scratch.segmenter is not user and getattr(scratch.segmenter, weights) is getattr(user, weights)
    scratch.close()
    user.close()

    classic = ClassicSegmenter()
    plain = ScratchSegmenter.beside(classic, video)
    assert isinstance(plain.segmenter, ClassicSegmenter) and plain.segmenter is not classic
    plain.close()


def test_find_text_grid_scan_on_a_sam2_session_loads_nothing_and_keeps_the_users_object(make, clip, tmp_path):
    factory, weights = make
    user = factory()
    twins: list[object] = []
    original = type(user).twin

    def counting_twin(self):
        made = original(self)
        twins.append(getattr(made, weights))  # its weights (closing it drops the reference)
        return made

    with AnnotationSession(open_video(clip.frames), project=tmp_path / "t.awp", segmenter=user) as s:
        obj = s.add_object().obj_id
        s.add_points(0, obj, [_centre(clip, 1, 0)])
        user_mask = s.masks(0)[obj].copy()
        type(user).twin = counting_twin  # type: ignore[method-assign]
        try:
            found = find_text(s, "anything", every=2, threshold=0.0, scorer=_MeanScorer(), grid=2)
        finally:
            type(user).twin = original  # type: ignore[method-assign]
        assert len(twins) == 1 and twins[0] is getattr(user, weights)
        assert found.frame == 0
        assert [o.obj_id for o in s.objects] == [obj]
        np.testing.assert_array_equal(s.masks(0)[obj], user_mask)
        assert sorted(s.masks(0)) == [obj]
        assert user.object_ids == [obj]


class _MeanScorer:
    """Test double: a crop's score is its mean brightness (any candidate passes threshold 0)."""

    name = "mean-test"
    image_size = 32

    def embed_images(self, crops):
        return np.array([[float(np.asarray(c).mean()) / 255.0] for c in crops], np.float32)

    def embed_text(self, phrases):
        return np.ones((len(phrases), 1), np.float32)

    def score(self, image_embeddings, text_embeddings):
        return np.clip(np.asarray(image_embeddings) @ np.asarray(text_embeddings).T, 0.0, 1.0)

    def close(self):
        pass
