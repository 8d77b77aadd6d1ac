"""Session bookkeeping, checked with a recording test double.

The same verbs run against the real segmenters in test_session_protocol.py;
this file pins down what the session itself does: prompts accumulate, ids are
global, results are saved as they stream, cancel and errors keep what was saved.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, BackendError, Box, ProjectError, PromptError, Source
from annotator_widgets.backends import ObjectMask, SegmenterFrame

W, H, N = 64, 48, 30


class RecordingSegmenter:
    """A test double: the mask is a square at the centroid of the object's positive points, moved
    one pixel right per frame away from its prompt frame; it records every call."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.prompts: dict[tuple[int, int], object] = {}
        self.block = threading.Event()
        self.block.set()

    def start(self, video):
        self.calls.append(("start", len(video)))
        self.video = video

    def _mask(self, prompt, frame: int) -> np.ndarray:
        m = np.zeros((H, W), bool)
        if prompt.mask is not None and not prompt.points:
            return prompt.mask.to_mask()
        pos = [p for p in prompt.points if p.positive] or [
            type("P", (), {"x": (prompt.box.x0 + prompt.box.x1) / 2, "y": (prompt.box.y0 + prompt.box.y1) / 2})()
        ]
        cx = int(np.mean([p.x for p in pos])) + (frame - prompt.frame)
        cy = int(np.mean([p.y for p in pos]))
        m[max(0, cy - 3) : cy + 3, max(0, cx - 3) : cx + 3] = True
        return m

    def set_prompt(self, prompt):
        self.calls.append(("set_prompt", prompt.frame, prompt.obj_id, len(prompt.points)))
        self.prompts[(prompt.frame, prompt.obj_id)] = prompt
        return {prompt.obj_id: ObjectMask(self._mask(prompt, prompt.frame), 0.9)}

    def remove_object(self, obj_id):
        self.calls.append(("remove_object", obj_id))
        self.prompts = {k: v for k, v in self.prompts.items() if k[1] != obj_id}

    def propagate(self, start, max_frames=None, reverse=False):
        self.calls.append(("propagate", start, max_frames, reverse))
        step = -1 if reverse else 1
        end = start + step * (max_frames if max_frames is not None else N)
        for f in range(start, end + step, step):
            if not 0 <= f < N:
                break
            self.block.wait()
            objs = {}
            for oid in sorted({k[1] for k in self.prompts}):
                anchor = min((k[0] for k in self.prompts if k[1] == oid), key=lambda fr: abs(fr - f))
                objs[oid] = ObjectMask(self._mask(self.prompts[(anchor, oid)], f), 0.5)
            yield SegmenterFrame(f, objs)

    def reset(self):
        self.calls.append(("reset",))
        self.prompts.clear()

    def close(self):
        self.calls.append(("close",))


@pytest.fixture
def session(tmp_path):
    frames = np.zeros((N, H, W, 3), np.uint8)
    s = AnnotationSession(frames, tmp_path / "s.awp", RecordingSegmenter())
    yield s
    s.close()


def test_points_accumulate_and_are_stored(session):
    masks = session.add_points(2, None, [(10, 10)])
    assert list(masks) == [1]
    session.add_points(2, 1, [(20, 20)], labels=[0])
    prompt = session.project.prompt(2, 1)
    assert [(p.x, p.y, p.label) for p in prompt.points] == [(10, 10, 1), (20, 20, 0)]
    assert session.segmenter.calls[-1] == ("set_prompt", 2, 1, 2)
    ann = session.project.annotation(2, 1)
    assert ann.source is Source.PROMPTED and ann.score == 0.9
    session.add_points(2, 1, [(30, 30)], clear=True)
    assert len(session.project.prompt(2, 1).points) == 1


def test_masks_of_other_objects_come_back_with_a_click(session):
    session.add_points(0, 1, [(10, 10)])
    masks = session.add_points(0, 2, [(40, 30)])
    assert sorted(masks) == [1, 2]
    assert masks[1][10, 10] and masks[2][30, 40]


