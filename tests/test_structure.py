"""The code's shape: small functions, and tests that cannot hang (the layers are held by import-linter)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "liaison"
TESTS = ROOT / "tests"
MAX_LINES = 60
# The calls that start a process and wait for it; each needs a timeout= so a hung child fails its test.
RUNNERS = {"run", "call", "check_call", "check_output"}
# Waits on a process (Popen.wait, Popen.communicate): the timeout is a keyword or the wait's one argument.
WAITS = {"wait": 0, "communicate": 1}
# Shell-outs that take no timeout at all: use subprocess.run(..., timeout=) instead.
UNTIMEABLE = {"os.system", "os.popen"}


def sources(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.py"))
    }


def long_functions(files: dict[str, str]) -> list[str]:
    """'path:line function (N lines)' for every function or method longer than MAX_LINES."""
    found = []
    for name, text in files.items():
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    found.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return found


def _subprocess_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The names under which a module reaches subprocess: the module itself, and runners imported from it."""
    modules, runners = {"subprocess"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "subprocess"}
        elif isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            runners |= {alias.asname or alias.name for alias in node.names if alias.name in RUNNERS}
    return modules, runners


def _timed(keyword: ast.keyword) -> bool:
    if keyword.arg is None:  # **options: trusted to carry one
        return True
    return keyword.arg == "timeout" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None)


def _needs_timeout(call: ast.Call, modules: set[str], runners: set[str]) -> bool:
    function = call.func
    if ast.unparse(function) in UNTIMEABLE:
        return True
    if any(_timed(keyword) for keyword in call.keywords):
        return False
    if isinstance(function, ast.Name):
        return function.id in runners
    if not isinstance(function, ast.Attribute):
        return False
    if isinstance(function.value, ast.Name) and function.value.id in modules:
        return function.attr in RUNNERS
    return function.attr in WAITS and len(call.args) <= WAITS[function.attr]


def untimed_subprocess_calls(files: dict[str, str]) -> list[str]:
    """'path:line call' for every subprocess run, wait or communicate that has no timeout."""
    found = []
    for name, text in files.items():
        tree = ast.parse(text, name)
        modules, runners = _subprocess_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _needs_timeout(node, modules, runners):
                found.append(f"{name}:{node.lineno} {ast.unparse(node.func)}(...)")
    return sorted(found, key=lambda entry: (entry.split(":")[0], int(entry.split(":")[1].split()[0])))


# Reads that block while the process they read from runs.
PIPE_READS = {"read", "readline", "readlines"}


def _popen_names(tree: ast.AST) -> set[str]:
    modules, _ = _subprocess_names(tree)
    names = {f"{module}.Popen" for module in modules}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "Popen"}
    return names


def _reads_a_pipe(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in PIPE_READS
        and isinstance(call.func.value, ast.Attribute)
        and call.func.value.attr in ("stdout", "stderr")
        for call in ast.walk(node)
    )


def _popen_calls(tree: ast.AST, popen: set[str]) -> tuple[set[str], list[ast.Call]]:
    """The names bound to a Popen (``p = subprocess.Popen(...)``), and every Popen call."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) in popen]
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and node.value in calls
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return bound, calls


def _failure_messages(tree: ast.AST) -> list[ast.AST]:
    """What a failing check shows: an assert's message, what is raised, what pytest.fail is given."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            found.append(node.msg)
        elif isinstance(node, ast.Raise) and node.exc is not None:
            found.append(node.exc)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.fail":
            found.append(node)
    return found


