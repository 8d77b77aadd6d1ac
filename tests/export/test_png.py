"""Label PNGs (the ``png`` format): 8-bit or 16-bit, value = object id, read back by the PNG importer."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from annotator_widgets import registry
from annotator_widgets.export import save_masks_png

from .conftest import T


def test_label_pngs_hold_ids_and_come_back(generated, empty_like, tmp_path):
    paths = save_masks_png(generated.project, tmp_path / "masks")
    assert [p.name for p in paths] == [f"{f:06d}.png" for f in range(T)]
    label = cv2.imread(str(paths[3]), cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8
    for (frame, oid), truth in generated.truth.items():
        if frame == 3:
            assert ((label == oid) == truth).all()
    dst = empty_like()
    report = registry.lookup("importer", "png").load(dst, tmp_path / "masks")
    assert sorted(report.objects) == [3, 7, 12, 40] and report.remapped == {}
    for (frame, oid), truth in generated.truth.items():
        assert (dst.annotation(frame, oid).mask == truth).all()


def test_ids_above_255_give_16_bit_images(empty_like, tmp_path):
    p = empty_like()
    big = p.add_object(obj_id=300)
    m = np.zeros((p.size[1], p.size[0]), bool)
    m[2:5, 3:9] = True
    p.put_mask(1, big.obj_id, m)
    (path,) = save_masks_png(p, tmp_path / "big")
    with Image.open(path) as im:
        assert im.mode.startswith("I") and (np.asarray(im) == 300).sum() == m.sum()
