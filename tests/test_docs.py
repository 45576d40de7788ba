"""The docs say what the code does: every command has help, the README and the docs name only what exists,
and the generated parts of docs/development.md (command reference, layout) are up to date."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess

import click
import pytest
from click.testing import CliRunner
from conftest import PROJECT

from liaison.cli import cli
from liaison.cli.shared import PROGRAM

COMMANDS = sorted(cli.commands)
# The text a developer or a user reads, outside the code: where names drift.
DOCS = sorted(
    [
        PROJECT / "README.md",
        PROJECT / "BENCHMARKS.md",
        PROJECT / "pyproject.toml",
        PROJECT / "Makefile",
        PROJECT / ".gitlab-ci.yml",
        *(PROJECT / "docs").glob("*.md"),
        *(PROJECT / "bench").glob("*.py"),
        *(PROJECT / "scripts").glob("*"),
    ]
)
DOTTED = re.compile(r"(?<![\w/.-])liaison(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w/.-])liaison/[\w/.]*\w")


def docs_script():
    spec = importlib.util.spec_from_file_location("docs_script", PROJECT / "scripts" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_chinese_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"], prog_name=PROGRAM)
    assert result.exit_code == 0
    assert "示例" in result.output and f"{PROGRAM} {name}" in result.output.split("示例", 1)[1]


@pytest.mark.parametrize("name", COMMANDS)
def test_readme_documents_the_command(name):
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert f"{PROGRAM} {name}" in readme


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    ci = (PROJECT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make test" in ci


def test_the_generated_parts_of_the_development_guide_are_up_to_date():
    """Run ``make docs`` (scripts/docs.py) when this fails: a command's help or a module's docstring changed."""
    text = (PROJECT / "docs" / "development.md").read_text(encoding="utf-8")
    assert docs_script().stale_regions(text) == [], "run make docs"


def test_the_reference_has_every_command_and_the_layout_every_module():
    text = (PROJECT / "docs" / "development.md").read_text(encoding="utf-8")
    regions = {m.group("name"): m.group("body") for m in docs_script().REGION.finditer(text)}
    for name in COMMANDS:
        assert f"#### `{PROGRAM} {name}`" in regions["commands"] and f"#### {name}\n" in text  # help, and notes
    modules = [p for p in (PROJECT / "liaison").rglob("*.py") if p.name != "__init__.py"]
    assert modules and all(f"`{p.relative_to(PROJECT).as_posix()}`" in regions["layout"] for p in modules)


def test_a_changed_help_text_makes_the_reference_stale(monkeypatch):
    docs = docs_script()
    text = (PROJECT / "docs" / "development.md").read_text(encoding="utf-8")
    monkeypatch.setattr(cli.commands["review"], "help", "另一段说明。")
    assert docs.stale_regions(text) == ["commands"]


def test_make_docs_writes_the_regions_and_check_agrees():
    done = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "python"), "scripts/docs.py", "--check"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "docs:" in (PROJECT / "Makefile").read_text(encoding="utf-8")


def _mentions(pattern: re.Pattern) -> list[tuple[str, str]]:
    return sorted({(p.relative_to(PROJECT).as_posix(), m) for p in DOCS for m in pattern.findall(p.read_text("utf-8"))})


def test_every_module_and_name_the_docs_mention_exists():
    missing = []
    for where, dotted in _mentions(DOTTED):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                found = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        if found is None:
            missing.append(f"{where}: {dotted}")
    for where, path in _mentions(PATH):
        if not (PROJECT / path).exists():
            missing.append(f"{where}: {path}")
    assert missing == []


def test_no_doc_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True, timeout=60).stdout
    machine = re.compile(r"(?<![\w$.{}-])/(?:work|root|home)/")
    found = []
    for name in tracked.split():
        try:
            text = (PROJECT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found += [f"{name}: {line.strip()}" for line in text.splitlines() if machine.search(line)]
    assert found == []


def _command_lines(text: str) -> list[str]:
    """Each ``python build.py …`` invocation in a text, up to the end of its code (a backtick, a comment, a line)."""
    return [m.strip() for m in re.findall(rf"{re.escape(PROGRAM)}((?: [^`#\n|]*)?)", text)]


def test_every_command_line_in_the_docs_names_a_real_command_and_real_options():
    wrong = []
    for page in [PROJECT / "README.md", *(PROJECT / "docs").glob("*.md")]:
        for line in _command_lines(page.read_text(encoding="utf-8")):
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            if not words or words[0].startswith(("-", "[", "<")) or words[0] == "COMMAND":
                continue  # the program's own options, or a placeholder for any command
            command = cli.commands.get(words[0])
            if command is None:
                wrong.append(f"{page.name}: {PROGRAM} {line} (no such command)")
                continue
            known = {name for param in command.params if isinstance(param, click.Option) for name in param.opts}
            known |= {"-h", "--help"}
            for word in words[1:]:
                option = word.split("=", 1)[0]
                if option.startswith("--") and option not in known:
                    wrong.append(f"{page.name}: {PROGRAM} {line} ({option} is no option of {words[0]})")
    assert wrong == []
