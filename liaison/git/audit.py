"""The audit log's rows, from the one-pass history: every change, how it reached main, and what deserves a look.

For each change the audit says where it came from (``来源``): by the form (a
valid SSH signature by a signer the mainline's ``allowed_signers`` named
before the change entered), by a person through a merge request, or neither.
A person is identified by the roster's e-mail, or by the login the form
signed for (``Submitted-By:``), never by name: two leaders may share one.
Writing the rows as a workbook, CSV or JSON is ``liaison.outputs.auditlog``.
"""

from __future__ import annotations

import contextlib
import datetime
import math
from dataclasses import dataclass

from liaison.core import dates
from liaison.core.records import GIT_MODE_NAMES
from liaison.core.roster import Roster
from liaison.core.semesters import Calendar, DateRange
from liaison.git.closed import REOPEN, Closed
from liaison.git.history.model import DELETED, SIGNERS_FILE, SUBMITTED_BY, Change, History, stem

FORM, REQUEST, NEITHER = "表单（签名有效）", "合并请求", "两者都不是"
NOT_THROUGH_REQUEST = "未经合并请求"
NOT_MERGED = "尚未合并到主分支"
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
    if not change.merged:
        return f"{NOT_MERGED}：主分支上还没有这次改动"
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
    when: datetime.datetime  # the change's time (Change.when): when it entered the mainline
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
    authored_at: datetime.datetime | None = None  # the time the commit's author wrote on it: whatever they set
    source: str = ""  # 表单 / 合并请求 / 两者都不是
    entered: str = ""  # the mainline commit that brought it in
    submitted_by: str = ""  # the form's Submitted-By login, when the form signed it
    timezone: str = dates.DEFAULT_ZONE  # the zone its times are written in


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


def _row(change: Change, flags: list[str], merge_method: str, timezone: str) -> AuditRow:
    merge, commit = change.merge, change.commit
    moved = change.old_path and change.new_path and change.old_path != change.new_path
    return AuditRow(
        change.when,
        change.kind,
        change.record_id,
        f"{change.old_path} → {change.new_path}" if moved else change.path,
        str(change.data.get("leader", "")),
        f"{commit.author_name} <{commit.author_email}>",
        f"{commit.committer_name} <{commit.committer_email}>",
        merge.merged_by if merge else "",
        merge.reference if merge else "",
        commit.sha[:12],
        commit.subject,
        tuple(flags),
        commit.author_time,
        provenance(change, merge_method),
        change.entered[:12],
        change.submitted_by if change.by_form else "",
        timezone,
    )


def record_days(change: Change) -> set[datetime.date]:
    """The record's dates before and after the change: its 联系时间, and the date its file name carries (which
    ``check`` holds equal, and which a file that is no record still has). Both sides: in a shallow clone the
    first change seen of a record may be its deletion."""
    days = {data.get("date") for data in (change.old_data, change.new_data)}
    for path in (change.old_path, change.new_path):
        found = dates.DATE_PATTERN.match(stem(path)) if path else None
        if found:
            with contextlib.suppress(ValueError):  # 2025-02-30 in a file name names no day
                days.add(datetime.date(*map(int, found.groups())))
    return {day for day in days if isinstance(day, datetime.date)}


def records_dated_in(history: History, date_range: DateRange) -> set[str]:
    """The records (their keys) dated in ``date_range`` at any time: now, before a deletion, or before a date
    correction moved them out of it. No range: every record, a file that names no date too."""
    if date_range.start is None and date_range.end is None:
        return {c.record for c in history.changes}
    return {c.record for c in history.changes if any(day in date_range for day in record_days(c))}


def audited_changes(
    history: History, date_range: DateRange, timezone: str = dates.DEFAULT_ZONE, by_merge_date: bool = False
) -> list[Change]:
    """The changes an audit of ``date_range`` lists, in mainline order (a branch's unmerged changes last).

    By default the changes, whenever made, to the records dated in the range at any time (a record moved
    into the range brings its earlier changes, one moved out keeps those it had), and the changes to
    ``allowed_signers`` that entered main no later than the last of them (they decided how those were
    judged). ``by_merge_date``: every change that entered main in the range, whatever its record's date.
    """
    if by_merge_date:
        listed = [
            c
            for c in history.changes + history.signer_changes
            if c.merged and dates.local(c.when, timezone).date() in date_range
        ]
    else:
        keys = records_dated_in(history, date_range)
        listed = [c for c in history.changes if c.record in keys]
        everything = date_range.start is None and date_range.end is None
        last = max((c.position for c in listed if c.merged), default=-1)
        pending = any(not c.merged for c in listed)
        listed += [c for c in history.signer_changes if everything or (c.position <= last if c.merged else pending)]
    return sorted(listed, key=lambda c: c.position if c.merged else math.inf)  # stable: the topo order kept


def audit_rows(
    history: History,
    roster: Roster,
    calendar: Calendar,
    closed: Closed,
    date_range: DateRange,
    timezone: str = dates.DEFAULT_ZONE,
    merge_method: str = "merge",
    by_merge_date: bool = False,
) -> list[AuditRow]:
    """One row per change that :func:`audited_changes` lists, in mainline order.

    The time is the change's (``Change.when``: when it entered the mainline, not the commit's own date).
    """
    rows = []
    for change in audited_changes(history, date_range, timezone, by_merge_date):
        if change.record == SIGNERS_FILE and not change.data:
            flags = signer_flags(change, merge_method)
        else:
            flags = change_flags(change, roster, calendar, closed, merge_method)
        rows.append(_row(change, flags, merge_method, timezone))
    return rows


def row_values(row: AuditRow) -> list:
    """The row as text, each time written as everywhere else (with seconds, to compare with git's own log)."""
    return [
        dates.shown(row.when, row.timezone, seconds=True),
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
        dates.shown(row.authored_at, row.timezone, seconds=True) if row.authored_at else "",
        row.source,
        row.entered,
        row.submitted_by,
    ]
