"""Reliability figures as one JSON object (issue 12).

- ``bad_inputs_tried`` / ``bad_inputs_passed``: the table of bad inputs over the public API
  (tests/reliability/cases.py); a case passes when it raises an AnnotatorError with a fix and leaves
  the project unchanged.
- ``faults_tried`` / ``faults_lossless``: the fault scenarios of tests/reliability/test_faults.py
  (kill -9 during export, render and propagation; full disk during a prompt, a propagation, an export
  and a render; stale and held locks) and the migration faults of tests/test_migrations.py (kill -9 at
  each point of an upgrade, a migration failing midway), run through pytest.
- ``long_session_*``: the scripted prompt/undo/redo/propagate session of tests/reliability/long_session.py
  (``--ops`` operations, default 1000, on a 2,000-frame 64x48 video): peak RSS, the ratio of RSS after
  all operations to RSS after the first 100 (a tenth when ``--ops`` < 1000), undo/redo mismatches (RLE),
  what went missing when the project was reopened, and the file's size over its data.
- ``browser_runs`` / ``browser_failures``: the browser tests (``pytest -m browser -x``, as
  ``make test-browser-repeat`` runs them) ``--browser-runs N`` times in a row (default 0: skipped, and
  ``browser_skipped`` says so; the lead runs them on a quiet machine).

Usage: ``python benchmarks/bench_reliability.py [--ops N] [--browser-runs N] [--skip-faults]``
(``--ops 0`` skips the long session; ``--skip-faults`` the fault scenarios, for a quick smoke run).
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


def _pytest(*args: str, strict: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if strict:  # as under make test: a missing browser or model fails instead of skipping
        env["AW_STRICT_TESTS"] = "1"
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


FAULT_TESTS = ("tests/reliability/test_faults.py", "tests/test_migrations.py -k kill_9 or failing_midway")


def faults() -> dict[str, int]:
    tried = lossless = 0
    for spec in FAULT_TESTS:
        path, _, expr = spec.partition(" -k ")
        proc = _pytest(path, *(["-k", expr] if expr else []))
        passed, failed = _count(proc.stdout, "passed"), _count(proc.stdout, "failed") + _count(proc.stdout, "error")
        tried, lossless = tried + passed + failed, lossless + passed
    return {"faults_tried": tried, "faults_lossless": lossless}


def long_session(ops: int) -> dict[str, float | int | None]:
    if ops <= 0:
        return {"long_session_ops": 0, "long_session_peak_mb": None, "long_session_rss_ratio": None}
    from tests.reliability.long_session import run_long_session

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_long_session(Path(tmp), n_ops=ops, checkpoints=(min(100, max(1, ops // 10)),))
    logging.disable(logging.NOTSET)
    return {
        "long_session_ops": ops,
        "long_session_peak_mb": round(r.peak_rss_mb, 1),
        "long_session_rss_ratio": round(r.rss_ratio, 3),
        "long_session_seconds": round(r.seconds, 1),
        "long_session_undo_redo_checked": r.undo_checked + r.redo_checked,
        "long_session_undo_redo_mismatches": len(r.mismatches),
        "long_session_lost_on_reopen": r.lost_on_reopen,
        "long_session_file_per_payload": round(r.file_bytes / max(1, r.payload_bytes), 2),
    }


def browser(runs: int, workers: int = 0) -> dict[str, int | bool]:
    """``runs`` runs of every browser test in a row (``make test-browser-repeat`` without its stop at the first);
    ``workers`` > 0 runs each in that many pytest-xdist processes, as ``make test`` does."""
    failures = 0
    extra = ("-n", str(workers), "--dist", "worksteal") if workers else ()
    for i in range(runs):
        proc = _pytest("-m", "browser", "-x", *extra, strict=True)
        failures += proc.returncode != 0
        tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
        print(f"browser run {i + 1}/{runs}: {tail[0]}", file=sys.stderr)
    return {"browser_runs": runs, "browser_failures": failures, "browser_skipped": runs == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000, help="operations of the long session")
    parser.add_argument("--browser-runs", type=int, default=0, help="times to run the browser tests (0: skip)")
    parser.add_argument(
        "--browser-workers", type=int, default=0, help="pytest-xdist processes per browser run, as make test (0: one)"
    )
    parser.add_argument("--skip-faults", action="store_true", help="leave out the fault scenarios (a smoke run)")
    args = parser.parse_args()
    out: dict[str, object] = {}
    out.update(bad_inputs())
    out.update({"faults_tried": 0, "faults_lossless": 0, "faults_skipped": True} if args.skip_faults else faults())
    out.update(long_session(args.ops))
    out.update(browser(args.browser_runs, args.browser_workers))
    out["browser_workers"] = args.browser_workers
    print(json.dumps(out))


if __name__ == "__main__":
    main()
