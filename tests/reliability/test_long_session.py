"""A long scripted session: memory stays bounded, undo/redo restore exactly, the file grows with the masks only."""

from __future__ import annotations

from pathlib import Path

import pytest

from .long_session import run_long_session

# The issue asks for 1,000 operations. Every undo/redo that removes one of an object's several prompts makes
# the session rebuild the segmenter from ALL stored prompts (session._ensure_synced), so an operation costs
# O(prompts) and 1,000 operations take > 10 min with the classic segmenter; this size keeps the test < 60 s.
# benchmarks/bench_reliability.py runs --ops 1000.
OPS, FRAMES = 150, 2000


@pytest.mark.slow
def test_long_session_is_bounded_and_exact(tmp_path: Path) -> None:
    r = run_long_session(tmp_path, n_ops=OPS, n_frames=FRAMES, checkpoints=(OPS // 10,))
    assert r.ops.get("undo", 0) >= 20 and r.ops.get("redo", 0) >= 5 and r.ops.get("propagate", 0) >= 10, r.ops
    assert r.mismatches == []  # every undo and redo restored exactly the masks (RLE) of the frames it touched
    assert r.undo_checked == r.ops["undo"] and r.redo_checked == r.ops["redo"]
    assert r.rss_ratio < 1.15, r.rss_mb  # RSS after all operations vs after a tenth of them
    # the file is its data (masks, prompts, the undo log) plus SQLite's pages and indexes: no frames, no bloat
    assert r.file_bytes < 4 * r.payload_bytes + 256 * 1024, (r.file_bytes, r.payload_bytes)
