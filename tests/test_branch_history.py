"""``history`` and ``audit`` on a branch: what is not on main is said to be not merged yet, never 直接提交到主分支.

History is read from HEAD; on a branch its first-parent chain holds the
branch's own commits. Main is judged by ``origin/main`` when the clone has it
(a local ``main`` may be left behind), else by the local ``main``; a branch that
merged main into itself still says how main's changes entered main.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import built_copy, fill_repo
from test_audit import LEADER, put
from test_audit import run as git
from test_audit_trail import commit, merge

RECORD = "2025-03-02-T1-aaaaaa"


@pytest.fixture
def main_with_a_record(tmp_path_factory, tmp_path):
    """Main with one record merged from ``record/a``, at fixed times: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "branch-history-main", build_main_with_a_record, tmp_path / "repo")


def build_main_with_a_record(repo) -> None:
    fill_repo(repo)
    (repo / ".gitignore").write_text(".cache/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "初始", when="2025-03-01T09:00:00+08:00")
    git(repo, "checkout", "-q", "-b", "record/a")
    put(repo, RECORD, content="第一次提交")
    commit(repo, "新增联系记录", who=LEADER, when="2025-03-02T10:00:00+08:00")
    merge(repo, "record/a", 1, when="2025-03-02T11:00:00+08:00")


def history_of(run, root) -> tuple[str, list[dict]]:
    text = run(root, "history", RECORD)
    listed = run(root, "history", RECORD, "--format", "json")
    assert text.exit_code == 0 and listed.exit_code == 0, text.output
    return text.stdout, json.loads(listed.stdout)


def test_a_correction_on_a_branch_is_not_yet_on_main(main_with_a_record, run):
    root = main_with_a_record
    git(root, "checkout", "-q", "-b", "record/fix")
    put(root, RECORD, content="更正后的内容")
    commit(root, "修改联系记录", who=LEADER, when="2025-03-05T10:00:00+08:00")

    text, listed = history_of(run, root)
    blocks = text.split("━━ ")[1:]
    assert "合并请求 school/liaison!1" in blocks[0]
    assert "尚未合并到主分支" in blocks[1] and "直接提交到主分支" not in text
    assert [c["on_main"] for c in listed] == [True, False]
    assert listed[1]["direct_to_main"] is False and listed[1]["entered_mainline"] is None

    rows = json.loads(run(root, "audit", "--format", "json").stdout)
    fix = next(r for r in rows if r["说明"] == "修改联系记录")
    assert "尚未合并到主分支" in fix["提示"] and "直接进入主分支" not in fix["提示"] and fix["主分支提交"] == ""
    merged = json.loads(run(root, "audit", "--by-merge-date", "--format", "json").stdout)
    assert "修改联系记录" not in {r["说明"] for r in merged}  # it has not entered main: no merge date yet

    git(root, "checkout", "-q", "main")  # on main itself the same commit, merged directly, is a direct commit
    git(root, "merge", "-q", "--ff-only", "record/fix")
    text, listed = history_of(run, root)
    assert "直接提交到主分支，未经合并请求" in text.split("━━ ")[2] and listed[1]["on_main"] is True


def test_main_is_judged_by_the_server_s_copy_when_the_local_one_is_behind(main_with_a_record, run, tmp_path):
    server = tmp_path / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(main_with_a_record), str(server)], check=True, timeout=60)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(server), str(clone)], check=True, timeout=60)
    # On the server, a second merge request is merged; the clone fetches it but its own main stays behind.
    work = main_with_a_record
    git(work, "checkout", "-q", "-b", "record/b")
    put(work, RECORD, content="第二次")
    commit(work, "修改联系记录", who=LEADER, when="2025-03-06T10:00:00+08:00")
    merge(work, "record/b", 2, when="2025-03-06T11:00:00+08:00")
    git(work, "push", "-q", str(server), "main")
    git(clone, "fetch", "-q", "origin")
    git(clone, "checkout", "-q", "-b", "record/c", "origin/main")
    put(clone, RECORD, content="第三次")
    commit(clone, "修改联系记录", who=LEADER, when="2025-03-07T10:00:00+08:00")

    text, listed = history_of(run, clone)
    assert [c["merge_request"] for c in listed] == ["school/liaison!1", "school/liaison!2", None]
    assert [c["on_main"] for c in listed] == [True, True, False]
    assert "尚未合并到主分支" in text.split("━━ ")[3]


def test_a_branch_that_merged_main_says_how_main_s_changes_entered_main(main_with_a_record, run):
    root = main_with_a_record
    git(root, "checkout", "-q", "-b", "record/slow")
    put(root, "2025-03-03-T1-bbbbbb")
    commit(root, "新增联系记录", who=LEADER, when="2025-03-03T10:00:00+08:00")
    git(root, "checkout", "-q", "-b", "record/b", "main")
    put(root, RECORD, content="主分支上的更正")
    commit(root, "修改联系记录", who=LEADER, when="2025-03-04T10:00:00+08:00")
    merge(root, "record/b", 2, when="2025-03-04T11:00:00+08:00")
    git(root, "checkout", "-q", "record/slow")
    git(
        root,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'main' into record/slow",
        "main",
        when="2025-03-05T09:00:00+08:00",
    )

    text, listed = history_of(run, root)
    assert [c["merge_request"] for c in listed] == ["school/liaison!1", "school/liaison!2"]
    assert "合并请求 school/liaison!2，王老师 于 2025-03-04 11:00 合并" in text
    assert "record/slow" not in text and "未经合并请求" not in text


def test_without_a_main_branch_the_history_reads_as_before(repo, run):
    (repo / ".gitignore").write_text(".cache/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "trunk")
    put(repo, RECORD)
    commit(repo, "新增联系记录", who=LEADER)
    text, listed = history_of(run, repo)
    assert "直接提交到主分支，未经合并请求" in text and listed[0]["on_main"] is True
