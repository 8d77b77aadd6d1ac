"""The classic tracker finds an object again after an occluder cut it in two (the effort goal's main loss)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator_widgets.backends import _classic_ops as ops
from annotator_widgets.backends import _classic_tracker as tracker
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.rle import mask_iou
from annotator_widgets.types import Point, Prompt
from annotator_widgets.video import open_video


def _post_clip(n: int = 32, w: int = 160, h: int = 120, speed: float = 4.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A reddish textured disc sliding right behind an upright post (16 px of its 36) over a green texture."""
    rng = np.random.default_rng(0)

    def texture(sigma: float, amp: float, colour: tuple[int, int, int]) -> np.ndarray:
        noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), sigma)
        return noise * amp + np.array(colour, np.float32)

    bg, tex, bark = texture(3, 60, (70, 120, 60)), texture(1.5, 50, (200, 60, 50)), texture(2, 30, (90, 80, 100))
    yy, xx = np.mgrid[:h, :w]
    post = (xx >= 70) & (xx < 86)
    frames, truth = [], []
    for t in range(n):
        disc = (xx - (28 + speed * t)) ** 2 + (yy - 60) ** 2 <= 18**2
        img = np.where(disc[..., None], np.roll(tex, round(speed * t), axis=1), bg)
        img = np.where(post[..., None], bark, img)
        frames.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
        truth.append(disc & ~post)
    return np.stack(frames), truth


def _track(frames: np.ndarray, truth: list[np.ndarray]) -> list[float]:
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    seg.set_prompt(Prompt(0, 1, points=(Point(28, 60, 1),)))
    return [mask_iou(out.objects[1].mask, truth[out.frame]) for out in seg.propagate(0)]


def test_an_object_cut_by_a_post_is_found_again_on_the_other_side() -> None:
    frames, truth = _post_clip()
    ious = _track(frames, truth)
    assert len(ious) == len(frames)
    assert min(ious) >= 0.8, np.round(ious, 2)
    assert min(ious[20:]) >= 0.95, np.round(ious, 2)  # whole again once it has passed the post


def test_without_looking_for_the_whole_object_the_post_loses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip really provokes the loss the re-acquisition exists for (so the test above tests it)."""
    monkeypatch.setattr(ops, "WHOLE_SHARE", 0.0)  # never look for the whole object
    monkeypatch.setattr(tracker, "moving_pieces", lambda *args: None)  # nor for pieces moving with the mask
    frames, truth = _post_clip()
    ious = _track(frames, truth)
    assert max(ious[20:]) < 0.1, np.round(ious, 2)


def test_the_part_coming_out_from_behind_the_post_joins_the_mask() -> None:
    """While the disc straddles the post, its piece on the far side joins the moved piece at once."""
    frames, truth = _post_clip()
    assert min(_track(frames, truth)) >= 0.88


def test_without_the_far_pieces_the_mask_lags_behind_the_post(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip provokes the lag the far pieces exist for (so the test above tests them)."""
    monkeypatch.setattr(tracker, "_pieces", lambda mask, p_obj, min_area: np.zeros_like(mask))
    frames, truth = _post_clip()
    assert min(_track(frames, truth)) < 0.88


@pytest.mark.parametrize("speed", [2.0, 3.0, 5.0])
def test_the_sliver_on_the_far_side_of_the_post_stays_in_the_mask(speed: float) -> None:
    """A piece of the mask too thin to have an eroded core (the disc's edge past the post) is kept.

    Dropping pieces that do not touch the mask's core lost it: minimum IoU 0.74 / 0.80 / 0.80.
    """
    frames, truth = _post_clip(n=int(128 / speed), speed=speed)
    ious = _track(frames, truth)
    assert min(ious) >= 0.9, np.round(ious, 2)


def _track_from_near_piece(frames: np.ndarray, truth: list[np.ndarray], start: int) -> list[float]:
    """Click the centre of the disc's piece on the near side of the post on ``start`` and track on from there."""
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    near = truth[start] & (np.arange(frames.shape[2])[None] < 70)
    ys, xs = np.nonzero(near)
    seg.set_prompt(Prompt(start, 1, points=(Point(float(xs.mean()), float(ys.mean()), 1),)))
    return [mask_iou(out.objects[1].mask, truth[out.frame]) for out in seg.propagate(start, 12)]


@pytest.mark.parametrize(("speed", "start"), [(3.0, 15), (3.0, 17), (4.0, 11), (4.0, 13), (5.0, 9), (5.0, 11)])
def test_a_chain_started_on_one_piece_of_a_cut_object_takes_in_the_piece_coming_out(speed: float, start: int) -> None:
    """The prompt holds the piece on the near side of the post only, so the object's reference is that piece.

    Before the tracker looked for pieces moving with the mask, the mask went behind the post with its
    piece and stayed there: IoU 0 from 3-4 frames on in every case here (the simulated annotator's
    seed-2 loss: one click per frame while an object crosses a post).
    """
    frames, truth = _post_clip(n=40, speed=speed)
    ious = _track_from_near_piece(frames, truth, start)
    assert len(ious) == 13
    assert min(ious[3:]) >= 0.9, np.round(ious, 2)


