"""The registry of parts: names, specs, instances, runtime registration, entry points, and its consumers (pose)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, BackendError, Box, registry
from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.pose_tracking import track_people
from annotator_widgets.types import PersonPose


class BoxSegmenter:
    """A test double of the segmenter protocol: every prompt's mask is its points' bounding box, grown by ``pad``."""

    name = "test-box"

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        self.arg, self.options = arg, options
        self.pad = int(options.get("pad", 2))
        self._masks: dict[int, np.ndarray] = {}
        self._size = (0, 0)
        self._n = 0
        self.closed = False

    def start(self, video: Any) -> None:
        self._size, self._n = video.size, len(video)

    def set_prompt(self, prompt: Any) -> dict[int, ObjectMask]:
        w, h = self._size
        xs = [p.x for p in prompt.points]
        ys = [p.y for p in prompt.points]
        m = np.zeros((h, w), bool)
        y0, y1, x0, x1 = int(min(ys)) - self.pad, int(max(ys)) + self.pad + 1, int(min(xs)) - self.pad, int(max(xs)) + 1
        m[y0:y1, x0 : x1 + self.pad] = True
        self._masks[prompt.obj_id] = m
        return {oid: ObjectMask(mask, 1.0) for oid, mask in self._masks.items()}

    def remove_object(self, obj_id: int) -> None:
        self._masks.pop(obj_id, None)

    def propagate(self, start: int, max_frames: int | None = None, reverse: bool = False) -> Iterator[SegmenterFrame]:
        frames = range(start, -1, -1) if reverse else range(start, self._n)
        for f in list(frames)[: None if max_frames is None else max_frames + 1]:
            yield SegmenterFrame(f, {oid: ObjectMask(m, 0.5) for oid, m in self._masks.items()})

    def reset(self) -> None:
        self._masks.clear()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def box_part() -> Iterator[str]:
    registry.register("segmenter", "test-box", BoxSegmenter, summary="boxes around points", aliases=("tbox",))
    yield "test-box"
    registry.unregister("segmenter", "test-box")


# ------------------------------------------------------------------------------------------------ specs
def test_resolve_by_name_builds_the_part_with_keyword_options():
    seg = registry.resolve("segmenter", "classic", grabcut_side=96)
    assert isinstance(seg, ClassicSegmenter)
    seg.close()


def test_resolve_name_argument_alias_and_case(box_part):
    seg = registry.resolve("segmenter", "test-box:some/model", pad=5)
    assert isinstance(seg, BoxSegmenter) and seg.arg == "some/model" and seg.options == {"pad": 5}
    assert registry.resolve("segmenter", "TBOX").arg is None  # an alias, case-insensitive, no argument
    assert registry.get("segmenter", "tbox:x").name == "test-box"
    assert registry.get("segmenter", "transformers").name == "hf"  # the built-in table's aliases
    assert registry.get("effect", "mosaic").name == "pixelate"
    part = registry.get("segmenter", "test-box")
    assert (part.origin, part.summary, part.aliases) == ("runtime", "boxes around points", ("tbox",))
    assert "test-box: boxes around points" in registry.describe("segmenter")


def test_resolve_passes_an_instance_through_after_checking_the_protocol():
    seg = BoxSegmenter()
    assert registry.resolve("segmenter", seg) is seg

    class HalfSegmenter:
        def start(self, video: Any) -> None: ...

        def set_prompt(self, prompt: Any) -> dict[int, ObjectMask]:
            return {}

    with pytest.raises(BackendError, match="not a segmenter") as err:
        registry.resolve("segmenter", HalfSegmenter())
    message = str(err.value)
    assert "HalfSegmenter" in message
    for missing in ("close", "name", "propagate", "remove_object", "reset"):
        assert f"'{missing}'" in message
    assert "'start'" not in message.split("lacks")[1]


def test_a_factory_that_builds_the_wrong_thing_or_takes_other_arguments(box_part):
    registry.register("pose", "not-a-pose", lambda **kw: object())
    try:
        with pytest.raises(BackendError, match=r"not a pose \(PoseEstimator\).*lacks \['close', 'detect'\]"):
            registry.resolve("pose", "not-a-pose")
    finally:
        registry.unregister("pose", "not-a-pose")
    with pytest.raises(BackendError, match=r"cannot build the segmenter 'classic' with these arguments.*bogus"):
        registry.resolve("segmenter", "classic", bogus=1)
    with pytest.raises(BackendError, match="cannot build the segmenter 'hf'") as err:  # its model is required
        registry.resolve("segmenter", "hf")
    assert "hf:<hub id or folder>" in (err.value.hint or "")  # the part's summary shows the spec's form


def test_unknown_names_and_kinds_list_the_known_ones(box_part):
    with pytest.raises(BackendError, match="unknown segmenter") as err:
        registry.resolve("segmenter", "nope:arg")
    assert "'nope:arg'" in str(err.value)
    assert all(name in str(err.value) for name in ["auto", "classic", "hf", "sam2", "test-box"])
    with pytest.raises(BackendError, match=r"unknown kind of part.*'widget'.*effect"):
        registry.names("widget")
    with pytest.raises(BackendError, match="unknown kind"):
        registry.register("widget", "x", object)


# ------------------------------------------------------------------------------------------------ runtime
def test_register_refuses_taken_names_unless_replace_and_unregister_restores():
    builtin_blur = registry.lookup("effect", "blur")

    def my_blur(frame_rgb, mask_bool, strength):
        return frame_rgb

    with pytest.raises(BackendError, match=r"the effect 'blur' is already registered.*runtime vs builtin"):
        registry.register("effect", "blur", my_blur)
    assert registry.lookup("effect", "blur") is builtin_blur
    registry.register("effect", "Blur", my_blur, replace=True)
    try:
        assert registry.lookup("effect", "blur") is my_blur
        assert registry.get("effect", "blur").origin == "runtime"
    finally:
        registry.unregister("effect", "blur")
    assert registry.lookup("effect", "blur") is builtin_blur  # the built-in comes back
    assert registry.get("effect", "blur").origin == "builtin"
    for bad in ("", "  ", "a:b"):
        with pytest.raises(BackendError, match="non-empty and contain no ':'"):
            registry.register("effect", bad, my_blur)
    registry.unregister("effect", "never-registered")  # ignored


def test_a_string_target_is_imported_on_first_use_and_a_bad_one_is_named():
    registry.register("effect", "lazy-solid", "annotator_widgets.render.effects:solid")
    registry.register("effect", "bad-target", "annotator_widgets.render.effects:no_such_effect")
    try:
        from annotator_widgets.render.effects import solid

        assert registry.lookup("effect", "lazy-solid") is solid
        with pytest.raises(BackendError, match=r"cannot load the effect 'bad-target'.*AttributeError.*no_such_effect"):
            registry.lookup("effect", "bad-target")
    finally:
        registry.unregister("effect", "lazy-solid")
        registry.unregister("effect", "bad-target")


def test_importing_and_listing_the_registry_loads_no_concrete_part():
    code = textwrap.dedent(
        """
        import sys
        import annotator_widgets.registry as registry
        assert not [m for m in sys.modules if m.startswith("annotator_widgets.backends.")
                    and m != "annotator_widgets.backends.protocols"], "import"
        for kind in registry.KINDS:
            registry.names(kind), registry.describe(kind)
        registry.get("segmenter", "sam2:sam2.1_hiera_small"), registry.get("pose", "mediapipe")
        concrete = [m for m in sys.modules if m.startswith(("annotator_widgets.backends.", "annotator_widgets.render",
                    "annotator_widgets.export", "aw_demo_plugin")) and m != "annotator_widgets.backends.protocols"]
        heavy = [m for m in ("torch", "sam2", "mediapipe", "transformers", "ipycanvas", "supervision")
                 if m in sys.modules]
        print(concrete, heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


# ------------------------------------------------------------------------------------------------ entry points
@pytest.fixture
def broken_plugin(tmp_path: Path) -> Iterator[Path]:
    """A fake installed distribution (a .dist-info on sys.path) whose entry points fail in three ways."""
    site = tmp_path / "site"
    info = site / "aw_broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aw-broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[annotator_widgets.segmenter]\n"
        "broken = aw_broken_plugin_missing:Segmenter\n"
        "classic = aw_broken_plugin_missing:Other\n"
        "[annotator_widgets.effect]\n"
        "crashy = aw_broken_crashy:effect\n"
        "no-attr = aw_broken_fine:not_there\n"
    )
    (site / "aw_broken_crashy.py").write_text("raise RuntimeError('boom at import: needs libfoo 2')\n")
    (site / "aw_broken_fine.py").write_text("VALUE = 1\n")
    sys.path.insert(0, str(site))
    registry.refresh()
    yield site
    sys.path.remove(str(site))
    for module in ("aw_broken_crashy", "aw_broken_fine"):
        sys.modules.pop(module, None)
    registry.refresh()


