"""The audit trail against someone trying to evade it, each evasion built on a real repository.

Merge-commit edits, backdated commits pushed after a closed/ tag, commits made
before and merged after a closure, local merges pushed to main, namesakes,
malformed tags, date corrections that also rewrite the text, and the form's
SSH-signed commits (with a merge request that tries to vouch for its own key).
Each test asserts what the auditor sees in ``history``, ``audit`` (text,
JSON, CSV) and ``check``.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT, SCHEMA, built_copy, fill_repo, head_commit, record_data
from test_audit import OFFICE
from test_audit import run as git  # real git as a named person, at a given time

from liaison.core.project import open_project
from liaison.core.records import dump_record, record_path
from liaison.core.roster import Leader
from liaison.core.semesters import ALL_DATES
from liaison.git.audit import audit_rows, author_is_leader
from liaison.git.closed import check_with_history, closed_semesters
from liaison.git.history.model import Change, Commit, Signature
from liaison.git.history.read import read_history

ROSTER = """\
leaders:
  - {id: T1, name: 赵某, department: 学生工作处, position: 副处长, login: zhao, email: zhao@example.edu.cn, active: true}
  - {id: T2015004, name: 张伟, department: 学生工作处, position: 处长, login: zhangwei, email: zw1@example.edu.cn, active: true}
  - {id: T2016005, name: 张伟, department: 基础医学院, position: 党委书记, login: zhangwei2, email: zw2@example.edu.cn, active: true}
"""
ZHAO = ("赵某", "zhao@example.edu.cn")
FORM = ("liaison 表单服务", "liaison@localhost")
ZHANG_1 = ("张伟", "zw1@example.edu.cn")
ZHANG_2 = ("张伟", "zw2@example.edu.cn")
CLOSED_ID = "2024-11-20-T1-cccccc"  # in 2024-2025-1
TERM = "2024-2025学年第一学期"


def put(root: Path, record_id: str, **fields) -> str:
    leader = {"T2015004": ("张伟", "处长"), "T2016005": ("张伟", "党委书记")}.get(record_id.split("-")[3])
    extra = {"leader_id": record_id.split("-")[3]} if leader else {}
    if leader:
        extra.update(leader=leader[0], position=leader[1])
        extra["department"] = "学生工作处" if record_id.split("-")[3] == "T2015004" else "基础医学院"
    data = record_data(date=datetime.date.fromisoformat(record_id[:10]), **{**extra, **fields})
    path = root / record_path(record_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_record(data, SCHEMA), encoding="utf-8")
    return record_path(record_id)


def commit(root: Path, message: str, who=OFFICE, committer=None, when="2025-03-01T10:00:00+08:00", sign=None) -> str:
    git(root, "add", "-A")
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign}", "commit", "-S"] if sign else ["commit"]
    git(root, *signing, "-q", "--allow-empty", "-m", message, who=who, committer=committer, when=when)
    return head_commit(root)


def merge(root: Path, branch: str, number: int | None, when="2025-03-01T11:00:00+08:00", who=OFFICE) -> str:
    """Merge ``branch`` into main as GitLab does (``See merge request …!N``), or locally when ``number`` is None."""
    git(root, "checkout", "-q", "main")
    message = f"Merge branch '{branch}' into 'main'"
    if number is not None:
        message += f"\n\nSee merge request school/liaison!{number}"
    git(root, "merge", "-q", "--no-ff", "-m", message, branch, who=who, when=when)
    return head_commit(root)


@pytest.fixture
def trail(tmp_path_factory, tmp_path):
    """One record of the closed semester, committed at a fixed time: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "audit-trail", build_trail, tmp_path / "repo")


def build_trail(repo: Path) -> None:
    fill_repo(repo)
    (repo / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    put(repo, CLOSED_ID, content="闭学期前的记录")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "初始", who=ZHAO, when="2025-01-10T09:00:00+08:00")


