import numpy as np
import pytest

from annotator_widgets import (
    AnnotatorError,
    BackendError,
    ObjectInfo,
    Point,
    Project,
    Prompt,
    PromptError,
    open_video,
    registry,
)
from annotator_widgets.render import POSE_CONNECTIONS, Renderer, apply_effect, render_video, write_video
from annotator_widgets.rle import RLE
from annotator_widgets.types import PersonPose


def _frame(h=60, w=80):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _mask(h=60, w=80):
    m = np.zeros((h, w), bool)
    m[10:30, 20:50] = True
    return m


def test_masks_blend_in_object_colours_and_leave_the_rest():
    frame, mask = _frame(), _mask()
    out = Renderer(opacity=1.0, outline=False, labels=False).annotate(
        frame, {3: mask}, objects=[ObjectInfo(3, color=(1, 2, 250))]
    )
    assert (out[mask] == (1, 2, 250)).all()
    assert (out[~mask] == frame[~mask]).all()
    half = Renderer(opacity=0.5, outline=False, labels=False).annotate(
        frame, {3: mask}, objects=[ObjectInfo(3, color=(0, 0, 0))]
    )
    assert np.abs(half[mask].astype(int) - frame[mask] // 2).max() <= 1
    assert frame is not out and (frame == _frame()).all()  # input untouched


def test_hidden_objects_and_labels_and_boxes():
    frame, mask = np.zeros((60, 80, 3), np.uint8), _mask()
    hidden = Renderer().annotate(frame, {1: mask}, objects=[ObjectInfo(1, hidden=True)])
    assert (hidden == 0).all()
    boxed = Renderer(opacity=0, outline=False, boxes=True, labels=False).annotate(
        frame, {1: mask}, objects=[ObjectInfo(1, color=(255, 0, 0))]
    )
    assert (boxed[10, 20:50, 0] > 200).all() and boxed[20, 35].sum() == 0  # box edge drawn, inside empty
    labelled = Renderer(opacity=0, outline=False, labels=True).annotate(
        frame, {1: mask}, objects=[ObjectInfo(1, name="cup", color=(0, 255, 0))]
    )
    assert labelled[:12, 18:60, 1].max() > 200  # the label sits above the mask's top-left corner, green (RGB)


def test_prompt_points_positive_green_negative_red():
    frame = np.zeros((60, 80, 3), np.uint8)
    prompt = Prompt(0, 1, points=(Point(20, 20), Point(60, 40, 0)))
    out = Renderer(point_radius=5).annotate(frame, None, prompts=[prompt])
    g, r = out[20, 20], out[37, 60]  # (the negative marker has a white bar through its middle)
    assert g[1] > 150 and g[0] < 100
    assert r[0] > 150 and r[1] < 100


def test_pose_skeleton_respects_visibility():
    frame = np.zeros((100, 100, 3), np.uint8)
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 2] = 50, 50, 0.0
    lm[11] = (10, 10, 1.0)
    lm[12] = (90, 10, 1.0)
    out = Renderer().annotate(frame, None, poses=[PersonPose(0, 2, lm)], objects=[ObjectInfo(2, color=(0, 0, 255))])
    assert out[10, 50, 2] > 150  # the shoulder line (11-12) is drawn
    assert out[50, 50].sum() == 0  # invisible landmarks are not
    assert (11, 12) in POSE_CONNECTIONS


@pytest.mark.parametrize("effect", ["blur", "pixelate", "solid", "outline", "dim"])
def test_effects_change_only_where_they_should(effect):
    frame, mask = _frame(), _mask()
    out = apply_effect(frame, mask, effect, 0.8)
    if effect == "dim":
        assert (out[mask] == frame[mask]).all() and (out[~mask] <= frame[~mask]).all()
        assert out[~mask].mean() < frame[~mask].mean() * 0.5
    elif effect == "outline":
        assert (out != frame).any() and (out[15:25, 30:40] == frame[15:25, 30:40]).all()
    else:
        assert (out[~mask] == frame[~mask]).all()
        assert np.abs(out[mask].astype(int) - frame[mask]).mean() > 20
    assert (apply_effect(frame, np.zeros((60, 80), bool), effect, 0.5) == frame).all() or effect == "dim"


