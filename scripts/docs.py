"""Write the generated parts of docs/development.md: the command reference and the package's layout.

    python scripts/docs.py            rewrite the marked regions (make docs)
    python scripts/docs.py --check    exit 1, naming the regions, when a region differs from what it should be

The command reference is every command's own ``--help`` (the program's
help is the one source of what a command takes); the layout is one row a
module, from the first paragraph of its docstring, in the order of the layers
contract in pyproject.toml. A region lies between ``<!-- BEGIN GENERATED: name -->``
and ``<!-- END GENERATED: name -->``; everything outside is written by hand.
tests/test_docs.py fails when a region is out of date.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "development.md"
PACKAGE = ROOT / "liaison"
REGION = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)", re.S
)
HELP_WIDTH = 100  # the width the CLI wraps its help at (max_content_width)


def command_reference() -> str:
    """Every command's ``--help``, as ``python build.py`` prints it, the program's own first."""
    sys.path.insert(0, str(ROOT))  # this checkout's liaison, whatever is installed
    from click.testing import CliRunner

    from liaison.cli import cli
    from liaison.cli.shared import PROGRAM

    parts = []
    for name in ["", *sorted(cli.commands)]:
        args = [name, "--help"] if name else ["--help"]
        done = CliRunner().invoke(cli, args, prog_name=PROGRAM, terminal_width=HELP_WIDTH)
        if done.exit_code != 0:
            raise SystemExit(f"{PROGRAM} {' '.join(args)} failed:\n{done.output}")
        title = f"{PROGRAM} {name}".strip()
        parts.append(f"#### `{title}`\n\n```text\n{done.output.rstrip()}\n```\n")
    return "\n".join(parts)


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not docstring:
        raise SystemExit(f"{path.relative_to(ROOT)} has no docstring: say in one line what the module does.")
    text = " ".join(docstring.split("\n\n")[0].split())
    return re.sub(r":\w+:`", "`", text).replace("``", "`")  # reStructuredText's literals and roles as Markdown


def layer_order() -> list[str]:
    """The layers' packages bottom-up (core first), siblings in the contract's order."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    names = [name.strip() for layer in reversed(contract["layers"]) for name in layer.split("|")]
    return [name.removeprefix("liaison.") for name in names]


def layout_table() -> str:
    """One row a package and a module of ``liaison/``, layer by layer from the bottom."""
    rows = ["| module | what it does |", "| --- | --- |", f"| `liaison/` | {summary(PACKAGE / '__init__.py')} |"]
    listed = {PACKAGE / "__init__.py"}
    for layer in layer_order():
        folder = PACKAGE / layer
        for path in sorted(folder.rglob("*.py"), key=lambda p: (p.parent.relative_to(folder).parts, p.name)):
            relative = path.relative_to(ROOT).as_posix()
            shown = relative.removesuffix("__init__.py") if path.name == "__init__.py" else relative
            rows.append(f"| `{shown}` | {summary(path).replace('|', chr(92) + '|')} |")
            listed.add(path)
    outside = sorted(p.relative_to(ROOT).as_posix() for p in set(PACKAGE.rglob("*.py")) - listed)
    if outside:
        raise SystemExit(f"{outside} belong to no layer of pyproject.toml's contract: move them into one.")
    return "\n".join(rows) + "\n"


GENERATORS = {"commands": command_reference, "layout": layout_table}


def generated(text: str) -> str:
    """``text`` with every marked region rewritten; a region with no generator is an error."""

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise SystemExit(f"{DOC.relative_to(ROOT)}: no generator for the region {name!r}")
        return f"{match.group(1)}{GENERATORS[name]()}{match.group(4)}"

    found = {m.group("name") for m in REGION.finditer(text)}
    missing = sorted(set(GENERATORS) - found)
    if missing:
        raise SystemExit(f"{DOC.relative_to(ROOT)} lacks the regions {missing}: add their BEGIN/END GENERATED marks.")
    return REGION.sub(fill, text)


def stale_regions(text: str) -> list[str]:
    """The names of the regions whose text differs from what would be generated."""
    new = {m.group("name"): m.group("body") for m in REGION.finditer(generated(text))}
    return [m.group("name") for m in REGION.finditer(text) if m.group("body") != new[m.group("name")]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the regions are up to date")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        stale = stale_regions(text)
        for name in stale:
            print(f"{DOC.relative_to(ROOT)}: the region {name!r} is out of date; run make docs", file=sys.stderr)
        return 1 if stale else 0
    new = generated(text)
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"rewrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
