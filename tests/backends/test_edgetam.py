"""EdgeTAM through the transformers segmenter: a tiny random EdgeTamVideoModel saved to a folder and loaded by
name (``"hf:<folder>"``), the same loading code a hub id takes."""

from __future__ import annotations

import numpy as np
import pytest

import annotator_widgets as aw
from annotator_widgets.data import synthetic_clip
from tests.support.models import build_tiny_edgetam


@pytest.fixture(scope="module")
def edgetam_folder(tmp_path_factory):
    return build_tiny_edgetam(tmp_path_factory.mktemp("tiny_edgetam"))


def test_edgetam_folder_loads_as_edgetam_and_tracks_through_the_session(edgetam_folder, tmp_path):
    clip = synthetic_clip(num_frames=4, size=(320, 180), num_objects=1, seed=1)
    with aw.AnnotationSession(aw.open_video(clip.frames), tmp_path / "p.awp", segmenter=f"hf:{edgetam_folder}") as s:
        assert type(s.segmenter._model).__name__ == "EdgeTamVideoModel"
        obj = s.add_object()
        first = s.add_points(0, obj.obj_id, [(100.0, 90.0)])
        assert first[obj.obj_id].shape == (180, 320)
        for _ in s.propagate("forward"):
            pass
        assert s.progress.error is None
        saved = [f for f in range(4) if obj.obj_id in s.masks(f)]
        assert saved == [0, 1, 2, 3]
        assert all(s.masks(f)[obj.obj_id].dtype == np.bool_ for f in saved)
