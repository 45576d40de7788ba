"""The import's report, per file and per row, in Chinese: as text for a person, JSON or CSV for a spreadsheet.

Every line about a row names the file, the row, the column (letter and the
sheet's own header) and what to do, so 思政科 can fix the sheet and import it
again; rows already imported are then reported as present.
"""

from __future__ import annotations

import json
from typing import Any

from liaison.core.importplan import (
    DUPLICATE,
    EMPTY,
    NEW,
    PRESENT,
    REFUSED,
    STATUS_LABELS,
    FileReport,
    ImportPlan,
    RowProblem,
    RowResult,
)
from liaison.outputs.formats import csv_text

LIST_PRESENT_UP_TO = 20  # beyond this the text report only counts them; JSON and CSV list every row


def file_summary(report: FileReport) -> str:
    if report.error:
        return f"{report.name}：整个文件未导入。{report.error}"
    counts = "，".join(
        f"{STATUS_LABELS[s]} {report.count(s)} {'行' if s in (REFUSED, EMPTY) else '条'}" for s in STATUS_LABELS
    )
    return f"{report.name}：数据 {len(report.rows) - report.count(EMPTY)} 行，{counts}。"


def problem_line(report: FileReport, row: RowResult, problem: RowProblem) -> str:
    """``文件:第N行: E列“日期”(联系时间): 说明`` — where, then what to do."""
    where = f"{report.name}:第{row.row}行"
    if problem.column:
        named = f"“{problem.header}”" + (
            f"({problem.label})" if problem.label and problem.label != problem.header else ""
        )
        return f"{where}: {problem.column}列{named}: {problem.message}"
    if problem.label:
        return f"{where}: {problem.label}（表中没有这一列）: {problem.message}"
    return f"{where}: {problem.message}"


def row_line(report: FileReport, row: RowResult, labels: dict[str, str]) -> str:
    where = f"{report.name}:第{row.row}行"
    if row.status == PRESENT:
        return f"{where}: 已存在（与 {row.same_as} 内容相同），不再导入。"
    return (
        f"{where}: 疑似重复：与 {row.same_as} 的{labels['leader']}、{labels['date']}、{labels['target']}相同，未导入。"
        f"若确是另一次联系，请在“{labels['target']}”中写明区别后重新导入；若是同一次，无需处理。"
    )


def report_text(plan: ImportPlan, ending: list[str]) -> str:
    lines: list[str] = []
    for report in plan.files:
        lines.append(_heading(report))
        if report.error:
            lines.append(f"  {report.error}")
            continue
        if report.skipped_sheets:
            names = "、".join(f"“{name}”" for name in report.skipped_sheets)
            lines.append(f"  未读取的工作表：{names}（前 10 行中没有含{plan.header_needs}的表头）。")
        unused = report.unused_columns
        if unused:
            listed = "、".join(
                f"{c.letter}列“{c.header}”（{c.note}）" if c.header else f"{c.letter}列（{c.note}）" for c in unused
            )
            lines.append(
                f"  未导入的列：{listed}。这些列的内容不会写入记录；如需保留，请并入“{plan.labels['remarks']}”列后重新导入。"
            )
        present = report.count(PRESENT)
        for row in report.rows:
            if row.status == REFUSED:
                lines.extend(f"  {problem_line(report, row, p)}" for p in row.problems)
            elif row.status == DUPLICATE or (row.status == PRESENT and present <= LIST_PRESENT_UP_TO):
                lines.append(f"  {row_line(report, row, plan.labels)}")
        lines.append(f"  小计：{file_summary(report).split('：', 1)[1]}")
    lines.extend(ending)
    return "\n".join(lines) + "\n"


def _heading(report: FileReport) -> str:
    if report.error:
        return f"{report.name}（SHA-256 {report.sha256[:12]}…）"
    sheet = f"工作表“{report.sheet}”，" if report.sheet else ""
    return f"{report.name}（{sheet}表头在第 {report.header_row} 行，SHA-256 {report.sha256[:12]}…）"


def report_json(plan: ImportPlan, extra: dict[str, Any]) -> str:
    files = []
    for report in plan.files:
        files.append(
            {
                "file": report.name,
                "sha256": report.sha256,
                "sheet": report.sheet,
                "header_row": report.header_row,
                "error": report.error,
                "skipped_sheets": report.skipped_sheets,
                "columns": [
                    {"column": c.letter, "header": c.header, "field": c.key, "note": c.note} for c in report.columns
                ],
                "counts": {status: report.count(status) for status in STATUS_LABELS},
                "rows": [_row_object(row) for row in report.rows],
            }
        )
    return json.dumps({**extra, "files": files}, ensure_ascii=False, indent=2) + "\n"


def _row_object(row: RowResult) -> dict[str, Any]:
    return {
        "row": row.row,
        "status": row.status,
        "result": STATUS_LABELS[row.status],
        "record_id": row.record_id if row.status in (NEW, PRESENT, DUPLICATE) else "",
        "path": row.path if row.status == NEW else "",
        "same_as": row.same_as,
        "problems": [p.__dict__ for p in row.problems],
    }


CSV_HEADER = ("文件", "行", "结果", "记录编号", "列", "表头", "项目", "说明")


def report_csv(plan: ImportPlan) -> str:
    """One line per row (one per problem for a refused row); a whole-file error is one line with 行 empty.

    Starts with a byte-order mark: Excel on Chinese Windows reads a CSV without one as GBK.
    """
    lines: list[tuple] = [CSV_HEADER]
    for report in plan.files:
        if report.error:
            lines.append((report.name, "", "整个文件未导入", "", "", "", "", report.error))
        for row in report.rows:
            label = STATUS_LABELS[row.status]
            if row.status == REFUSED:
                for p in row.problems:
                    lines.append((report.name, row.row, label, "", p.column, p.header, p.label, p.message))
            elif row.status in (PRESENT, DUPLICATE):
                lines.append(
                    (
                        report.name,
                        row.row,
                        label,
                        row.record_id,
                        "",
                        "",
                        "",
                        row_line(report, row, plan.labels).split(": ", 1)[1],
                    )
                )
            else:
                lines.append((report.name, row.row, label, row.record_id if row.status == NEW else "", "", "", "", ""))
    return "\ufeff" + csv_text(lines)