def test_without_the_moving_pieces_the_chain_goes_behind_the_post(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clips above provoke the loss the moving pieces exist for (so the test above tests them)."""
    monkeypatch.setattr(tracker, "moving_pieces", lambda *args: None)
    for speed, start in [(3.0, 15), (4.0, 11), (5.0, 11)]:
        frames, truth = _post_clip(n=40, speed=speed)
        assert max(_track_from_near_piece(frames, truth, start)[4:]) < 0.2


def _moving_scene(shift_piece: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An image with a red disc (the mask) moving 4 px right and a red patch apart from it moving ``shift_piece``.

    The tests pass the image as its own previous frame: the patch's place moved back by its flow then held
    less of it (a patch that moved is growing there), so the patch passes the growth test when it moves.
    """
    rng = np.random.default_rng(1)
    h, w = 120, 160
    img = np.clip(rng.normal((70, 120, 60), 8, (h, w, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    mask = (xx - 60) ** 2 + (yy - 60) ** 2 <= 15**2
    patch = (xx >= 88) & (xx < 100) & (yy >= 45) & (yy < 75)
    img[mask | patch] = np.clip(rng.normal((200, 60, 50), 8, (int((mask | patch).sum()), 3)), 0, 255)
    back = np.zeros((h, w, 2), np.float32)  # for each pixel: where it was on the previous frame
    back[mask] = (-4, 0)
    back[patch] = (-shift_piece[0], -shift_piece[1])
    colours = ops.histogram(ops.colour_index(img), mask)
    return img, back, mask, colours


@pytest.mark.parametrize(("shift", "joins"), [((4, 0), True), ((3, 1), True), ((0, 0), False), ((-4, 0), False)])
def test_a_piece_joins_only_when_it_moves_with_the_mask_against_the_scene(shift: tuple[int, int], joins: bool) -> None:
    """A patch of the object's colours standing still with the scene (or moving the other way) is not the object."""
    img, back, mask, colours = _moving_scene(shift)
    found = tracker.moving_pieces(img, img, back, mask, colours)
    patch = np.zeros_like(mask)
    patch[45:75, 88:100] = True
    if joins:
        assert found is not None and (found & patch).sum() >= 0.8 * patch.sum()
        assert not (found & mask).any()
    else:
        assert found is None or not (found & patch).any()


def test_a_still_scene_gives_no_pieces() -> None:
    """Where the mask does not move against the scene, nothing comes out from behind anything."""
    img, back, mask, colours = _moving_scene((0, 0))
    back[:] = 0
    assert tracker.moving_pieces(img, img, back, mask, colours) is None


def test_a_piece_on_another_tracked_object_stays_that_objects() -> None:
    img, back, mask, colours = _moving_scene((4, 0))
    patch = np.zeros_like(mask)
    patch[45:75, 88:100] = True
    assert tracker.moving_pieces(img, img, back, mask, colours) is not None
    assert tracker.moving_pieces(img, img, back, mask, colours, taken=patch) is None


def _twins_clip(n: int = 16) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Two discs of the same red texture, 8 px apart, sliding right together at 4 px a frame over a green texture."""
    rng = np.random.default_rng(2)
    h, w = 120, 200
    bg = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 3) * 60 + (70, 120, 60)
    tex = cv2.GaussianBlur(rng.normal(0, 1, (h, w + 4 * n, 3)).astype(np.float32), (0, 0), 1.5) * 50 + (200, 60, 50)
    yy, xx = np.mgrid[:h, :w]
    frames, first, second = [], [], []
    for t in range(n):
        a = (xx - (30 + 4 * t)) ** 2 + (yy - 60) ** 2 <= 16**2
        b = (xx - (70 + 4 * t)) ** 2 + (yy - 60) ** 2 <= 16**2
        img = np.where((a | b)[..., None], tex[:, 4 * n - 4 * t : 4 * n - 4 * t + w], bg)
        frames.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
        first.append(a)
        second.append(b)
    return np.stack(frames), first, second


def test_two_look_alikes_moving_together_stay_apart_when_both_are_tracked() -> None:
    frames, first, second = _twins_clip()
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    seg.set_prompt(Prompt(0, 1, points=(Point(30, 60, 1),)))
    seg.set_prompt(Prompt(0, 2, points=(Point(70, 60, 1),)))
    for out in seg.propagate(0):
        assert mask_iou(out.objects[1].mask, first[out.frame]) >= 0.9, out.frame
        assert mask_iou(out.objects[2].mask, second[out.frame]) >= 0.9, out.frame


def test_a_look_alike_moving_along_beside_the_object_stays_out() -> None:
    """The twin moves with the mask against the scene and has its colours, but it keeps its size: no piece of it.

    Without the growth test (a far piece comes out from behind something, so it grows) the twin joined the
    mask on the first frame: IoU 0.5 from there on.
    """
    frames, first, _ = _twins_clip()
    seg = ClassicSegmenter()
    seg.start(open_video(frames))
    seg.set_prompt(Prompt(0, 1, points=(Point(30, 60, 1),)))
    ious = [mask_iou(out.objects[1].mask, first[out.frame]) for out in seg.propagate(0)]
    assert len(ious) == len(frames)
    assert min(ious) >= 0.95, np.round(ious, 2)
