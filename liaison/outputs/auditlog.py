"""The audit log as a file: a workbook, CSV (UTF-8 with BOM) or JSON, from the git layer's rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

from liaison.core import dates
from liaison.core.project import Project
from liaison.core.semesters import DateRange
from liaison.core.terminal import visible, visible_json
from liaison.git.audit import (
    AUDIT_HEADER,
    AuditRow,
    audit_rows,
    audited_changes,
    record_days,
    records_dated_in,
    row_values,
)
from liaison.git.closed import closed_semesters
from liaison.git.history.model import SIGNERS_FILE, History, identity
from liaison.git.history.read import read_history
from liaison.git.repo import head_commit, require_whole_history
from liaison.git.verdict import Verdict, require_ready, verdict
from liaison.outputs.formats import csv_text

BY_RECORD_DATE = "按记录的联系时间"
BY_MERGE_DATE = "按进入主分支的时间"


@dataclass
class AuditLog:
    rows: list[AuditRow]
    data: bytes  # the file: xlsx, csv (UTF-8 with BOM) or json
    verdict: Verdict | None = None  # check's, for the records' content only: the audit lists every change itself
    scope: str = BY_RECORD_DATE  # how the range was applied
    records: int = 0  # how many records the rows are changes of
    note: str = ""  # for an empty log: why, and what else to ask (Chinese)

    @property
    def flagged(self) -> int:
        """How many changes deserve a look (a 提示)."""
        return sum(1 for row in self.rows if row.flags)

    @property
    def counted(self) -> str:
        """「23 条记录的 31 次改动」 (by record date), 「31 次改动」 (by merge date)."""
        changes = f"{len(self.rows)} 次改动"
        return f"{self.records} 条记录的 {changes}" if self.scope == BY_RECORD_DATE else changes


def audit(project: Project, date_range: DateRange, fmt: str, by_merge_date: bool = False) -> AuditLog:
    """``audit``: the audit log of ``date_range`` as a file, the history read once for it and for check.

    By default the range names records: every change, whenever made, to the records dated in it (see
    ``liaison.git.audit.audited_changes``); ``by_merge_date``: the changes that entered main in it.
    A record file that fails check is still audited (its changes are all listed); the verdict names it,
    since its 领导姓名 may be wrong. Changes on a branch that main lacks are said to be not merged yet.
    """
    require_ready(project)
    require_whole_history(project.root, "审计日志")
    history = read_history(project.root, project.schema, main=project.config.web.target_branch)
    found = verdict(project, history=history, content_only=True, records=False)
    log = audit_log(project, date_range, fmt, history, by_merge_date)
    log.verdict = found
    return log


def audit_log(
    project: Project,
    date_range: DateRange,
    fmt: str,
    history: History | None = None,
    by_merge_date: bool = False,
) -> AuditLog:
    """The audit log for ``date_range`` (rows, the file's bytes: xlsx, csv with BOM or json, and what an empty
    one means), without check's verdict."""
    config = project.config
    if history is None:
        history = read_history(project.root, project.schema, main=config.web.target_branch)
    closed = closed_semesters(project, history)
    rows = audit_rows(
        history,
        project.roster,
        config.calendar,
        closed,
        date_range,
        config.timezone,
        config.git.merge_method,
        by_merge_date,
    )
    log = AuditLog(rows, b"", scope=BY_MERGE_DATE if by_merge_date else BY_RECORD_DATE)
    log.records = len({identity(row.record_id) for row in rows if row.path != SIGNERS_FILE})
    log.note = "" if rows else empty_note(history, date_range, by_merge_date, config.timezone)
    log.data = _file(project, date_range, fmt, log)
    return log


def empty_note(history: History, date_range: DateRange, by_merge_date: bool, timezone: str) -> str:
    """Why an audit of ``date_range`` lists nothing, and what else to ask (Chinese, for the screen and the sheet)."""
    every = history.changes + history.signer_changes
    if not history.changes:
        return (
            "Git 历史中没有任何联系记录的改动：records/ 中的记录尚未提交，或这里不是 Git 仓库（或是浅克隆）。"
            "审计只看已提交到 Git 的改动：请在仓库的完整克隆中运行。"
        )
    days = sorted(day for c in history.changes for day in record_days(c))
    entered = sorted(dates.local(c.when, timezone).date() for c in every if c.merged)
    everything = f"不加 --semester/--from/--to 则列出全部 {len(every)} 次改动。"
    if by_merge_date:
        note = f"{date_range.description}内没有改动进入主分支"
        if entered:
            note += f"（主分支上的改动{_span(entered)}进入）"
        records = records_dated_in(history, date_range)
        if records:
            note += f"。联系时间在这段时间内的记录有 {len(records)} 条：去掉 --by-merge-date，列出它们的全部改动"
        return f"{note}。{everything}"
    note = f"Git 历史中没有联系时间在{date_range.description}内的记录"
    note += f"（历史中记录的联系时间{_span(days)}）" if days else "（历史中的记录都读不出联系时间）"
    other = audited_changes(history, date_range, timezone, by_merge_date=True)
    if other:
        note += f"。这段时间内进入主分支的改动有 {len(other)} 次（改动的是其他日期的记录）：加 --by-merge-date 查看"
    return f"{note}。{everything}"


