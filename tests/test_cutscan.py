"""CutScanner: any chunking of a scan gives exactly the full scan's cuts; intervals are kept in the project."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.cuts import META_KEY as FULL_KEY
from annotator_widgets.cuts import CutDetector, video_cuts
from annotator_widgets.cutscan import META_KEY, CutScanner, span_cuts
from annotator_widgets.errors import AnnotatorError
from annotator_widgets.video import open_video


def shots_clip(seed: int, num_frames: int = 160, longest: int = 24) -> np.ndarray:
    """Shots of 1..``longest`` frames (each its own random colours, with a little noise and drift per frame), and
    single-frame flashes: cuts near any chunk edge, shots shorter than ``min_shot``, candidates in chains."""
    rng = np.random.default_rng(seed)
    out, n = [], 0
    while n < num_frames:
        length = int(rng.integers(1, longest + 1))
        base = np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((6, 8, 1)))
        for t in range(length):
            noise = rng.normal(0, 6, base.shape) + t
            out.append(np.clip(base + noise, 0, 255).astype(np.uint8))
        n += length
    return np.stack(out[:num_frames])


def one_shot(num_frames: int, seed: int = 0) -> np.ndarray:
    """A single shot: the same random colours throughout, with a little noise per frame."""
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((6, 8, 1)))
    return np.stack([np.clip(base + rng.normal(0, 6, base.shape), 0, 255) for t in range(num_frames)]).astype(np.uint8)


DETECTORS = [CutDetector(), CutDetector(min_shot=3, window=2), CutDetector(min_shot=12, window=4, ratio=2.0)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("detector", DETECTORS, ids=["default", "short", "long"])
def test_random_chunkings_give_the_full_scans_cuts(seed, detector):
    frames = shots_clip(seed)
    full = detector.detect(frames)
    assert len(full) >= 4  # the clip has cuts to get right
    rng = random.Random(seed)
    for _ in range(4):
        scanner = CutScanner(frames, detector, chunk=rng.choice([1, 5, 16, 64]))
        while scanner.scanned != [[0, len(frames)]]:
            if rng.random() < 0.5:
                a = rng.randrange(len(frames))
                b = a + rng.randrange(1, 40)
                assert scanner.ensure(a, b) == [c for c in full if a <= c < b]
            else:
                f, reverse = rng.randrange(len(frames)), rng.random() < 0.5
                nxt = f if reverse else f + 1
                assert scanner.cut_ahead(f, reverse) == (nxt if nxt in full else None)
        assert scanner.cuts == full


def test_a_cut_on_every_chunk_edge_and_at_the_ends():
    detector = CutDetector(min_shot=2, window=2)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (12, 3))
    lengths = [2, 3, 5, 8, 8, 8, 3, 2, 8, 8, 2, 3]  # cuts at 2, 5, 10, ...; chunks of 8 end at 8, 16, ...
    frames = np.concatenate([np.full((n, 12, 16, 3), c, np.uint8) for n, c in zip(lengths, colours, strict=True)])
    full = detector.detect(frames)
    assert full[:3] == [2, 5, 10] and full[-1] == len(frames) - 5  # shots of 2 and 3 frames; one 5 from the end
    for chunk in (1, 2, 3, 8):
        forward, backward = CutScanner(frames, detector, chunk=chunk), CutScanner(frames, detector, chunk=chunk)
        got_f = [f + 1 for f in range(len(frames)) if forward.cut_ahead(f, False)]
        got_b = [f for f in reversed(range(len(frames))) if backward.cut_ahead(f, True)]
        assert got_f == full and got_b[::-1] == full


def test_scanning_reads_only_what_is_asked_plus_context():
    frames = one_shot(400)
    scanner = CutScanner(frames, CutDetector(), chunk=16)
    span_cuts(scanner, [200, 230])
    assert scanner.scanned == [[200, 231]]
    assert scanner.decoded <= 31 + 2 * (CutDetector().window + 1) + CutDetector().min_shot  # context only
    before = scanner.decoded
    for f in range(230, 260):  # a pass going on: a chunk at a time, the context already read is not read again
        scanner.cut_ahead(f, False)
    assert scanner.decoded - before <= 260 - 231 + 16 + CutDetector().window + 1
    assert scanner.cuts == [] and scanner.scanned == [[200, 263]]


def test_scanned_intervals_are_kept_in_the_project(tmp_path):
    frames = shots_clip(2, 200)
    detector = CutDetector()
    full = detector.detect(frames)
    with Project.create(tmp_path / "p.awp", open_video(frames)) as project:
        scanner = CutScanner(frames, detector, project)
        scanner.ensure(10, 90)
        scanner.save()
    with Project.open(tmp_path / "p.awp") as project:  # reopened
        again = CutScanner(frames, detector, project)
        assert again.scanned == [[10, 90]] and again.ensure(10, 90) == [c for c in full if 10 <= c < 90]
        assert again.decoded == 0
        assert CutScanner(frames, CutDetector(min_shot=3), project).scanned == []  # other settings: not theirs
        assert CutScanner(frames[:150], detector, project).scanned == []  # another length: not this video
        again.ensure(0, 200)
        again.save()
        assert json.loads(project.get_meta(FULL_KEY))["cuts"] == full  # whole video scanned: a full scan's entry
        assert json.loads(project.get_meta(META_KEY))["scanned"] == [[0, 200]]


def test_a_full_scan_counts_as_everything_scanned(tmp_path):
    frames = shots_clip(3, 120)
    with open_video(frames) as video, Project.create(tmp_path / "p.awp", video) as project:
        full = video_cuts(project, video)
        scanner = CutScanner(video, CutDetector(), project)
        assert scanner.scanned == [[0, 120]] and scanner.cuts == full
        assert scanner.ensure(0, 120) == full and scanner.decoded == 0


def test_unreadable_meta_and_bad_chunk(tmp_path):
    frames = shots_clip(4, 60)
    with Project.create(tmp_path / "p.awp", open_video(frames)) as project:
        project.set_meta(META_KEY, "{not json")
        assert CutScanner(frames, CutDetector(), project).scanned == []
    with pytest.raises(AnnotatorError, match="chunk"):
        CutScanner(frames, CutDetector(), chunk=0)


def test_the_span_is_scanned_in_steps_with_progress_and_the_cuts_of_a_full_scan():
    from annotator_widgets.propagation import Progress

    frames = shots_clip(6, 540)
    full = CutDetector().detect(frames)
    scanner = CutScanner(frames, CutDetector())
    scanner.ensure(100, 140)  # scanned before: not counted again
    seen: list[tuple[str, int, int]] = []
    prog = Progress()
    real = scanner.ensure

    def ensure(a, b):  # (a spy: what the progress says while each step is scanned)
        seen.append((prog.stage, prog.scan_done, prog.scan_total))
        return real(a, b)

    scanner.ensure = ensure  # type: ignore[method-assign]
    got = span_cuts(scanner, [10, 400, 250], None, prog, step=64)
    assert got == [c for c in full if 10 <= c <= 400]
    assert prog.stage == "" and prog.scan_done == prog.scan_total == (401 - 10) - 40
    steps = seen[:-1]  # (the last call reads the whole span back: all scanned)
    assert all(stage == "cuts" and total == 351 for stage, _, total in steps)
    assert [done for _, done, _ in steps] == sorted({done for _, done, _ in steps}) and len(steps) == 7


def test_a_cancel_stops_the_span_scan_between_steps():
    import threading

    frames = shots_clip(6, 540)
    scanner = CutScanner(frames, CutDetector())
    cancel = threading.Event()
    real = scanner.ensure

    def ensure(a, b):  # the user presses Cancel while the first step is scanned
        cancel.set()
        return real(a, b)

    scanner.ensure = ensure  # type: ignore[method-assign]
    got = span_cuts(scanner, [0, 539], cancel, step=64)
    assert scanner.scanned == [[0, 64]] and got == [c for c in scanner.cuts if c < 64]