def test_box_then_points_and_mask_prompt(session):
    session.add_points(1, 1, [(5, 5)])
    session.add_box(1, 1, (2, 2, 30, 20))
    p = session.project.prompt(1, 1)
    assert p.box == Box(2, 2, 30, 20) and len(p.points) == 1
    drawn = np.zeros((H, W), bool)
    drawn[5:15, 5:15] = True
    masks = session.add_mask(1, 1, drawn)
    assert (masks[1] == drawn).all()
    ann = session.project.annotation(1, 1)
    assert ann.source is Source.EDITED and (ann.mask == drawn).all()
    assert session.project.prompt(1, 1).points == ()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda s: s.add_points(0, 1, [(64, 3)]), "outside the 64x48 frame"),
        (lambda s: s.add_points(0, 1, [(-1, 3)]), "outside"),
        (lambda s: s.add_points(30, 1, [(1, 3)]), "out of range"),
        (lambda s: s.add_points(0, 1, [(1, 3), (2, 2)], labels=[1]), "differ in length"),
        (lambda s: s.add_points(0, 1, []), "no points"),
        (lambda s: s.add_points(0, 0, [(1, 1)]), "positive integer"),
        (lambda s: s.add_points(0, 1, [(1, 1)], labels=[3]), "label"),
        (lambda s: s.add_box(0, 1, (100, 100, 200, 200)), "outside"),
        (lambda s: s.add_mask(0, 1, np.zeros((10, 10), bool)), "expected"),
        (lambda s: s.add_mask(0, 1, np.zeros((H, W), bool)), "empty"),
        (lambda s: s.propagate(), "nothing to propagate"),
        (lambda s: s.propagate("sideways"), "direction"),
    ],
)
def test_bad_prompts_raise_prompt_error_and_change_nothing(session, call, fragment):
    with pytest.raises(PromptError, match=fragment):
        call(session)
    assert session.project.prompts() == []
    assert session.project.mask_frames() == []


def test_ids_are_global_and_never_reused(session):
    a = session.add_object(name="a")
    session.add_points(0, a.obj_id, [(5, 5)])
    session.add_points(0, 5, [(9, 9)])  # a new id, SAM2-style
    assert [o.obj_id for o in session.objects] == [1, 5]
    session.remove_object(5)
    with pytest.raises(PromptError, match="never reused"):
        session.add_points(0, 5, [(9, 9)])
    assert session.add_object().obj_id == 6


def test_propagate_streams_saves_and_labels_sources(session):
    session.add_points(0, 1, [(10, 10)])
    session.add_points(10, 2, [(30, 30)])
    seen = []
    for frame, masks in session.propagate():
        seen.append(frame)
        assert set(masks) == {1, 2}
    assert seen == list(range(N))
    assert session.project.mask_frames(1) == list(range(N))
    assert session.project.annotation(10, 2).source is Source.PROMPTED
    assert session.project.annotation(11, 2).source is Source.PROPAGATED
    assert session.progress.saved == N and not session.progress.running
    assert session.project.history()[-1].label == "propagate forward"


def test_backward_and_both_and_ranges(session):
    session.add_points(20, 1, [(10, 10)])
    frames = [r.frame for r in session.propagate("backward")]
    assert frames == list(range(20, -1, -1))
    frames = [r.frame for r in session.propagate("forward", start=20, stop=26)]
    assert frames == list(range(20, 26))
    frames = [r.frame for r in session.propagate("backward", start=5, stop=2)]
    assert frames == [5, 4, 3]
    frames = [r.frame for r in session.propagate("both", start=20)]
    assert frames == list(range(20, N)) + list(range(19, -1, -1))
    with pytest.raises(PromptError, match="empty frame range"):
        session.propagate("forward", start=10, stop=5)
    with pytest.raises(PromptError, match="empty frame range"):
        session.propagate("backward", start=10, stop=10)


