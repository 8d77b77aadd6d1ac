"""The simulated annotator: the click rule, the counts, J from the project, stopping, the CLI."""

import doctest
import json

import cv2
import numpy as np
import pytest

import annotator_widgets as aw
from annotator_widgets import Project, PromptError
from annotator_widgets.cli import main
from annotator_widgets.cli_simulate import PngTruth
from annotator_widgets.data import synthetic_clip, write_frames
from annotator_widgets.errors import AnnotatorError
from annotator_widgets.export.davis import save_davis
from annotator_widgets.rle import mask_iou
from annotator_widgets.simulate import next_click, simulate_annotator


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=10, size=(128, 96), num_objects=2, seed=4, occluders=1)


# -- the click rule ----------------------------------------------------------------------------


def _centre(region):
    """The pixel farthest from the region's outline (image border included), computed by brute force."""
    ys, xs = np.nonzero(region)
    outside = np.argwhere(~np.pad(region, 1))  # padded coordinates
    d = np.sqrt(((np.stack([ys + 1, xs + 1], 1)[:, None, :] - outside[None]) ** 2).sum(2)).min(1)
    i = int(np.argmax(d))
    return xs[i] + 0.5, ys[i] + 0.5


def test_click_goes_to_the_centre_of_the_largest_missed_region():
    truth = np.zeros((40, 60), bool)
    truth[5:30, 5:50] = True
    pred = truth.copy()
    pred[8:21, 30:43] = False  # a 13 x 13 hole: the largest error
    pred[24:28, 8:12] = False  # a small hole
    pred[33:37, 2:8] = True  # a small spill
    p = next_click(pred, truth)
    assert p.label == 1
    assert (p.x, p.y) == _centre(truth & ~pred & (np.arange(60)[None] >= 30))
    assert (p.x, p.y) == (36.5, 14.5)


def test_click_is_negative_where_the_spill_is_largest_and_the_border_counts_as_outline():
    truth = np.zeros((40, 60), bool)
    truth[10:30, 20:40] = True
    pred = truth.copy()
    pred[0:12, 0:20] = True  # a spill in the corner, touching the image border
    pred[15:18, 25:28] = False  # a small miss
    p = next_click(pred, truth)
    assert p.label == 0
    spill = pred & ~truth
    assert (p.x, p.y) == _centre(spill)
    assert p.x > 5 and p.y > 5  # not on the border: the border is the region's edge
    q = next_click(pred, truth, negative=False)  # a frame's first click: only misses count
    assert q.label == 1 and (q.x, q.y) == (26.5, 16.5)


def test_the_largest_region_wins_over_the_deepest():
    truth = np.zeros((50, 80), bool)
    truth[2:12, 2:12] = True  # missed square, 100 px, depth 5
    pred = np.zeros_like(truth)
    pred[20:22, 5:75] = True  # spill line, 140 px, depth 1
    p = next_click(pred, truth)
    assert p.label == 0 and p.y == 20.5


def test_no_error_no_click_and_shapes_are_checked():
    m = np.zeros((8, 8), bool)
    m[2:5, 2:5] = True
    assert next_click(m, m) is None
    with pytest.raises(PromptError):
        next_click(m, np.zeros((8, 9), bool))


# -- the protocol through the real session ------------------------------------------------------


def _j_from_project(path, truth, frames):
    project = Project.open(path)
    try:
        out = {}
        for obj, masks in truth.items():
            js = []
            for t in range(frames):
                ann = project.annotation(t, obj)
                js.append(mask_iou(ann.mask, masks[t]) if ann is not None else float(not masks[t].any()))
            out[obj] = np.array(js)
        clicks = sum(len(p.points) for p in project.prompts())
        return out, clicks, project.prompts()
    finally:
        project.close()


def test_report_counts_clicks_and_j_matches_the_projects_masks(clip, tmp_path):
    path = tmp_path / "sim.awp"
    report = simulate_annotator(clip.frames, clip.masks, target_j=0.95, max_clicks=6, project=path)
    js, stored_clicks, prompts = _j_from_project(path, clip.masks, clip.num_frames)
    assert report.clicks == len(report.history) == stored_clicks
    assert report.clicks_per_frame == pytest.approx(report.clicks / clip.num_frames)
    assert report.frames == clip.num_frames and report.objects == 2 and report.project_path == path
    for obj in clip.masks:
        np.testing.assert_allclose(report.j_per_frame[obj], js[obj], atol=1e-9)
    every = np.concatenate(list(js.values()))
    assert report.final_mean_j == pytest.approx(every.mean())
    assert report.min_j == pytest.approx(every.min())
    assert report.reached == (every.min() >= 0.95)
    # the first click of each object: positive, on its first visible frame, at the centre of the object
    for click in report.history[:2]:
        assert click.label == 1 and click.frame == 0
        assert (click.x, click.y) == _centre(clip.masks[click.obj_id][0])
    # every later click corrected a frame below the target, with the rule applied to the masks it saw
    for click in report.history[2:]:
        assert click.j_before < 0.95
    # clicks on one frame accumulate into that frame's prompt, in order
    stored = {(p.frame, p.obj_id): [(pt.x, pt.y, pt.label) for pt in p.points] for p in prompts}
    for key, points in stored.items():
        made = [(c.x, c.y, c.label) for c in report.history if (c.frame, c.obj_id) == key]
        assert points == made
    assert report.rounds >= 1 and report.seconds > 0
    assert report.seconds_per_frame == pytest.approx(report.seconds / clip.num_frames)


