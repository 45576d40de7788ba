"""The customer's 附表 as data, then as HTML: pure, deterministic, golden-testable.

``form_rows`` lays the record out as the form's rows (the schema decides which
field goes where); ``record_html`` renders them with the one Jinja2
environment (autoescaped).
"""

from __future__ import annotations

import datetime
import math
import unicodedata
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


# The form's geometry (templates/record.css): A4 less 18 mm margins, label
# columns 13.5 %, value columns 19.83 %, 1.8 mm padding each side.
TABLE_MM = 210 - 2 * 18
LABEL_PCT, VALUE_PCT = 13.5, (100 - 3 * 13.5) / 3
PADDING_MM = 2 * 1.8
BODY_PT = 10.5
MIN_FIT_PT = 6.5
_PT_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class FormCell:
    key: str
    label: str
    value: str
    span: int = 1
    font_pt: float | None = None  # a short value shrunk to stay on one line (names never break)


def cell_room_pt(span: int) -> float:
    """Points of text a value cell spanning ``span`` columns holds on one line."""
    values = (span + 1) // 2
    labels = span - values
    return (TABLE_MM * (values * VALUE_PCT + labels * LABEL_PCT) / 100 - PADDING_MM) * _PT_PER_MM


def text_ems(text: str) -> float:
    """Width in ems: CJK characters (and the middle dot of names, drawn wide by CJK fonts) one, others a half."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.55 for ch in text)


def fitted_size(text: str, span: int) -> float | None:
    """The font size that keeps a short value on one line in its cell; None when 10.5 pt fits."""
    ems = text_ems(text)
    if ems * BODY_PT <= cell_room_pt(span):
        return None
    return max(MIN_FIT_PT, math.floor(10 * cell_room_pt(span) / ems) / 10)


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
                rows.append(_short_row(pending))
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
    span = 1 + 2 * (3 - len(cells))
    spans = [1] * (len(cells) - 1) + [span]
    return FormRow(
        "cell",
        tuple(FormCell(c.key, c.label, c.value, n, fitted_size(c.value, n)) for c, n in zip(cells, spans, strict=True)),
    )


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