def test_bad_effect_arguments():
    with pytest.raises(BackendError, match=r"unknown effect.*'sepia'") as err:
        apply_effect(_frame(), _mask(), "sepia")
    assert all(name in str(err.value) for name in registry.names("effect"))  # the known ones are listed
    with pytest.raises(PromptError, match="strength"):
        apply_effect(_frame(), _mask(), "blur", 2)
    with pytest.raises(PromptError, match=r"does not take these options.*\['colour'\].*\['color'\]"):
        apply_effect(_frame(), _mask(), "solid", 1.0, colour=(1, 2, 3))
    with pytest.raises(PromptError, match=r"does not take.*none"):
        apply_effect(_frame(), _mask(), "blur", 0.5, color=(1, 2, 3))
    with pytest.raises(AnnotatorError, match="differ in size"):
        apply_effect(_frame(), np.zeros((5, 5), bool), "blur")
    with pytest.raises(AnnotatorError, match="differ in size"):
        Renderer().annotate(_frame(), {1: np.zeros((5, 5), bool)})


def test_effects_are_the_registry_table_with_options_and_aliases():
    builtin = [p for p in registry.parts("effect") if p.origin == "builtin"]
    assert [p.name for p in builtin] == ["blur", "dim", "outline", "pixelate", "solid"]
    assert all(p.summary for p in builtin)
    frame, mask = _frame(), _mask()
    red = apply_effect(frame, mask, "solid", 0.5, color=(255, 0, 0))
    assert (red[mask] == (255, 0, 0)).all() and (red[~mask] == frame[~mask]).all()
    assert (apply_effect(frame, mask, "mosaic", 0.7) == apply_effect(frame, mask, "pixelate", 0.7)).all()
    assert (frame == _frame()).all()  # the input is never changed, even by effects that work in place


def test_masks_may_be_one_mask_a_mapping_a_list_or_rles():
    frame = _frame()
    a, b = np.zeros((60, 80), bool), np.zeros((60, 80), bool)
    a[5:15, 5:15], b[40:50, 60:70] = True, True
    expected = apply_effect(frame, a | b, "solid", 1.0)
    for masks in ({1: a, 2: b}, [a, b], [RLE.from_mask(a), RLE.from_mask(b)]):
        assert (apply_effect(frame, masks, "solid", 1.0) == expected).all()
    assert (apply_effect(frame, None, "blur") == frame).all()
    assert (apply_effect(frame, {}, "dim", 1.0) < frame.astype(int) + 1).all()  # no mask: everything is outside


def test_a_user_effect_registered_at_run_time_renders_by_name(tmp_path):
    calls = []

    def stripes(frame_rgb, mask_bool, strength, *, every=2):
        calls.append((frame_rgb.shape, int(mask_bool.sum()), strength, every))
        rows = np.zeros_like(mask_bool)
        rows[::every] = True
        frame_rgb[mask_bool & rows] = (0, 255, 255)
        return frame_rgb

    registry.register("effect", "stripes", stripes, summary="cyan stripes inside the masks")
    try:
        assert "stripes" in registry.names("effect")
        frame, mask = _frame(), _mask()
        out = apply_effect(frame, mask, "stripes", 0.25, every=3)
        assert calls[-1] == ((60, 80, 3), int(mask.sum()), 0.25, 3)
        assert (out[12:30:3, 20:50] == (0, 255, 255)).all() and (out[13, 20:50] == frame[13, 20:50]).all()
        assert (out[~mask] == frame[~mask]).all()

        frames = np.stack([_frame() for _ in range(4)])
        video = open_video(write_video(tmp_path / "in.mp4", iter(frames), fps=10))
        with Project.create(tmp_path / "p.awp", video) as project:
            oid = project.add_object(name="box").obj_id
            for f in (1, 2):
                project.put_mask(f, oid, _mask())
            calls.clear()
            rendered = open_video(
                render_video(project, video, tmp_path / "s.mp4", effect="stripes", effect_options={"every": 1})
            )
            assert len(rendered) == 4
            assert [(c[1] > 0, c[3]) for c in calls] == [(False, 1), (True, 1), (True, 1), (False, 1)]
            cyan = rendered.frame(1)[13:27, 23:47].reshape(-1, 3).mean(axis=0)  # inside the mask, after encoding
            assert cyan[0] < 60 and cyan[1] > 200 and cyan[2] > 200
            untouched = np.abs(rendered.frame(0).astype(int) - video.frame(0)).mean()
            assert untouched < 20  # frame 0 has no mask: only the codec changed it
    finally:
        registry.unregister("effect", "stripes")
    assert "stripes" not in registry.names("effect")


