"""History, audit log, closed semesters and reproducible builds, against a real repository history.

The history is built as GitLab would leave it: record branches merged into
main with merge commits saying ``See merge request school/liaison!N``,
merged by the office; plus a direct push, a rename (a corrected date), an edit
by someone who is not the record's leader, a deletion, and changes to a closed
semester with and without a ``Reopen-Reason`` trailer.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT, SCHEMA, built_copy, fill_repo, record_data
from openpyxl import load_workbook

from liaison.core.project import open_project
from liaison.core.records import dump_record, record_path
from liaison.core.semesters import ALL_DATES, resolve_range
from liaison.git.audit import audit_rows
from liaison.git.closed import check_with_history as check_repository
from liaison.git.closed import closed_semesters
from liaison.git.history.read import read_history
from liaison.outputs.export import export_range
from liaison.outputs.site import build_site

LEADER = ("赵某", "zhao@example.edu.cn")
OFFICE = ("王老师", "wang@example.edu.cn")
OTHER = ("李四", "lisi@example.edu.cn")
A = "2025-02-25-T1-aaaaaa"  # added through MR !12, later moved to 2025-02-26 (MR !13)
A2 = "2025-02-26-T1-aaaaaa"
B = "2025-02-27-T1-bbbbbb"  # edited by 李四 (MR !14), then pushed directly to main, then deleted (MR !15)
C = "2024-11-20-T1-cccccc"  # in the semester closed on 2025-02-20: changed without, then with, a trailer


def run(root: Path, *args: str, who=OFFICE, committer=None, when: str | None = None) -> str:
    committer = committer or who
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(root),
    }
    if when:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def put(root: Path, record_id: str, **fields) -> None:
    data = record_data(date=datetime.date.fromisoformat(record_id[:10]), **fields)
    path = root / record_path(record_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_record(data, SCHEMA), encoding="utf-8")


def via_merge_request(
    root: Path, branch: str, number: int, change, who=LEADER, when="2025-03-01T10:00:00+08:00", message="新增联系记录"
) -> None:
    """A branch with one commit by ``who``, merged into main by the office with GitLab's merge message."""
    run(root, "checkout", "-q", "-b", branch, "main")
    change()
    run(root, "add", "-A")
    run(root, "commit", "-q", "-m", message, who=who, committer=("liaison 表单服务", "liaison@localhost"), when=when)
    run(root, "checkout", "-q", "main")
    merged = f"Merge branch '{branch}' into 'main'\n\n{message}\n\nSee merge request school/liaison!{number}"
    run(root, "merge", "-q", "--no-ff", "-m", merged, branch, when=when.replace("10:00", "11:00"))


@pytest.fixture
def audited(tmp_path_factory, tmp_path):
    """The history above (fixed authors and dates: the same commits wherever it is made), made once per run and
    copied into each test's repository (``built_copy``)."""
    return built_copy(tmp_path_factory, "audited", build_audited, tmp_path / "repo")


def build_audited(repo: Path) -> None:
    fill_repo(repo)
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    (repo / ".gitignore").write_text(".liaison/\n.cache/\n", encoding="utf-8")
    put(repo, C, content="闭学期前的记录")
    run(repo, "init", "-q", "-b", "main")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "初始", who=("测试", "test@example.edu.cn"), when="2025-01-10T09:00:00+08:00")

    via_merge_request(repo, f"record/{A}", 12, lambda: put(repo, A, content="第一次"), when="2025-03-01T10:00:00+08:00")

    def move():
        (repo / record_path(A)).unlink()
        put(repo, A2, content="第一次")

    via_merge_request(repo, f"record/{A}-fix", 13, move, when="2025-03-02T10:00:00+08:00", message="更正联系时间")
    via_merge_request(
        repo, f"record/{B}", 14, lambda: put(repo, B, content="别人代填"), who=OTHER, when="2025-03-03T10:00:00+08:00"
    )
    put(repo, B, content="别人代填", remarks="直接改")
    run(repo, "commit", "-q", "-am", "直接修改", who=OFFICE, when="2025-03-04T10:00:00+08:00")
    via_merge_request(
        repo,
        f"delete-{B}",
        15,
        lambda: (repo / record_path(B)).unlink(),
        when="2025-03-05T10:00:00+08:00",
        message="删除重复记录",
        who=OFFICE,
    )
    config = (repo / "config.yaml").read_text(encoding="utf-8") + "closed_semesters:\n  2024-2025-1: 2025-02-20\n"
    (repo / "config.yaml").write_text(config, encoding="utf-8")
    run(repo, "commit", "-q", "-am", "关闭 2024-2025-1", when="2025-02-21T09:00:00+08:00")
    via_merge_request(
        repo,
        f"record/{C}-a",
        16,
        lambda: put(repo, C, content="闭学期后改，没写理由"),
        when="2025-03-06T10:00:00+08:00",
        message="修改",
    )
    via_merge_request(
        repo,
        f"record/{C}-b",
        17,
        lambda: put(repo, C, content="闭学期后改，写了理由"),
        when="2025-03-07T10:00:00+08:00",
        message="修改\n\nReopen-Reason: 学生联系人姓名写错，经思政科同意更正",
    )


