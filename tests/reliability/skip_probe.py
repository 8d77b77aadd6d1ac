"""Probes for tests/reliability/test_no_silent_skips.py (not collected by the suite: no ``test_`` prefix)."""

import pytest


def test_skips_inside() -> None:
    pytest.skip("probe: chromium not found at /nowhere")


def test_passes() -> None:
    assert True


def test_allowed_skip() -> None:
    pytest.skip("a real checkpoint is on disk")
