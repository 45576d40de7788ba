"""tests/processes.py: a process a test starts ends with the test, with what it started, and says what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import said, started, wait_until


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie not yet reaped by whoever adopted it counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_a_grandchild_holding_the_pipes_ends_with_the_test(tmp_path):
    marker = tmp_path / "grandchild.pid"
    # sh forks the last command here (dash does not exec it): the grandchild holds the pipes.
    script = f"sleep 100 & echo $! > {marker}; echo 开始 >&2; wait"
    with started(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        wait_until(lambda: marker.is_file() and marker.read_text().strip())
    grandchild = int(marker.read_text())
    wait_until(lambda: gone(grandchild))
    assert process.returncode is not None


def test_what_a_process_wrote_is_said_though_what_it_started_holds_the_pipe(tmp_path):
    with started(["sh", "-c", "sleep 100 & echo 开始了 >&2"], stderr=subprocess.PIPE) as process:
        wait_until(lambda: process.poll() is not None)  # the child has ended; its sleep holds stderr
        assert said(process) == "开始了\n"


def test_text_that_is_not_utf_8_is_said_with_replacements():
    command = [sys.executable, "-c", "import sys; sys.stderr.buffer.write(b'bad \\xff byte')"]
    with started(command, stderr=subprocess.PIPE, text=True) as process:
        wait_until(lambda: process.poll() is not None)  # said() ends a process that still runs: let it write
        assert said(process) == "bad \ufffd byte"


def test_a_process_kept_in_the_test_s_group_is_ended_alone():
    with started([sys.executable, "-c", "import time; time.sleep(100)"], start_new_session=False) as process:
        assert os.getpgid(process.pid) == os.getpgid(0)
    assert process.returncode is not None


@pytest.mark.parametrize("written", [b"", b"nothing on stderr"])
def test_a_process_without_an_error_pipe_says_its_output(written):
    command = [sys.executable, "-c", f"import sys; sys.stdout.buffer.write({written!r})"]
    with started(command, stdout=subprocess.PIPE) as process:
        wait_until(lambda: process.poll() is not None)
        assert said(process) == written.decode()