def rows_of(root: Path) -> list:
    project = open_project(root)
    history = read_history(root, SCHEMA)
    closed = closed_semesters(project, history)
    return audit_rows(history, project.roster, project.config.calendar, closed, ALL_DATES)


def audit_outputs(run, root: Path) -> tuple[list[dict], list[dict]]:
    """The audit log as JSON and as CSV, both parsed."""
    listed = json.loads(run(root, "audit", "--format", "json").stdout)
    table = list(csv.DictReader(io.StringIO(run(root, "audit", "--format", "csv").stdout.lstrip("\ufeff"))))
    return listed, table


# 1. A change made inside a merge commit ------------------------------------


def test_a_change_made_inside_a_merge_commit_is_a_change_of_the_merge(trail, run):
    other = "2025-03-02-T1-aaaaaa"
    git(trail, "checkout", "-q", "-b", "record/a")
    put(trail, other, content="分支上的新记录")
    commit(trail, "新增联系记录", who=ZHAO, committer=FORM)
    git(trail, "checkout", "-q", "main")
    git(trail, "merge", "-q", "--no-ff", "--no-commit", "record/a", when="2025-03-01T11:00:00+08:00")
    put(trail, CLOSED_ID, content="趁合并时改掉")
    merge_sha = commit(trail, "Merge branch 'record/a' into 'main'\n\nSee merge request school/liaison!5")

    changes = read_history(trail, SCHEMA).of(CLOSED_ID)
    assert [c.kind for c in changes] == ["新增", "修改"]
    edit = changes[-1]
    assert edit.in_merge and edit.commit.sha == merge_sha and edit.commit.author_email == OFFICE[1]
    assert [(f.label, f.new) for f in edit.fields] == [("联系内容", "趁合并时改掉")]
    added = read_history(trail, SCHEMA).of(other)[0]
    assert not added.in_merge and added.merge.reference == "school/liaison!5"

    flag = f"在合并提交 {merge_sha[:12]} 中直接修改（不是某个提交带来的改动）"
    row = next(r for r in rows_of(trail) if r.commit == merge_sha[:12])
    assert row.kind == "修改" and flag in row.flags and row.author == "王老师 <wang@example.edu.cn>"
    shown = run(trail, "history", CLOSED_ID)
    assert "在合并提交中直接修改（合并请求 school/liaison!5" in shown.output
    assert json.loads(run(trail, "history", CLOSED_ID, "--format", "json").output)[-1]["made_in_merge"] is True
    listed, table = audit_outputs(run, trail)
    assert any(flag in r["提示"] for r in listed) and any(flag in r["提示"] for r in table)


# 2. and 3. Closed semesters on the mainline clock --------------------------


def test_a_backdated_commit_pushed_after_the_closing_tag_is_a_change_to_the_closed_semester(trail, run):
    closing = commit(trail, "导出 2024-2025-1", when="2025-02-20T09:00:00+08:00")
    git(trail, "tag", "closed/2024-2025-1", closing)
    put(trail, CLOSED_ID, content="偷偷改，日期写在关闭之前")
    sneaky = commit(trail, "修改", when="2025-01-15T09:00:00+08:00")  # committer date before the tag's

    message = f"这条记录属于已关闭的{TERM}（标签 closed/2024-2025-1），提交 {sneaky[:8]}"
    for since in (None, closing):
        problems = check_with_history(open_project(trail), since=since).process_problems
        assert [p.path for p in problems] == [record_path(CLOSED_ID)]
        assert problems[0].message.startswith(message) and "Reopen-Reason: 理由" in problems[0].message
    checked = run(trail, "check", "--changed-since", closing)
    assert checked.exit_code == 1 and f"{record_path(CLOSED_ID)}: {message}" in checked.output
    row = next(r for r in rows_of(trail) if r.commit == sneaky[:12])
    assert f"修改已关闭的{TERM}，且没有重开理由" in row.flags
    assert row.authored_at.date() == datetime.date(2025, 1, 15)  # what the commit claims, shown beside the truth

    put(trail, CLOSED_ID, content="经同意更正")
    commit(trail, "更正\n\nReopen-Reason: 思政科同意更正", when="2025-01-16T09:00:00+08:00")
    assert [p.path for p in check_with_history(open_project(trail)).process_problems] == [record_path(CLOSED_ID)]
    listed, table = audit_outputs(run, trail)
    reasons = [r["提示"].split("；")[-1] for r in listed if r["记录编号"] == CLOSED_ID][-2:]
    assert reasons == [f"修改已关闭的{TERM}，且没有重开理由", f"修改已关闭的{TERM}（重开理由：思政科同意更正）"]
    assert [r["提示"].split("；")[-1] for r in table if r["记录编号"] == CLOSED_ID][-2:] == reasons


