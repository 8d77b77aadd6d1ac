"""Effects on chosen objects: dilation, feathering, object selection, trails and the one-frame preview."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from annotator_widgets import AnnotatorError, BackendError, ObjectInfo, Project, PromptError, open_video
from annotator_widgets.render import FrameComposer, Trails, apply_effect, preview_frame, select_objects, soft_region
from annotator_widgets.render.layers import centroid
from annotator_widgets.rle import RLE

H, W = 120, 160


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[40:70, 50:100] = True
    return m


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every pixel to the nearest mask pixel (0 on the mask)."""
    return ndimage.distance_transform_edt(~mask)


@pytest.mark.parametrize("effect", ["blur", "pixelate", "solid", "outline", "dim"])
def test_no_dilation_and_no_feather_is_exactly_the_hard_edged_effect(effect):
    frame, mask = _frame(), _mask()
    plain = apply_effect(frame, mask, effect, 0.7)
    assert (apply_effect(frame, mask, effect, 0.7, dilate=0, feather=0) == plain).all()
    if effect in ("blur", "pixelate", "solid"):  # hard edge: every pixel is either the effect's or the source's
        assert (plain[~mask] == frame[~mask]).all() and (plain[mask] != frame[mask]).any(axis=-1).mean() > 0.9


@pytest.mark.parametrize("dilate", [1, 4, 9])
def test_dilation_grows_the_region_by_that_many_pixels(dilate):
    frame, mask = np.full((H, W, 3), 255, np.uint8), _mask()
    out = apply_effect(frame, mask, "solid", 1.0, dilate=dilate)
    filled = (out == 0).all(axis=-1)
    dist = _distance_to(mask)
    assert filled[dist <= dilate].all()  # every pixel within `dilate` of the mask is covered
    assert not filled[dist > dilate + 1].any()  # nothing further (one pixel of slack for the distance metric)
    assert filled.sum() > mask.sum()


def test_feather_gives_intermediate_alpha_at_the_edge_only():
    frame, mask = np.full((H, W, 3), 255, np.uint8), _mask()
    dilate, feather = 3, 8
    out = apply_effect(frame, mask, "solid", 1.0, dilate=dilate, feather=feather)[..., 0].astype(int)
    dist = _distance_to(mask)
    assert (out[dist <= dilate] == 0).all()  # full effect on the grown masks
    assert (out[dist > dilate + feather + 1] == 255).all()  # the source beyond the feather
    band = (dist >= dilate + 1.5) & (dist <= dilate + feather - 0.5)
    assert ((out[band] > 0) & (out[band] < 255)).all()  # intermediate across the feather band
    row = out[55, 100 + dilate : 100 + dilate + feather + 2]  # walking right from the mask's edge: the effect fades
    assert (np.diff(row) >= 0).all() and row[0] < 64 and row[-1] == 255
    region = soft_region(mask, dilate=dilate, feather=feather)
    inner = region.alpha[(region.alpha > 0) & (region.alpha < 1)]
    assert inner.size > 0 and region.alpha.max() == 1.0


def test_feathered_blur_mixes_the_blurred_and_source_pixels():
    frame, mask = _frame(1), _mask()
    hard = apply_effect(frame, mask, "blur", 1.0, dilate=6)
    soft = apply_effect(frame, mask, "blur", 1.0, dilate=2, feather=8)
    dist = _distance_to(mask)
    assert (soft[dist <= 2] != frame[dist <= 2]).any(axis=-1).mean() > 0.9
    assert (soft[dist > 11] == frame[dist > 11]).all()
    assert (hard[dist > 7] == frame[dist > 7]).all()
    edge = (dist > 4) & (dist < 9)  # strictly between the source and the full blur on the feather
    f, s = frame[edge].astype(int), soft[edge].astype(int)
    assert np.abs(s - f).mean() > 5


def test_feathered_dim_fades_from_the_object_into_the_dimmed_background():
    frame, mask = np.full((H, W, 3), 200, np.uint8), _mask()
    out = apply_effect(frame, mask, "dim", 1.0, feather=6)[..., 0].astype(int)
    dist = _distance_to(mask)
    dimmed = int(apply_effect(frame, mask, "dim", 1.0)[0, 0, 0])
    assert (out[mask] == 200).all() and (out[dist > 7] == dimmed).all()
    band = (dist >= 1.5) & (dist <= 5.5)
    assert ((out[band] > dimmed) & (out[band] < 200)).all()


def test_the_soft_region_is_computed_on_the_masks_box_only():
    mask = np.zeros((720, 1280), bool)
    mask[300:340, 600:660] = True
    region = soft_region(mask, dilate=5, feather=10)
    assert region.box == (585, 285, 675, 355)
    assert region.alpha.shape == (70, 90)  # not the frame
    assert soft_region(np.zeros((20, 20), bool), dilate=3).box is None


def test_growth_must_be_whole_non_negative_pixels():
    for bad in ({"dilate": -1}, {"feather": 2.5}, {"feather": True}):
        with pytest.raises(PromptError, match="whole number of pixels"):
            apply_effect(_frame(), _mask(), "blur", 0.5, **bad)


