"""The audit log's rows, from the one-pass history: every change, how it reached main, and what deserves a look.

For each change the audit says where it came from (``来源``): by the form (a
valid SSH signature by a signer the mainline's ``allowed_signers`` named
before the change entered), by a person through a merge request, or neither.
A person is identified by the roster's e-mail, or by the login the form
signed for (``Submitted-By:``), never by name: two leaders may share one.
Writing the rows as a workbook, CSV or JSON is ``liaison.outputs.auditlog``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from liaison.core import dates
from liaison.core.records import GIT_MODE_NAMES
from liaison.core.roster import Roster
from liaison.core.semesters import Calendar, DateRange
from liaison.git.closed import REOPEN, Closed
from liaison.git.history.model import DELETED, SIGNERS_FILE, SUBMITTED_BY, Change, History

FORM, REQUEST, NEITHER = "表单（签名有效）", "合并请求", "两者都不是"
NOT_THROUGH_REQUEST = "未经合并请求"
_SIGNATURE_TROUBLE = {
    "U": "带有签名，但签名密钥不在主分支当时的 allowed_signers 中，不能算作表单提交",
    "B": "签名无效（提交内容与签名不符）",
    "E": "签名无法检查（缺少 ssh-keygen 或签名格式不明）",
    "X": "签名已过期",
    "Y": "签名密钥已过期",
    "R": "签名密钥已被吊销",
}


def author_is_leader(change: Change, roster: Roster) -> bool:
    """The record's leader made the change: by the roster's e-mail, or the login the form signed for; never by name."""
    leader = roster.by_id.get(str(change.data.get("leader_id", "")))
    if leader is None:
        return False
    author = change.commit.author_email.strip().lower()
    if leader.email and leader.email.strip().lower() == author:
        return True
    return change.by_form and bool(leader.login) and change.submitted_by == leader.login


def through_request(change: Change, merge_method: str = "merge") -> bool:
    """The change reached main by a GitLab merge request that the history can prove (never with fast-forward)."""
    return merge_method != "ff" and change.merge is not None and change.merge.is_request


def provenance(change: Change, merge_method: str = "merge") -> str:
    """表单 / 合并请求 / 两者都不是."""
    if change.by_form:
        return FORM
    return REQUEST if through_request(change, merge_method) else NEITHER


def _request_flag(change: Change, merge_method: str) -> str | None:
    merge = change.merge
    if through_request(change, merge_method):
        if merge_method == "semi_linear" and not merge.rebased:
            return (
                f"半线性合并方式下，合并请求 {merge.reference} 的分支没有先变基到主分支上（合并提交 {merge.sha[:12]}）"
            )
        return None
    if merge_method == "ff":
        if change.in_merge or merge is not None:
            return f"{NOT_THROUGH_REQUEST}：快进合并方式下主分支上不应有合并提交（{change.entered[:12]}）"
        return None if change.by_form else "快进合并方式：Git 历史无法证明这次改动经过合并请求"
    if merge is not None:
        return f"{NOT_THROUGH_REQUEST}：在本地合并（合并提交 {merge.sha[:12]}，说明中没有 See merge request）后推送到主分支"
    return f"{NOT_THROUGH_REQUEST}直接进入主分支"


def _signature_flags(change: Change) -> list[str]:
    flags = []
    if change.signature is not None and not change.by_form:
        flags.append(_SIGNATURE_TROUBLE.get(change.signature.status, f"签名状态 {change.signature.status}"))
    if change.submitted_by and not change.by_form:
        flags.append(f"提交说明写有 {SUBMITTED_BY}: {change.submitted_by}，但没有表单的有效签名，不能证明由表单提交")
    return flags


def _author_flag(change: Change, roster: Roster) -> str | None:
    if author_is_leader(change, roster):
        return None
    commit = change.commit
    leader = roster.by_id.get(str(change.data.get("leader_id", "")))
    owner = f"（{leader.name}，工号 {leader.id}）" if leader else ""
    who = f"{commit.author_name} <{commit.author_email}>"
    return f"作者（{who}）不是该记录的领导本人{owner}"


def change_flags(
    change: Change, roster: Roster, calendar: Calendar, closed: Closed, merge_method: str = "merge"
) -> list[str]:
    """What about this change deserves an auditor's look (Chinese, for the log)."""
    flags = [flag for flag in (_author_flag(change, roster), _request_flag(change, merge_method)) if flag]
    if change.in_merge:
        flags.append(f"在合并提交 {change.commit.sha[:12]} 中直接修改（不是某个提交带来的改动）")
    flags.extend(_signature_flags(change))
    semester = closed.touch(change, calendar)
    if semester is not None:
        reason = change.commit.trailers.get(REOPEN)
        flags.append(f"修改已关闭的{semester.title}" + (f"（重开理由：{reason}）" if reason else "，且没有重开理由"))
    if change.kind == DELETED:
        flags.append("记录被删除")
    if change.irregular:
        kind = GIT_MODE_NAMES.get(change.irregular, f"Git 模式 {change.irregular}")
        flags.append(
            f"{change.path} 在 Git 中是{kind}，不是普通的记录文件：其内容不算记录，所指向的内容的改动也不会列出"
        )
    return flags


