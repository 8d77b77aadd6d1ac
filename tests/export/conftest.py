"""A generated project for the export tests: synthetic clip masks, a donut with two parts, a gap, an
empty mask, prompts, poses and an action segment, stored with non-consecutive object ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.data import synthetic_clip, write_frames
from annotator_widgets.rle import RLE
from annotator_widgets.types import ActionSegment, Annotation, PersonPose, Point, Prompt, Source
from annotator_widgets.video import open_video

W, H, T = 96, 64, 12


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pycocotools 2.0.11 under NumPy 2 warns on every decode; the readers are not under test
    for item in items:
        if "tests/export/" in item.nodeid:
            item.add_marker(pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"))


#: object id -> (name, category); ids are not 1..n on purpose, all below 256 (DAVIS)
OBJECTS = {3: ("red mug", "cup"), 7: ("ball", "toy"), 12: ("alice", "person"), 40: ("donut", "ring")}
GAP = (5, 6)  # object 3 has no rows on these frames
ABSENT = (7, 9)  # object 7 has an empty mask (known absent) on this frame


def donut(frame: int) -> np.ndarray:
    """A ring with a hole plus a separate small square: two parts, one hole."""
    yy, xx = np.mgrid[0:H, 0:W]
    cx, cy = 70 + (frame % 4), 40
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    ring = (r2 <= 12**2) & (r2 >= 5**2)
    ring[4:9, 84:90] = True
    return ring


@dataclass
class Generated:
    project: Project
    truth: dict[tuple[int, int], np.ndarray]  # (frame, id) -> mask for every non-empty stored mask
    frames_folder: Path


@pytest.fixture
def generated(tmp_path: Path) -> Generated:
    clip = synthetic_clip(num_frames=T, size=(W, H), num_objects=3, seed=3)
    folder = tmp_path / "frames"
    write_frames(clip.frames, folder, ext="png")
    project = Project.create(tmp_path / "gen.awp", open_video(folder, fps=10.0))
    for oid, (name, cat) in OBJECTS.items():
        project.add_object(name=name, category=cat, obj_id=oid)
    ids = {1: 3, 2: 7, 3: 12}
    truth: dict[tuple[int, int], np.ndarray] = {}
    anns = []
    for f in range(T):
        d = donut(f)  # in front of the clip's objects: masks stay disjoint (MOTS, DAVIS)
        for k, oid in ids.items():
            if oid == 3 and f in GAP:
                continue
            m = clip.masks[k][f] & ~d
            if oid == 7 and f in ABSENT:
                m[:] = False
            src = Source.PROMPTED if f == 0 else Source.PROPAGATED
            anns.append(Annotation(f, oid, RLE.from_mask(m), 0.9, src))
            if m.any():
                truth[(f, oid)] = m
        anns.append(Annotation(f, 40, RLE.from_mask(d), None, Source.EDITED if f == 4 else Source.PROPAGATED))
        truth[(f, 40)] = d
    project.put_annotations(anns)
    for oid in ids.values():
        m = clip.masks[next(k for k, v in ids.items() if v == oid)][0]
        ys, xs = np.nonzero(m)
        project.put_prompt(Prompt(0, oid, points=(Point(float(xs.mean()), float(ys.mean())),)))
    rng = np.random.default_rng(0)
    for f in range(0, T, 2):
        lm = np.column_stack([rng.uniform(5, W - 5, 33), rng.uniform(5, H - 5, 33), rng.uniform(0, 1, 33)])
        lm[32, 0] = W + 10  # one landmark outside the frame
        project.put_poses(f, [PersonPose(f, 12, lm.astype(np.float32), score=0.8)])
    project.add_action(ActionSegment(2, 7, "hold", person_id=12, obj_id=3, description="alice holds the mug"))
    yield Generated(project, truth, folder)
    project.close()


@pytest.fixture
def empty_like(tmp_path: Path):
    """A factory of empty projects for the same video (or another size / length)."""
    made = []

    def make(width: int = W, height: int = H, frames: int = T) -> Project:
        p = Project.create(tmp_path / f"dst{len(made)}.awp", {"frames": frames, "width": width, "height": height})
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
