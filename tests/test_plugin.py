"""A third-party package plugs in through entry points only: tests/plugins/aw-demo-plugin (installed by `make install`).

It declares a segmenter ``demo-disc`` (discs around the clicked points, copied to every frame) and an
effect ``demo-invert``. These tests use them by name everywhere a built-in part is used: the registry,
the session, the widget (kernel side), the command line (in a subprocess) and the effects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, Box, Point, Project, Prompt, open_video, registry
from annotator_widgets.data import synthetic_clip
from annotator_widgets.render import apply_effect, write_video

PLUGIN = "aw-demo-plugin"
INSTALL = "python -m pip install ./tests/plugins/aw-demo-plugin (the Makefile's install target does it)"


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    try:
        metadata.distribution(PLUGIN)
    except metadata.PackageNotFoundError:
        pytest.fail(f"the demo plugin is not installed: {INSTALL}")


def expected_disc(size: tuple[int, int], points: list[tuple[float, float]], radius: int = 10) -> np.ndarray:
    """The plugin's answer, computed here independently of the plugin's code."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    for x, y in points:
        mask |= (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
    return mask


@pytest.fixture
def clip():
    return synthetic_clip(num_frames=8, size=(96, 64), num_objects=1, seed=5)


def test_the_plugins_parts_are_listed_with_their_distribution():
    # (that listing imports no part, the plugin included, is tests/test_registry.py's subprocess check)
    assert "demo-disc" in registry.names("segmenter")
    assert "demo-invert" in registry.names("effect")
    part = registry.get("segmenter", "demo-disc")
    assert part.origin == PLUGIN and isinstance(part.target, metadata.EntryPoint)
    assert part.target.value == "aw_demo_plugin:DemoDiscSegmenter"
    assert registry.get("effect", "demo-invert").origin == PLUGIN
    assert "demo-disc: from aw-demo-plugin" in registry.describe("segmenter")


def test_the_session_uses_the_plugin_segmenter_by_name(clip, tmp_path):
    with AnnotationSession(clip.frames, tmp_path / "p.awp", segmenter="demo-disc") as session:
        assert type(session.segmenter).__module__ == "aw_demo_plugin"
        obj = session.add_object(name="disc")
        masks = session.add_points(3, obj.obj_id, [(30, 20), (50, 30)])
        disc = expected_disc((96, 64), [(30, 20), (50, 30)])
        assert (masks[obj.obj_id] == disc).all()
        session.run("both", start=3)
        stored = session.project.annotations
        assert all((stored(f)[obj.obj_id].mask == disc).all() for f in range(8))
        assert {stored(f)[obj.obj_id].score for f in range(8) if f != 3} == {0.75}  # the plugin's score
    with AnnotationSession(clip.frames, tmp_path / "q.awp", segmenter="demo-disc:20") as session:
        obj = session.add_object()
        masks = session.add_points(0, obj.obj_id, [(48, 32)])
        assert (masks[obj.obj_id] == expected_disc((96, 64), [(48, 32)], radius=20)).all()


def test_the_widget_uses_the_plugin_segmenter_by_name(clip):
    from annotator_widgets import VideoAnnotator

    ann = VideoAnnotator.from_video(clip.frames, segmenter="demo-disc")
    try:
        assert type(ann.session.segmenter).__name__ == "DemoDiscSegmenter"
        masks = ann.click(40, 25)
        (oid,) = masks
        assert (masks[oid] == expected_disc((96, 64), [(40, 25)])).all()
    finally:
        ann.close()


def test_the_command_line_annotates_with_the_plugin_and_lists_it(clip, tmp_path):
    video = write_video(tmp_path / "v.mp4", iter(clip.frames), fps=10)
    prompts = [{"frame": 2, "obj_id": 1, "name": "disc", "points": [[30, 30]]}]
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    project = tmp_path / "p.awp"
    run = [sys.executable, "-m", "annotator_widgets", "-q"]
    prompts_file = str(tmp_path / "prompts.json")
    args = ["annotate", str(video), "--project", str(project), "--prompts", prompts_file, "--segmenter", "demo-disc"]
    proc = subprocess.run([*run, *args, "--propagate", "both"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with Project.open(project, readonly=True) as p:
        assert p.mask_frames(1) == list(range(8))
        disc = expected_disc((96, 64), [(30, 30)])
        assert all((p.annotations(f)[1].mask == disc).all() for f in range(8))

    listed = subprocess.run([*run, "parts", "segmenter"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.split()[:1] == ["demo-disc"])
    assert row[1] == PLUGIN

    out = tmp_path / "inverted.mp4"
    proc = subprocess.run(
        [*run, "render", str(project), "--out", str(out), "--effect", "demo-invert", "--strength", "1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    got = open_video(out).frame(4).astype(int)
    src = open_video(video).frame(4).astype(int)
    inside = expected_disc((96, 64), [(30, 30)], radius=7)  # away from the disc's edge, where the codec blends
    outside = ~expected_disc((96, 64), [(30, 30)], radius=13)
    assert np.abs(got[inside] - (255 - src[inside])).mean() < 12
    assert np.abs(got[outside] - src[outside]).mean() < 12


def test_the_plugin_effect_is_used_by_name(clip):
    frame = clip.frames[0]
    mask = expected_disc((96, 64), [(20, 20)])
    out = apply_effect(frame, mask, "demo-invert", 1.0)
    assert (out[mask] == 255 - frame[mask]).all() and (out[~mask] == frame[~mask]).all()
    half = apply_effect(frame, mask, "demo-invert", 0.5)
    assert np.abs(half[mask].astype(int) - 127.5).max() <= 1  # halfway between a value and its inverse


def test_the_plugin_segmenter_resolved_directly_takes_its_argument_and_negative_points(clip):
    seg = registry.resolve("segmenter", "demo-disc:6")
    seg.start(open_video(clip.frames))
    masks = seg.set_prompt(Prompt(0, 1, points=(Point(10, 10), Point(14, 10, 0)), box=Box(60, 40, 70, 50)))
    mask = masks[1].mask
    assert mask[45, 65] and mask[10, 5] and not mask[10, 14] and not mask[10, 17]  # radius 6, minus the negative
    expected = expected_disc((96, 64), [(10, 10)], 6) & ~expected_disc((96, 64), [(14, 10)], 6)
    assert (mask[:, :30] == expected[:, :30]).all()
    seg.close()