def test_objects_limits_what_a_propagation_writes_and_yields(session):
    """An object added later is filled in over frames the others already have, without rewriting theirs."""
    session.add_points(0, 1, [(10, 10)])
    session.add_points(0, 2, [(30, 20)])
    session.run("forward", 0, 12)
    before = {f: session.annotations(f) for f in range(12)}
    session.add_points(10, 3, [(50, 30)])
    results = list(session.propagate("backward", 10, 4, objects=[3]))
    assert [r.frame for r in results] == list(range(10, 4, -1)) and all(set(r.masks) == {3} for r in results)
    for f in range(5, 10):
        after = session.annotations(f)
        assert set(after) == {1, 2, 3} and all(after[o] == before[f][o] for o in (1, 2))
    assert set(session.annotations(4)) == {1, 2}  # (stop excluded)
    with pytest.raises(PromptError, match="names no object"):
        session.propagate("forward", 0, objects=[])
    assert list(session.propagate("forward", 0, 3, objects=[99])) == []  # no prompt of it: nothing to do


def test_stopping_iteration_cancels_and_keeps_yielded_frames(session):
    session.add_points(0, 1, [(10, 10)])
    for r in session.propagate():
        if r.frame == 12:
            break
    assert session.project.mask_frames(1) == list(range(13))
    assert session.progress.cancelled and not session.busy


def test_cancel_from_another_thread(session):
    session.add_points(0, 1, [(10, 10)])
    gen = session.propagate()
    got = []
    for r in gen:
        got.append(r.frame)
        if r.frame == 5:
            threading.Thread(target=session.cancel).start()
            threading.Event().wait(0.05)
    assert got[-1] <= 7 and session.progress.cancelled
    assert session.project.mask_frames(1) == got


def test_busy_while_propagating(session):
    session.add_points(0, 1, [(10, 10)])
    gen = session.propagate()
    next(gen)
    with pytest.raises(BackendError, match="busy"):
        session.add_points(3, 1, [(5, 5)])
    with pytest.raises(BackendError, match="busy"):
        next(session.propagate())
    gen.close()
    session.add_points(3, 1, [(5, 5)])


def test_undo_redo_resync_segmenter(session):
    seg = session.segmenter
    session.add_points(0, 1, [(10, 10)])
    session.add_points(0, 1, [(12, 12)])
    session.add_points(4, 2, [(30, 30)])
    assert session.undo() == "prompt object 2 on frame 4"
    assert ("remove_object", 2) in seg.calls  # object 2 lost its only prompt
    assert session.project.annotation(4, 2) is None
    session.undo()
    assert len(seg.prompts[(0, 1)].points) == 1  # the segmenter sees the restored prompt
    session.redo()
    assert len(seg.prompts[(0, 1)].points) == 2
    run = list(session.propagate())
    session.undo()  # the whole propagation
    assert session.project.mask_frames(1) == [0]
    assert len(run) == N


def test_clear_frame_and_reset(session):
    session.add_points(0, 1, [(10, 10)])
    session.add_points(5, 1, [(10, 10)])
    session.add_points(5, 2, [(30, 30)])
    remaining = session.clear_frame(5, 1)
    assert list(remaining) == [2]
    assert session.project.prompt(5, 1) is None
    list(session.propagate())  # the segmenter was rebuilt from the remaining prompts
    assert session.segmenter.calls.count(("reset",)) >= 1
    session.reset()
    assert session.project.prompts() == [] and session.project.mask_frames() == []
    assert [o.obj_id for o in session.objects] == [1, 2]
    session.undo()
    assert len(session.project.prompts()) == 2


def test_reopening_a_project_rebuilds_the_segmenter_from_prompts(tmp_path):
    frames = np.zeros((N, H, W, 3), np.uint8)
    with AnnotationSession(frames, tmp_path / "p.awp", RecordingSegmenter()) as s:
        s.add_points(3, 1, [(10, 10)])
        s.add_box(7, 2, (20, 20, 40, 40))
    seg = RecordingSegmenter()
    with AnnotationSession(frames, tmp_path / "p.awp", seg) as s:
        list(s.propagate())
        assert {(c[1], c[2]) for c in seg.calls if c[0] == "set_prompt"} == {(3, 1), (7, 2)}
        with pytest.raises(ProjectError, match="different video"):
            AnnotationSession(frames[:5], s.project, RecordingSegmenter())