@pytest.mark.parametrize("closed_by", ["tag", "config"])
def test_a_commit_made_before_the_closure_and_merged_after_it_is_flagged(trail, closed_by):
    git(trail, "checkout", "-q", "-b", "record/late")
    put(trail, CLOSED_ID, content="一月就改了，三月才合并")
    early = commit(trail, "修改", who=ZHAO, when="2025-01-15T09:00:00+08:00")
    git(trail, "checkout", "-q", "main")
    if closed_by == "tag":
        git(trail, "tag", "closed/2024-2025-1", commit(trail, "导出", when="2025-02-20T09:00:00+08:00"))
    else:
        with (trail / "config.yaml").open("a", encoding="utf-8") as config:
            config.write("closed_semesters:\n  2024-2025-1: 2025-02-20\n")
        commit(trail, "关闭 2024-2025-1", when="2025-02-21T09:00:00+08:00")
    merge(trail, "record/late", 7, when="2025-03-01T11:00:00+08:00")

    row = next(r for r in rows_of(trail) if r.commit == early[:12])
    assert row.merge_request == "school/liaison!7"
    assert row.flags == (f"修改已关闭的{TERM}，且没有重开理由",)
    problems = check_with_history(open_project(trail)).process_problems
    assert [p.path for p in problems] == [record_path(CLOSED_ID)] and early[:8] in problems[0].message


def test_removing_the_closure_from_config_in_the_same_merge_request_does_not_reopen_the_semester(trail, run):
    config = (trail / "config.yaml").read_text(encoding="utf-8")
    (trail / "config.yaml").write_text(config + "closed_semesters:\n  2024-2025-1: 2025-02-20\n", encoding="utf-8")
    base = commit(trail, "关闭 2024-2025-1", when="2025-02-21T09:00:00+08:00")
    git(trail, "checkout", "-q", "-b", "reopen-quietly")
    (trail / "config.yaml").write_text(config, encoding="utf-8")
    put(trail, CLOSED_ID, content="顺手删掉关闭设置再改")
    sneaky = commit(trail, "修改", who=ZHAO, when="2025-03-01T09:00:00+08:00")

    checked = run(trail, "check", "--changed-since", base)  # the merge request's pipeline
    assert checked.exit_code == 1 and f"提交 {sneaky[:8]}" in checked.output
    merge(trail, "reopen-quietly", 50)
    problems = check_with_history(open_project(trail)).process_problems
    assert [p.path for p in problems] == [record_path(CLOSED_ID)]
    assert "config.yaml 的 closed_semesters（2025-02-20）" in problems[0].message


def test_a_change_before_the_closing_commit_is_not_flagged(trail):
    put(trail, CLOSED_ID, content="关闭前的更正")
    commit(trail, "更正", when="2025-02-01T09:00:00+08:00")
    git(trail, "tag", "closed/2024-2025-1")  # closes at this commit: the change above is part of it
    assert check_with_history(open_project(trail)).process_problems == []
    assert all("已关闭" not in flag for row in rows_of(trail) for flag in row.flags)


