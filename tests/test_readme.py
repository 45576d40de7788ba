"""Every command in README.md works pasted as it stands, after the set-up command, on a copy of the demo repository.

The commands are read from the README itself (its shell blocks and its inline
code that starts with a program), and run in the README's order by bash in a
fresh copy of the repository (``git init``, one commit, ``.venv/`` as
``scripts/setup.sh`` leaves it), with a timeout each. Servers (``make run``,
``make serve``, ``serve``) run on a free port until they answer, then stop;
``make test`` does all it does but run the tests (``--collect-only``: CI runs
them), and collects this module only (the suite itself collects every module, and
fails on one that does not import); a command that sends (``--send``, ``--push``) shows its help instead.
The servers other than the set-up run last: what they leave behind (the
form's ``.liaison/``) must not be what makes another command work.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import GIT_ENV, PROJECT
from ports import free_port

README = PROJECT / "README.md"
# Words that start a command a person pastes; any other inline code is a name (a file, a key, a variable).
PROGRAMS = {"make", "python", "python3", "bash", "sh", "git"}
SERVERS = ("make run", "make serve", "python build.py serve")
SENDS = ("--send", "--push")
# Exit codes other than 0 that the README's wording announces.
EXPECTED = {
    # The sample sheet has two bad rows on purpose (README: 示例表格中有两行故意写错): exit 1 means "partly".
    "python build.py import docs/import-sample.xlsx --dry-run": 1,
}
COMMAND_TIMEOUT = 300  # make run renders every demo PDF cold
SECRET = "readme-test-proxy-secret-0123456789"
# What ``make test`` collects here: pytest starts as the Makefile starts it (its options, xdist, the conftest), and
# collecting the other 1,400 tests again (4 CPU-seconds) would only repeat what the run this test is part of does.
COLLECTED = "tests/test_readme.py"


def readme_commands(text: str) -> list[str]:
    """The commands of a README, in order: each line of a shell block, and inline code starting with a program."""
    commands = []
    blocks = re.split(r"^```(\w*)\n(.*?)^```\n", text, flags=re.S | re.M)
    for index in range(0, len(blocks), 3):  # prose, then (language, body) of each block
        for span in re.findall(r"`([^`\n]+)`", blocks[index]):
            if _is_command(span):
                commands.append(span.strip())
        if index + 2 < len(blocks) and blocks[index + 1] in ("sh", "bash", "shell"):
            for line in blocks[index + 2].splitlines():
                command = re.sub(r"(^|\s)#.*", "", line).strip()
                if command:
                    commands.append(command)
    return commands


def _is_command(span: str) -> bool:
    try:
        words = shlex.split(span)
    except ValueError:
        return False
    words = [w for w in words if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", w)] if words else []
    if not words:
        return False
    script = words[0].endswith((".py", ".sh")) and len(words) > 1  # alone, a script's name is just a name
    return words[0] in PROGRAMS or script or words[0].startswith("./")


def server_of(command: str) -> str | None:
    """Which server a command starts (its port and environment words taken out), or None."""
    words = [w for w in shlex.split(command) if not re.fullmatch(r"PORT=\d+", w)]
    plain = " ".join(w for w in words if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", w))
    return next((s for s in SERVERS if plain == s or plain.startswith(s + " ")), None)


def test_the_readme_lists_the_commands_this_test_runs():
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert {"make run", "make test", "python build.py check", "python build.py serve"} <= set(commands)
    assert all("<" not in c and ">" not in c for c in commands), "a placeholder cannot be pasted"
    sample = (
        "a `roster.yaml` b `PORT=1 make run` `bench/x.py` `bench/x.py --demo`\n```sh\nmake x   # y\n     # z\n```\n"
    )
    assert readme_commands(sample) == ["PORT=1 make run", "bench/x.py --demo", "make x"]


@pytest.fixture(scope="module")
def copy(tmp_path_factory, demo_site) -> Path:
    """The repository as a fresh clone has it (tracked and new files), set up: one commit on main, ``.venv/``.

    Its ``.cache/pdf`` starts as a copy of the PDFs the shared demo site rendered (the same records, the same
    renderer): ``make run`` then checks, queries, exports and builds as written without rendering 59 PDFs again,
    which the PDF tests do. A stale copy would only be slower: the cache's keys are the records' content.
    """
    root = tmp_path_factory.mktemp("readme") / "liaison"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8")
    for name in filter(None, listed.split("\0")):
        source = PROJECT / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "演示仓库"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, timeout=120)
    (root / ".venv").symlink_to((PROJECT / ".venv").resolve())
    rendered = demo_site.parent / "cache"
    if rendered.is_dir():
        shutil.copytree(rendered, root / ".cache" / "pdf")
    return root


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "PORT", "VIRTUAL_ENV"))}
    # scripts/setup.sh has run: its venv is the project's (the way the pipeline tests share it).
    env["LIAISON_VENV"] = str((PROJECT / ".venv").resolve())
    return {**env, **GIT_ENV}


def _run_server(command: str, server: str, root: Path, env: dict) -> str:
    port = free_port()
    env = {**env, "PORT": str(port), "LIAISON_PROXY_SECRET": SECRET}
    command = " ".join(w for w in shlex.split(command) if not re.fullmatch(r"PORT=\d+", w))
    if server == "python build.py serve":
        command += f" --port {port}"
    log = root.parent / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
                return log.read_text(encoding="utf-8", errors="replace")
            except urllib.error.HTTPError:  # it answered (a login page, a 401): it is up
                return log.read_text(encoding="utf-8", errors="replace")
            except OSError:
                time.sleep(0.2)  # not listening yet: ask again
        output = log.read_text(encoding="utf-8", errors="replace")
        raise AssertionError(f"{command!r} never answered on port {port} (exit {process.poll()}):\n{output}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


SETUP = "make run"  # the README's set-up command: every other command works after it alone


def in_running_order(commands: list[str]) -> list[str]:
    """Each command once: the set-up first, then the README's order, with the servers last (a server leaves
    state behind, such as the form's data folder, that a command pasted on a fresh machine would not find)."""
    unique = list(dict.fromkeys(commands))
    setup = [c for c in unique if server_of(c) == SETUP]
    servers = [c for c in unique if server_of(c) and c not in setup]
    return [*setup, *(c for c in unique if not server_of(c)), *servers]


