"""Hands: the hand landmarker bundle built from the mediapipe wheel on PyPI, on real photos.

The photos come from the ultralytics wheel on PyPI (see tests/support/hand_photos.py: none of
the installed media shows a hand the palm detector can find). Both wheels are downloaded once
with pip, never installed (``make models`` does it before the tests).
"""

from __future__ import annotations

import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import checkpoints, registry
from annotator_widgets import landmarks as lm
from annotator_widgets.backends import HandEstimator
from annotator_widgets.backends._tflite_bundle import cached_wheel
from annotator_widgets.backends.hand_bundle import BUILT_NAME, BUNDLE_SHA256, MEMBER_NAMES, build_hand_bundle
from annotator_widgets.backends.hands import MediaPipeHandEstimator, resolve_hand_model
from annotator_widgets.backends.pose import MediaPipePoseEstimator
from annotator_widgets.errors import BackendError, CheckpointError
from annotator_widgets.hands import assign_hands, hand_regions
from annotator_widgets.types import Box, PersonPose
from tests.support.hand_photos import hand_photo
from tests.support.people import pose_bundle

#: Zidane's pointing index fingertip and the back of his wrist in zidane.jpg, found by eye
ZIDANE_FINGERTIP = (1145.0, 415.0)
ZIDANE_HAND = Box(950, 395, 1165, 495)


@pytest.fixture(scope="module")
def bundle() -> Path:
    return checkpoints.fetch(BUILT_NAME, progress=False)


@pytest.fixture(scope="module")
def zidane() -> np.ndarray:
    return hand_photo("zidane")