# 3. A local merge pushed to main -------------------------------------------


def test_a_local_no_ff_merge_pushed_to_main_is_flagged_as_not_through_a_merge_request(trail, run):
    record = "2025-03-02-T1-bbbbbb"
    git(trail, "checkout", "-q", "-b", "record/local")
    put(trail, record, content="本地合并")
    commit(trail, "新增联系记录", who=ZHAO)
    merged = merge(trail, "record/local", None)

    row = next(r for r in rows_of(trail) if r.record_id == record)
    assert row.flags == (
        f"未经合并请求：在本地合并（合并提交 {merged[:12]}，说明中没有 See merge request）后推送到主分支",
    )
    assert row.source == "两者都不是" and row.merge_request == "" and row.entered == merged[:12]
    assert "本地合并后推送到主分支" in run(trail, "history", record).output
    listed, _ = audit_outputs(run, trail)
    assert next(r for r in listed if r["记录编号"] == record)["来源"] == "两者都不是"


def test_with_fast_forward_merges_the_audit_says_it_cannot_prove_a_merge_request(trail):
    with (trail / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("git:\n  merge_method: ff\n")
    put(trail, "2025-03-02-T1-cccccc", content="快进合并")
    commit(trail, "新增联系记录", who=ZHAO)
    project = open_project(trail)
    history = read_history(trail, SCHEMA)
    rows = audit_rows(
        history, project.roster, project.config.calendar, closed_semesters(project, history), ALL_DATES, "UTC", "ff"
    )
    assert rows[-1].flags == ("快进合并方式：Git 历史无法证明这次改动经过合并请求",)


def test_semi_linear_merges_of_a_branch_not_rebased_are_flagged(trail):
    with (trail / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("git:\n  merge_method: semi_linear\n")
    commit(trail, "设置合并方式")
    git(trail, "checkout", "-q", "-b", "record/stale")
    put(trail, "2025-03-02-T1-111111")
    commit(trail, "新增联系记录", who=ZHAO)
    git(trail, "checkout", "-q", "main")
    commit(trail, "主分支又前进了")
    stale = merge(trail, "record/stale", 40)
    git(trail, "checkout", "-q", "-b", "record/rebased")
    put(trail, "2025-03-03-T1-222222")
    commit(trail, "新增联系记录", who=ZHAO)
    merge(trail, "record/rebased", 41)

    project = open_project(trail)
    history = read_history(trail, SCHEMA)
    closed = closed_semesters(project, history)
    rows = audit_rows(history, project.roster, project.config.calendar, closed, ALL_DATES, "UTC", "semi_linear")
    flags = {r.record_id: r.flags for r in rows if r.record_id.endswith(("111111", "222222"))}
    assert flags == {
        "2025-03-02-T1-111111": (
            f"半线性合并方式下，合并请求 school/liaison!40 的分支没有先变基到主分支上（合并提交 {stale[:12]}）",
        ),
        "2025-03-03-T1-222222": (),
    }


# 4. Namesakes ---------------------------------------------------------------


def test_a_namesake_editing_the_other_namesake_s_record_is_flagged(trail, run):
    theirs = "2025-03-03-T2015004-dddddd"
    git(trail, "checkout", "-q", "-b", "record/namesake")
    put(trail, theirs, content="另一位张伟代填")
    commit(trail, "新增联系记录", who=ZHANG_2)
    merge(trail, "record/namesake", 8)
    git(trail, "checkout", "-q", "-b", "record/own")
    put(trail, theirs, content="本人更正", remarks="本人")
    commit(trail, "修改", who=ZHANG_1, when="2025-03-04T10:00:00+08:00")
    merge(trail, "record/own", 9, when="2025-03-04T11:00:00+08:00")

    by_author = {r.author: r.flags for r in rows_of(trail) if r.record_id == theirs}
    assert by_author == {
        "张伟 <zw2@example.edu.cn>": ("作者（张伟 <zw2@example.edu.cn>）不是该记录的领导本人（张伟，工号 T2015004）",),
        "张伟 <zw1@example.edu.cn>": (),
    }


def change_by(author_email: str, leader_id: str = "T1", trailers: str = "", signature: str | None = None) -> Change:
    when = datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)
    message = "新增联系记录" + (f"\n\n{trailers}" if trailers else "")
    made = Commit("f" * 40, (), "赵某", author_email, when, "表单", "liaison@localhost", when, message)
    signed = Signature(signature, "liaison@localhost", "SHA256:x") if signature else None
    data = record_data(leader_id=leader_id)
    return Change(made, "新增", "r", None, "records/r.yaml", {}, data, None, None, True, signature=signed)


LEADERS = {
    "T1": Leader("T1", "赵某", "学生工作处", "副处长", "zhao", "zhao@example.edu.cn"),
    "T9": Leader("T9", "赵某", "学生工作处", "副处长", "zhao9", ""),  # no e-mail in the roster
    "T8": Leader("T8", "赵某", "学生工作处", "副处长", "", ""),  # neither e-mail nor login
}


@pytest.mark.parametrize(
    "change, expected",
    [
        (change_by("zhao@example.edu.cn"), True),
        (change_by("ZHAO@example.edu.cn "), True),
        (change_by("zhao9@example.edu.cn"), False),  # same name, other address: a namesake
        (change_by("", "T9"), False),  # no address on either side proves nothing
        (change_by("x@example.edu.cn", "T9", "Submitted-By: zhao9"), False),  # a trailer anyone can type
        (change_by("x@example.edu.cn", "T9", "Submitted-By: zhao9", "U"), False),  # signed, but not by the form
        (change_by("x@example.edu.cn", "T9", "Submitted-By: zhao9", "G"), True),  # the form signed for this login
        (change_by("x@example.edu.cn", "T9", "Submitted-By: zhao", "G"), False),  # the form, for someone else
        (change_by("x@example.edu.cn", "T8", "Submitted-By: ", "G"), False),  # no login to match
        (change_by("zhao@example.edu.cn", "T404"), False),  # not in the roster
    ],
)
def test_the_author_is_the_leader_only_by_e_mail_or_the_login_the_form_signed_for(change, expected):
    class Roster:
        by_id = LEADERS

    assert author_is_leader(change, Roster()) is expected


# 5. Signed commits from the form -------------------------------------------


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    found = {}
    for name in ("form", "other"):
        key = tmp_path / "keys" / name
        key.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True, timeout=60
        )
        found[name] = key
    return found