def test_commands_run_after_the_set_up_alone():
    commands = ["make run", "make serve", "python build.py notify", "PORT=8080 make run", "python build.py outbox"]
    assert in_running_order(commands) == [
        "make run",
        "PORT=8080 make run",
        "python build.py notify",
        "python build.py outbox",
        "make serve",
    ]


@pytest.mark.early
@pytest.mark.timeout(COMMAND_TIMEOUT * 2)  # every command of the README in turn, make run among them
def test_every_readme_command_works_as_written(copy):
    env = _environment()
    done_servers: set[str] = set()
    for command in in_running_order(readme_commands(README.read_text(encoding="utf-8"))):
        server = server_of(command)
        if server:
            if server not in done_servers:  # PORT=8080 make run is make run on another port
                output = _run_server(command, server, copy, env)
                assert "Traceback" not in output, output
                done_servers.add(server)
            continue
        run_env, pasted = env, command
        if command == "make test":  # everything but the tests themselves, which CI runs (.ci/run)
            # in one process: three xdist workers would each start Python and collect the module again
            run_env = {
                **env,
                "PYTEST_ADDOPTS": f"--collect-only -q -p no:cacheprovider {COLLECTED}",
                "TEST_WORKERS": "0",
            }
        if any(word in shlex.split(command) for word in SENDS):
            pasted = f"{command} --help"
        done = subprocess.run(
            ["bash", "-c", pasted],
            cwd=copy,
            env=run_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=COMMAND_TIMEOUT,
        )
        output = done.stdout + done.stderr
        assert done.returncode == EXPECTED.get(command, 0), f"{pasted!r} exited {done.returncode}:\n{output}"
        assert "Traceback" not in output and "command not found" not in output, f"{pasted!r}:\n{output}"
