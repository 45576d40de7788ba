"""Escape sequences from Git, file names and records never reach the terminal: the CLI shows them as ``\\x1b``.

A real repository whose commit carries, in its author's and committer's
names and its message, a screen clear (CSI), a window title (OSC), an OSC 8
hyperlink, a C1 CSI, a right-to-left override and a lone carriage return; a
record file named with them; a record holding them. Every command is driven
in-process, once as on a terminal (click keeps ANSI then) and once as into a
pipe (click strips CSI only, and nothing else).
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import json
import logging
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PROJECT, built_copy, built_once, fill_repo, git, record_data, write_record

from liaison.cli import cli
from liaison.core.logs import VisibleFormatter

CLEAR, TITLE = "\x1b[2J", "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\点这里\x1b]8;;\x1b\\"
HOSTILE = CLEAR + TITLE + LINK + "\x9b31m" + "\u202e" + "ok\rX"
IN_A_NAME = CLEAR + TITLE + "\x9b31m\u202eok\rX"  # a file name has no slash
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
GOOD_ID = "2024-09-17-T1-def456"
BAD_ID = "2024-09-15-T1-abc123"  # its 联系对象 carries the sequences


def obeyed(text: str) -> list[str]:
    """Characters a terminal would act on: control characters but tab and newline (CR only before LF), bidi controls."""
    found = []
    for i, char in enumerate(text):
        if char in "\t\n" or (char == "\r" and text[i + 1 : i + 2] == "\n"):
            continue
        if unicodedata.category(char) == "Cc" or char in BIDI:
            found.append(f"U+{ord(char):04X} at {i}")
    return found


@pytest.fixture
def hostile(tmp_path_factory, tmp_path) -> tuple[Path, str]:
    """(root, base commit): main holds a base commit and then one commit by a hostile author; made once per run
    and copied (``built_copy``)."""
    root = built_copy(tmp_path_factory, "terminal-hostile", build_hostile, tmp_path / "repo")
    return root, base_commit(built_once(tmp_path_factory, "terminal-hostile", build_hostile))


@functools.cache
def base_commit(template: Path) -> str:
    """The base commit of ``hostile``'s repository, the same in every copy: asked of git once."""
    return git(template, "rev-parse", "HEAD~1")


