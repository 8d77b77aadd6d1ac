"""Imports whose frame size or frame count does not match the project's video: the cases the format tests
leave out (a bare ``gt.txt`` without ``seqinfo.ini``, YOLO labels beyond the video, COCO/CVAT frames beyond it).
Each is refused with an AnnotatorError naming the file, and nothing is written."""

from __future__ import annotations

import pytest

from annotator_widgets import AnnotatorError
from annotator_widgets.export.coco import to_coco
from annotator_widgets.export.coco_import import import_coco
from annotator_widgets.export.mot import save_mot, save_mots
from annotator_widgets.export.mot_import import import_mot
from annotator_widgets.export.yolo import save_yolo
from annotator_widgets.export.yolo_import import import_yolo

from .conftest import H, T, W


def _untouched(project) -> bool:
    return project.stats()["objects"] == 0 and project.history() == []


def test_a_bare_mots_file_with_masks_of_another_size_is_refused(generated, empty_like, tmp_path):
    save_mots(generated.project, tmp_path / "seq")
    gt = tmp_path / "gt.txt"  # the file alone: no seqinfo.ini to compare first
    gt.write_bytes((tmp_path / "seq" / "gt" / "gt.txt").read_bytes())
    dst = empty_like(W + 8, H)
    with pytest.raises(AnnotatorError, match=r"frame size \d+x\d+ differs.*\(104x64\)") as err:
        import_mot(dst, gt)
    assert str(gt) in str(err.value) and _untouched(dst)


def test_a_bare_mot_file_with_frames_beyond_the_video_is_refused(generated, empty_like, tmp_path):
    save_mot(generated.project, tmp_path / "seq")
    gt = tmp_path / "gt.txt"  # the file alone: no seqinfo.ini to compare first
    gt.write_bytes((tmp_path / "seq" / "gt" / "gt.txt").read_bytes())
    dst = empty_like(W, H, T - 4)
    with pytest.raises(AnnotatorError, match=rf"frame \d+, beyond the project's {T - 4}-frame video"):
        import_mot(dst, gt)
    assert _untouched(dst)


def test_yolo_labels_beyond_the_video_are_refused(generated, empty_like, tmp_path):
    save_yolo(generated.project, tmp_path / "yolo")
    dst = empty_like(W, H, T - 3)
    with pytest.raises(AnnotatorError, match=rf"beyond the project's {T - 3}-frame video"):
        import_yolo(dst, tmp_path / "yolo")
    assert _untouched(dst)


def test_coco_frames_beyond_a_shorter_video_are_refused(generated, empty_like):
    data = to_coco(generated.project)
    data.pop("videos", None)  # no declared length: each image's frame is checked instead
    dst = empty_like(W, H, T - 2)
    with pytest.raises(AnnotatorError, match=rf"beyond the project's {T - 2}-frame video"):
        import_coco(dst, data)
    assert _untouched(dst)
