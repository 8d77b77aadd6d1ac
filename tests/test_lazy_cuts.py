"""The interactive propagation scans cuts only as far as it goes, with the results of a full scan: the same
frames, masks, warnings and progress (classic segmenter, every direction, start/stop ranges); a single-shot clip
is not decoded to its end for a short propagation, and a reopened project does not scan again."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession
from annotator_widgets import session as session_module
from annotator_widgets.cuts import video_cuts
from annotator_widgets.data import synthetic_clip

SIZE = (128, 96)
LENGTHS = [12, 14, 14, 12, 14]  # cuts at 12 (below the prompts), 26 and 40 (between them), 52 (above)
CUTS = [12, 26, 40, 52]
PROMPTS = [(16, 0), (44, 1), (30, 0), (40, 1)]  # (frame, object): object 0 in shots 2 and 3, 1 in shot 4 (from its cut)


@pytest.fixture(scope="module")
def shots():
    return [synthetic_clip(n, SIZE, 1, seed=i) for i, n in enumerate(LENGTHS)]


def prompted(shots, path, **kwargs) -> AnnotationSession:
    session = AnnotationSession(np.concatenate([s.frames for s in shots]), path, segmenter="classic", **kwargs)
    ids = [session.add_object(name=f"o{i}").obj_id for i in range(2)]
    for frame, obj in PROMPTS:
        shot = int(np.searchsorted(np.cumsum(LENGTHS), frame, side="right"))
        y, x = np.argwhere(shots[shot].masks[1][frame - sum(LENGTHS[:shot])]).mean(axis=0)
        session.add_points(frame, ids[obj], [(x, y)])
    return session


def outcome(session: AnnotationSession, *args) -> dict:
    results = [(r.frame, r.direction, {o: m.tobytes() for o, m in r.masks.items()}) for r in session.propagate(*args)]
    p = session.progress
    return {
        "results": results,
        "warnings": [(w.frame, w.obj_id, w.kind, w.message) for w in session.project.warnings()],
        "progress": (p.cuts, p.done, p.total, p.saved, p.cancelled, p.error),
        "stored": {o.obj_id: session.project.mask_frames(o.obj_id) for o in session.objects},
    }


@pytest.mark.parametrize(
    "args",
    [
        ("both",),
        ("both", 30),
        ("forward",),
        ("forward", 20, 48),
        ("forward", 3),  # a start in a shot without prompts
        ("backward",),
        ("backward", 50, 14),
        ("backward", 63),
        ("forward", 40),  # starts on a cut
        ("backward", 26),
        ("both", 40),
        ("backward", 12, 0),
    ],
)
def test_lazy_propagation_equals_the_full_scans(shots, tmp_path, monkeypatch, args):
    with prompted(shots, tmp_path / "lazy.awp") as session:
        session._cut_scan.chunk = 4  # short chunks: the tails are scanned in several steps, not past their cuts
        lazy = outcome(session, *args)
        assert session._cut_scan.scanned != [[0, sum(LENGTHS)]]  # it did not scan everything
    with prompted(shots, tmp_path / "full.awp") as session:  # the full-scan path: plan with every cut, no lookahead
        assert session.cuts() == CUTS
        every = video_cuts(session.project, session.video)
        monkeypatch.setattr(session_module, "span_cuts", lambda scanner, frames, *a: every)
        monkeypatch.setattr(session._cut_scan, "cut_ahead", None)
        full = outcome(session, *args)
    assert full["progress"][0]  # some cut was met
    assert lazy == full


def test_a_short_propagation_does_not_decode_a_single_shot_video(tmp_path):
    clip = synthetic_clip(600, (96, 72), 1, seed=3)
    with AnnotationSession(clip.frames, tmp_path / "p.awp", segmenter="classic") as session:
        obj = session.add_object()
        y, x = np.argwhere(clip.masks[1][300]).mean(axis=0)
        session.add_points(300, obj.obj_id, [(x, y)])
        frames = [r.frame for r in session.propagate("forward", 300, 400)]
        assert frames == list(range(300, 400))
        scan, chunk, context = session._cut_scan, session._cut_scan.chunk, session._cut_detector.window + 1
        assert scan.cuts == [] and scan.scanned == [[300, 300 + 1 + chunk * 2]]
        assert 100 <= scan.decoded <= 100 + chunk + 2 * context
        decoded = scan.decoded
    with AnnotationSession(clip.frames, tmp_path / "p.awp", segmenter="classic") as session:  # reopened
        assert [r.frame for r in session.propagate("backward", 400, 299)] == list(range(400, 299, -1))
        assert session._cut_scan.decoded == 0 and decoded > 0  # nothing scanned again
        session.propagate("backward", 320, 250).close()  # not iterated: nothing scanned
        assert session._cut_scan.decoded == 0
        assert [r.frame for r in session.propagate("backward", 320, 250)][-1] == 251
        assert 0 < session._cut_scan.decoded <= 50 + session._cut_scan.chunk


def test_cancel_while_the_cuts_between_the_prompts_are_scanned_propagates_nothing(shots, tmp_path):
    """Prompts far apart: the cuts between them are scanned before the first frame, counted in the progress
    (stage "cuts") and cancellable like the frames."""
    with prompted(shots, tmp_path / "p.awp") as session:
        scanner = session._cut_scan
        scanned_steps: list[tuple[str, int, int]] = []
        real = scanner.ensure

        def ensure(a, b):  # the user presses Cancel while the scan's first step runs
            prog = session.progress
            scanned_steps.append((prog.stage, prog.scan_done, prog.scan_total))
            session.cancel()
            return real(a, b)

        scanner.ensure = ensure  # type: ignore[method-assign]
        before = {o.obj_id: session.project.mask_frames(o.obj_id) for o in session.objects}
        results = list(session.propagate("both", 16))
        assert results == [] and session.progress.cancelled and session.progress.stage == ""
        assert scanned_steps[0] == ("cuts", 0, 44 - 16 + 1)  # the span from 16 to the last prompt, 44
        assert {o.obj_id: session.project.mask_frames(o.obj_id) for o in session.objects} == before
        scanner.ensure = real  # type: ignore[method-assign]
        assert [r.frame for r in session.propagate("forward", 16, 20)] == [16, 17, 18, 19]  # not cancelled again