def signer_flags(change: Change, merge_method: str = "merge") -> list[str]:
    """A change to allowed_signers decides whose signatures count as the form's: always worth a look."""
    flags = [f"修改了表单的签名者名单 {SIGNERS_FILE}：此后由其中密钥签名的提交都算作表单提交，请核实"]
    flags.extend(flag for flag in (_request_flag(change, merge_method),) if flag)
    if change.in_merge:
        flags.append(f"在合并提交 {change.commit.sha[:12]} 中直接修改")
    return flags


@dataclass(frozen=True)
class AuditRow:
    when: datetime.datetime  # when the change entered the mainline (the mainline commit's time)
    kind: str
    record_id: str
    path: str
    leader: str
    author: str
    committer: str
    merged_by: str
    merge_request: str
    commit: str
    subject: str
    flags: tuple[str, ...]
    committed_at: datetime.datetime | None = None  # the commit's own date: whatever its committer set
    source: str = ""  # 表单 / 合并请求 / 两者都不是
    entered: str = ""  # the mainline commit that brought it in
    submitted_by: str = ""  # the form's Submitted-By login, when the form signed it


AUDIT_HEADER = (
    "时间",  # when the change entered the mainline
    "操作",
    "记录编号",
    "文件",
    "领导姓名",
    "作者",
    "提交者",
    "合并人",
    "合并请求",
    "提交",
    "说明",
    "提示",
    "提交自报时间",
    "来源",
    "主分支提交",
    "表单登录名",
)


def _row(change: Change, when: datetime.datetime, flags: list[str], merge_method: str, timezone: str) -> AuditRow:
    merge, commit = change.merge, change.commit
    return AuditRow(
        when,
        change.kind,
        change.record_id,
        change.path,
        str(change.data.get("leader", "")),
        f"{commit.author_name} <{commit.author_email}>",
        f"{commit.committer_name} <{commit.committer_email}>",
        merge.merged_by if merge else "",
        merge.reference if merge else "",
        commit.sha[:12],
        commit.subject,
        tuple(flags),
        dates.local(commit.committer_time, timezone),
        provenance(change, merge_method),
        change.entered[:12],
        change.submitted_by if change.by_form else "",
    )


def audit_rows(
    history: History,
    roster: Roster,
    calendar: Calendar,
    closed: Closed,
    date_range: DateRange,
    timezone: str = dates.DEFAULT_ZONE,
    merge_method: str = "merge",
) -> list[AuditRow]:
    """One row per change (and per change to allowed_signers) that entered the mainline in ``date_range``.

    In mainline order; the date is the mainline commit's (in ``timezone``), not the commit's own.
    """
    changes = sorted(history.changes + history.signer_changes, key=lambda c: c.position)  # stable: topo order kept
    rows = []
    for change in changes:
        moment = history.mainline_times.get(change.entered, change.commit.committer_time)
        when = dates.local(moment, timezone)
        if when.date() not in date_range:
            continue
        if change.record == SIGNERS_FILE and not change.data:
            flags = signer_flags(change, merge_method)
        else:
            flags = change_flags(change, roster, calendar, closed, merge_method)
        rows.append(_row(change, when, flags, merge_method, timezone))
    return rows


def row_values(row: AuditRow) -> list:
    return [
        row.when.strftime("%Y-%m-%d %H:%M:%S"),
        row.kind,
        row.record_id,
        row.path,
        row.leader,
        row.author,
        row.committer,
        row.merged_by,
        row.merge_request,
        row.commit,
        row.subject,
        "；".join(row.flags),
        row.committed_at.strftime("%Y-%m-%d %H:%M:%S") if row.committed_at else "",
        row.source,
        row.entered,
        row.submitted_by,
    ]
