import numpy as np
import pytest

from annotator_widgets.errors import PromptError
from annotator_widgets.rle import RLE
from annotator_widgets.types import ActionSegment, Annotation, Box, ObjectInfo, PersonPose, Point, Prompt, Source


@pytest.mark.parametrize(
    ("factory", "fragment"),
    [
        (lambda: Point(float("nan"), 1), "finite"),
        (lambda: Point(1, 2, label=2), "label"),
        (lambda: Point("a", 2), "number"),
        (lambda: Box(10, 10, 5, 20), "x1 > x0"),
        (lambda: Prompt(frame=0, obj_id=1), "at least one"),
        (lambda: Prompt(frame=-1, obj_id=1, points=(Point(1, 1),)), "non-negative"),
        (lambda: Prompt(frame=0, obj_id=0, points=(Point(1, 1),)), "positive integer"),
        (lambda: Prompt(frame=0, obj_id=1, points=((1, 2),)), "Point"),
        (lambda: ObjectInfo(1, color=(300, 0, 0)), "0..255"),
        (lambda: ActionSegment(5, 5, "grab"), "stop must be > start"),
        (lambda: PersonPose(0, 1, np.zeros((33, 2))), "(N, 3)"),
    ],
)
def test_validation_errors_name_the_problem(factory, fragment):
    with pytest.raises(PromptError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        factory()


def test_box_helpers():
    b = Box.from_corners(30, 40, 10, 20)
    assert b.xyxy == (10, 20, 30, 40)
    assert b.xywh == (10, 20, 20, 20)
    assert b.iou(Box(20, 20, 40, 40)) == pytest.approx(200 / 600)
    assert b.clip(25, 25) == Box(10, 20, 25, 25)
    assert Box(50, 50, 60, 60).clip(40, 40) is None


def test_annotation_box_is_derived_from_mask():
    m = np.zeros((20, 30), bool)
    m[3:8, 4:10] = True
    ann = Annotation(2, 1, RLE.from_mask(m), score=0.5, source="prompted")
    assert ann.box == Box(4, 3, 10, 8)
    assert ann.area == 30
    assert ann.source is Source.PROMPTED
    assert Annotation(0, 1, RLE.empty((5, 5))).box is None


def test_prompt_point_arrays():
    p = Prompt(0, 1, points=(Point(1, 2), Point(3, 4, 0)))
    coords, labels = p.point_arrays()
    assert coords.dtype == np.float32 and coords.tolist() == [[1, 2], [3, 4]]
    assert labels.tolist() == [1, 0]


def test_person_pose_box_respects_visibility():
    lm = np.array([[10, 10, 1.0], [50, 60, 1.0], [500, 500, 0.1]], np.float32)
    pose = PersonPose(0, 3, lm)
    assert pose.box(min_visibility=0.5) == Box(10, 10, 50, 60)
    assert pose.box(min_visibility=0.0).x1 == 500
