"""Per-frame hand-to-mask measurements: nearest mask pixel, person scale, visibility, overlap, depth."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from annotator_widgets import landmarks as lm
from annotator_widgets.errors import PromptError
from annotator_widgets.interactions import InteractionParams, measure, person_scale
from annotator_widgets.types import HandPose, PersonPose

H, W = 240, 320
SHOULDER = 40.0  # shoulder width in px of the scripted person


def _person(left=(150.0, 120.0), right=(90.0, 120.0), *, vis=1.0, scale=1.0, world=None) -> PersonPose:
    body = np.zeros((33, 3), np.float32)
    body[:, 2] = 1.0
    body[lm.LEFT_SHOULDER, :2] = (140 * scale, 50 * scale)
    body[lm.RIGHT_SHOULDER, :2] = (100 * scale, 50 * scale)
    body[lm.LEFT_HIP, :2], body[lm.RIGHT_HIP, :2] = (135 * scale, 110 * scale), (105 * scale, 110 * scale)
    for side, (x, y) in (("left", left), ("right", right)):
        body[list(lm.POSE_HANDS[side]), :2] = (x * scale, y * scale)
        body[list(lm.POSE_HANDS[side]), 2] = vis
    return PersonPose(0, 1, body, world)


def _rect(x0, y0, x1, y1, shape=(H, W)):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_distance_is_to_the_nearest_mask_pixel_not_the_centroid():
    # a long bar whose near end is 10 px right of the left hand and whose centroid is 90 px away
    mask = _rect(160, 115, 320, 125)
    r = measure(_person(), 2, mask)
    assert r.distances["left"] == pytest.approx(10 / SHOULDER, abs=1e-6)
    assert r.hand == "left" and r.distance == pytest.approx(0.25, abs=1e-6)
    # the centroid would say (240 - 150) / 40 = 2.25 shoulder widths: far beyond any threshold
    assert r.score == pytest.approx(1 - 0.25 / InteractionParams().leave)


def test_a_hand_on_the_mask_is_at_distance_zero_and_diagonals_are_euclidean():
    assert measure(_person(), 2, _rect(140, 110, 170, 130)).distances["left"] == 0.0
    # nearest pixel of the box diagonally 6 right, 8 down of the hand: 10 px
    r = measure(_person(), 2, _rect(156, 128, 200, 160))
    assert r.distances["left"] == pytest.approx(10 / SHOULDER, abs=1e-6)


def test_distances_are_in_person_scales_so_a_bigger_person_gives_the_same_numbers():
    small = measure(_person(), 2, _rect(160, 115, 200, 125))
    big = measure(_person(scale=2.0), 2, _rect(320, 230, 400, 250, shape=(2 * H, 2 * W)))
    assert small.distances["left"] == pytest.approx(big.distances["left"], abs=0.02)


def test_torso_length_is_the_scale_when_a_shoulder_is_hidden():
    person = _person()
    person.landmarks[lm.RIGHT_SHOULDER, 2] = 0.1
    # shoulders' visible one (140, 50), hips' centre (120, 110): torso 63.2 px, x 0.8
    assert person_scale(person) == pytest.approx(0.8 * math.hypot(20, 60), rel=1e-5)
    person.landmarks[[lm.LEFT_HIP, lm.RIGHT_HIP], 2] = 0.0
    assert person_scale(person) is None
    r = measure(person, 2, _rect(160, 115, 200, 125))
    assert math.isnan(r.distance) and r.hand is None and r.score == 0.0  # no scale: no decision


def test_invisible_landmarks_are_ignored_and_none_visible_means_no_decision():
    mask = _rect(160, 115, 200, 125)
    person = _person()
    person.landmarks[list(lm.POSE_HANDS["left"]), 2] = 0.1  # left hand not visible: the right hand decides
    r = measure(person, 2, mask)
    assert math.isnan(r.distances["left"]) and r.hand == "right"
    assert r.distance == pytest.approx((160 - 90) / SHOULDER)  # farther than reach: the box distance, a lower bound
    r = measure(_person(vis=0.1), 2, mask)
    assert math.isnan(r.distance) and r.hand is None and r.score == 0.0
    # one visible landmark of the hand is enough, and it is the one measured
    person = _person(vis=0.0)
    person.landmarks[lm.LEFT_INDEX] = (158, 120, 0.9)
    assert measure(person, 2, mask).distances["left"] == pytest.approx(2 / SHOULDER)


def test_unknown_mask_is_undecided_and_empty_mask_is_no_contact():
    assert math.isnan(measure(_person(), 2, None).distance)
    r = measure(_person(), 2, np.zeros((H, W), bool))
    assert r.distance == math.inf and r.score == 0.0


def test_overlap_of_the_hand_region_counts_as_touching():
    # a mask covering the hand region except a hole exactly at the hand's landmarks
    mask = _rect(130, 100, 170, 140)
    mask[112:128, 142:158] = False
    r = measure(_person(), 2, mask)
    assert r.distances["left"] > 0.15 and r.overlaps["left"] > 0.5
    assert r.distance == 0.0 and r.score == 1.0
    strict = measure(_person(), 2, mask, params=InteractionParams(overlap_enter=1.01))
    assert strict.distance == pytest.approx(r.distances["left"])


def test_a_hand_models_21_landmarks_replace_the_body_models_hand():
    person = _person()
    hand = np.zeros((21, 3), np.float32)
    hand[:, :2] = (150, 120)
    hand[lm.HAND_FINGERTIPS[1], :2] = (165, 120)  # the index tip reaches into the mask
    mask = _rect(163, 115, 200, 125)
    without = measure(person, 2, mask)
    others = HandPose(0, 9, "left", hand)  # someone else's hand is ignored
    assert measure(person, 2, mask, hands=[others]).distances["left"] == without.distances["left"]
    with_hand = measure(person, 2, mask, hands=[HandPose(0, 1, "left", hand)])
    assert without.distances["left"] == pytest.approx(13 / SHOULDER) and with_hand.distances["left"] == 0.0


def test_depth_check_vetoes_a_hand_far_in_front_and_has_no_say_without_evidence():
    world = np.zeros((33, 3), np.float32)
    world[lm.LEFT_WRIST, 2] = -0.6  # the wrist 0.6 m in front of the hips
    mask = _rect(95, 40, 170, 130)  # covers the left hand and the torso landmarks (shoulders, hips)
    person = _person(world=world)
    off = measure(person, 2, mask)
    assert off.distance == 0.0 and off.depth_ok == {"left": None, "right": None}
    on = measure(person, 2, mask, params=InteractionParams(use_depth=True))
    assert on.depth_ok["left"] is False and on.distances["left"] == 0.0
    # the left hand does not count; the right one (5 px left of the mask, at the torso's depth) decides
    assert on.depth_ok["right"] is True and on.hand == "right" and on.distance == pytest.approx(5 / SHOULDER)
    world[lm.LEFT_WRIST, 2] = -0.1
    near = measure(_person(world=world), 2, mask, params=InteractionParams(use_depth=True))
    assert near.depth_ok["left"] is True and near.distance == 0.0
    # no body landmark under the mask: the object's depth is unknown, the check has no say
    alone = measure(_person(world=world), 2, _rect(160, 115, 200, 125), params=InteractionParams(use_depth=True))
    assert alone.depth_ok["left"] is None
    # no world landmarks: no say either
    assert measure(_person(), 2, mask, params=InteractionParams(use_depth=True)).depth_ok["left"] is None


@pytest.mark.parametrize(
    "changes",
    [{"enter": 0.5, "leave": 0.3}, {"enter": -1.0}, {"reach": 0.4}, {"min_frames": 0}, {"max_gap": -1},
     {"min_visibility": 1.5}, {"overlap_enter": 0.0}, {"min_frames": 2.5}],
)  # fmt: skip
def test_bad_params_are_clear_errors(changes):
    with pytest.raises(PromptError):
        dataclasses.replace(InteractionParams(), **changes)


def test_a_mask_that_is_not_2d_is_an_error():
    with pytest.raises(PromptError, match="2-D"):
        measure(_person(), 2, np.zeros((H, W, 3), bool))


@pytest.mark.parametrize("seed", range(6))
def test_pixel_distances_match_brute_force_within_reach_and_exceed_it_beyond(seed):
    """The distance transform runs on a crop around the hand only: it must agree with a brute-force search."""
    from annotator_widgets.interactions import _distances_px, _mask_box

    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    for _ in range(3):  # a few blobs, some large
        c = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        axes = (int(rng.integers(3, 80)), int(rng.integers(3, 60)))
        cv2.ellipse(mask, c, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    mask = mask.astype(bool)
    points = rng.uniform((0, 0), (W - 1, H - 1), size=(12, 2))
    reach = float(rng.uniform(10, 60))
    got = _distances_px(mask, _mask_box(mask), points, reach)
    ys, xs = np.nonzero(mask)
    for (x, y), d in zip(points, got, strict=True):
        brute = float(np.min(np.hypot(xs - round(x), ys - round(y))))
        if brute <= reach:
            assert d == pytest.approx(brute, abs=1e-3)
        else:
            assert d > reach - 1  # beyond reach: reported as beyond it (never as a near contact)