def build_hostile(repo: Path) -> None:
    fill_repo(repo)
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Mallory" + HOSTILE,
        "GIT_AUTHOR_EMAIL": "mallory@example.edu.cn",
        "GIT_COMMITTER_NAME": "Eve" + HOSTILE,
        "GIT_COMMITTER_EMAIL": "eve@example.edu.cn",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo),
    }

    def as_mallory(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip()

    as_mallory("init", "-q", "-b", "main")
    as_mallory("add", "-A")
    as_mallory("commit", "-q", "-m", "base")
    write_record(repo, record_data(date=datetime.date(2024, 9, 17)), suffix="def456")
    write_record(repo, record_data(date=datetime.date(2024, 9, 15), target="学生会" + HOSTILE), suffix="abc123")
    write_record(repo, record_data(date=datetime.date(2024, 9, 16)), path=f"records/2024/名单{IN_A_NAME}.yaml")
    not_utf8 = os.fsdecode(b"records/2024/\xff\xfe.yaml")  # a name in GBK, say: bytes Python cannot print as they are
    write_record(repo, record_data(date=datetime.date(2024, 9, 18), place="会议室"), path=not_utf8)
    as_mallory("add", "-A")
    as_mallory("commit", "-q", "-m", f"新增记录 {HOSTILE}\n\n说明 {HOSTILE}")


def invoke(root: Path, *args: str, tty: bool):
    """The command's result; ``.output`` is stdout and stderr as a terminal shows them, ``.stdout`` alone."""
    result = CliRunner().invoke(cli, ["--root", str(root), *args], prog_name="python build.py", color=tty)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


TTY = pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
WHOLE_RANGE = ("--from", "2000-01-01", "--to", "2099-12-31")


@TTY
def test_history_shows_the_author_and_message_s_escape_sequences_as_text(hostile, tty):
    root, _ = hostile
    out = invoke(root, "history", GOOD_ID, tty=tty).output
    assert obeyed(out) == []
    assert "Mallory\\x1b[2J\\x1b]0;pwned\\x07\\x1b]8;;http://evil.example/" in out
    assert "\\x9b31m\\u202eok\\x0dX" in out and "新增记录 \\x1b[2J" in out


@TTY
def test_history_as_json_keeps_every_value_and_shows_no_control_character(hostile, tty):
    root, _ = hostile
    out = invoke(root, "history", GOOD_ID, "--format", "json", tty=tty).output
    assert obeyed(out) == []
    change = json.loads(out)[0]
    assert change["author"] == "Mallory" + HOSTILE and change["committer"] == "Eve" + HOSTILE
    assert change["message"] == f"新增记录 {HOSTILE}\n\n说明 {HOSTILE}"


@TTY
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_audit_log_on_the_screen_shows_escapes(hostile, tty, fmt):
    root, _ = hostile
    result = invoke(root, "audit", *WHOLE_RANGE, "--format", fmt, tty=tty)
    out = result.stdout
    assert obeyed(result.output) == []
    if fmt == "json":
        authors = {row["作者"] for row in json.loads(out)}
        assert f"Mallory{HOSTILE} <mallory@example.edu.cn>" in authors
    else:
        rows = list(csv.DictReader(io.StringIO(out[out.index("时间,") :])))
        assert any(row["作者"].startswith("Mallory\\x1b[2J") for row in rows)


@TTY
def test_check_names_a_file_whose_name_carries_escape_sequences_without_obeying_them(hostile, tty):
    root, _ = hostile
    out = invoke(root, "check", tty=tty).output
    assert obeyed(out) == []
    assert "records/2024/名单\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eok\\x0dX.yaml: 文件名应为" in out
    assert "records/2024/\\xff\\xfe.yaml: 文件名应为" in out


@TTY
@pytest.mark.parametrize("fmt", ["table", "brief", "json", "csv"])
def test_query_lists_the_files_it_left_out_without_obeying_their_names(hostile, tty, fmt):
    root, _ = hostile
    out = invoke(root, "query", *WHOLE_RANGE, "--format", fmt, tty=tty).output
    assert obeyed(out) == []
    assert "  records/2024/名单\\x1b[2J\\x1b]0;pwned\\x07" in out and "2024-09-17" in out


@TTY
def test_review_on_the_terminal_shows_a_record_s_escape_sequences_as_text(hostile, tty, tmp_path):
    root, base = hostile
    out = invoke(root, "review", "--base", base, "--out", str(tmp_path / "review"), tty=tty).output
    assert obeyed(out) == []
    assert "学生会\\x1b[2J\\x1b]0;pwned\\x07" in out and "名单\\x1b[2J" in out


@TTY
@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_the_import_report_names_a_hostile_file_without_obeying_it(hostile, tty, fmt):
    root, _ = hostile
    sheet = root / f"汇总{CLEAR}{TITLE}.csv"
    sheet.write_text(f"领导姓名,工号,联系时间,联系对象\n赵某,T1,2024-09-01,学生{HOSTILE}\n", encoding="utf-8")
    result = invoke(root, "import", "--dry-run", "--format", fmt, str(sheet), tty=tty)
    assert obeyed(result.output) == []
    if fmt == "json":
        assert [item["file"] for item in json.loads(result.stdout)["files"]] == [str(sheet)]
    else:
        assert "汇总\\x1b[2J\\x1b]0;pwned\\x07.csv" in result.output


@TTY
def test_click_s_own_error_quotes_a_hostile_value_as_text(hostile, tty):
    root, _ = hostile
    out = invoke(root, "query", "--order", HOSTILE, tty=tty).output
    assert obeyed(out) == [] and "\\x1b[2J" in out


def test_a_logged_commit_message_steers_no_terminal():
    record = logging.LogRecord("liaison.submit", logging.WARNING, __file__, 1, "delivery: %s", (HOSTILE,), None)
    line = VisibleFormatter("%(levelname)s %(message)s").format(record)
    assert obeyed(line) == [] and line.startswith("WARNING delivery: \\x1b[2J\\x1b]0;pwned\\x07")


def test_every_command_prints_through_the_one_function():
    """liaison.cli.shared.say is the only way out: a new click.echo or print would bypass the escaping."""
    bypass = re.compile(r"\bclick\.(echo|secho)\(|\bprint\(|sys\.std(out|err)\.write")
    found = []
    for path in sorted((PROJECT / "liaison" / "cli").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if bypass.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.name}: {line.strip()}")
    assert found == ["shared.py: click.echo((visible_json if as_json else visible)(text), err=err, nl=nl)"]


def test_the_audit_workbook_holds_a_hostile_author_as_text(hostile, tmp_path):
    """A worksheet cannot hold control characters (openpyxl refused the whole audit): they are written as escapes."""
    from openpyxl import load_workbook

    root, _ = hostile
    out = tmp_path / "审计日志.xlsx"
    invoke(root, "audit", *WHOLE_RANGE, "--out", str(out), tty=False)
    cells = [c for row in load_workbook(out).active.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any(c.startswith("Mallory\\x1b[2J\\x1b]0;pwned\\x07") for c in cells)
    assert [c for c in cells if obeyed(c)] == []


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_audit_log_written_to_a_file_is_what_the_screen_shows(hostile, tmp_path, fmt):
    """``--out audit.csv`` and then ``cat audit.csv`` must not clear the screen or open a link: the file holds the
    bytes the screen shows (JSON keeps every value, written with \\u escapes)."""
    root, _ = hostile
    shown = invoke(root, "audit", *WHOLE_RANGE, "--format", fmt, tty=False).stdout
    out = tmp_path / f"审计日志.{fmt}"
    invoke(root, "audit", *WHOLE_RANGE, "--format", fmt, "--out", str(out), tty=False)
    written = out.read_bytes().decode("utf-8-sig")
    assert obeyed(written) == [] and written.replace("\r\n", "\n") == shown  # click's runner gives \n
