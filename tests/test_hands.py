"""Assigning hands to tracked people by wrist proximity, and hand regions from poses (scripted poses, no model)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import annotator_widgets.hands as hands_module
from annotator_widgets import landmarks as lm
from annotator_widgets.errors import PromptError
from annotator_widgets.hands import assign_hands, hand_regions, shoulder_width, wrist_distances
from annotator_widgets.types import HandPose, PersonPose


def person(pid: int, x: float, *, width: float = 40.0, frame: int = 0, hidden: tuple[str, ...] = ()) -> PersonPose:
    """A person facing the camera, centred at ``x``: their left side on the image's right."""
    body = np.zeros((33, 3), np.float32)
    body[:, 2] = 1.0
    body[:, :2] = (x, 100)
    body[lm.LEFT_SHOULDER, :2] = (x + width / 2, 50)
    body[lm.RIGHT_SHOULDER, :2] = (x - width / 2, 50)
    for side, sign in (("left", 1), ("right", -1)):
        body[list(lm.POSE_HANDS[side]), :2] = (x + sign * 0.75 * width, 120)
        if side in hidden:
            body[list(lm.POSE_HANDS[side]), 2] = 0.1
    return PersonPose(frame, pid, body)


def hand(side: str, wrist: tuple[float, float], *, frame: int = 0, pid: int | None = None) -> HandPose:
    pts = np.zeros((21, 3), np.float32)
    pts[:, :2] = (wrist[0], wrist[1] + 10)
    pts[lm.HAND_WRIST, :2] = wrist
    pts[:, 2] = 1.0
    return HandPose(frame, pid, side, pts)


def test_two_people_four_hands() -> None:
    a, b = person(1, 100), person(2, 300)
    found = [
        hand("left", (131, 122)),  # a's left wrist at (130, 120)
        hand("right", (268, 119)),  # b's right wrist at (270, 120)
        hand("right", (72, 121)),  # a's right wrist at (70, 120)
        hand("left", (329, 124)),  # b's left wrist at (330, 120)
    ]
    out = assign_hands(found, [b, a])
    assert [h.person_id for h in out] == [1, 2, 1, 2]
    assert [h.handedness for h in out] == [h.handedness for h in found]  # same order, same hands
    assert all(np.array_equal(o.landmarks, f.landmarks) for o, f in zip(out, found, strict=True))


def test_handedness_must_match_the_pose_side() -> None:
    a = person(1, 100)
    # a "right" hand right on a's left wrist is not a's left hand, and too far from a's right wrist
    assert [h.person_id for h in assign_hands([hand("right", (130, 120))], [a])] == [None]
    assert [h.person_id for h in assign_hands([hand("left", (130, 120))], [a])] == [1]


def test_one_hand_per_person_and_side() -> None:
    a = person(1, 100)
    near, nearer = hand("left", (138, 120)), hand("left", (131, 121))
    assert [h.person_id for h in assign_hands([near, nearer], [a])] == [None, 1]


def test_joint_assignment_beats_greedy() -> None:
    # Both hands are left hands. h1 is closest to a (0.3 shoulder widths) but also within reach of
    # b (0.4); h2 can only be a's (b is 1.5 away). Greedy nearest-first would give h1 to a and leave
    # h2 without anyone; the joint assignment gives h2 to a and h1 to b.
    a, b = person(1, 100, width=40), person(2, 128, width=40)  # left wrists at x=130 and x=158
    h1 = hand("left", (142, 120))  # 12 px from a (0.3), 16 px from b (0.4)
    h2 = hand("left", (112, 120))  # 18 px from a (0.45), 46 px from b (1.15)
    d = wrist_distances([h1, h2], [a, b])
    assert d[0, 0] < d[0, 1] and d[1, 1] > 0.75
    assert [h.person_id for h in assign_hands([h1, h2], [a, b])] == [2, 1]


def test_distances_are_in_shoulder_widths() -> None:
    small, big = person(1, 100, width=20), person(2, 100, width=80)
    assert shoulder_width(small) == pytest.approx(20) and shoulder_width(big) == pytest.approx(80)
    # 30 px from the wrist: 1.5 shoulder widths for the small person, 0.375 for the big one
    small_wrist = small.landmarks[lm.LEFT_WRIST, :2]
    big_wrist = big.landmarks[lm.LEFT_WRIST, :2]
    assert assign_hands([hand("left", (small_wrist[0] + 30, small_wrist[1]))], [small])[0].person_id is None
    assert assign_hands([hand("left", (big_wrist[0] + 30, big_wrist[1]))], [big])[0].person_id == 2
    assert (
        assign_hands([hand("left", (small_wrist[0] + 30, small_wrist[1]))], [small], max_distance=2)[0].person_id == 1
    )


def test_hidden_wrists_take_no_hand() -> None:
    a = person(1, 100, hidden=("left",))
    assert assign_hands([hand("left", (130, 120))], [a])[0].person_id is None
    assert np.isinf(wrist_distances([hand("left", (130, 120))], [a])[0, 0])
    assert sorted(hand_regions(a)) == ["right"]


def test_existing_ids_are_replaced_and_empty_inputs() -> None:
    a = person(1, 100)
    assert assign_hands([hand("left", (500, 500), pid=9)], [a])[0].person_id is None
    assert assign_hands([], [a]) == []
    assert [h.person_id for h in assign_hands([hand("left", (130, 120), pid=9)], [])] == [None]


def test_bad_input() -> None:
    a = person(1, 100, frame=3)
    with pytest.raises(PromptError, match="one frame"):
        assign_hands([hand("left", (130, 120), frame=4)], [a])
    with pytest.raises(PromptError, match="max_distance"):
        assign_hands([], [a], max_distance=0)
    with pytest.raises(PromptError, match="scale"):
        hand_regions(a, scale=-1)


def test_hand_regions_centre_and_size() -> None:
    a = person(1, 100, width=40)
    regions = hand_regions(a, scale=2.0)
    for side, box in regions.items():
        wrist = a.landmarks[lm.LEFT_WRIST if side == "left" else lm.RIGHT_WRIST, :2]
        assert ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2) == pytest.approx(tuple(wrist))
        assert box.x1 - box.x0 == pytest.approx(80) and box.y1 - box.y0 == pytest.approx(80)
    assert regions["left"].x0 > regions["right"].x0  # the person's left is on the image's right
    side_on = a.landmarks.copy()
    side_on[lm.RIGHT_SHOULDER, :2] = side_on[lm.LEFT_SHOULDER, :2]  # shoulders coincide
    assert shoulder_width(PersonPose(0, 1, side_on)) > 1


def test_docstring_examples() -> None:
    result = doctest.testmod(hands_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
