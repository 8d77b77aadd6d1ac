"""Reliability figures as one JSON object (issue 12).

- ``bad_inputs_tried`` / ``bad_inputs_passed``: the table of bad inputs over the public API
  (tests/reliability/cases.py); a case passes when it raises an AnnotatorError with a fix and leaves
  the project unchanged.
- ``faults_tried`` / ``faults_lossless``: the fault scenarios of tests/reliability/test_faults.py
  (kill -9 during export, render and propagation; full disk during a prompt, a propagation, an export
  and a render; stale and held locks), run through pytest.
- ``long_session_*``: the scripted prompt/undo/redo/propagate session of tests/reliability/long_session.py
  (``--ops`` operations, default 1000, on a 2,000-frame 64x48 video): peak RSS and the ratio of RSS after
  all operations to RSS after a tenth of them.
- ``browser_runs`` / ``browser_failures``: tests/widgets/test_browser*.py run ``--browser-runs N`` times
  (default 0; the lead runs them on a quiet machine).

Usage: ``python benchmarks/bench_reliability.py [--ops N] [--browser-runs N]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bad_inputs() -> dict[str, int]:
    from tests.reliability.cases import CASES, describe_failure, make_ctx, run_case, snapshot

    passed = 0
    for name, call in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = make_ctx(Path(tmp))
            try:
                before = snapshot(ctx.project)
                problem = describe_failure(run_case(name, call, ctx))
                unchanged = "removed" in name or snapshot(ctx.project) == before
                passed += problem is None and unchanged
            finally:
                ctx.session.close()
    return {"bad_inputs_tried": len(CASES), "bad_inputs_passed": passed}


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def _count(out: str, word: str) -> int:
    import re

    m = re.search(rf"(\d+) {word}", out.strip().splitlines()[-1] if out.strip() else "")
    return int(m.group(1)) if m else 0


def faults() -> dict[str, int]:
    proc = _pytest("tests/reliability/test_faults.py")
    passed, failed = _count(proc.stdout, "passed"), _count(proc.stdout, "failed")
    return {"faults_tried": passed + failed, "faults_lossless": passed}


def long_session(ops: int) -> dict[str, float]:
    from tests.reliability.long_session import run_long_session

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_long_session(Path(tmp), n_ops=ops, checkpoints=(max(1, ops // 10),))
    logging.disable(logging.NOTSET)
    return {
        "long_session_ops": ops,
        "long_session_peak_mb": round(r.peak_rss_mb, 1),
        "long_session_rss_ratio": round(r.rss_ratio, 3),
        "long_session_seconds": round(r.seconds, 1),
        "long_session_undo_redo_mismatches": len(r.mismatches),
        "long_session_file_per_payload": round(r.file_bytes / max(1, r.payload_bytes), 2),
    }


def browser(runs: int) -> dict[str, int]:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "widgets").glob("test_browser*.py"))
    failures = 0
    for _ in range(runs):
        proc = _pytest("-m", "browser", *files)
        failures += proc.returncode != 0
    return {"browser_runs": runs, "browser_failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000, help="operations of the long session")
    parser.add_argument("--browser-runs", type=int, default=0, help="times to run the browser tests")
    args = parser.parse_args()
    out: dict[str, float] = {}
    out.update(bad_inputs())
    out.update(faults())
    out.update(long_session(args.ops))
    out.update(browser(args.browser_runs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
