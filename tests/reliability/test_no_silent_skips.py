"""The conftest's rule: under `make test` (AW_STRICT_TESTS=1) or CI, a skip is a failure that names the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBES = ["tests/reliability/skip_probe.py", "tests/reliability/skip_probe_module.py"]


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "AW_STRICT_TESTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors", *PROBES],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _counts(out: str) -> dict[str, int]:
    tail = out.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", tail)}


def test_skips_are_skips_on_a_developer_machine() -> None:
    proc = _run()
    assert _counts(proc.stdout) == {"passed": 1, "skipped": 3}, proc.stdout


@pytest.mark.parametrize("env", [{"AW_STRICT_TESTS": "1"}, {"CI": "true"}])
def test_skips_fail_under_make_test_and_ci(env: dict[str, str]) -> None:
    proc = _run(**env)
    counts = _counts(proc.stdout)
    assert counts.get("passed") == 1 and counts.get("skipped") == 1, proc.stdout  # the allowed reason stays a skip
    assert counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) == 2, proc.stdout
    assert proc.returncode != 0
    assert "probe: chromium not found" in proc.stdout and "annotator_widgets_no_such_library" in proc.stdout
    assert proc.stdout.count("Fix: install everything the suite needs") >= 2


def test_make_test_runs_strict() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "AW_STRICT_TESTS=1" in recipe and "pytest" in recipe


def test_the_browser_pieces_are_installed() -> None:
    """The browser tests need Playwright and chromium: their absence is a failure here, whatever else skips."""
    import importlib

    from tests.support.jupyter import CHROMIUM

    try:
        importlib.import_module("playwright.sync_api")
    except ImportError as exc:
        pytest.fail(f"Playwright is missing ({exc}). Fix: pip install playwright (`make test` installs it)")
    assert Path(CHROMIUM).exists(), f"chromium not found at {CHROMIUM}. Fix: `make chromium` (apt-get install chromium)"
