"""The customer's 附表 as data, then as HTML: pure, deterministic, golden-testable.

``form_rows`` lays the record out as the form's rows (the schema decides which
field goes where); ``record_html`` renders them with the one Jinja2
environment (autoescaped).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liaison.core import dates
from liaison.core.config import Config
from liaison.core.records import Record
from liaison.core.schema import Field, Schema
from liaison.outputs.templating import environment

TEMPLATE = "record.html"
STYLESHEET = "record.css"


@dataclass(frozen=True)
class FormCell:
    key: str
    label: str
    value: str
    span: int = 1


@dataclass(frozen=True)
class FormRow:
    kind: str  # cell, row or block (schema meta `print`)
    cells: tuple[FormCell, ...]


def display_value(field: Field, value: Any) -> str:
    """A value as printed on the form: dates the Chinese way, numbers plain, text as written."""
    if isinstance(value, datetime.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return "" if value is None else str(value)


def form_rows(record: Record, schema: Schema) -> list[FormRow]:
    """The 附表's rows: ``cell`` fields three to a row, ``row`` and ``block`` fields one to a row."""
    rows: list[FormRow] = []
    pending: list[FormCell] = []
    for spec in schema.fields:
        if not spec.print or spec.internal:
            continue
        cell = FormCell(spec.key, spec.label, display_value(spec, record.data.get(spec.key)))
        if spec.print == "cell":
            pending.append(cell)
            if len(pending) == 3:
                rows.append(FormRow("cell", tuple(pending)))
                pending = []
            continue
        if pending:
            rows.append(_short_row(pending))
            pending = []
        rows.append(FormRow(spec.print, (FormCell(cell.key, cell.label, cell.value, span=5),)))
    if pending:
        rows.append(_short_row(pending))
    return rows


def _short_row(cells: list[FormCell]) -> FormRow:
    # A row of fewer than three cells lets its last value span the remaining columns.
    last = cells[-1]
    span = 1 + 2 * (3 - len(cells))
    return FormRow("cell", (*cells[:-1], FormCell(last.key, last.label, last.value, span)))


def form_title(config: Config) -> str:
    return f"{config.school}领导干部结对联系学生工作情况记录表"


def record_timestamp(record: Record, timezone: str = dates.DEFAULT_ZONE) -> datetime.datetime:
    """The PDF's dates: the contact's day in China, never the clock, so renders are reproducible."""
    return dates.start_of_day(record.date, timezone)


def record_html(record: Record, schema: Schema, config: Config, templates_dir: Path) -> str:
    """The form as HTML: deterministic for a given record, schema, config and template.

    The stylesheet is not inlined: a :class:`Renderer` parses it once per process.
    """
    env = environment(Path(templates_dir))
    leader = record.data.get("leader", "")
    department = record.data.get("department", "")
    target = record.data.get("target", "")
    return env.get_template(TEMPLATE).render(
        title=form_title(config),
        author=leader,
        subject=f"{leader}（{department}）{record.date.isoformat()} 联系{target}",
        keywords=[record.id, record.date.isoformat(), leader, department],
        timestamp=record_timestamp(record, config.timezone).isoformat(),
        record_id=record.id,
        rows=form_rows(record, schema),
        issued=f"{config.office}存档 · 原始记录 {record.path} 已作为附件嵌入本文件",
    )