def unguarded_processes(files: dict[str, str]) -> list[str]:
    """'path:line what' for each process a failing test could hang on: a Popen used as a context manager (its
    exit waits with no timeout: ``with Popen(...)``, ``with p``, ``enter_context``) and a failure message
    that reads a pipe of a process that may still run."""
    found = []
    for name, text in files.items():
        tree = ast.parse(text, name)
        bound, calls = _popen_calls(tree, _popen_names(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    managed = item.context_expr
                    if managed in calls:
                        found.append(
                            f"{name}:{managed.lineno} with {ast.unparse(managed.func)}(...): use processes.started"
                        )
                    elif isinstance(managed, ast.Name) and managed.id in bound:
                        found.append(f"{name}:{managed.lineno} with {managed.id}: use processes.started")
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("enter_context")
                and any(argument in calls for argument in node.args)
            ):
                found.append(f"{name}:{node.lineno} enter_context(Popen(...)): use processes.started")
        for message in _failure_messages(tree):
            if _reads_a_pipe(message):
                found.append(f"{name}:{message.lineno} a pipe read in a failure message: use processes.said")
    return sorted(found, key=lambda entry: (entry.split(":")[0], int(entry.split(":")[1].split()[0])))


def test_no_function_is_longer_than_sixty_lines():
    found = long_functions(sources(PACKAGE))
    assert not found, "split these functions:\n" + "\n".join(found)


def test_a_long_function_is_named_with_its_length():
    body = "".join(f"    x{n} = {n}\n" for n in range(MAX_LINES))
    files = {
        "liaison/sample.py": f"def fits():\n{body[: body.index('    x58')]}    return 0\n\n\ndef too_long():\n{body}",
        "liaison/other.py": f"class Page:\n    def render(self):\n{body.replace('    ', '        ')}",
    }
    assert long_functions(files) == [
        "liaison/sample.py:63 too_long (61 lines)",
        "liaison/other.py:2 render (61 lines)",
    ]


def test_every_subprocess_in_the_tests_has_a_timeout():
    found = untimed_subprocess_calls(sources(TESTS))
    assert not found, "give these a timeout=:\n" + "\n".join(found)


SAMPLE = """\
import subprocess
import subprocess as sp
from subprocess import check_output as out, run

subprocess.run(["git", "status"], check=True)
sp.check_call(["git", "fetch"])
out(["git", "log"])
run(["git", "gc"], timeout=60)
process = subprocess.Popen(["git", "push"])
process.wait()
process.wait(5)
process.communicate(b"")
process.communicate(b"", 5)
subprocess.run(["true"], **{"timeout": 5})
process.wait(timeout=None)
os.system("git gc")
"""


def test_a_subprocess_without_a_timeout_is_named():
    assert untimed_subprocess_calls({"tests/test_sample.py": SAMPLE}) == [
        "tests/test_sample.py:5 subprocess.run(...)",
        "tests/test_sample.py:6 sp.check_call(...)",
        "tests/test_sample.py:7 out(...)",
        "tests/test_sample.py:10 process.wait(...)",
        "tests/test_sample.py:12 process.communicate(...)",
        "tests/test_sample.py:15 process.wait(...)",
        "tests/test_sample.py:16 os.system(...)",
    ]


# Where a run's temporary files go (tests/conftest.py) ------------------------------------------------------------

PROBE = """\
import os, tempfile

def test_where(tmp_path):
    print("TEMPDIR", tempfile.gettempdir(), "TMP_PATH", tmp_path, "TMPDIR", os.environ.get("TMPDIR"))
"""


def temporary_folders(tmp_path: Path, env: dict[str, str], *options: str) -> dict[str, str]:
    """The temporary folder, tmp_path and TMPDIR a pytest run with this suite's conftest gives its tests."""
    import subprocess
    import sys

    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "conftest", "-p", "no:cacheprovider", *options, "."],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    words = next(line for line in done.stdout.splitlines() if line.startswith("TEMPDIR")).split()
    return dict(zip(words[::2], words[1::2], strict=True))


def test_a_run_s_temporary_files_go_to_memory_when_the_system_s_are_on_disk_and_a_tmpdir_given_is_kept(tmp_path):
    import os

    import conftest

    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    found = temporary_folders(tmp_path, env)
    shm, system = Path("/dev/shm"), Path("/tmp")
    ours = Path(f"/dev/shm/liaison-tests-{os.getuid()}")
    usable = (
        conftest._filesystem_type(shm) == "tmpfs"
        and not os.statvfs(shm).f_flag & os.ST_NOEXEC
        and os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize > conftest.IN_MEMORY_FREE + (2 << 30)  # meanwhile
        and (
            not os.path.lexists(ours) or (ours.is_dir() and not ours.is_symlink() and ours.stat().st_uid == os.getuid())
        )
    )
    if conftest._filesystem_type(system) != "tmpfs" and usable:
        memory = f"/dev/shm/liaison-tests-{os.getuid()}"
        assert found == {**found, "TEMPDIR": memory, "TMPDIR": memory}
        assert found["TMP_PATH"].startswith(memory + "/pytest-of-")
    elif conftest._filesystem_type(system) != "tmpfs" and conftest._filesystem_type(shm) == "tmpfs":
        pass  # /dev/shm nearly full, noexec or its folder taken here: either answer is right
    else:
        assert found["TMPDIR"] == "None" and found["TEMPDIR"] == "/tmp"

    given = tmp_path / "given"
    given.mkdir()
    found = temporary_folders(tmp_path, {**env, "TMPDIR": str(given)})
    assert found["TEMPDIR"] == found["TMPDIR"] == str(given) and found["TMP_PATH"].startswith(f"{given}/pytest-of-")
    found = temporary_folders(tmp_path, env, "--basetemp", str(tmp_path / "base"))
    assert found["TMPDIR"] == "None" and found["TMP_PATH"] == str(tmp_path / "base" / "test_where0")


