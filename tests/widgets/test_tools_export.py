"""The Export tool, kernel-side: the format list is the exporter table, the destination follows the format, Export
writes the chosen format in a worker (read back by an independent reader) and lists what it wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from annotator_widgets import RLE, Annotation, AnnotationSession, VideoAnnotator, registry
from annotator_widgets.widgets.tools.export import ExportTool


@pytest.fixture
def ann(clip, disc, tmp_path):
    session = AnnotationSession(clip.frames, project=tmp_path / "p.awp", segmenter=disc)
    cup = session.add_object("cup", "thing")
    mask = np.zeros((180, 320), bool)
    mask[40:120, 100:220] = True
    session.project.put_annotations([Annotation(f, cup.obj_id, RLE.from_mask(mask), 0.9) for f in range(0, 12, 2)])
    widget = VideoAnnotator(session, tools=["points", "export"], max_display_side=160)
    yield widget
    widget.close()
    session.close()


def test_formats_come_from_the_exporter_table_and_the_destination_follows(ann, tmp_path):
    tool = ann.tools["export"]
    assert isinstance(tool, ExportTool)
    assert [v for _, v in tool.format_choice.options] == registry.names("exporter")
    assert tool.destination == str(tmp_path / "p.json") == tool.destination_text.value
    tool.format = "davis"
    assert tool.destination == str(tmp_path / "davis")
    tool.destination_text.value = str(tmp_path / "mine")  # typed by the user: kept from now on
    tool.format = "png"
    assert tool.destination == str(tmp_path / "mine")


def test_export_writes_the_chosen_format_and_lists_it(ann, tmp_path):
    from pycocotools import mask as cocomask

    tool = ann.tools["export"]
    written = tool.export().result(60)
    assert not ann.busy and written.paths == (tmp_path / "p.json",)
    coco = json.loads((tmp_path / "p.json").read_text())
    areas = sorted({int(cocomask.area(a["segmentation"])) for a in coco["annotations"]})
    assert len(coco["annotations"]) == 6 and areas == [80 * 120]
    assert "p.json" in tool.written.value and "1 file" in tool.written.value
    assert "masks on 6 frames" in tool.written.value and "exported coco" in ann.status
    tool.format = "davis"
    davis = tool.export().result(60)
    pngs = [p for p in davis.paths if p.suffix == ".png"]
    assert len(pngs) == 6 and str(tmp_path / "davis") in tool.written.value
    label = np.asarray(Image.open(pngs[0]))
    assert (label == 1).sum() == 80 * 120 and Image.open(pngs[0]).mode == "P"
    assert f"{len(davis.paths)} files" in tool.written.value


def test_the_summary_counts_the_frames_the_export_holds_not_empty_masks(ann, tmp_path):
    empty = RLE.from_mask(np.zeros((180, 320), bool))  # "absent here": written by propagation, left out of exports
    ann.session.project.put_annotations([Annotation(f, 1, empty, 0.9) for f in (1, 3, 5)])
    written = ann.tools["export"].export().result(60)
    coco = json.loads((tmp_path / "p.json").read_text())
    assert written.frames == len({a["image_id"] for a in coco["annotations"]}) == 6
    assert "masks on 6 frames" in ann.tools["export"].written.value


def test_a_failed_export_says_why_and_writes_nothing(ann, tmp_path):
    tool = ann.tools["export"]
    tool.format = "davis"
    (tmp_path / "davis").mkdir()
    (tmp_path / "davis" / "mine.txt").write_text("not an export")  # a folder no export wrote
    job = tool.export()
    job.wait(60)
    assert job.error is not None and "export" in ann.error.lower()
    assert sorted(p.name for p in (tmp_path / "davis").iterdir()) == ["mine.txt"] and tool.written.value == ""
    tool.overwrite = True
    assert tool.export().result(60).paths
    assert not (tmp_path / "davis" / "mine.txt").exists()


def test_a_cancelled_export_writes_nothing(ann, tmp_path):
    tool = ann.tools["export"]
    with ann.lock:  # the worker's first report waits for the lock: cancel it there
        job = tool.export()
        job.cancel()
    job.wait(60)
    assert "cancelled" in ann.status and not (tmp_path / "p.json").exists()


def test_an_unknown_format_is_refused(ann):
    from annotator_widgets.errors import AnnotatorError

    with pytest.raises(AnnotatorError, match="exporter"):
        ann.tools["export"].format = "parquet"


def test_with_frames_writes_the_images_for_the_formats_that_take_them(ann, clip, tmp_path):
    tool = ann.tools["export"]
    assert not tool.images and tool.images_box.description == "with frames"
    assert tool.images_box.disabled  # coco does not write frames
    tool.format = "yolo"
    assert not tool.images_box.disabled
    plain = tool.export().result(60)
    assert not [p for p in plain.paths if p.suffix == ".jpg"]  # off by default: labels only
    tool.images_box.value = True  # the user ticks the box
    assert tool.images
    tool.overwrite = True
    written = tool.export().result(60)
    jpgs = sorted(p for p in written.paths if p.suffix == ".jpg")
    train = tmp_path / "yolo" / "labels" / "train"
    labels = sorted(p for p in written.paths if p.suffix == ".txt" and p.parent == train)
    assert jpgs and [p.stem for p in jpgs] == [p.stem for p in labels]  # one image per label file
    assert all(p.is_file() for p in jpgs) and str(tmp_path / "yolo") in str(jpgs[0])
    first = int(jpgs[0].stem.rsplit("_", 1)[-1])  # frame_000000.jpg
    image = np.asarray(Image.open(jpgs[0]).convert("RGB")).astype(int)
    assert image.shape == clip.frames[first].shape
    assert np.abs(image - clip.frames[first]).mean() < 8  # the session's frame (JPEG-close)
    tool.format = "mot"
    mot = tool.export().result(60)
    assert [p for p in mot.paths if p.parent.name == "img1" and p.suffix == ".jpg"]
    tool.format = "coco"  # a format without frames: the box is disabled and the export writes labels only
    assert tool.images_box.disabled and tool.export().result(60).paths == (tmp_path / "p.json",)


def test_export_with_images_for_a_format_without_frames_is_refused(ann):
    from annotator_widgets.errors import PromptError
    from annotator_widgets.workflows.outputs import export

    with pytest.raises(PromptError, match="does not write frame images") as err:
        export(ann.session, "coco", images=True)
    assert "yolo" in (err.value.hint or "")
