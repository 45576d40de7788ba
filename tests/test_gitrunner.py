"""The one door to git: ``Repo.attempt`` (through GitPython) and ``Repo.query`` (the hot paths' short questions,
without GitPython) answer alike, with the same timeout and errors (docs/git.md).

``query`` exists because importing GitPython costs more than a warm ``check``'s whole git work; it must
stay a faithful stand-in: the same Result for the same question, English messages, a timeout that leaves
nothing running, and a Chinese GitError when git is missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT, built_copy, commit_all, fill_repo, record_data, write_record
from processes import said, started

from liaison.git.repo import GitError, Repo


@pytest.fixture
def history(tmp_path_factory, tmp_path) -> Path:
    """A committed record, and a file whose name git would quote: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "gitrunner-history", build_history, tmp_path / "repo")


def build_history(repo: Path) -> None:
    fill_repo(repo)
    write_record(repo, record_data(), suffix="aaaaaa")
    (repo / "records" / "2024" / "备注 一.yaml").write_text("x: 1\n", encoding="utf-8")  # a name git would quote
    commit_all(repo)


QUESTIONS = [
    ("rev-parse", "HEAD"),
    ("ls-files", "-s", "-v", "-m", "-d", "-z", "--", "records/"),
    ("ls-files", "--", "records/"),  # unquoted non-ASCII, as -c core.quotePath=false asks
    ("config", "--get", "core.autocrlf"),  # exit 1: not set
    ("rev-parse", "--verify", "no-such-branch"),  # exit 128 and git's own message
    ("cat-file", "-t", "HEAD"),
]


@pytest.mark.parametrize("question", QUESTIONS, ids=[" ".join(q[:2]) for q in QUESTIONS])
def test_query_answers_as_attempt_does(history, question):
    repo = Repo(history)
    assert repo.query(*question) == repo.attempt(*question)


def test_query_passes_input_and_speaks_english_whatever_the_locale(history, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    repo = Repo(history)
    asked = b"records/2024/\xe5\xa4\x87\xe6\xb3\xa8 \xe4\xb8\x80.yaml\0"
    found = repo.query("check-attr", "-z", "--stdin", "text", input=asked)
    assert found.ok and found.stdout.split(b"\0")[:3] == [asked[:-1], b"text", b"unspecified"]
    failed = repo.query("rev-parse", "--verify", "no-such-branch")
    assert not failed.ok and "fatal: Needed a single revision" in failed.stderr
    assert failed.stderr == repo.attempt("rev-parse", "--verify", "no-such-branch").stderr


@pytest.mark.early
def test_a_query_that_hangs_is_killed_with_what_it_started(history, tmp_path):
    marker = tmp_path / "child.pid"
    # An alias starting with "!" runs a shell, which starts a child: the whole group must go.
    slow = f"!sh -c 'echo $$ > {marker}; exec sleep 60'"
    started = time.monotonic()
    with pytest.raises(GitError) as raised:
        Repo(history).query("-c", f"alias.slow={slow}", "slow", timeout=2)
    assert raised.value.timed_out and "timed out" in str(raised.value)
    assert time.monotonic() - started < 30
    child = int(marker.read_text().strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def test_a_command_ended_by_sigterm_leaves_no_git_running(history, tmp_path):
    """``timeout`` or a cancelled CI job sends SIGTERM to the command alone; the git it waits on runs in a
    process group of its own and was left behind (with a hook it had started) until the command unwinds."""
    marker = tmp_path / "child.pid"
    slow = f"!sh -c 'echo $$ > {marker}; exec sleep 60'"
    script = (
        "import sys; from liaison.cli.main import stop_on_terminate; stop_on_terminate(); "
        "from liaison.git.repo import Repo; "
        f"Repo(sys.argv[1]).query('-c', {slow!r}.join(['alias.slow=', '']), 'slow', timeout=60)"
    )
    # In the test's process group: the command's own handling of SIGTERM must end its git, not started()'s clean-up.
    with started(
        [sys.executable, "-c", script, str(history)], stderr=subprocess.PIPE, start_new_session=False
    ) as command:
        deadline = time.monotonic() + 30
        while not (marker.is_file() and marker.read_text().strip()):
            assert time.monotonic() < deadline and command.poll() is None, said(command)
            time.sleep(0.05)
        child = int(marker.read_text().strip())
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def test_a_check_never_asks_a_file_system_monitor(history, tmp_path):
    """A core.fsmonitor hook may hang (each git question waited out its 120 s: check took 6 minutes) or lag;
    the questions a check asks run without it."""
    asked = tmp_path / "asked"
    hook = tmp_path / "monitor"
    hook.write_text(f'#!/bin/sh\necho "$@" >> {asked}\nprintf \'%s\\0\' "$(date +%s%N)"\n', encoding="utf-8")
    hook.chmod(0o755)
    subprocess.run(["git", "config", "core.fsmonitor", str(hook)], cwd=history, check=True, timeout=30)
    subprocess.run(["git", "status", "--porcelain"], cwd=history, check=True, timeout=30, capture_output=True)
    assert asked.is_file()  # git runs the hook
    asked.unlink()
    from liaison.core.project import open_project
    from liaison.git.closed import check_with_history

    check_with_history(open_project(history))
    check_with_history(open_project(history), records=False)
    assert not asked.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.is_file() and status.read_text().split(") ", 1)[1].startswith("Z"))  # a zombie is gone


def test_without_git_the_error_says_so_in_chinese(history, monkeypatch):
    monkeypatch.setenv("PATH", str(history))
    with pytest.raises(GitError) as raised:
        Repo(history).query("rev-parse", "HEAD")
    assert "找不到 git 命令" in str(raised.value)


WARM_CHECK = """
import json, sys
from liaison.cli import main
sys.argv = ["build.py", "--root", sys.argv[1], "check"]
try:
    main()
except SystemExit:
    pass
loaded = {name: name in sys.modules for name in ("git", "yaml", "cerberus", "liaison.git.history.index")}
print(json.dumps(loaded), file=sys.stderr)
"""


def test_a_warm_check_loads_neither_gitpython_nor_pyyaml_nor_cerberus(history):
    """What the warm check's speed rests on (docs/git.md, docs/cache.md): the first run loads them, the next none."""

    def loaded() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", WARM_CHECK, str(history)], cwd=PROJECT, capture_output=True, text=True, timeout=120
        )
        assert "检查" in done.stdout, done.stdout + done.stderr
        return json.loads(done.stderr.strip().splitlines()[-1])

    first = loaded()
    assert first["yaml"] and first["cerberus"]  # a cold run reads and validates
    assert loaded() == {"git": False, "yaml": False, "cerberus": False, "liaison.git.history.index": False}
