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
