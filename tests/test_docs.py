"""Every command has help, and the README documents every command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import PROJECT

from liaison.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_chinese_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "示例" in result.output and "python build.py" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_readme_documents_the_command(name):
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert f"python build.py {name}" in readme


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    ci = (PROJECT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make test" in ci