def test_a_budget_stops_it_and_an_easy_target_needs_only_the_first_clicks(clip):
    hard = simulate_annotator(clip.frames, clip.masks, target_j=0.999, max_clicks=4)
    assert hard.clicks == 4 and not hard.reached
    easy_target = 0.5
    easy = simulate_annotator(clip.frames, clip.masks, target_j=easy_target, max_clicks=50)
    assert easy.reached and easy.min_j >= easy_target
    # it stopped as soon as every frame reached the target: no click on a frame already good
    assert easy.clicks == 2 and easy.rounds == 1  # one click per object, one propagation


class _DriftingSegmenter:
    """Test double with a known answer: a frame within ``reach`` of one of the object's prompts gets
    the true mask (a prompt frame needs two clicks for it), farther frames an eroded mask (J < 0.6)."""

    name = "drifting"

    def __init__(self, truth, reach=2):
        self.truth, self.reach, self.clicks = truth, reach, {}

    def start(self, video):
        self.frames = len(video)

    def _mask(self, obj, t):
        gt = self.truth[obj][t]
        near = [f for (o, f) in self.clicks if o == obj and abs(f - t) <= self.reach]
        exact = self.clicks.get((obj, t), 2) >= 2
        if near and exact:
            return gt
        return cv2.erode(gt.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)

    def set_prompt(self, prompt):
        from annotator_widgets.backends import ObjectMask

        self.clicks[prompt.obj_id, prompt.frame] = len(prompt.points)
        return {prompt.obj_id: ObjectMask(self._mask(prompt.obj_id, prompt.frame), 1.0)}

    def propagate(self, start, max_frames=None, reverse=False):
        from annotator_widgets.backends import ObjectMask, SegmenterFrame

        step = -1 if reverse else 1
        last = 0 if reverse else self.frames - 1
        if max_frames is not None:
            last = max(last, start - max_frames) if reverse else min(last, start + max_frames)
        objs = sorted({o for o, _ in self.clicks})
        for t in range(start, last + step, step):
            yield SegmenterFrame(t, {o: ObjectMask(self._mask(o, t), 1.0) for o in objs})

    def remove_object(self, obj_id):
        self.clicks = {k: v for k, v in self.clicks.items() if k[0] != obj_id}

    def reset(self):
        self.clicks = {}

    def close(self):
        pass


def test_the_loop_corrects_the_worst_frame_and_stops_once_the_target_is_reached(clip):
    seg = _DriftingSegmenter(clip.masks)
    report = simulate_annotator(clip.frames, clip.masks, segmenter=seg, target_j=0.9, max_clicks=40)
    assert report.reached and report.min_j == 1.0 and report.clicks < 40
    # first clicks on frame 0 (one click: eroded); frames 1, 2 are right; 3.. drift. Each correction goes
    # to the worst frame (ties: the earliest frame, then the lower object id) and a second click on a
    # prompt frame makes it exact, so with reach 2 every object needs prompts on 0, 5 and 9, each
    # clicked twice: 6 clicks per object; nothing more once every frame is right.
    per_object = {o: sorted({(c.frame) for c in report.history if c.obj_id == o}) for o in clip.masks}
    assert report.clicks == 12, [(c.frame, c.obj_id, round(c.j_before, 2)) for c in report.history]
    assert all(len(frames) == 3 for frames in per_object.values())
    assert all(c.j_before < 0.9 for c in report.history[2:])


def test_truth_is_read_frame_by_frame_through_a_callable(clip):
    asked = []

    def reader(obj):
        def read(t):
            asked.append((obj, t))
            return None if t == 3 else clip.masks[obj][t]  # frame 3 has no ground truth

        return read

    report = aw.simulate_annotator(clip.frames, {1: reader(1)}, target_j=0.5, max_clicks=3)
    assert np.isnan(report.j_per_frame[1][3])
    assert not np.isnan(np.delete(report.j_per_frame[1], 3)).any()
    assert {t for _, t in asked} == set(range(clip.num_frames))