def signer_line(key: Path) -> str:
    return f'liaison@localhost namespaces="git" {key.with_suffix(".pub").read_text().strip()}\n'


def test_the_audit_tells_the_form_s_signed_commits_from_the_rest(trail, keys, run):
    (trail / "allowed_signers").write_text(signer_line(keys["form"]), encoding="utf-8")
    commit(trail, "发布表单的签名公钥", when="2025-02-01T09:00:00+08:00")
    form_message = "新增联系记录\n\nSubmitted-By: zhao\nSubmission-Token: 0f3a"
    cases = {
        "2025-03-02-T1-000001": ({"who": ZHAO, "sign": keys["form"]}, form_message),
        "2025-03-02-T1-000002": ({"who": ZHAO, "sign": keys["other"]}, form_message),
        "2025-03-02-T1-000003": ({"who": OFFICE}, form_message),
    }
    for number, (record, (how, message)) in enumerate(cases.items(), 20):
        git(trail, "checkout", "-q", "-b", f"record/{record}", "main")
        put(trail, record)
        commit(trail, message, committer=FORM, **how)
        merge(trail, f"record/{record}", number)

    rows = {r.record_id: r for r in rows_of(trail)}
    signed, other_key, typed = (rows[record] for record in cases)
    assert (signed.source, signed.flags, signed.submitted_by) == ("表单（签名有效）", (), "zhao")
    assert other_key.source == "合并请求" and other_key.flags == (
        "带有签名，但签名密钥不在主分支当时的 allowed_signers 中，不能算作表单提交",
        "提交说明写有 Submitted-By: zhao，但没有表单的有效签名，不能证明由表单提交",
    )
    assert typed.source == "合并请求" and typed.flags == (
        "作者（王老师 <wang@example.edu.cn>）不是该记录的领导本人（赵某，工号 T1）",
        "提交说明写有 Submitted-By: zhao，但没有表单的有效签名，不能证明由表单提交",
    )
    shown = json.loads(run(trail, "history", "2025-03-02-T1-000001", "--format", "json").output)[0]
    assert shown["signed_by_form"] is True and shown["signer"] == "liaison@localhost"
    assert shown["submitted_by"] == "zhao"
    listed, table = audit_outputs(run, trail)
    assert [r["来源"] for r in table if r["记录编号"] in cases] == ["表单（签名有效）", "合并请求", "合并请求"]
    assert next(r for r in listed if r["记录编号"] == "2025-03-02-T1-000001")["表单登录名"] == "zhao"


