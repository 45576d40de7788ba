"""The audit log's rows, from the one-pass history: every change, and what about it deserves a look.

Writing the rows as a workbook, CSV or JSON is ``liaison.outputs.auditlog``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from liaison.core import dates
from liaison.core.roster import Roster
from liaison.core.semesters import Calendar, DateRange
from liaison.git.closed import REOPEN, closed_touch
from liaison.git.history import DELETED, Change, History


def author_is_leader(change: Change, roster: Roster) -> bool:
    leader = roster.by_id.get(str(change.data.get("leader_id", "")))
    if leader is None:
        return False
    commit = change.commit
    same_mail = bool(leader.email) and leader.email.lower() == commit.author_email.lower()
    return same_mail or leader.name == commit.author_name


def change_flags(change: Change, roster: Roster, calendar: Calendar, closed: dict) -> list[str]:
    """What about this change deserves an auditor's look (Chinese, for the log)."""
    flags = []
    if not author_is_leader(change, roster):
        flags.append(f"作者（{change.commit.author_name}）不是该记录的领导本人")
    if change.on_mainline:
        flags.append("未经合并请求直接进入主分支")
    semester = closed_touch(change, calendar, closed)
    if semester is not None:
        reason = change.commit.trailers.get(REOPEN)
        flags.append(f"修改已关闭的{semester.title}" + (f"（重开理由：{reason}）" if reason else "，且没有重开理由"))
    if change.kind == DELETED:
        flags.append("记录被删除")
    return flags


@dataclass(frozen=True)
class AuditRow:
    when: datetime.datetime
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


AUDIT_HEADER = (
    "时间",
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
)


def audit_rows(
    history: History,
    roster: Roster,
    calendar: Calendar,
    closed: dict,
    date_range: DateRange,
    timezone: str = dates.DEFAULT_ZONE,
) -> list[AuditRow]:
    """One row per change whose commit date (in ``timezone``) is in ``date_range``, oldest first."""
    rows = []
    for change in history.changes:
        when = dates.local(change.commit.committer_time, timezone)
        if when.date() not in date_range:
            continue
        merge = change.merge
        rows.append(
            AuditRow(
                when,
                change.kind,
                change.record_id,
                change.path,
                str(change.data.get("leader", "")),
                f"{change.commit.author_name} <{change.commit.author_email}>",
                f"{change.commit.committer_name} <{change.commit.committer_email}>",
                merge.merged_by if merge else "",
                merge.reference if merge else "",
                change.commit.sha[:12],
                change.commit.subject,
                tuple(change_flags(change, roster, calendar, closed)),
            )
        )
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
    ]