@pytest.mark.parametrize(
    ("kwargs", "truth"),
    [
        ({"target_j": 0.0}, None),
        ({"target_j": 1.5}, None),
        ({"max_clicks": 0}, None),
        ({}, "short"),
        ({}, "size"),
        ({}, "empty"),
        ({}, "ids"),
    ],
)
def test_bad_arguments_raise_prompt_errors(clip, kwargs, truth):
    masks = {1: clip.masks[1]}
    if truth == "short":
        masks = {1: clip.masks[1][:4]}
    elif truth == "size":
        masks = {1: np.zeros((clip.num_frames, 10, 10), bool)}
    elif truth == "empty":
        masks = {1: np.zeros_like(clip.masks[1])}
    elif truth == "ids":
        masks = {0: clip.masks[1]}
    with pytest.raises(PromptError) as err:
        simulate_annotator(clip.frames, masks, **kwargs)
    assert err.value.given is not None or "ground truth" in str(err.value)


def test_module_examples():
    import annotator_widgets.simulate as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# -- the command ------------------------------------------------------------------------------


def _davis(clip, tmp_path):
    """The clip's frames as PNGs and its truth as a DAVIS folder written by the davis exporter."""
    frames = tmp_path / "frames"
    write_frames(clip.frames, frames, ext="png")
    truth = Project.create(tmp_path / "truth.awp", {"frames": clip.num_frames, "width": 128, "height": 96, "name": "v"})
    for obj, masks in clip.masks.items():
        truth.add_object(obj_id=obj)
        for t, m in enumerate(masks):
            if m.any():
                truth.put_mask(t, obj, m)
    out = tmp_path / "davis"
    save_davis(truth, out, all_frames=True)
    truth.close()
    return frames, out


def test_cli_simulate_end_to_end_on_a_davis_folder(clip, tmp_path, capsys):
    frames, davis = _davis(clip, tmp_path)
    project = tmp_path / "sim.awp"
    argv = ["-q", "simulate", str(frames), "--truth", str(davis), "--target-j", "0.6", "--max-clicks", "8"]
    assert main([*argv, "--json", "--project", str(project)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == clip.num_frames and out["objects"] == 2 and out["target_j"] == 0.6
    assert 2 <= out["clicks"] <= 8 and out["clicks_per_frame"] == pytest.approx(out["clicks"] / clip.num_frames, 1e-3)
    js, stored_clicks, _ = _j_from_project(project, clip.masks, clip.num_frames)
    assert stored_clicks == out["clicks"]
    assert out["min_j"] == pytest.approx(min(j.min() for j in js.values()), abs=1e-4)
    assert out["reached"] == (out["min_j"] >= 0.6)
    assert main(argv) == 0
    assert "clicks for 10 frames x 2 objects" in capsys.readouterr().out


def test_cli_simulate_rejects_bad_input(clip, tmp_path, capsys):
    frames, davis = _davis(clip, tmp_path)
    assert main(["simulate", str(frames), "--truth", str(tmp_path / "nowhere")]) == 2
    assert "no PNG masks" in capsys.readouterr().err
    assert main(["simulate", str(frames), "--truth", str(davis), "--target-j", "2"]) == 2
    small = tmp_path / "small"
    small.mkdir()
    cv2.imwrite(str(small / "00000.png"), np.ones((10, 10), np.uint8))
    assert main(["simulate", str(frames), "--truth", str(small)]) == 2
    assert "10x10" in capsys.readouterr().err


def test_png_truth_reads_lazily_and_leaves_frames_without_png_unscored(clip, tmp_path):
    _, davis = _davis(clip, tmp_path)
    (davis / "Annotations" / "v" / "00004.png").unlink()
    truth = PngTruth(davis, clip.num_frames, (128, 96))
    assert truth.objects == [1, 2] and 4 not in truth.files
    read = truth.reader(2)
    assert read(4) is None
    np.testing.assert_array_equal(read(5), clip.masks[2][5])
    with pytest.raises(AnnotatorError):
        PngTruth(davis, 3, (128, 96))  # PNGs beyond the video


# -- the generator option the benchmark uses ----------------------------------------------------


def test_occluders_hide_parts_of_objects_and_leave_the_rest_of_the_clip_alone():
    plain = synthetic_clip(num_frames=60, size=(160, 120), num_objects=3, seed=0)
    posts = synthetic_clip(num_frames=60, size=(160, 120), num_objects=3, seed=0, occluders=2)
    changed = np.any(plain.frames != posts.frames, axis=3)  # where the posts stand
    assert 0.05 < changed.mean() < 0.3
    for obj in plain.masks:
        assert not (posts.masks[obj] & ~plain.masks[obj]).any()  # posts only ever hide
        np.testing.assert_array_equal(posts.masks[obj] | (plain.masks[obj] & changed), plain.masks[obj])
    hidden = sum(int((plain.masks[o] & ~posts.masks[o]).sum()) for o in plain.masks)
    assert hidden > 0
    split = [cv2.connectedComponents(posts.masks[o][t].astype(np.uint8))[0] - 1 for o in posts.masks for t in range(60)]
    assert max(split) >= 2  # an object passing behind a post is cut in two
    with pytest.raises(aw.VideoError):
        synthetic_clip(num_frames=2, occluders=5)