def test_objects_are_chosen_by_id_all_category_or_name():
    objs = [
        ObjectInfo(1, "ann", "person"),
        ObjectInfo(2, "bob", "Person"),
        ObjectInfo(3, "", "car"),
        ObjectInfo(4, "ghost", "person", hidden=True),
    ]
    assert select_objects(objs, "all") == {1, 2, 3, 4} == select_objects(objs, None)  # hidden ones are blurred too
    assert select_objects(objs, "person") == {1, 2, 4}
    assert select_objects(objs, 3) == {3} == select_objects(objs, [np.int64(3)])
    assert select_objects(objs, ["bob", 3]) == {2, 3}
    with pytest.raises(PromptError, match=r"no object with id 9.*\[1, 2, 3, 4\]"):
        select_objects(objs, [1, 9])
    with pytest.raises(PromptError, match=r"no object of category or name 'dog'.*'car'.*'person'"):
        select_objects(objs, "dog")
    with pytest.raises(PromptError, match="by id, category or name"):
        select_objects(objs, [1.5])


def test_centroid_from_rle_runs_equals_the_mask_centroid():
    rng = np.random.default_rng(3)
    for _ in range(5):
        m = rng.random((37, 53)) > 0.7
        x, y = centroid(RLE.from_mask(m))
        ys, xs = np.nonzero(m)
        assert (x, y) == pytest.approx((xs.mean(), ys.mean())) == centroid(m)
    assert centroid(RLE.from_mask(np.zeros((5, 5), bool))) is None


def test_trails_keep_only_the_last_n_centroids_and_fade():
    trails = Trails(length=10)
    m = np.zeros((H, W), bool)
    for f in range(1000):
        m[:] = False
        x = 10 + 3 * (f % 40)
        m[50:60, x : x + 10] = True
        trails.update(f, {1: m, 2: m if f < 500 else np.zeros((H, W), bool)})
        assert len(trails.points(1)) <= 10
    assert [p[0] for p in trails.points(1)] == list(range(990, 1000))
    assert trails.points(2) == []  # an object gone for longer than the trail is forgotten
    img = trails.draw(np.zeros((H, W, 3), np.uint8), {1: (0, 255, 0)})
    # centroids walk right 3 px a frame, from x 104.5 (frame 990) to 131.5 (frame 999), on row 54.5
    newest, oldest = img[54:56, 129:131, 1].max(), img[54:56, 104:106, 1].max()
    assert newest > 200 and 0 < oldest < newest
    with pytest.raises(PromptError, match="trail's length"):
        Trails(0)


@pytest.fixture
def project(tmp_path):
    frames = np.stack([_frame(i) for i in range(12)])
    video = open_video(frames)
    with Project.create(tmp_path / "p.awp", video) as p:
        a = p.add_object(name="ann", category="person").obj_id
        b = p.add_object(name="", category="car").obj_id
        for f in range(12):
            m = np.zeros((H, W), bool)
            m[20:40, 10 + 5 * f : 30 + 5 * f] = True
            p.put_mask(f, a, m)
            p.put_mask(f, b, _mask())
        yield p, video


def test_preview_renders_one_frame_from_stored_masks(project):
    p, video = project
    out = preview_frame(p, video, 5, "solid", 1.0, objects="person")
    person = p.annotation(5, 1).mask
    assert (out[person] == 0).all() and (out[~person] == video.frame(5)[~person]).all()  # the car is left alone
    assert (preview_frame(p, video.frame(5), 5, "solid", 1.0, objects="person") == out).all()  # pixels given
    everyone = preview_frame(p, video, 5, "solid", 1.0)
    assert (everyone[_mask()] == 0).all()
    weak, strong = (preview_frame(p, video, 5, "blur", s, objects=[2]) for s in (0.1, 1.0))
    assert (weak != strong)[_mask()].any() and (weak[~_mask()] == strong[~_mask()]).all()


def test_preview_with_trails_matches_the_streamed_render_of_that_frame(project):
    p, video = project
    streamed = FrameComposer(p, effect="pixelate", strength=0.5, trails=6, labels=True)
    frames = [streamed.compose(i, video.frame(i)) for i in range(9)]
    previewed = preview_frame(p, video, 8, "pixelate", 0.5, trails=6, labels=True)
    assert (previewed == frames[8]).all()
    plain = preview_frame(p, video, 8, "pixelate", 0.5)
    trail_pixels = (previewed != plain).any(axis=-1)
    assert trail_pixels[28:32, 40:60].any()  # the person's centroid moved along row ~30 over the last frames


def test_preview_bad_input(project):
    p, video = project
    with pytest.raises(BackendError, match="unknown effect"):
        preview_frame(p, video, 0, "sepia")
    with pytest.raises(PromptError, match="strength"):
        preview_frame(p, video, 0, "blur", 1.5)
    with pytest.raises(PromptError, match="no object with id 7"):
        preview_frame(p, video, 0, "blur", objects=7)
    with pytest.raises(AnnotatorError, match="out of range"):
        preview_frame(p, video, 12, "blur")
