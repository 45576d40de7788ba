"""The audit log as a file: a workbook, CSV (UTF-8 with BOM) or JSON, from the git layer's rows."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from liaison.core.project import Project
from liaison.core.semesters import DateRange
from liaison.core.terminal import visible
from liaison.git.audit import AUDIT_HEADER, AuditRow, audit_rows, row_values
from liaison.git.closed import closed_semesters
from liaison.git.history.model import History
from liaison.git.history.read import read_history
from liaison.git.repo import head_commit
from liaison.git.verdict import Verdict, require_ready, verdict
from liaison.outputs.formats import spreadsheet_safe


@dataclass
class AuditLog:
    rows: list[AuditRow]
    data: bytes  # the file: xlsx, csv (UTF-8 with BOM) or json
    verdict: Verdict  # check's, for the records' content only: the audit lists every change itself

    @property
    def flagged(self) -> int:
        """How many changes deserve a look (a 提示)."""
        return sum(1 for row in self.rows if row.flags)


def audit(project: Project, date_range: DateRange, fmt: str) -> AuditLog:
    """``audit``: the audit log of ``date_range`` as a file, the history read once for it and for check.

    A record file that fails check is still audited (its changes are all
    listed); the verdict names it, since its 领导姓名 may be wrong.
    """
    require_ready(project)
    history = read_history(project.root, project.schema)
    found = verdict(project, history=history, content_only=True)
    rows, data = audit_log(project, date_range, fmt, history)
    return AuditLog(rows, data, found)


def audit_log(
    project: Project, date_range: DateRange, fmt: str, history: History | None = None
) -> tuple[list[AuditRow], bytes]:
    """The rows of the audit log for ``date_range`` and the file's bytes: xlsx, csv (UTF-8 with BOM) or json."""
    config = project.config
    history = history if history is not None else read_history(project.root, project.schema)
    closed = closed_semesters(project, history)
    rows = audit_rows(
        history, project.roster, config.calendar, closed, date_range, config.timezone, config.git.merge_method
    )
    if fmt == "json":
        listed = [dict(zip(AUDIT_HEADER, row_values(row), strict=True)) for row in rows]
        return rows, (flat_json(listed) + "\n").encode("utf-8")
    if fmt == "csv":
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\r\n")
        writer.writerow(AUDIT_HEADER)
        writer.writerows([spreadsheet_safe(v) for v in row_values(row)] for row in rows)
        return rows, table.getvalue().encode("utf-8-sig")  # Excel reads UTF-8 CSV only with the BOM
    from liaison.outputs.workbook import Table, build_table_workbook  # openpyxl loads only for a workbook

    commit = head_commit(project.root)
    stamp = commit.time if commit else config.now()
    flagged = sum(1 for row in rows if row.flags)
    return rows, build_table_workbook(
        "审计日志",
        f"{config.school}领导干部结对联系学生记录 审计日志",
        f"范围（按进入主分支的时间）：{date_range.description}　共 {len(rows)} 次改动，{flagged} 次需要核查",
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
    """``json.dumps(listed, ensure_ascii=False, indent=2)`` for a list of flat rows, the same text about five
    times faster (``indent`` makes json take its pure-Python path; the audit of 20 years has 13,000 rows)."""
    scalars = (str, int, float, bool, type(None))
    flat = all(type(k) is str and type(v) in scalars for row in listed for k, v in row.items())
    if not listed or not flat:
        return json.dumps(listed, ensure_ascii=False, indent=2)
    text = json.encoder.encode_basestring  # what json uses for text when ensure_ascii is off

    def value(item: object) -> str:
        return text(item) if type(item) is str else json.dumps(item)

    rows = [
        "{\n" + ",\n".join(f"    {text(k)}: {value(v)}" for k, v in row.items()) + "\n  }" if row else "{}"
        for row in listed
    ]
    return "[\n  " + ",\n  ".join(rows) + "\n]"
