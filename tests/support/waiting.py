"""Kernel-side waits of the widget tests: on conditions, never on fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(cond: Callable[[], Any], timeout: float = 60.0) -> None:
    """Poll ``cond`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def wait_idle(ann: Any, job: Any, timeout: float = 60.0) -> None:
    """Wait for a widget's worker job to finish and the annotator to be idle again."""
    assert job.wait(timeout)
    wait_for(lambda: not ann.busy, timeout)