def test_history_of_a_moved_record_follows_the_rename(audited):
    changes = read_history(audited, SCHEMA).of(A2)
    assert [c.kind for c in changes] == ["新增", "移动"]
    assert read_history(audited, SCHEMA).of(record_path(A)) == changes  # found by its old path too
    added, moved = changes
    assert added.merge.reference == "school/liaison!12" and added.merge.merged_by == "王老师"
    assert added.commit.author_name == "赵某" and added.commit.committer_name == "liaison 表单服务"
    assert moved.merge.reference == "school/liaison!13"
    assert (moved.old_path, moved.new_path) == (record_path(A), record_path(A2))
    assert [(f.label, f.old, f.new) for f in moved.fields] == [
        ("联系时间", datetime.date(2025, 2, 25), datetime.date(2025, 2, 26))
    ]


def test_history_command_table_and_json(audited, run_cli):
    table = run_cli(audited, "history", B)
    assert table.exit_code == 0, table.output
    assert "新增" in table.output and "删除" in table.output and "合并请求 school/liaison!14" in table.output
    assert "备注：（空） → 直接改" in table.output and "直接提交到主分支，未经合并请求" in table.output
    rows = json.loads(run_cli(audited, "history", B, "--format", "json").output)
    assert [r["kind"] for r in rows] == ["新增", "修改", "删除"]
    assert [r["merge_request"] for r in rows] == ["school/liaison!14", None, "school/liaison!15"]
    assert rows[1]["direct_to_main"] is True and rows[1]["fields"][0]["label"] == "备注"
    missing = run_cli(audited, "history", "2024-01-01-T1-ffffff")
    assert missing.exit_code != 0 and "找不到记录" in missing.output


@pytest.fixture
def run_cli(run):
    return run


def flags_by_commit_subject(rows) -> dict[str, tuple]:
    return {(row.record_id, row.subject.split("\n")[0]): row.flags for row in rows}


def test_audit_rows_and_flags(audited):
    project = open_project(audited)
    history = read_history(audited, SCHEMA)
    closed = closed_semesters(project, history)
    rows = audit_rows(history, project.roster, project.config.calendar, closed, ALL_DATES)
    assert [row.when for row in rows] == sorted(row.when for row in rows)
    got = flags_by_commit_subject(rows)
    not_zhao = "不是该记录的领导本人（赵某，工号 T1）"
    assert got[(C, "初始")] == (f"作者（测试 <test@example.edu.cn>）{not_zhao}", "未经合并请求直接进入主分支")
    assert got[(A, "新增联系记录")] == ()
    assert got[(A2, "更正联系时间")] == ()
    assert got[(B, "新增联系记录")] == (f"作者（李四 <lisi@example.edu.cn>）{not_zhao}",)
    assert got[(B, "直接修改")] == (f"作者（王老师 <wang@example.edu.cn>）{not_zhao}", "未经合并请求直接进入主分支")
    assert got[(B, "删除重复记录")] == (f"作者（王老师 <wang@example.edu.cn>）{not_zhao}", "记录被删除")
    assert {row.source for row in rows if row.merge_request} == {"合并请求"}
    assert {row.source for row in rows if not row.merge_request} == {"两者都不是"}
    closed_changes = [row.flags for row in rows if row.record_id == C and row.kind == "修改"]
    assert closed_changes == [
        ("修改已关闭的2024-2025学年第一学期，且没有重开理由",),
        ("修改已关闭的2024-2025学年第一学期（重开理由：学生联系人姓名写错，经思政科同意更正）",),
    ]
    by_kind = {(row.record_id, row.kind): row for row in rows}
    assert by_kind[(A2, "移动")].merge_request == "school/liaison!13" and by_kind[(A2, "移动")].merged_by == "王老师"
    assert by_kind[(B, "删除")].leader == "赵某"


