import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator_widgets import VideoError, open_video
from annotator_widgets.video import ArrayVideo, FileVideo, FolderVideo


def _write_video(path: Path, frames: np.ndarray, fourcc: str, fps: float = 25.0) -> Path:
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"cannot write {fourcc} to {path}"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _sequential(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


@pytest.mark.parametrize("clip", ["bikes_path", "carphone_path"])
def test_random_access_equals_sequential_decoding_on_real_clips(clip, request):
    path = request.getfixturevalue(clip)
    reference = _sequential(path)
    video = open_video(path, cache_mb=0)
    assert isinstance(video, FileVideo)
    assert len(video) == len(reference)
    assert video.size == (reference[0].shape[1], reference[0].shape[0])
    rng = np.random.default_rng(1)
    order = [*rng.permutation(len(reference))[:80], len(reference) - 1, 0, 5, 4, 3]
    for i in order:
        assert np.array_equal(video.frame(int(i)), reference[i]), f"frame {i} differs"
    assert np.array_equal(np.stack(list(video)[:10]), np.stack(reference[:10]))


def test_file_metadata_and_read_only_frames(bikes_path):
    video = open_video(bikes_path)
    assert (len(video), video.size, video.fps) == (250, (640, 272), 25.0)
    f = video.frame(3)
    assert f.dtype == np.uint8 and f.shape == (272, 640, 3)
    with pytest.raises(ValueError):
        f[0, 0, 0] = 1
    assert video.thumbnail(3, 160).shape == (68, 160, 3)
    assert video.info["frames"] == 250 and video.info["path"].endswith("bikes.mp4")


@pytest.mark.parametrize(("ext", "fourcc"), [(".mp4", "mp4v"), (".avi", "MJPG"), (".mkv", "MJPG")])
def test_containers_open_with_right_length(tmp_path, ext, fourcc):
    frames = np.zeros((12, 40, 56, 3), np.uint8)
    for i in range(12):
        frames[i, :, : 4 * (i + 1)] = 255
    path = _write_video(tmp_path / f"clip{ext}", frames, fourcc)
    video = open_video(path)
    assert len(video) == 12 and video.size == (56, 40)
    # brightness of the white bar grows with the index: check order survives random access
    widths = [int((video.frame(i)[20] > 128).all(axis=1).sum()) for i in (11, 0, 6)]
    assert widths[0] > widths[2] > widths[1]


def test_folder_natural_sort_and_sizes(tmp_path):
    for i in (10, 2, 1):
        img = np.full((16, 24, 3), i * 10, np.uint8)
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), img)
    (tmp_path / "notes.txt").write_text("ignored")
    video = open_video(tmp_path)
    assert isinstance(video, FolderVideo)
    assert [f.name for f in video.files] == ["frame_1.png", "frame_2.png", "frame_10.png"]
    assert [int(video.frame(i)[0, 0, 0]) for i in range(3)] == [10, 20, 100]


def test_arrays_and_lists(small_frames):
    video = open_video(small_frames, fps=12)
    assert isinstance(video, ArrayVideo) and video.fps == 12 and len(video) == 10
    assert int(video.frame(7)[0, 0, 0]) == 140
    gray = open_video([f[..., 0] for f in small_frames])
    assert gray.frame(2).shape == (48, 64, 3)
    rgba = open_video(np.concatenate([small_frames, small_frames[..., :1]], axis=3))
    assert rgba.frame(1).shape == (48, 64, 3)
    assert open_video(video) is video


def test_cache_is_bounded_in_bytes(bikes_path):
    video = open_video(bikes_path, cache_mb=2)  # a frame is 0.52 MB
    for i in range(20):
        video.frame(i)
    assert video._cache.nbytes <= 2 * 1024 * 1024
    assert len(video._cache._data) == 4


def _bad_sources(tmp: Path, bikes: Path) -> dict[str, Path | object]:
    cases: dict[str, object] = {}
    cases["missing file"] = tmp / "nope.mp4"
    (tmp / "empty.mp4").write_bytes(b"")
    cases["empty file"] = tmp / "empty.mp4"
    (tmp / "text.mp4").write_text("this is not a video\n" * 50)
    cases["text named mp4"] = tmp / "text.mp4"
    data = bikes.read_bytes()
    (tmp / "truncated.mp4").write_bytes(data[: len(data) // 3])
    cases["truncated mp4 (index lost)"] = tmp / "truncated.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (40, 64, 64, 3), dtype=np.uint8)
    avi = _write_video(tmp / "full.avi", frames, "MJPG").read_bytes()
    (tmp / "truncated.avi").write_bytes(avi[: int(len(avi) * 0.6)])
    cases["truncated avi (header says 40 frames)"] = tmp / "truncated.avi"
    for ext, fourcc in ((".avi", "MJPG"), (".mkv", "MJPG"), (".mp4", "mp4v")):
        writer = cv2.VideoWriter(str(tmp / f"zero{ext}"), cv2.VideoWriter_fourcc(*fourcc), 25, (64, 64))
        writer.release()
        cases[f"container with zero frames ({ext})"] = tmp / f"zero{ext}"
    (tmp / "garbage.mkv").write_bytes(bytes(range(256)) * 40)
    cases["binary garbage"] = tmp / "garbage.mkv"
    (tmp / "no_images").mkdir()
    (tmp / "no_images" / "readme.txt").write_text("x")
    cases["folder without images"] = tmp / "no_images"
    mixed = tmp / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "0.png"), np.zeros((10, 10, 3), np.uint8))
    cv2.imwrite(str(mixed / "1.png"), np.zeros((12, 10, 3), np.uint8))
    cases["folder with mixed sizes"] = mixed
    broken = tmp / "broken_img"
    broken.mkdir()
    (broken / "0.jpg").write_bytes(b"\xff\xd8garbage")
    cases["folder with a corrupt image"] = broken
    return cases


