"""Shot-cut detection: exactly the known cuts on generated clips and on bikes.mp4, none on clips without."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.cuts import META_KEY, CutDetector, shot_bounds, video_cuts
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import AnnotatorError, VideoError
from annotator_widgets.video import open_video

SIZE = (160, 120)

# Checked by eye on a contact sheet of frames c-2..c+1 for each (street -> man in a suit, taxi -> cyclist at a
# van, cyclist -> railing over a square, railing -> walker by a parked bike, bike -> close-up of a wheel); a sheet
# of every 8th frame shows no other jump (the car passing in front of the van at 80-104 is one shot).
BIKES_CUTS = [30, 76, 137, 187, 242]


def scenes(*lengths: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Synthetic scenes (different seeds: different backgrounds and objects) end to end, and the cut frames."""
    parts = [synthetic_clip(n, SIZE, 2, seed=seed + i).frames for i, n in enumerate(lengths)]
    return np.concatenate(parts), [int(c) for c in np.cumsum(lengths)[:-1]]


def fast_object(num_frames: int = 40) -> np.ndarray:
    """A big red block crossing a textured background at a quarter of the frame width per frame, back and forth."""
    back = synthetic_clip(num_frames, SIZE, 1, seed=5).frames
    out = back.copy()
    w = SIZE[0]
    for t in range(num_frames):
        x = (t * w // 4) % (2 * w) - w // 2
        out[t, 30:90, max(0, x) : max(0, x + 50)] = (220, 30, 30)
    return out


def fade(num_frames: int = 40) -> np.ndarray:
    """Scene A fading to black over 10 frames, then scene B fading in from black over 10 frames."""
    a = synthetic_clip(num_frames // 2, SIZE, 2, seed=0).frames.astype(np.float32)
    b = synthetic_clip(num_frames // 2, SIZE, 2, seed=1).frames.astype(np.float32)
    gain_a = np.clip(np.linspace(2.0, 0.0, num_frames // 2), 0, 1)  # full for half, then down to black
    gain_b = gain_a[::-1]
    out = np.concatenate([a * gain_a[:, None, None, None], b * gain_b[:, None, None, None]])
    return out.round().astype(np.uint8)


def dissolve(num_frames: int = 40, length: int = 12) -> np.ndarray:
    """Scene A cross-dissolving into scene B over ``length`` frames."""
    a = synthetic_clip(num_frames, SIZE, 2, seed=0).frames.astype(np.float32)
    b = synthetic_clip(num_frames, SIZE, 2, seed=1).frames.astype(np.float32)
    start = (num_frames - length) // 2
    alpha = np.clip((np.arange(num_frames) - start) / length, 0, 1)[:, None, None, None]
    return ((1 - alpha) * a + alpha * b).round().astype(np.uint8)


@pytest.mark.parametrize(
    ("lengths", "seed"),
    [((20, 20), 0), ((9, 31), 2), ((31, 9), 4), ((15, 25, 20), 6), ((12, 12, 12, 12), 10)],
)
def test_finds_exactly_the_cuts_between_scenes(lengths, seed):
    frames, truth = scenes(*lengths, seed=seed)
    assert CutDetector().detect(frames) == truth


@pytest.mark.parametrize(
    "frames",
    [
        synthetic_clip(60, SIZE, 3, seed=2).frames,
        synthetic_clip(40, SIZE, 2, seed=3, occluders=2).frames,
        fast_object(),
        fade(),
        dissolve(),
    ],
    ids=["moving-objects", "occluders", "fast-object", "fade-through-black", "dissolve"],
)
def test_no_cut_where_there_is_none(frames):
    assert CutDetector().detect(frames) == []


def test_a_cut_after_fast_motion_is_still_found():
    frames = np.concatenate([fast_object(20), synthetic_clip(20, SIZE, 2, seed=9).frames])
    assert CutDetector().detect(frames) == [20]


def test_a_flash_is_not_two_cuts():
    frames, _ = scenes(40)
    frames = frames.copy()
    frames[20] = 255  # one white frame
    assert CutDetector().detect(frames) == [20]  # the jump in; the jump back comes before min_shot


def test_bikes_cuts(bikes_path):
    video = open_video(bikes_path)
    assert CutDetector().detect(frame for _, frame in video.frames()) == BIKES_CUTS


def test_detection_streams():
    frames, _ = scenes(20, 40)
    read: list[int] = []

    def stream():
        for i, frame in enumerate(frames):
            read.append(i)
            yield frame

    detector = CutDetector()
    cuts = detector.iter_cuts(detector.scores(stream()))
    assert next(cuts) == 20
    assert len(read) == 20 + detector.window + 1  # decided as soon as its later neighbours are in, not at the end


def test_shot_bounds():
    assert [shot_bounds([10, 25], f, 40) for f in (0, 9, 10, 24, 25, 39)] == [
        (0, 10),
        (0, 10),
        (10, 25),
        (10, 25),
        (25, 40),
        (25, 40),
    ]
    assert shot_bounds([], 5, 40) == (0, 40)


def test_video_cuts_are_detected_once_and_kept_in_the_project(tmp_path):
    frames, truth = scenes(12, 18)
    video = open_video(frames)
    project = Project.create(tmp_path / "p.awp", video)
    assert video_cuts(project, video) == truth
    stored = json.loads(project.get_meta(META_KEY))
    assert stored["cuts"] == truth and stored["frames"] == 30

    class NoReads:  # the same length, frames that cannot be read: the cache must answer
        name = "no-reads"

        def __len__(self) -> int:
            return 30

        def frames(self):
            raise AssertionError("the video was read again")

    assert video_cuts(project, NoReads()) == truth  # type: ignore[arg-type]
    project.close()
    reopened = Project.open(tmp_path / "p.awp")
    assert video_cuts(reopened, NoReads()) == truth  # type: ignore[arg-type]
    # other settings: detected again (a threshold no scene change reaches finds nothing)
    assert video_cuts(reopened, video, CutDetector(threshold=0.99)) == []
    reopened.close()


@pytest.mark.parametrize("field", ["width", "bins", "threshold", "ratio", "window", "min_shot"])
def test_bad_settings(field):
    with pytest.raises(AnnotatorError, match=field):
        CutDetector(**{field: 0})


def test_bad_frames():
    with pytest.raises(VideoError, match="RGB uint8"):
        CutDetector().detect([np.zeros((8, 8), np.uint8)])