def test_audit_command_range_and_formats(audited, run_cli, tmp_path):
    out = tmp_path / "audit.xlsx"
    done = run_cli(audited, "audit", "--from", "2025-03-03", "--to", "2025-03-05", "--by-merge-date", "--out", str(out))
    assert done.exit_code == 0, done.output
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert [r[1] for r in rows] == ["新增", "修改", "删除"]  # what entered main from 3 March to 5 March only
    assert all(r[11] for r in rows)  # every one of these deserves a look
    listed = json.loads(run_cli(audited, "audit", "--format", "json").stdout)
    assert len(listed) == len(read_history(audited, SCHEMA).changes)
    csv_text = run_cli(audited, "audit", "--format", "csv").stdout
    assert csv_text.splitlines()[0].lstrip("\ufeff").startswith("时间,操作,记录编号")


def test_check_fails_a_closed_semester_change_without_the_trailer(audited):
    project = open_project(audited)
    problems = check_repository(project).problems
    closed = [p for p in problems if "已关闭" in p.message]
    assert len(closed) == 1 and closed[0].path == record_path(C) and "Reopen-Reason" in closed[0].message
    before_trailer = run(audited, "rev-parse", "HEAD~1")  # the merge of MR !16
    assert [p for p in check_repository(project, since=before_trailer).problems if "已关闭" in p.message] == []


def test_a_reopened_record_still_reaches_the_outputs(audited):
    result = check_repository(open_project(audited))
    assert not result.ok  # check fails for the missing reason...
    assert C in {r.id for r in result.clean_records()}  # ...but the record's content is fine data


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_clones_build_the_same_bytes_on_different_days(audited, tmp_path, monkeypatch):
    outputs = []
    for day in ("2026-12-01", "2026-12-02"):
        monkeypatch.setenv("LIAISON_TODAY", day)
        clone = tmp_path / f"clone-{day}"
        subprocess.run(["git", "clone", "-q", str(audited), str(clone)], check=True, timeout=60)
        project = open_project(clone)
        build_site(project, clone / "public", tmp_path / f"cache-{day}")
        records = check_repository(project).clean_records()
        export = export_range(
            project,
            records,
            resolve_range(project.config.calendar, "2024-2025-2"),
            clone / "export",
            tmp_path / f"cache-{day}",
        )
        outputs.append((tree_digest(clone / "public"), export.zip_path.read_bytes()))
    (site_a, zip_a), (site_b, zip_b) = outputs
    assert site_a == site_b and zip_a == zip_b
    assert any(path.endswith(".pdf") for path in site_a) and any(path.endswith(".xlsx") for path in site_a)


def test_the_record_page_shows_its_history(audited, tmp_path):
    build_site(open_project(audited), tmp_path / "public", tmp_path / "cache")
    page = (tmp_path / "public" / "records" / f"{A2}.html").read_text(encoding="utf-8")
    assert "王老师 审核通过（合并请求 !12）" in page and "改了日期" in page
    assert "（合并请求 !13）" in page


@pytest.mark.parametrize(
    "args", [["history", A2], ["audit", "--format", "csv"], ["build", "--out", "{tmp}/public", "--cache", "{tmp}/c"]]
)
def test_a_shallow_clone_is_refused_where_history_is_shown(audited, run, tmp_path, args):
    """A clone of the last few commits (GitLab CI's default GIT_DEPTH) would show its oldest commit as where every
    older record began, with that commit's time and author: history, the audit and the site's record pages say
    how to get the whole history instead."""
    clone = tmp_path / "shallow"
    run_git = subprocess.run
    run_git(["git", "clone", "-q", "--depth", "2", f"file://{audited}", str(clone)], check=True, timeout=60)
    done = run(clone, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert done.exit_code == 1, done.output
    assert "浅克隆" in done.output and "git fetch --unshallow" in done.output and "GIT_DEPTH" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "public").exists()
    run_git(["git", "-C", str(clone), "fetch", "-q", "--unshallow"], check=True, timeout=60)
    whole = run(clone, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert "浅克隆" not in whole.output and "Traceback" not in whole.output  # (build: 1 for C's missing Reopen-Reason)
    assert whole.exit_code == 0 or (args[0] == "build" and (tmp_path / "public" / "index.html").exists())


def test_the_jobs_that_show_history_clone_it_whole():
    import yaml

    jobs = yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for job in ("check", "review", "pages"):  # pages: every record page shows the record's history
        assert jobs[job].get("variables", {}).get("GIT_DEPTH") == "0", job


def test_audit_with_a_broken_record_still_writes_the_log_and_exits_1(audited, run):
    broken = next((audited / "records").rglob("*.yaml"))
    broken.write_text(broken.read_text(encoding="utf-8").replace("size: ", "size: 很多 #"), encoding="utf-8")
    result = run(audited, "audit", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)  # the log is still written
    assert "1 个记录文件存在问题" in result.stderr