def test_the_file_system_of_a_path_is_its_nearest_mount_s():
    import conftest

    assert conftest._filesystem_type(Path("/proc/self/status")) == "proc"
    assert conftest._filesystem_type(Path("/")) not in ("", "proc")


def test_no_test_can_hang_on_a_process_it_started():
    found = unguarded_processes(sources(TESTS))
    assert not found, "these can wait for ever on a process that still runs:\n" + "\n".join(found)


HANGING = """\
import subprocess
from subprocess import Popen as P

with subprocess.Popen(["sleep", "60"]) as process:
    assert process.poll() is None, process.stderr.read()
with P(["sleep", "60"], stdout=subprocess.PIPE) as process, open("x") as f:
    assert False, f"{process.stdout.readline().decode()}"
with started(["sleep", "60"]) as process:
    assert process.poll() is None, said(process)
assert done.returncode == 0, done.stderr
child = subprocess.Popen(["sleep", "60"], stderr=subprocess.PIPE)
with child:
    raise AssertionError(child.stderr.read())
stack.enter_context(subprocess.Popen(["sleep", "60"]))
pytest.fail(child.stderr.read())
"""


def test_a_process_a_test_could_hang_on_is_named():
    assert unguarded_processes({"tests/test_sample.py": HANGING}) == [
        "tests/test_sample.py:4 with subprocess.Popen(...): use processes.started",
        "tests/test_sample.py:5 a pipe read in a failure message: use processes.said",
        "tests/test_sample.py:6 with P(...): use processes.started",
        "tests/test_sample.py:7 a pipe read in a failure message: use processes.said",
        "tests/test_sample.py:12 with child: use processes.started",
        "tests/test_sample.py:13 a pipe read in a failure message: use processes.said",
        "tests/test_sample.py:14 enter_context(Popen(...)): use processes.started",
        "tests/test_sample.py:15 a pipe read in a failure message: use processes.said",
    ]


def test_old_runs_are_deleted_and_a_killed_run_s_an_hour_on_never_a_running_one(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from conftest import _CLEAN_UP

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=60)  # its number names no process now: a run killed outright
    now = time.time()
    hours_ago = now - 2 * 3600
    runs = {  # number: (what the lock holds, when it was taken), or None for no lock
        1: (str(gone.pid), hours_ago),  # killed hours ago: deleted
        2: (str(os.getpid()), hours_ago),  # running for hours: kept
        3: ("fifo", hours_ago),  # a FIFO is not read (it would block): pytest decides by its age
        4: (str(gone.pid), now),  # killed minutes ago (or its pid is in another namespace): kept for now
        5: ("99999999999999999999", hours_ago),  # no pid at all: pytest decides by its age
        6: (str(gone.pid), hours_ago),  # killed, but one of the last two: kept
        7: None,
    }
    for number, lock in runs.items():
        run = tmp_path / f"pytest-{number}"
        (run / "test_x0").mkdir(parents=True)
        if lock is not None:
            if lock[0] == "fifo":
                os.mkfifo(run / ".lock")
            else:
                (run / ".lock").write_text(lock[0], encoding="ascii")
            os.utime(run / ".lock", (lock[1], lock[1]))
    three_days_ago = now - 3 * 24 * 3600
    command = [sys.executable, "-c", _CLEAN_UP, str(tmp_path), "2", str(three_days_ago)]
    subprocess.run(command, check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pytest-2",
        "pytest-3",
        "pytest-4",
        "pytest-5",
        "pytest-6",
        "pytest-7",
    ]
