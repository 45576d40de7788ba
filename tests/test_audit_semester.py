"""Auditing a semester means auditing its records: every change, whenever made, to the records dated in it.

The records of 2025-2026学年第一学期 here were all entered in March 2026 (as a
university does when it starts using the system after the term): filtering by
when a change reached main finds none of them. One record is moved out of the
semester by a date correction, one moved into it, one deleted; ``allowed_signers``
changes once before the records' changes and once after.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import PROJECT, built_copy, fill_repo
from openpyxl import load_workbook
from test_audit import put, via_merge_request
from test_audit import run as git

from liaison.core.records import record_path
from liaison.git.history.model import identity

IN = "2025-10-01-T1-aaaaaa"  # in the semester, edited later
OTHER = "2026-03-05-T1-bbbbbb"  # the next semester's
OUT, OUT_MOVED = "2025-11-01-T1-cccccc", "2026-03-02-T1-cccccc"  # moved out of the semester by a correction
INTO, INTO_MOVED = "2026-04-01-T1-dddddd", "2025-12-01-T1-dddddd"  # moved into it
GONE = "2025-09-09-T1-eeeeee"  # in it, deleted
AUTUMN, SPRING = "2025-2026-1", "2025-2026-2"


def move(root, old: str, new: str):
    def moving():
        (root / record_path(old)).unlink()
        put(root, new)

    return moving


@pytest.fixture
def term(tmp_path_factory, tmp_path):
    """The semester's history (fixed dates and authors), made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "audit-semester-term", build_term, tmp_path / "repo")


def build_term(repo) -> None:
    fill_repo(repo)
    shutil.copytree(PROJECT / "templates", repo / "templates")
    (repo / ".gitignore").write_text(".cache/\nexport/\n", encoding="utf-8")
    for record in (IN, OTHER, GONE):
        put(repo, record)
    (repo / "allowed_signers").write_text('liaison@localhost namespaces="git" ssh-ed25519 AAAAfirst\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "启用系统，补录上学期的记录", when="2026-03-01T09:00:00+08:00")
    steps = [
        (1, lambda: put(repo, OUT)),
        (2, move(repo, OUT, OUT_MOVED)),
        (3, lambda: put(repo, INTO)),
        (4, move(repo, INTO, INTO_MOVED)),
        (5, lambda: put(repo, IN, content="补充了谈话要点。")),
        (6, lambda: (repo / record_path(GONE)).unlink()),
    ]
    for number, change in steps:
        via_merge_request(repo, f"record/{number}", number, change, when=f"2026-03-{9 + number:02d}T10:00:00+08:00")
    (repo / "allowed_signers").write_text('liaison@localhost namespaces="git" ssh-ed25519 AAAAsecond\n')
    git(repo, "commit", "-q", "-am", "换表单的签名密钥", when="2026-03-20T09:00:00+08:00")


def audit(run, root, *args: str) -> tuple[list[dict], str]:
    done = run(root, "audit", "--format", "json", *args)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout), done.stderr


def kinds(rows: list[dict]) -> dict[str, list[str]]:
    """Each record (by its identity, 工号 + suffix) -> the kinds of its changes, in order."""
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(identity(row["记录编号"]), []).append(row["操作"])
    return found


def test_a_semester_s_audit_lists_every_change_to_its_records_whenever_made(term, run):
    rows, said = audit(run, term, "--semester", AUTUMN)
    assert kinds(rows) == {
        "T1-aaaaaa": ["新增", "修改"],
        "T1-cccccc": ["新增", "移动"],  # moved out: the semester's auditor sees it leave
        "T1-dddddd": ["新增", "移动"],  # moved in: its earlier change comes with it
        "T1-eeeeee": ["新增", "删除"],
        "allowed_signers": ["新增"],  # in force when these changes were judged; the later change is not
    }
    assert "按记录的联系时间" in said and "4 条记录的 9 次改动" in said
    moved = next(r for r in rows if r["操作"] == "移动" and r["记录编号"] == OUT_MOVED)
    assert moved["文件"] == f"{record_path(OUT)} → {record_path(OUT_MOVED)}"

    spring, _ = audit(run, term, "--semester", SPRING)
    assert kinds(spring) == {
        "T1-bbbbbb": ["新增"],
        "T1-cccccc": ["新增", "移动"],
        "T1-dddddd": ["新增", "移动"],
        "allowed_signers": ["新增"],
    }


def test_without_a_range_every_change_is_listed_even_of_a_file_that_names_no_date(term, run):
    (term / "records" / "2025" / "备忘.yaml").write_text("随手记的一行\n", encoding="utf-8")
    git(term, "add", "-A")
    git(term, "commit", "-q", "-m", "误提交的文件", when="2026-03-21T09:00:00+08:00")
    done = run(term, "audit", "--format", "json")
    rows = json.loads(done.stdout)
    assert len(rows) == 12 and rows[-1]["文件"] == "records/2025/备忘.yaml"
    assert [r["说明"] for r in rows if r["文件"] == "allowed_signers"] == [
        "启用系统，补录上学期的记录",
        "换表单的签名密钥",
    ]
    assert done.exit_code == 1 and "备忘.yaml" in done.stderr  # check names the file; its change is still listed


def test_by_merge_date_is_the_other_view_and_an_empty_one_says_what_to_ask(term, run, tmp_path):
    rows, said = audit(run, term, "--semester", AUTUMN, "--by-merge-date")
    assert rows == []
    assert "2025-2026学年第一学期（2025-08-01 至 2026-01-31）内没有改动进入主分支" in said
    assert "主分支上的改动在 2026-03-01 至 2026-03-20 之间进入" in said
    assert "联系时间在这段时间内的记录有 4 条：去掉 --by-merge-date" in said
    merged, _ = audit(run, term, "--semester", SPRING, "--by-merge-date")
    assert len(merged) == 11  # every change entered main in March 2026, the two to allowed_signers too

    # A day with no record dated on it, but a change that entered main then.
    rows, said = audit(run, term, "--from", "2026-03-10", "--to", "2026-03-10")
    assert rows == [] and "Git 历史中没有联系时间在2026-03-10至2026-03-10内的记录" in said
    assert "这段时间内进入主分支的改动有 1 次" in said and "加 --by-merge-date 查看" in said
    assert [
        r["记录编号"] for r in audit(run, term, "--from", "2026-03-10", "--to", "2026-03-10", "--by-merge-date")[0]
    ] == [OUT]

    # Nothing either way: where the records are, and how to see them all.
    out = tmp_path / "empty.xlsx"
    done = run(term, "audit", "--semester", "2030-2031-1", "--out", str(out))
    assert done.exit_code == 0
    note = "Git 历史中没有联系时间在2030-2031学年第一学期（2030-08-01 至 2031-01-31）内的记录"
    where = "（历史中记录的联系时间在 2025-09-09 至 2026-04-01 之间）"
    assert f"{note}{where}。不加 --semester/--from/--to 则列出全部 11 次改动。" in done.output
    subtitle = load_workbook(out).active["A2"].value
    assert "范围（按记录的联系时间）" in subtitle and note in subtitle  # the file says it too


def test_an_audit_of_a_folder_without_history_says_so(repo, run):
    put(repo, IN)
    done = run(repo, "audit", "--semester", AUTUMN, "--format", "csv")
    assert done.exit_code == 0 and "Git 历史中没有任何联系记录的改动" in done.stderr
    assert done.stdout.lstrip("\ufeff").startswith("时间,操作")  # the data stays data