def test_a_merge_request_cannot_vouch_for_its_own_key(trail, keys):
    (trail / "allowed_signers").write_text(signer_line(keys["form"]), encoding="utf-8")
    commit(trail, "发布表单的签名公钥", when="2025-02-01T09:00:00+08:00")
    git(trail, "checkout", "-q", "-b", "sneaky")
    with (trail / "allowed_signers").open("a", encoding="utf-8") as signers:
        signers.write(signer_line(keys["other"]))
    commit(trail, "更新公钥", who=ZHAO)
    put(trail, "2025-03-05-T1-000004")
    commit(trail, "新增联系记录\n\nSubmitted-By: zhao", who=OFFICE, committer=FORM, sign=keys["other"])
    sneaky = merge(trail, "sneaky", 30)

    rows = rows_of(trail)
    record = next(r for r in rows if r.record_id == "2025-03-05-T1-000004")
    assert record.source == "合并请求" and "带有签名，但签名密钥不在主分支当时的 allowed_signers 中" in record.flags[1]
    signers = [r for r in rows if r.path == "allowed_signers"]
    assert [(r.kind, r.entered) for r in signers] == [("新增", signers[0].entered), ("修改", sneaky[:12])]
    assert signers[1].flags == (
        "修改了表单的签名者名单 allowed_signers：此后由其中密钥签名的提交都算作表单提交，请核实",
    )

    # Once the change to allowed_signers is on main, the key counts: the change itself is the audited event.
    git(trail, "checkout", "-q", "-b", "later")
    put(trail, "2025-03-06-T1-000005")
    commit(trail, "新增联系记录\n\nSubmitted-By: zhao", who=ZHAO, committer=FORM, sign=keys["other"])
    merge(trail, "later", 31)
    assert next(r for r in rows_of(trail) if r.record_id == "2025-03-06-T1-000005").source == "表单（签名有效）"


# 6. A malformed closed/ tag -------------------------------------------------


def test_a_malformed_closed_tag_is_one_problem_and_every_command_keeps_working(trail, run, tmp_path):
    shutil.copytree(PROJECT / "templates", trail / "templates")  # export renders PDFs
    (trail / ".gitignore").write_text(".cache/\n", encoding="utf-8")
    commit(trail, "模板")
    git(trail, "tag", "closed/2025秋")
    checked = run(trail, "check")
    assert checked.exit_code == 1 and checked.exception is None or isinstance(checked.exception, SystemExit)
    named = [line for line in checked.output.splitlines() if "closed/2025秋" in line]
    assert len(named) == 1 and named[0].startswith("refs/tags/closed/2025秋: 标签“closed/2025秋”不是有效的学期关闭标签")
    assert "git tag -d 'closed/2025秋'" in named[0] and "git tag closed/2024-2025-1" in named[0]
    for args in (
        ("audit", "--format", "json"),
        ("query", "--semester", "2024-2025-1"),
        ("history", CLOSED_ID),
        ("export", "--semester", "2024-2025-1", "--out", str(tmp_path / "out")),
    ):
        done = run(trail, *args)
        assert done.exit_code == 0 and done.exception is None, (args, done.output)
    assert "closed/2025秋" in run(trail, "query").stderr


