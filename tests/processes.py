"""Waiting on a condition, and processes a test starts that never outlive it.

``with subprocess.Popen(...)`` waits for the process on the way out with no
timeout: a test that fails (or that pytest-timeout stops) while its child still
runs would hang its worker, and the whole run, there. :func:`started` ends it
instead, with what it started: the child runs in a process group of its own,
and the group is killed on the way out, so a grandchild that holds the pipes
(``sh -c 'a; b'`` forks ``b``) goes too. Reading a live child's pipe blocks the
same way, so a failing check takes what it wrote with :func:`said`, which ends
it first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

WAIT = 30  # seconds for a killed process's pipes to close


def wait_until(condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Return as soon as ``condition()`` is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _kill(process: subprocess.Popen) -> None:
    """Kill ``process``: its whole group when it leads one, even after it has ended (what it started may not
    have), else the process alone."""
    group = getattr(process, "own_group", None)  # set by started()
    if group is None and process.poll() is None:  # not started here: does it lead a group?
        with contextlib.suppress(OSError):
            group = os.getpgid(process.pid) == process.pid
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    elif process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _end(process: subprocess.Popen) -> tuple[object, object] | None:
    """Kill ``process`` (:func:`_kill`), read its pipes to the end, reap it: (stdout, stderr), or None when a
    pipe stayed open ``WAIT`` seconds (a process of another group holds it), closed then."""
    _kill(process)
    try:
        return process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=WAIT)  # killed: it ends at once
        return None


@contextlib.contextmanager
def started(args: list[str], **options) -> Iterator[subprocess.Popen]:
    """``subprocess.Popen(args, **options)`` in a process group of its own (``start_new_session=False`` to keep
    it in the test's), ended with that group on the way out. Text is decoded with ``errors="replace"``."""
    options.setdefault("start_new_session", True)
    if options.get("text") or options.get("universal_newlines") or options.get("encoding"):
        options.setdefault("errors", "replace")  # output that is not UTF-8 must not hide the failure it explains
    process = subprocess.Popen(args, **options)
    process.own_group = options["start_new_session"]
    try:
        yield process
    finally:
        _end(process)


def said(process: subprocess.Popen) -> str:
    """What ``process`` wrote to its stderr pipe (its stdout's when stderr is not a pipe), ended first."""
    ended = _end(process)
    if ended is None:
        return f"(killed; a pipe was still held open {WAIT} s later, by a process it had started elsewhere)"
    out, err = ended
    text = err if err is not None else out
    if text is None:
        return ""
    return text if isinstance(text, str) else text.decode("utf-8", "replace")