def test_bad_inputs_raise_video_error_naming_the_path(tmp_path, bikes_path):
    cases = _bad_sources(tmp_path, bikes_path)
    for label, src in cases.items():
        with pytest.raises(VideoError) as info:
            v = open_video(src)
            for i in range(len(v)):  # a corrupt payload may only show while decoding
                v.frame(i)
        assert str(Path(src).name) in str(info.value), f"{label}: {info.value}"
        assert "Fix:" in str(info.value) or "given" in str(info.value), label
    # the process keeps working afterwards
    assert len(open_video(bikes_path)) == 250


def test_unsupported_codec_like_input_gives_ffmpeg_hint(tmp_path):
    # an image renamed .mp4 decodes as no video
    cv2.imwrite(str(tmp_path / "still.png"), np.zeros((8, 8, 3), np.uint8))
    shutil.copy(tmp_path / "still.png", tmp_path / "still.webm")
    try:
        v = open_video(tmp_path / "still.webm")
    except VideoError as exc:
        assert "still.webm" in str(exc)
    else:  # FFmpeg may read a PNG as a one-frame stream; then it must behave as a video
        assert len(v) == 1


@pytest.mark.parametrize("index", [-1, 250, 10_000, 1.5, "3", True])
def test_bad_indices(bikes_path, index):
    video = open_video(bikes_path)
    with pytest.raises(VideoError, match=r"bikes\.mp4"):
        video.frame(index)
    assert video.frame(249).shape == (272, 640, 3)


@pytest.mark.parametrize(
    "src",
    [
        np.zeros((0, 4, 4, 3), np.uint8),
        np.zeros((2, 4, 4, 3), np.float32),
        [np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)],
        42,
    ],
)
def test_bad_arrays(src):
    with pytest.raises(VideoError):
        open_video(src)


def test_truncated_file_can_be_opened_when_allowed(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (40, 64, 64, 3), dtype=np.uint8)
    path = _write_video(tmp_path / "clip.avi", frames, "MJPG")
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    try:
        video = open_video(cut)
    except VideoError as exc:
        assert "truncated" in str(exc) or "decod" in str(exc)
        video = open_video(cut, allow_truncated=True)
        assert 0 < len(video) < 40
        video.frame(len(video) - 1)
    else:  # the container may index only what is there
        assert len(video) < 40


class _CountingCapture:
    """The real ``cv2.VideoCapture`` of a reader, counting frames converted (``read``/``retrieve``: decoded and turned
    into a BGR picture) apart from frames only decoded (``grab``: what a codec needs to reach the next frame)."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap, self.grabbed, self.converted = cap, 0, 0

    def grab(self) -> bool:
        self.grabbed += 1
        return self.cap.grab()

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.converted += 1
        return self.cap.read()

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        self.converted += 1
        return self.cap.retrieve()

    def __getattr__(self, name: str) -> object:
        return getattr(self.cap, name)


def test_frames_stepped_over_going_forward_are_decoded_but_not_converted(tmp_path):
    """Playback's read-ahead asks for the frames it shows: the ones in between are only decoded (the codec needs
    them for the next), never converted to a picture; the frames read equal a plain sequential read."""
    from annotator_widgets.data import synthetic_clip, write_video

    path = write_video(synthetic_clip(num_frames=12, size=(96, 64), num_objects=1, seed=4).frames, tmp_path / "v.mp4")
    reference = _sequential(path)
    video = open_video(path, cache_mb=0)
    assert isinstance(video, FileVideo)
    reader = video.fork()
    try:
        counting = _CountingCapture(reader._cap)
        reader._cap = counting  # type: ignore[assignment]
        shown = [1, 3, 5, 8, 11]
        for f in shown:
            np.testing.assert_array_equal(reader.frame(f), reference[f])
        assert counting.converted == len(shown)  # the shown frames only
        assert counting.grabbed == 12 - len(shown)  # 0, 2, 4, 6, 7, 9, 10: decoded, stepped over
        assert reader.position == 12
    finally:
        reader.close()
        video.close()
