"""GPU out of memory, simulated: the tiny transformers SAM2 raises torch's OOM error from its model call.

The session answers with a BackendError that says what to do (smaller model, lower resolution, offload),
keeps the project as it was, and the next call works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from annotator_widgets import AnnotationSession
from annotator_widgets.backends.sam2_hf import HfSam2Segmenter
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import BackendError
from tests.support.models import build_tiny_hf_sam2

from .cases import snapshot


class _OutOfMemory:
    """A test double around the real model: while ``armed`` after ``after`` more calls, each call raises
    torch's OOM error (as a CUDA allocation failure does); otherwise the real model runs."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.armed = False
        self.after = 0
        self.raised = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            if self.after <= 0:
                self.raised += 1
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            self.after -= 1
        return self._model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_hf_sam2(tmp_path_factory.mktemp("tiny_hf_sam2_oom"))


def test_out_of_memory_is_explained_and_the_session_stays_usable(tiny: Path, tmp_path: Path) -> None:
    clip = synthetic_clip(8, size=(96, 64), num_objects=1, seed=2)
    seg = HfSam2Segmenter(str(tiny), device="cpu")
    model = _OutOfMemory(seg._model)
    seg._model = model
    y, x = np.argwhere(clip.masks[1][0]).mean(axis=0)
    with AnnotationSession(clip.frames, project=tmp_path / "oom.awp", segmenter=seg) as s:
        s.add_object()
        before = snapshot(s.project)
        model.armed = True
        with pytest.raises(BackendError) as info:
            s.add_points(0, 1, [(x, y)])
        assert model.raised == 1
        assert "out of memory" in info.value.message
        assert info.value.hint and all(w in info.value.hint for w in ("smaller model", "lower resolution", "offload"))
        assert snapshot(s.project) == before  # nothing half-done was kept
        model.armed = False
        assert s.add_points(0, 1, [(x, y)])[1].shape == (64, 96)  # the next call works

        model.armed, model.after = True, 3  # fails part-way through the propagation
        with pytest.raises(BackendError, match="out of memory"):
            for _ in s.propagate():
                pass
        assert s.progress.error and "out of memory" in s.progress.error
        assert not s.busy
        partial = s.project.mask_frames(1)
        assert 1 <= len(partial) < 8  # what was computed before the failure is kept
        model.armed = False
        assert [r.frame for r in s.propagate()] == list(range(8))  # and the session goes on
        assert s.project.mask_frames(1) == list(range(8))