def test_write_errors_surface_and_frames_already_saved_stay(session, monkeypatch):
    session.add_points(0, 1, [(10, 10)])
    real = session.project.put_annotations
    calls = {"n": 0}

    def failing(anns, **kw):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("disk full")
        return real(anns, **kw)

    monkeypatch.setattr(session.project, "put_annotations", failing)
    with pytest.raises(ProjectError, match="disk full"):
        for _ in session.propagate():
            threading.Event().wait(0.002)
    saved = session.project.mask_frames(1)
    assert saved == list(range(len(saved))) and 1 <= len(saved) < N
    assert not session.busy and session.progress.error


def test_default_project_lives_in_a_temporary_folder():
    s = AnnotationSession(np.zeros((3, 8, 8, 3), np.uint8), segmenter=RecordingSegmenter())
    assert s.project.path.exists() and s.project.path.suffix == ".awp"
    s.close()


_PROPAGATOR = """
import sys
import numpy as np
from annotator_widgets import AnnotationSession
from annotator_widgets.data import synthetic_clip, write_video

clip = synthetic_clip(num_frames=400, size=(160, 120), num_objects=2, seed=1)
video = write_video(clip.frames, sys.argv[2], fps=25)
with AnnotationSession(video, sys.argv[1], "classic") as s:
    for oid in (1, 2):
        ys, xs = np.nonzero(clip.masks[oid][0])
        s.add_points(0, None, [(float(np.median(xs)), float(np.median(ys)))])
    print("ready", flush=True)
    last = None
    for step in s.propagate():
        if s.progress.last_saved != last:
            last = s.progress.last_saved
            print(last, flush=True)
"""


def test_kill_9_during_propagation_keeps_every_frame_reported_saved(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from annotator_widgets import Project

    project = tmp_path / "crash.awp"
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROPAGATOR, str(project), str(tmp_path / "v.mp4")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    reported = -1
    deadline = time.time() + 120
    while reported < 60 and time.time() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert reported >= 60
    with Project.open(project) as p:
        for oid in (1, 2):
            frames = p.mask_frames(oid)
            assert frames[: reported + 1] == list(range(reported + 1))
            assert len(frames) < 400  # it really was killed mid-propagation
        assert p.history()[-1].label == "propagate forward"


def test_the_session_is_busy_as_soon_as_propagate_returns(session):
    session.add_points(0, 1, [(10, 10)])
    gen = session.propagate()
    assert session.busy
    with pytest.raises(BackendError, match="busy"):
        session.propagate()
    with pytest.raises(BackendError, match="busy"):
        session.add_points(1, 1, [(5, 5)])
    gen.close()  # never iterated
    assert not session.busy
    gen = session.propagate()
    del gen
    assert not session.busy
    assert [r.frame for r in session.propagate(stop=3)] == [0, 1, 2] and not session.busy


def test_closing_the_session_under_a_part_way_propagation_keeps_the_frames_it_yielded(tmp_path):
    from annotator_widgets import Project

    frames = np.zeros((N, H, W, 3), np.uint8)
    session = AnnotationSession(frames, tmp_path / "part.awp", RecordingSegmenter())
    session.add_points(0, 1, [(10, 10)])
    run = session.propagate()
    yielded = [next(run).frame for _ in range(3)]  # still referenced: not garbage-collected before the close
    session.close()  # closes the run first: its queued masks are written, the project closes after
    with Project.open(tmp_path / "part.awp", readonly=True) as project:
        assert set(yielded) <= set(project.mask_frames(1))
    del run  # nothing left to do: no "project is closed" error from the generator's cleanup


def test_a_failed_start_leaves_the_project_unlocked(tmp_path):
    from annotator_widgets import Project

    frames = np.zeros((N, H, W, 3), np.uint8)
    path = tmp_path / "p.awp"
    with pytest.raises(BackendError, match="unknown segmenter"):
        AnnotationSession(frames, path, "no-such-model")
    with pytest.raises(ProjectError, match="different video"):
        AnnotationSession(frames[:3], path, RecordingSegmenter())
    Project.open(path).close()  # nobody holds the write lock