def _span(days: list) -> str:
    """在 2025-09-17 至 2026-01-10 之间, or 都在 2025-09-17 当天, for sorted days."""
    first, last = days[0].isoformat(), days[-1].isoformat()
    return f"都在 {first} 当天" if first == last else f"在 {first} 至 {last} 之间"


def _file(project: Project, date_range: DateRange, fmt: str, log: AuditLog) -> bytes:
    """The log as a file: xlsx, csv (UTF-8 with BOM) or json."""
    config, rows = project.config, log.rows
    # A file is read on a terminal too (cat): it holds what the screen shows, control characters as escapes;
    # JSON's own \u escapes keep every value.
    if fmt == "json":
        listed = [dict(zip(AUDIT_HEADER, row_values(row), strict=True)) for row in rows]
        return (visible_json(flat_json(listed)) + "\n").encode("utf-8")
    if fmt == "csv":
        table = visible(csv_text([AUDIT_HEADER, *(row_values(row) for row in rows)]))
        return table.encode("utf-8-sig")  # Excel reads UTF-8 CSV only with the BOM
    from liaison.outputs.workbook import Table, build_table_workbook  # openpyxl loads only for a workbook

    commit = head_commit(project.root)
    stamp = commit.time if commit else config.now()
    return build_table_workbook(
        "审计日志",
        f"{config.school}领导干部结对联系学生记录 审计日志",
        f"范围（{log.scope}）：{date_range.description}　共 {log.counted}，{log.flagged} 次需要核查"
        + (f"　{log.note}" if log.note else ""),
        Table(
            AUDIT_HEADER,
            [_typed(row, config) for row in rows],
            # 提示 is what an auditor reads: a long name may wrap here (not on 表2) to leave it the room.
            long=_columns("说明", "提示"),
            # A continued row says （续） where the change's kind is, and repeats what names the change.
            carried=_columns("时间", "记录编号", "文件", "领导姓名", "提交"),
            marker=AUDIT_HEADER.index("操作"),
        ),
        config.office,
        config.local(stamp),
    )


def _columns(*labels: str) -> frozenset[int]:
    return frozenset(AUDIT_HEADER.index(label) for label in labels)


def _typed(row: AuditRow, config) -> tuple:
    """The workbook's cells: 时间 a real date-time (the configured zone's wall clock; Excel has no zones).

    An author's name or a commit message may carry control characters, which
    no worksheet can hold (openpyxl refuses them): they are written as their
    escapes, as the terminal shows them (liaison.core.terminal).
    """
    values = (visible(value) if isinstance(value, str) else value for value in row_values(row)[1:])
    return (config.local(row.when).replace(tzinfo=None), *values)


def flat_json(listed: list[dict]) -> str:
    """``json.dumps(listed, ensure_ascii=False, indent=2)`` for a list of flat rows, the same text many times
    faster (``indent`` makes json take its pure-Python path; the audit of 20 years has 13,000 rows)."""
    scalars = {str, int, float, bool, type(None)}
    flat = (
        all(listed)
        and {type(k) for row in listed for k in row} <= {str}
        and {type(v) for row in listed for v in row.values()} <= scalars
    )
    if not listed or not flat:
        return json.dumps(listed, ensure_ascii=False, indent=2)
    # json's C encoder, once, with the separator indent=2 puts between a row's items; between two rows it
    # puts the same, which is then made what indent=2 writes there. No string can hold that text: a line
    # break inside one is written as \n.
    text = json.dumps(listed, ensure_ascii=False, separators=(",\n    ", ": "))
    return "[\n  {\n    " + text[2:-2].replace("},\n    {", "\n  },\n  {\n    ") + "\n  }\n]"
