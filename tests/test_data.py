"""The synthetic clip generator and its writers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator_widgets import open_video
from annotator_widgets.data import SyntheticClip, synthetic_clip, write_frames, write_video
from annotator_widgets.errors import VideoError


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return synthetic_clip(num_frames=12, size=(96, 64), num_objects=3, seed=5)


def test_shapes_types_and_ids(clip: SyntheticClip) -> None:
    assert clip.frames.shape == (12, 64, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.num_frames == 12 and clip.size == (96, 64) and clip.fps == 30.0
    assert sorted(clip.masks) == sorted(clip.boxes) == [1, 2, 3]
    for obj, m in clip.masks.items():
        assert m.shape == (12, 64, 96) and m.dtype == bool
        assert m.any(axis=(1, 2)).all(), f"object {obj} vanished"
        assert clip.boxes[obj].shape == (12, 4)
    video = clip.video()
    assert len(video) == 12 and video.size == (96, 64)


def test_default_clip_matches_the_documented_shape() -> None:
    c = synthetic_clip()
    assert c.frames.shape == (60, 240, 320, 3) and sorted(c.masks) == [1, 2]
    area = c.masks[1].mean(axis=(1, 2))
    assert area.min() > 0.02 and area.max() < 0.3
    assert c.frames.std() > 20  # a textured scene, not a flat colour


def test_same_seed_same_clip_other_seed_other_clip(clip: SyntheticClip) -> None:
    again = synthetic_clip(num_frames=12, size=(96, 64), num_objects=3, seed=5)
    assert np.array_equal(again.frames, clip.frames)
    assert all(np.array_equal(again.masks[o], clip.masks[o]) for o in clip.masks)
    other = synthetic_clip(num_frames=12, size=(96, 64), num_objects=3, seed=6)
    assert not np.array_equal(other.frames, clip.frames)
    longer = synthetic_clip(num_frames=20, size=(96, 64), num_objects=3, seed=5)
    assert np.array_equal(longer.frames[:12], clip.frames)  # a longer clip just keeps going
    assert np.array_equal(longer.boxes[2][:12], clip.boxes[2])


def test_masks_are_disjoint_and_match_the_object_pixels(clip: SyntheticClip) -> None:
    stack = np.stack(list(clip.masks.values()))
    assert stack.sum(axis=0).max() == 1  # visible parts never overlap
    inside = stack.any(axis=0)
    ring_kernel = np.ones((5, 5), np.uint8)
    for t in range(clip.num_frames):
        frame = clip.frames[t].astype(np.float32)
        background = frame[~inside[t]].mean(axis=0)
        for obj, m in clip.masks.items():
            own = frame[m[t]].mean(axis=0)
            assert np.linalg.norm(own - background) > 30, (t, obj)
            # pixels under the mask look like the object; the background just outside it does not
            px = frame[m[t]]
            assert (np.linalg.norm(px - own, axis=1) < np.linalg.norm(px - background, axis=1)).mean() > 0.9
            ring = cv2.dilate(m[t].astype(np.uint8), ring_kernel).astype(bool) & ~inside[t]
            rp = frame[ring]
            assert (np.linalg.norm(rp - background, axis=1) < np.linalg.norm(rp - own, axis=1)).mean() > 0.75
            # boxes are the tight boxes of the masks (exclusive ends)
            ys, xs = np.nonzero(m[t])
            assert tuple(clip.boxes[obj][t]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_objects_move_and_meet() -> None:
    c = synthetic_clip(seed=0)
    centres = {o: np.array([np.argwhere(m[t]).mean(0) for t in (0, 59)]) for o, m in c.masks.items()}
    assert all(np.linalg.norm(p[1] - p[0]) > 30 for p in centres.values())
    # when they pass each other the front object's edge borders the one behind
    a, b = c.masks[1], c.masks[2]
    touching = [t for t in range(60) if any((np.roll(a[t], d, axis) & b[t]).any() for d in (1, -1) for axis in (0, 1))]
    assert touching, "the objects never meet in the default clip"


@pytest.mark.parametrize("name", ["clip.mp4", "clip.avi"])
def test_written_video_reopens(tmp_path: Path, clip: SyntheticClip, name: str) -> None:
    path = write_video(clip.frames, tmp_path / "sub" / name, fps=clip.fps)
    assert path.exists() and path.stat().st_size > 0
    video = open_video(path)
    assert len(video) == clip.num_frames and video.size == clip.size
    # lossy codecs: close, not equal
    assert np.abs(video.frame(5).astype(int) - clip.frames[5]).mean() < 12


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_written_frames_reopen(tmp_path: Path, clip: SyntheticClip, ext: str) -> None:
    files = write_frames(clip.frames, tmp_path / "frames", ext=ext)
    assert [f.name for f in files[:2]] == [f"00000.{ext}", f"00001.{ext}"]
    video = open_video(tmp_path / "frames")
    assert len(video) == clip.num_frames and video.size == clip.size
    diff = np.abs(video.frame(3).astype(int) - clip.frames[3]).mean()
    assert diff == 0 if ext == "png" else diff < 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_frames": 0}, "num_frames"), ({"size": (8, 8)}, "size"), ({"num_objects": 9}, "num_objects")],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(VideoError, match=match):
        synthetic_clip(**kwargs)


def test_writers_reject_bad_input(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="extension"):
        write_video(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "x.gif")
    with pytest.raises(VideoError, match="uint8"):
        write_frames(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "f")
    with pytest.raises(VideoError, match="no frames"):
        write_frames(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "f")
