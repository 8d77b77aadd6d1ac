"""DAVIS palette PNGs and per-object binary PNGs, read by Pillow; round trip through the PNG importer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotator_widgets import AnnotatorError
from annotator_widgets.export.davis import davis_palette, import_indexed_png, save_binary_png, save_davis

from .conftest import H, T, W

# the first colours of DAVIS 2017's palette (PASCAL VOC colour map), as its annotations carry them
DAVIS_FIRST = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128, 0, 128, 128, 128, 128, 128]


def test_palette_pngs_hold_object_ids(generated, tmp_path):
    paths = save_davis(generated.project, tmp_path / "davis")
    assert [p.relative_to(tmp_path / "davis").as_posix() for p in paths] == [
        f"Annotations/frames/{f:05d}.png" for f in range(T)
    ]
    assert davis_palette()[:24] == DAVIS_FIRST
    for frame, path in enumerate(paths):
        with Image.open(path) as im:
            assert im.mode == "P" and im.size == (W, H)
            assert im.getpalette()[:24] == DAVIS_FIRST
            values = np.asarray(im)
        truths = {oid: m for (f, oid), m in generated.truth.items() if f == frame}
        assert set(np.unique(values)) == {0, *truths}
        for oid, truth in truths.items():
            assert ((values == oid) == truth).all()


def test_round_trip_and_all_frames(generated, empty_like, tmp_path):
    save_davis(generated.project, tmp_path / "davis", all_frames=True, images=True)
    assert len(list((tmp_path / "davis" / "JPEGImages" / "frames").glob("*.jpg"))) == T
    dst = empty_like()
    report = import_indexed_png(dst, tmp_path / "davis")
    assert report.objects == {3: 3, 7: 7, 12: 12, 40: 40} and report.remapped == {}
    assert report.annotations == len(generated.truth)
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()
    assert dst.undo() == "import PNG masks" and dst.stats()["masks"] == 0


def test_overlaps_go_to_the_higher_id_and_big_ids_are_refused(empty_like, tmp_path):
    p = empty_like()
    a, b = p.add_object(obj_id=2), p.add_object(obj_id=5)
    m1, m2 = np.zeros((H, W), bool), np.zeros((H, W), bool)
    m1[0:10, 0:10] = True
    m2[5:15, 5:15] = True
    p.put_mask(0, a.obj_id, m1)
    p.put_mask(0, b.obj_id, m2)
    (path,) = save_davis(p, tmp_path / "d")
    values = np.asarray(Image.open(path))
    assert (values[5:10, 5:10] == 5).all() and (values[0:5, 0:5] == 2).all()
    p.add_object(obj_id=256)
    with pytest.raises(AnnotatorError, match=r"1\.\.255"):
        save_davis(p, tmp_path / "d2")
    assert not (tmp_path / "d2").exists()


def test_binary_pngs_per_object(generated, tmp_path):
    paths = save_binary_png(generated.project, tmp_path / "bin")
    assert len(paths) == generated.project.stats()["masks"]
    for (frame, oid), truth in generated.truth.items():
        with Image.open(tmp_path / "bin" / str(oid) / f"{frame:05d}.png") as im:
            got = np.asarray(im)
        assert set(np.unique(got)) <= {0, 255} and ((got == 255) == truth).all()
    with Image.open(tmp_path / "bin" / "7" / "00007.png") as im:  # known absent: an all-black image
        assert not np.asarray(im).any()


def test_png_import_checks_size_and_frames(generated, empty_like, tmp_path):
    save_davis(generated.project, tmp_path / "davis")
    with pytest.raises(AnnotatorError, match="frame size"):
        import_indexed_png(empty_like(W + 1, H), tmp_path / "davis")
    short = empty_like(W, H, 5)
    with pytest.raises(AnnotatorError, match="beyond"):
        import_indexed_png(short, tmp_path / "davis")
    assert short.stats()["objects"] == 0
