"""The audit log and closed semesters, from the one-pass history.

A semester is closed by the office after its export: in ``config.yaml``
(``closed_semesters: {2024-2025-1: 2025-02-20}``, closed from that day on)
or by a tag ``closed/<semester id>`` (closed from the tagged commit's time).
A later change to a record dated in a closed semester needs a
``Reopen-Reason: …`` trailer in its commit message; ``check`` fails without
one, and the audit log shows every such change either way.
"""

from __future__ import annotations

import datetime
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .history import DELETED, Change, History
from .problems import Problem
from .roster import Roster
from .semesters import Calendar, DateRange, Semester, parse_semester_id

CHINA = datetime.timezone(datetime.timedelta(hours=8))
REOPEN = "Reopen-Reason"


def closed_semesters(root: Path, starts: dict, config_closed: dict) -> dict[Semester, datetime.datetime]:
    """Closed semester -> the moment it closed (config dates at 00:00 China time, tags at their commit time)."""
    closed = {
        parse_semester_id(str(key)): datetime.datetime.combine(day, datetime.time(), CHINA)
        for key, day in (config_closed or {}).items()
    }
    try:
        tags = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:strip=3) %(creatordate:iso-strict)", "refs/tags/closed/"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (subprocess.CalledProcessError, OSError):
        tags = ""
    for line in tags.splitlines():
        name, _, when = line.partition(" ")
        semester = parse_semester_id(name)
        moment = datetime.datetime.fromisoformat(when)
        closed[semester] = min(moment, closed.get(semester, moment))
    return closed


def closed_touch(change: Change, calendar: Calendar, closed: dict[Semester, datetime.datetime]) -> Semester | None:
    """The closed semester this change reaches into (by the record's date before or after), if any."""
    for data in (change.old_data, change.new_data):
        day = data.get("date")
        if isinstance(day, datetime.date):
            semester = calendar.semester_of(day)
            if semester in closed and change.commit.committer_time >= closed[semester]:
                return semester
    return None


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
    history: History, roster: Roster, calendar: Calendar, closed: dict, date_range: DateRange
) -> list[AuditRow]:
    """One row per change whose commit date (China time) is in ``date_range``, oldest first."""
    rows = []
    for change in history.changes:
        when = change.commit.committer_time.astimezone(CHINA)
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


def closed_semester_problems(
    history: History, calendar: Calendar, closed: dict, since: set[str] | None
) -> list[Problem]:
    """Changes into a closed semester without a Reopen-Reason trailer (only commits in ``since``, if given)."""
    problems = []
    for change in history.changes:
        if since is not None and change.commit.sha not in since:
            continue
        semester = closed_touch(change, calendar, closed)
        if semester is None or change.commit.trailers.get(REOPEN):
            continue
        problems.append(
            Problem(
                change.path,
                None,
                "",
                "",
                f"这条记录属于已关闭的{semester.title}，提交 {change.commit.sha[:8]}（{change.commit.author_name}）"
                f"{change.kind}了它，但提交说明里没有“{REOPEN}: 理由”。请在提交说明末尾写明重开理由，或撤回这次修改。",
            )
        )
    return problems


def audit_log(project, date_range: DateRange, fmt: str) -> tuple[list[AuditRow], bytes]:
    """The rows of the audit log for ``date_range`` and the file's bytes: xlsx, csv (UTF-8 with BOM) or json."""
    import csv
    import io
    import json

    from .formats import spreadsheet_safe
    from .gitinfo import head_commit
    from .history import read_history
    from .workbook import Table, build_table_workbook

    config = project.config
    closed = closed_semesters(project.root, config.semester_starts, config.closed_semesters)
    rows = audit_rows(read_history(project.root, project.schema), project.roster, config.calendar, closed, date_range)
    if fmt == "json":
        listed = [dict(zip(AUDIT_HEADER, row_values(row), strict=True)) for row in rows]
        return rows, (json.dumps(listed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if fmt == "csv":
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\r\n")
        writer.writerow(AUDIT_HEADER)
        writer.writerows([spreadsheet_safe(v) for v in row_values(row)] for row in rows)
        return rows, table.getvalue().encode("utf-8-sig")  # Excel reads UTF-8 CSV only with the BOM
    commit = head_commit(project.root)
    stamp = commit.time if commit else datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    flagged = sum(1 for row in rows if row.flags)
    return rows, build_table_workbook(
        "审计日志",
        f"{config.school}领导干部结对联系学生记录 审计日志",
        f"范围（按提交时间）：{date_range.description}　共 {len(rows)} 次改动，{flagged} 次需要核查",
        Table(AUDIT_HEADER, [tuple(row_values(row)) for row in rows]),
        config.office,
        stamp,
    )
