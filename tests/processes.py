"""Waiting on a condition, and processes a test starts that never outlive it.

``with subprocess.Popen(...)`` waits for the process on the way out with no
timeout: a test that fails (or that pytest-timeout stops) while its child still
runs would hang its worker, and the whole run, there. :func:`started` kills it
instead. Reading a live child's pipe blocks the same way, so a failing check
takes what it wrote with :func:`said`, which ends it first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

WAIT = 30  # seconds for a killed process to be gone, and its pipes read to the end


def wait_until(condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Return as soon as ``condition()`` is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _kill(process: subprocess.Popen) -> None:
    """Kill ``process`` (and its process group, when it leads one of its own)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


@contextlib.contextmanager
def started(args: list[str], **options) -> Iterator[subprocess.Popen]:
    """``subprocess.Popen(args, **options)``, killed on the way out if it still runs, its pipes closed."""
    process = subprocess.Popen(args, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            _kill(process)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=WAIT)  # reaps it; the pipes are read to the end and closed


def said(process: subprocess.Popen) -> str:
    """What ``process`` wrote to its stderr pipe (its stdout's when stderr goes there), ended first if it runs."""
    if process.poll() is None:
        _kill(process)
    try:
        out, err = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        return f"(the process did not end within {WAIT} s of being killed)"
    text = err if err is not None else out
    if text is None:
        return ""
    return text if isinstance(text, str) else text.decode("utf-8", "replace")