# 7. A date correction that also rewrites the text --------------------------


def test_a_date_correction_that_rewrites_the_text_is_one_move(trail, run):
    (trail / record_path(CLOSED_ID)).unlink()
    moved = "2024-11-22-T1-cccccc"
    put(trail, moved, content="完全重写的内容，与原文没有一句相同。", place="另一个地点", target="另一批学生")
    commit(trail, "更正联系时间并重写内容")
    put(trail, "2024-11-23-T1-eeeeee")  # a new suffix is a new record, whatever the content
    (trail / record_path(moved)).unlink()
    commit(trail, "换了编号")

    history = read_history(trail, SCHEMA)
    changes = history.of(CLOSED_ID)
    assert [c.kind for c in changes] == ["新增", "移动", "删除"]
    assert (changes[1].old_path, changes[1].new_path) == (record_path(CLOSED_ID), record_path(moved))
    assert [f.label for f in changes[1].fields] == ["联系时间", "联系地点", "联系对象", "联系内容"]
    assert [c.kind for c in history.of("2024-11-23-T1-eeeeee")] == ["新增"]
    assert "文件：records/2024/2024-11-20-T1-cccccc.yaml → records/2024/2024-11-22-T1-cccccc.yaml" in (
        run(trail, "history", moved).output
    )


# 8. What export and build say about a closed-semester violation ------------


def test_export_and_build_say_what_is_wrong_with_a_closed_semester_change_and_how_to_fix_it(trail, run, tmp_path):
    shutil.copytree(PROJECT / "templates", trail / "templates")
    shutil.copytree(PROJECT / "site", trail / "site")
    (trail / ".gitignore").write_text(".cache/\n", encoding="utf-8")
    commit(trail, "模板", when="2025-02-01T09:00:00+08:00")
    git(trail, "tag", "closed/2024-2025-1")
    put(trail, CLOSED_ID, content="关闭后改")
    sneaky = commit(trail, "修改", when="2025-03-01T09:00:00+08:00")
    told = (
        f"注意：{record_path(CLOSED_ID)}: 这条记录属于已关闭的{TERM}（标签 closed/2024-2025-1），"
        f"提交 {sneaky[:8]}（王老师 <wang@example.edu.cn>）在关闭之后修改了它，但提交说明里没有“Reopen-Reason: 理由”。"
        "请在提交说明末尾另起一段写“Reopen-Reason: 理由”（如 git commit --amend），或撤回这次修改。"
    )
    exported = run(trail, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "out"))
    assert exported.exit_code == 1 and told in exported.stderr
    assert "未计入" not in exported.stderr and "1 份记录表已导出" in exported.stdout  # the record is still exported
    built = run(trail, "build", "--out", str(tmp_path / "public"))
    assert built.exit_code == 1 and told in built.stderr and "未放入网站" not in built.stderr
    assert (tmp_path / "public" / "records" / f"{CLOSED_ID}.html").is_file()


def test_export_with_only_from_says_it_runs_to_today(trail, run, tmp_path):
    shutil.copytree(PROJECT / "templates", trail / "templates")
    done = run(trail, "export", "--from", "2024-09-01", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0 and done.exception is None, done.output
    assert "注意：只给了 --from，导出 2024-09-01 起到今天" in done.stderr and "请加 --to 日期" in done.stderr
