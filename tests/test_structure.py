"""The package's shape: small functions (the layers are held by import-linter in ``make lint``/``make test``)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "liaison"
MAX_LINES = 60
# Functions allowed to be longer, each with the reason. Keep this list short.
LONGER = {}


def long_functions() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    found[f"{path.relative_to(PACKAGE.parent).as_posix()}:{node.name}"] = length
    return found


def test_no_function_is_longer_than_sixty_lines_without_a_reason():
    unexplained = {name: n for name, n in long_functions().items() if name not in LONGER}
    assert unexplained == {}


def test_the_list_of_longer_functions_has_no_stale_entries():
    assert sorted(set(LONGER) - set(long_functions())) == []
