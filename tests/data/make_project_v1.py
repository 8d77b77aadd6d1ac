"""Make ``tests/data/project_v1.awp``: a schema-1 project written by the code of commit edcdac4.

The file is the input of ``tests/test_migrations.py``; it must be written by the *old* code, so run this
script with the base commit's package first on the path (it refuses to run against any other schema)::

    mkdir -p /tmp/aw_v1 && git archive edcdac4 annotator_widgets | tar -x -C /tmp/aw_v1
    PYTHONPATH=/tmp/aw_v1 python tests/data/make_project_v1.py tests/data/project_v1.awp

(``git worktree add /tmp/aw_v1 edcdac4`` works as well.) Next to the project it writes
``project_v1.expected.json``: the state after every undo and redo step, recorded by the old code on a copy,
so the test can check that each step of the migrated history still undoes and redoes exactly.

What the project holds: four objects (object 4 removed again, so ``next_obj_id`` 5 is above every stored
id), prompts with points, a box and a mask, a prompted mask, a two-object propagation (one undo group
spanning one transaction per frame), poses with world landmarks, two action segments (one of them
removed with object 4, so the undo log holds its row image), and a history whose last two steps are
undone. Schema 1 stored an action's *inclusive* last frame in ``stop`` (the
released ``ActionSegment(start, end)``); "grab" covers frames 2..6, so it is written as ``stop=6`` and
the migration makes it ``stop=7`` (excluded).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

VIDEO = {"frames": 12, "width": 32, "height": 24, "fps": 10.0, "path": "clip.mp4"}


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """A ``24 x 32`` mask with one filled rectangle."""
    m = np.zeros((24, 32), bool)
    m[y0:y1, x0:x1] = True
    return m


def _digest(array: np.ndarray) -> str:
    """A short exact fingerprint of a float32 landmark array (keeps the expected-state file small)."""
    return hashlib.sha256(np.ascontiguousarray(array, "<f4").tobytes()).hexdigest()[:16]


def snapshot(project: Any) -> dict[str, Any]:
    """Everything a schema-1 project holds, as plain JSON (works with the old and the new code)."""
    objects = [[o.obj_id, o.name, o.category, list(o.color), o.hidden] for o in project.objects()]
    prompts = [
        [
            p.frame,
            p.obj_id,
            [[pt.x, pt.y, pt.label] for pt in p.points],
            None if p.box is None else list(p.box.xyxy),
            None if p.mask is None else p.mask.counts,
        ]
        for p in project.prompts()
    ]
    masks = [[a.frame, a.obj_id, a.rle.counts, a.score, a.source.value] for a in project.iter_annotations()]
    poses = [
        [
            p.frame,
            p.person_id,
            _digest(p.landmarks),
            None if p.world_landmarks is None else _digest(p.world_landmarks),
            p.score,
        ]
        for p in project.iter_poses()
    ]
    actions = {
        str(aid): [s.start, s.stop, s.label, s.person_id, s.obj_id, s.description, s.score, s.meta]
        for aid, s in project.actions().items()
    }
    history = [[h.label, h.done, h.changes] for h in project.history()]
    return {
        "objects": objects,
        "prompts": prompts,
        "masks": masks,
        "poses": poses,
        "actions": actions,
        "history": history,
        "next_obj_id": project.next_object_id,
    }


def walk_history(project: Any) -> dict[str, Any]:
    """The state now, after each undo down to the first step, and after each redo up to the last one."""
    start = snapshot(project)
    while project.redo() is not None:  # begin from the fully redone end
        pass
    redone = snapshot(project)
    undos = []
    while project.undo() is not None:
        undos.append(snapshot(project))
    redos = []
    while project.redo() is not None:
        redos.append(snapshot(project))
    return {"start": start, "redone": redone, "after_undo": undos, "after_redo": redos}


def build(path: Path) -> None:
    """Write the schema-1 project at ``path`` with the old code."""
    from annotator_widgets import ActionSegment, Box, PersonPose, Point, Project, Prompt, Source
    from annotator_widgets.rle import RLE

    rng = np.random.default_rng(7)
    with Project.create(path, VIDEO, overwrite=True) as p:
        mug = p.add_object(name="mug", category="cup").obj_id
        hand = p.add_object(name="", category="person").obj_id
        p.add_object(name="spare", category="thing", color=(10, 20, 30))
        ball = p.add_object(name="ball").obj_id
        p.put_prompt(Prompt(2, mug, points=(Point(5, 6), Point(9.5, 7.25, 0)), box=Box(2, 3, 14, 12)))
        p.put_prompt(Prompt(2, hand, mask=RLE.from_mask(box_mask(18, 4, 28, 20))))
        p.put_prompt(Prompt(4, ball, points=(Point(20, 20),)))
        p.put_mask(2, mug, box_mask(2, 3, 14, 12), score=0.875, source=Source.PROMPTED)
        p.put_mask(4, ball, box_mask(16, 14, 24, 22), score=0.5, source=Source.PROMPTED)
        with p.group("propagate forward"):
            for f in range(3, 8):
                with p.transaction("frame"):
                    p.put_mask(f, mug, box_mask(2 + f, 3, 14 + f // 2, 12), score=0.9 - f / 100, source="propagated")
                    p.put_mask(f, hand, box_mask(18, 4 + f % 3, 28, 20), score=None, source="propagated")
        for f in range(4):
            world = rng.normal(size=(33, 3)) if f % 2 == 0 else None
            p.put_poses(f, [PersonPose(f, hand, rng.uniform(0, 24, size=(33, 3)), world, 0.75)])
        p.add_action(ActionSegment(2, 6, "grab", person_id=hand, obj_id=mug, description="picks up the mug", score=0.8))
        p.add_action(ActionSegment(4, 8, "roll", obj_id=ball, meta={"speed": 2}))
        p.remove_object(ball)  # its prompt, mask and action live on as row images in the undo log
        p.update_object(mug, name="red mug", hidden=True)
        p.put_mask(5, mug, box_mask(0, 0, 6, 6), source=Source.EDITED)
        assert p.undo() == "mask object 1 on frame 5"
        assert p.undo() == "edit object 1"
    compact(path)
    for suffix in ("-wal", "-shm", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def compact(path: Path) -> None:
    """Rewrite the closed file with 1 KiB pages (VACUUM keeps every row) so the committed file stays small.

    Thirteen b-trees take 52 KiB with SQLite's default 4 KiB pages; the content is unchanged, and the file
    is left in WAL mode as the old code leaves it.
    """
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()


def main(out: str) -> None:
    """Build the project and record its undo/redo walk next to it."""
    from annotator_widgets import Project, project

    if project.SCHEMA_VERSION != 1:
        sys.exit(f"run this with the schema-1 code of commit edcdac4 on PYTHONPATH (found {project.SCHEMA_VERSION})")
    path = Path(out)
    build(path)
    expected: dict[str, Any] = {"video": VIDEO}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.awp"
        shutil.copyfile(path, copy)
        with Project.open(copy) as p:
            expected.update(walk_history(p))
    path.with_suffix(".expected.json").write_text(json.dumps(expected, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes) and {path.with_suffix('.expected.json')}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("project_v1.awp")))