def _image(bundle: Path, **kw: object) -> MediaPipeHandEstimator:
    return MediaPipeHandEstimator(bundle, running_mode="image", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the bundle


def test_bundle_build_is_deterministic_with_the_task_layout(bundle: Path, tmp_path: Path) -> None:
    again = build_hand_bundle(tmp_path / "again.task", wheel=cached_wheel())
    assert checkpoints.sha256_of(again) == checkpoints.sha256_of(bundle) == BUNDLE_SHA256
    with zipfile.ZipFile(again) as zf:
        infos = zf.infolist()
    assert (
        tuple(i.filename for i in infos) == MEMBER_NAMES == ("hand_detector.tflite", "hand_landmarks_detector.tflite")
    )
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all(i.header_offset >= 0 for i in infos)


def test_registry_entries_and_offline_fallback(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    official = checkpoints.REGISTRY["hand_landmarker"]
    assert official.urls and official.fallback == BUILT_NAME and official.family == "hands"
    assert checkpoints.REGISTRY[BUILT_NAME].sha256 == BUNDLE_SHA256
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / cached_wheel().name).symlink_to(cached_wheel())
    monkeypatch.setenv(checkpoints.ENV_CACHE, str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def offline(url: str, target: Path, progress: bool) -> None:
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(checkpoints, "_download", offline)
    path = resolve_hand_model(None)
    assert path == tmp_path / f"{BUILT_NAME}.task" and checkpoints.sha256_of(path) == BUNDLE_SHA256


def test_a_wrong_wheel_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "mediapipe.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("mediapipe/modules/palm_detection/palm_detection_full.tflite", b"not a model")
    with pytest.raises(CheckpointError, match="palm detector"):
        build_hand_bundle(tmp_path / "x.task", wheel=fake)
    assert not (tmp_path / "x.task").exists()


# ---------------------------------------------------------------------------- the estimator


def test_pointing_hand_on_a_real_photo(bundle: Path, zidane: np.ndarray) -> None:
    with _image(bundle) as est:
        hands = est.detect(zidane)
        flipped = est.detect(np.ascontiguousarray(zidane[:, ::-1]))
    assert len(hands) == 1
    hand = hands[0]
    assert hand.landmarks.shape == (21, 3) and hand.world_landmarks is not None
    assert hand.world_landmarks.shape == (21, 3) and hand.person_id is None and hand.score > 0.8
    # his left hand (torso facing the camera, the arm from his left shoulder): the person's own side
    assert hand.handedness == "left"
    tip = hand.landmarks[lm.HAND_INDEX[-1], :2]
    assert np.hypot(*(tip - ZIDANE_FINGERTIP)) < 25
    box = hand.box()
    assert (
        ZIDANE_HAND.x0 <= box.x0 and box.x1 <= ZIDANE_HAND.x1 and ZIDANE_HAND.y0 <= box.y0 and box.y1 <= ZIDANE_HAND.y1
    )
    # a mirror image shows a right hand, in mirrored pixels
    assert [h.handedness for h in flipped] == ["right"]
    w = zidane.shape[1]
    gap = np.abs(flipped[0].landmarks[:, 0] - (w - hand.landmarks[:, 0]))
    assert np.median(gap) < 6 and gap.max() < 25  # measured: median 2.5 px, the worst (pinky tip) 17 px
    with _image(bundle, mirrored=True) as est:
        assert [h.handedness for h in est.detect(zidane)] == ["right"]


def test_video_mode_follows_the_hand(bundle: Path, zidane: np.ndarray) -> None:
    # six frames of the photo panned 12 px per frame: the fingertip moves with the content
    frames = [np.ascontiguousarray(zidane[:, 12 * k : 12 * k + 1160]) for k in range(6)]
    with MediaPipeHandEstimator(bundle, running_mode="video") as est:
        assert isinstance(est, HandEstimator)
        tips = []
        for k, frame in enumerate(frames):
            hands = est.detect(frame, timestamp_ms=40 * k)
            assert [h.handedness for h in hands] == ["left"]
            tips.append(hands[0].landmarks[lm.HAND_INDEX[-1], :2] + (12 * k, 0))
        assert est.last_timestamp_ms == 200
        est.detect(frames[-1], timestamp_ms=200)  # a repeated timestamp is moved on, not an error
        assert est.last_timestamp_ms == 201
    tips_arr = np.array(tips)
    assert np.abs(tips_arr - ZIDANE_FINGERTIP).max() < 25
    with registry.resolve("hands", "mediapipe", running_mode="video") as est:
        results = list(est.detect_video(np.stack(frames[:3]), frames=[0, 2]))
    assert [i for i, _ in results] == [0, 2] and all(len(h) == 1 and h[0].frame == i for i, h in results)


def test_small_hands_found_around_the_pose_wrists(bundle: Path) -> None:
    # bus.jpg: the man in the middle; his hands (~50 px) are too small for the palm detector
    # on the whole photo, but not in crops around his pose wrists, with the pose model's sides
    photo = hand_photo("bus")
    x0, y0 = 200, 380
    with MediaPipePoseEstimator(pose_bundle(), num_poses=1, running_mode="image") as pose_est:
        people = pose_est.detect(np.ascontiguousarray(photo[y0:880, x0:360]))
    assert len(people) == 1
    body = people[0].landmarks.copy()
    body[:, :2] += (x0, y0)
    person = PersonPose(0, 5, body)
    with _image(bundle) as est:
        assert est.detect(photo) == []
        regions = hand_regions(person)
        assert sorted(regions) == ["left", "right"]
        hands = est.detect_in_boxes(photo, list(regions.values()))
        with pytest.raises(BackendError, match="Box"):
            est.detect_in_boxes(photo, [(0, 0, 10, 10)])  # type: ignore[list-item]
    assert sorted(h.handedness for h in hands) == ["left", "right"]
    for hand in hands:
        wrist = body[lm.LEFT_WRIST if hand.handedness == "left" else lm.RIGHT_WRIST, :2]
        assert np.hypot(*(hand.landmarks[lm.HAND_WRIST, :2] - wrist)) < 40
    assert [h.person_id for h in assign_hands(hands, [person])] == [5, 5]


def test_estimator_errors(bundle: Path, tmp_path: Path, zidane: np.ndarray) -> None:
    est = _image(bundle)
    with pytest.raises(BackendError, match="uint8"):
        est.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(BackendError, match="size"):
        est.detect_in_boxes(zidane, [ZIDANE_HAND], size=8)
    est.close()
    est.close()  # idempotent
    with pytest.raises(BackendError, match="closed"):
        est.detect(zidane)
    with pytest.raises(BackendError, match="closed"):
        est.detect_in_boxes(zidane, [ZIDANE_HAND])
    for bad in ({"num_hands": 0}, {"min_hand_detection_confidence": 1.5}, {"running_mode": "live"}):
        with pytest.raises(BackendError):
            MediaPipeHandEstimator(bundle, **bad)
    with pytest.raises(CheckpointError, match="not found"):
        MediaPipeHandEstimator(tmp_path / "missing.task")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"junk")
    with pytest.raises(BackendError, match="cannot load"):
        MediaPipeHandEstimator(junk)