def test_a_broken_plugin_is_listed_and_fails_clearly_when_used(broken_plugin):
    part = registry.get("segmenter", "broken")
    assert part.origin == "aw-broken-plugin" and "aw-broken-plugin" in part.summary
    assert registry.get("effect", "crashy").origin == "aw-broken-plugin"
    with pytest.raises(BackendError) as err:
        registry.resolve("segmenter", "broken")
    message = str(err.value)
    assert "cannot load the segmenter 'broken' from 'aw-broken-plugin'" in message
    assert "No module named 'aw_broken_plugin_missing'" in message and "aw-broken-plugin" in message.split("Fix")[1]
    with pytest.raises(BackendError, match="'crashy' from 'aw-broken-plugin': RuntimeError: boom at import"):
        registry.lookup("effect", "crashy")
    with pytest.raises(BackendError, match=r"'no-attr' from 'aw-broken-plugin'.*not_there"):
        registry.lookup("effect", "no-attr")
    assert registry.get("segmenter", "classic").origin == "builtin"  # a plugin cannot take a built-in name


def test_a_plugin_taking_a_built_in_name_is_ignored_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="annotator_widgets.registry"):
        site = tmp_path / "site"
        info = site / "aw_taker-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aw-taker\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[annotator_widgets.effect]\nblur = aw_taker:blur\n")
        sys.path.insert(0, str(site))
        try:
            registry.refresh()
            assert registry.get("effect", "blur").origin == "builtin"
        finally:
            sys.path.remove(str(site))
            registry.refresh()
    assert "ignoring effect 'blur' from aw-taker: the name is taken by builtin" in caplog.text


