"""MediaPipe pose: the bundle built from the PyPI wheel, and the estimator on real media from PyPI packages.

The bundle is built once into the checkpoint cache (``make test`` builds it before
the tests: ``python -m annotator_widgets.checkpoints fetch pose_landmarker_full_wheel``);
the only network access is pip downloading the mediapipe wheel the first time.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import checkpoints
from annotator_widgets.backends import PoseEstimator
from annotator_widgets.backends.pose import MediaPipePoseEstimator, resolve_pose_model, timestamp_ms
from annotator_widgets.backends.pose_bundle import (
    BUILT_NAME,
    BUNDLE_SHA256,
    WHEEL_FILENAME,
    build_pose_bundle,
    cached_wheel,
)
from annotator_widgets.errors import BackendError, CheckpointError
from annotator_widgets.video import open_video
from tests.support.people import face_box, portrait, pose_bundle

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def bundle() -> Path:
    return pose_bundle()


def _estimator(bundle: Path, **kwargs: object) -> MediaPipePoseEstimator:
    kwargs.setdefault("num_poses", 2)
    return MediaPipePoseEstimator(bundle, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the bundle


def test_bundle_build_is_deterministic(bundle: Path, tmp_path: Path) -> None:
    again = build_pose_bundle(tmp_path / "again.task", wheel=cached_wheel())
    assert checkpoints.sha256_of(again) == checkpoints.sha256_of(bundle) == BUNDLE_SHA256
    with zipfile.ZipFile(again) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.compress_type == zipfile.ZIP_STORED for i in infos)
        landmarker = zf.read("pose_landmarks_detector.tflite")
    # the landmark model now carries the metadata the Tasks API needs: image input, mean 0 / std 255
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md
    from mediapipe.tasks.metadata import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(landmarker, 0)
    names = {model.Metadata(i).Name(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    meta_buf = model.Buffers(names[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()
    meta = md.ModelMetadataT.InitFromObj(md.ModelMetadata.GetRootAsModelMetadata(meta_buf, 0))
    graph = meta.subgraphMetadata[0]
    norm = graph.inputTensorMetadata[0].processUnits[0].options
    assert list(norm.mean) == [0.0] and list(norm.std) == [255.0]
    assert len(graph.outputTensorMetadata) == model.Subgraphs(0).OutputsLength() == 5


def test_bundle_loads_with_several_people(bundle: Path) -> None:
    ast, gh = portrait("astronaut"), portrait("grace_hopper")
    side = np.zeros((600, 1024, 3), np.uint8)
    side[:512, :512] = ast
    side[:, 512:] = gh
    with _estimator(bundle, num_poses=3, min_pose_detection_confidence=0.3, running_mode="image") as est:
        people = est.detect(side)
    noses = sorted(float(p.landmarks[0, 0]) for p in people)
    assert len(people) == 2
    assert noses[0] < 512 < noses[1]


def test_registry_entries_and_offline_fallback(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    official = checkpoints.REGISTRY["pose_landmarker_full"]
    assert official.urls and official.sha256 is None and official.fallback == BUILT_NAME
    assert checkpoints.REGISTRY[BUILT_NAME].sha256 == BUNDLE_SHA256
    assert {"pose_landmarker_lite", "pose_landmarker_heavy"} <= set(checkpoints.REGISTRY)
    # offline, in an empty cache holding only the wheel: the official name resolves to the built bundle
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / WHEEL_FILENAME).symlink_to(cached_wheel())
    monkeypatch.setenv(checkpoints.ENV_CACHE, str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def offline(url: str, target: Path, progress: bool) -> None:
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(checkpoints, "_download", offline)
    path = checkpoints.fetch("pose_landmarker_full", progress=False)
    assert path == tmp_path / f"{BUILT_NAME}.task"
    assert checkpoints.sha256_of(path) == BUNDLE_SHA256
    assert resolve_pose_model(None) == path  # the estimator's default


def test_bundle_from_a_wrong_wheel_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / WHEEL_FILENAME
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("mediapipe/modules/pose_detection/pose_detection.tflite", b"not a model")
    with pytest.raises(CheckpointError, match="wrong sha256"):
        build_pose_bundle(tmp_path / "x.task", wheel=fake)
    assert not (tmp_path / "x.task").exists()


def test_checkpoints_cli_knows_the_pose_bundle(bundle: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "annotator_widgets.checkpoints", "path", BUILT_NAME],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()).name == f"{BUILT_NAME}.task"


# ---------------------------------------------------------------------------- the estimator


def test_estimator_protocol_and_errors(bundle: Path, tmp_path: Path) -> None:
    est = _estimator(bundle)
    assert isinstance(est, PoseEstimator)
    with pytest.raises(BackendError, match="uint8"):
        est.detect(np.zeros((10, 10), np.uint8), 0)
    est.close()
    est.close()  # idempotent
    with pytest.raises(BackendError, match="closed"):
        est.detect(np.zeros((10, 10, 3), np.uint8), 0)
    with pytest.raises(BackendError, match="num_poses"):
        MediaPipePoseEstimator(bundle, num_poses=0)
    with pytest.raises(BackendError, match=r"0\.\.1"):
        MediaPipePoseEstimator(bundle, min_pose_detection_confidence=1.5)
    with pytest.raises(CheckpointError, match="not found"):
        MediaPipePoseEstimator(tmp_path / "missing.task")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"junk")
    with pytest.raises(BackendError, match="cannot load"):
        MediaPipePoseEstimator(bad)


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_portraits_nose_inside_the_face(bundle: Path, name: str) -> None:
    img = portrait(name)
    with _estimator(bundle, num_poses=2, min_pose_detection_confidence=0.3, running_mode="image") as est:
        people = est.detect(img)
    assert len(people) == 1
    pose = people[0]
    assert pose.landmarks.shape == (33, 3) and pose.world_landmarks is not None
    x0, y0, x1, y1 = face_box(name)  # from scikit-image's face detector, independent of MediaPipe
    nx, ny, vis = pose.landmarks[0]
    assert x0 <= nx <= x1 and y0 <= ny <= y1 and vis > 0.9
    # eyes level with each other and above the nose; shoulders below the face
    assert pose.landmarks[2, 1] < ny and pose.landmarks[5, 1] < ny
    assert pose.landmarks[11, 1] > y1 and pose.landmarks[12, 1] > y1
    assert np.abs(pose.world_landmarks).max() < 2.0  # metres, hip-centred


def test_bikes_people_found_timestamps_increase(bundle: Path, bikes_path: Path) -> None:
    video = open_video(bikes_path)
    frames = range(0, len(video), 2)
    counts, stamps = [], []
    with _estimator(bundle, num_poses=4) as est:
        for i, people in est.detect_video(video, frames):
            counts.append(len(people))
            stamps.append(est.last_timestamp_ms)
            for p in people:
                assert p.frame == i and p.landmarks.shape == (33, 3)
                vis = p.landmarks[p.landmarks[:, 2] > 0.5]
                assert (vis[:, 0] > -50).all() and (vis[:, 0] < video.width + 50).all()
    assert stamps == [timestamp_ms(i, video.fps) for i in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert sum(c > 0 for c in counts) >= 0.4 * len(counts)  # measured 68 of 125


def test_repeated_timestamps_are_moved_forward(bundle: Path) -> None:
    img = portrait("astronaut")
    with _estimator(bundle) as est:
        est.detect(img, 100)
        est.detect(img, 100)  # MediaPipe alone would raise
        assert est.last_timestamp_ms == 101
        est.detect(img, 50)
        assert est.last_timestamp_ms == 102


def test_higher_detection_threshold_finds_fewer_people(bundle: Path, bikes_path: Path) -> None:
    """Per frame MediaPipe is not strictly monotonic (its weighted NMS merges candidates), so count over frames."""
    video = open_video(bikes_path)
    frames = [video.frame(i) for i in range(0, len(video), 8)]
    totals = {}
    for threshold in (0.2, 0.5, 0.9):
        with _estimator(bundle, num_poses=4, min_pose_detection_confidence=threshold, running_mode="image") as est:
            totals[threshold] = sum(len(est.detect(f)) for f in frames)
    assert totals[0.2] > totals[0.5] > totals[0.9]  # measured 20 > 11 > 8
    with _estimator(bundle, num_poses=4, min_pose_presence_confidence=0.999, running_mode="image") as est:
        assert sum(len(est.detect(f)) for f in frames) < totals[0.5]  # measured 4


def test_carphone_one_man(bundle: Path, carphone_path: Path) -> None:
    video = open_video(carphone_path)
    with _estimator(bundle, num_poses=2) as est:
        counts = [len(people) for _, people in est.detect_video(video, range(0, len(video), 2))]
    assert max(counts) == 1
    assert sum(counts) >= 0.9 * len(counts)  # measured on every frame


def test_no_people_in_scenery_and_still_life(bundle: Path, bunny_path: Path) -> None:
    """Big Buck Bunny's right-hand scenery and person-free photos: nobody.

    The bunny himself is a bipedal cartoon character and MediaPipe does find a "person"
    on most full frames (measured 108 of 132 at 0.5), never more than one at a time.
    """
    import skimage.data

    video = open_video(bunny_path)
    scenery = [np.ascontiguousarray(video.frame(i)[:, 720:]) for i in range(0, len(video), 2)]
    with _estimator(bundle, num_poses=2) as est:
        found = [len(p) for _, p in est.detect_video(np.stack(scenery))]
    assert sum(found) == 0
    with _estimator(bundle, num_poses=2, running_mode="image") as est:
        for name in ("coffee", "chelsea", "rocket"):
            assert est.detect(np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])) == [], name
        assert max(len(est.detect(video.frame(i))) for i in range(0, len(video), 8)) <= 1