def test_an_effect_that_breaks_the_contract_is_named():
    registry.register("effect", "gray", lambda frame_rgb, mask_bool, strength: frame_rgb[..., 0])
    registry.register("effect", "two-args", lambda frame_rgb, mask_bool: frame_rgb)
    try:
        with pytest.raises(AnnotatorError, match="'gray' returned something other than the frame"):
            apply_effect(_frame(), _mask(), "gray")
        with pytest.raises(PromptError, match="'two-args' has the wrong signature"):
            apply_effect(_frame(), _mask(), "two-args")
    finally:
        registry.unregister("effect", "gray")
        registry.unregister("effect", "two-args")


def test_an_effect_cannot_change_the_callers_mask():
    mask = _mask()

    def clears_the_mask(frame_rgb, mask_bool, strength):
        mask_bool[:] = False
        return frame_rgb

    with pytest.raises(ValueError, match="read-only"):
        apply_effect(_frame(), mask, clears_the_mask)
    assert (mask == _mask()).all()


def test_a_failed_render_leaves_no_video_under_the_final_name(tmp_path):
    video = open_video(write_video(tmp_path / "in.mp4", iter(np.stack([_frame() for _ in range(5)])), fps=10))

    def fails_on_frame_three(frame_rgb, mask_bool, strength):
        fails_on_frame_three.n += 1  # type: ignore[attr-defined]
        if fails_on_frame_three.n == 3:  # type: ignore[attr-defined]
            raise RuntimeError("boom")
        return frame_rgb

    fails_on_frame_three.n = 0  # type: ignore[attr-defined]
    with Project.create(tmp_path / "p.awp", video) as project, pytest.raises(RuntimeError, match="boom"):
        render_video(project, video, tmp_path / "out.mp4", effect=fails_on_frame_three)
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == []


def test_write_and_render_video_roundtrip(tmp_path):
    frames = np.stack([_frame() for _ in range(6)])
    path = write_video(tmp_path / "in.mp4", iter(frames), fps=10)
    video = open_video(path)
    assert len(video) == 6 and video.size == (80, 60)
    with Project.create(tmp_path / "p.awp", video) as project:
        oid = project.add_object(name="box").obj_id
        for f in range(6):
            project.put_mask(f, oid, _mask())
        out = render_video(project, video, tmp_path / "blur.mp4", effect="solid", strength=0.5)
        solid = open_video(out)
        assert len(solid) == 6
        assert solid.frame(3)[15:25, 25:45].mean() < 25  # the masked region is filled black (after encoding)
        drawn = open_video(render_video(project, video, tmp_path / "drawn.mp4"))
        assert np.abs(drawn.frame(2).astype(int) - video.frame(2)).mean() > 1


def test_write_video_needs_frames(tmp_path):
    with pytest.raises(AnnotatorError, match="no frames"):
        write_video(tmp_path / "x.mp4", iter([]), fps=5)


def test_replace_copies_every_setting_but_the_changed_ones():
    base = Renderer(opacity=0.3, outline=False, boxes=True, point_radius=9, min_visibility=0.8)
    copy = base.replace(opacity=1.0)
    assert copy.opacity == 1.0 and base.opacity == 0.3
    assert (copy.outline, copy.boxes, copy.point_radius, copy.min_visibility) == (False, True, 9, 0.8)
    with pytest.raises(PromptError, match="unknown Renderer setting"):
        base.replace(colour=(1, 2, 3))