def test_refresh_drops_parts_of_uninstalled_plugins_and_keeps_runtime_ones(broken_plugin, box_part):
    assert "broken" in registry.names("segmenter")
    sys.path.remove(str(broken_plugin))
    try:
        registry.refresh()
        assert "broken" not in registry.names("segmenter") and "crashy" not in registry.names("effect")
        assert "test-box" in registry.names("segmenter") and "classic" in registry.names("segmenter")
    finally:
        sys.path.insert(0, str(broken_plugin))


# ------------------------------------------------------------------------------------------------ pose consumers
class FakePose:
    """A pose test double: one person on every frame; records how it was built and whether it was closed."""

    built: ClassVar[list[dict[str, Any]]] = []
    instances: ClassVar[list[FakePose]] = []

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        self.options = {"arg": arg, **options}
        self.closed = False
        FakePose.built.append(self.options)
        FakePose.instances.append(self)

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> list[PersonPose]:
        lm = np.zeros((33, 3), np.float32)
        lm[:, 0] = 40 + np.arange(33) % 5 * 4
        lm[:, 1] = 20 + np.arange(33) * 1.5
        lm[:, 2] = 1.0
        return [PersonPose(0, 1, lm)]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_pose() -> Iterator[type[FakePose]]:
    FakePose.built, FakePose.instances = [], []
    registry.register("pose", "fake-pose", FakePose)
    yield FakePose
    registry.unregister("pose", "fake-pose")


def test_track_people_builds_a_named_pose_part_through_the_registry_and_closes_it(fake_pose):
    video = np.zeros((5, 90, 120, 3), np.uint8)
    out = track_people(video, estimator="fake-pose:v2", num_poses=3, min_pose_detection_confidence=0.2)
    assert fake_pose.built == [
        {"arg": "v2", "num_poses": 3, "running_mode": "video", "min_pose_detection_confidence": 0.2}
    ]
    assert fake_pose.instances[0].closed
    assert [[p.person_id for p in frame] for frame in out] == [[1]] * 5
    mine = FakePose()
    track_people(video, estimator=mine, num_poses=3)
    assert not mine.closed and len(fake_pose.built) == 2  # an instance is used as given, and not closed
    with pytest.raises(BackendError, match=r"unknown pose.*mediapipe"):
        track_people(video, estimator="no-such-pose")


def test_seed_region_builds_a_named_pose_part_for_its_run_up(fake_pose, box_part, tmp_path):
    from annotator_widgets.workflows.people import seed_region

    with AnnotationSession(np.zeros((4, 90, 120, 3), np.uint8), tmp_path / "p.awp", segmenter="test-box") as session:
        seeded = seed_region(session, 1, Box(0, 0, 120, 90), estimator="fake-pose", num_poses=4, propagate=False)
        assert [o.category for o in seeded] == ["person"]
        # video mode: the model follows the frames up to the region's frame (the run-up)
        assert fake_pose.built == [
            {"arg": None, "num_poses": 4, "running_mode": "video", "min_pose_detection_confidence": 0.3}
        ]
        assert fake_pose.instances[0].closed
        assert seeded[0].obj_id in session.project.annotations(1)


def test_the_widget_builds_its_pose_estimator_through_the_registry(fake_pose, box_part, tmp_path):
    from annotator_widgets import VideoAnnotator

    ann = VideoAnnotator.from_video(np.zeros((3, 90, 120, 3), np.uint8), segmenter="test-box")
    registry.register("pose", "mediapipe", FakePose, replace=True)
    try:
        person = ann.tools["person"]
        person.model = "my.task"
        person.num_people = 3
        person.track_people().wait()
        assert fake_pose.built == [
            {
                "arg": None,
                "model": "my.task",
                "num_poses": 3,
                "min_pose_detection_confidence": person.threshold,
                "running_mode": "video",
            }
        ]
        assert fake_pose.instances[0].closed
        assert [row.obj_id for row in ann.timeline_rows] == [1]
    finally:
        registry.unregister("pose", "mediapipe")
        ann.close()
    assert registry.get("pose", "mediapipe").origin == "builtin"
