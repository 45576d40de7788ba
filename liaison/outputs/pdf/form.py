"""The customer's 附表 as data, then as HTML: pure, deterministic, golden-testable.

``form_rows`` lays the record out as the form's rows (the schema decides which
field goes where); ``record_html`` renders them with the one Jinja2
environment (autoescaped).
"""

from __future__ import annotations

import datetime
import math
import re
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
CELL_MIN_PT = 9.0  # a value shrinks this far to stay in its cell, three to a row as on the 附表
MIN_PT = 8.0  # and never smaller: a name too long even for a row of its own shrinks this far
FULL_SPAN = 5  # a value across the row: the five columns right of its label
_FILL = 0.97  # of a line's room, planned: the estimate (text_ems) must never be the one that overflows
_PT_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class FormCell:
    key: str
    label: str
    value: str
    span: int = 1
    font_pt: float | None = None  # smaller than the body's 10.5 pt (a value kept whole on its line)
    lines: tuple[str, ...] = ()  # a short value as printed, line by line (wrapped only at sensible points)


def cell_room_pt(span: int) -> float:
    """Points of text a value cell spanning ``span`` columns holds on one line."""
    values = (span + 1) // 2
    labels = span - values
    return (TABLE_MM * (values * VALUE_PCT + labels * LABEL_PCT) / 100 - PADDING_MM) * _PT_PER_MM


def text_ems(text: str) -> float:
    """Width in ems: CJK characters (and the middle dot of names, drawn wide by CJK fonts) one, others a half."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.55 for ch in text)


def one_line_size(text: str, span: int, least: float) -> float | None:
    """The font size (≤ 10.5 pt, ≥ ``least``) that keeps ``text`` on one line in its cell; None when none does."""
    ems = text_ems(text)
    room = _FILL * cell_room_pt(span)
    if ems * BODY_PT <= room:
        return BODY_PT
    size = math.floor(10 * room / ems) / 10
    return size if size >= least else None


# Where a short value may wrap: after 、，；/ or a space, and before an opening bracket
# (党委学生工作部部长、|学生工作处处长、|人民武装部部长).
_SENSIBLE_BREAK = re.compile(r"(?<=[、，,；;／/\s])|(?=[（(【「『《])")


def wrapped_lines(text: str, span: int, size: float = BODY_PT) -> tuple[str, ...]:
    """``text`` as lines that fit a cell spanning ``span`` columns at ``size`` pt, broken at sensible points.

    A piece longer than a whole line is broken where the line is full (a
    Chinese place or group name with no punctuation, a long Latin word).
    """
    room = _FILL * cell_room_pt(span) / size  # in ems
    lines: list[str] = []
    line = ""
    for piece in (p for p in _SENSIBLE_BREAK.split(text) if p):
        if text_ems(line + piece) <= room:
            line += piece
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in piece:
            if line and text_ems(line + ch) > room:
                lines.append(line)
                line = ""
            line += ch
    lines.append(line)
    return tuple(lines)


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
    """The 附表's rows: ``cell`` fields three to a row, ``row`` and ``block`` fields one to a row.

    A short value that does not fit its cell on one line (at ≥ 9 pt) takes a
    row of its own, where it wraps at sensible points; a name (meta
    ``whole``) never wraps, and shrinks (to ≥ 8 pt) to stay on its line.
    """
    rows: list[FormRow] = []
    pending: list[tuple[Field, FormCell]] = []
    for spec in schema.fields:
        if not spec.print or spec.internal:
            continue
        cell = FormCell(spec.key, spec.label, display_value(spec, record.data.get(spec.key)))
        if spec.print == "cell":
            pending.append((spec, cell))
            if len(pending) == 3:
                rows.extend(_cell_rows(pending))
                pending = []
            continue
        if pending:
            rows.extend(_cell_rows(pending))
            pending = []
        if spec.print == "row":
            rows.append(_full_row(spec, cell))
        else:
            rows.append(FormRow(spec.print, (FormCell(cell.key, cell.label, cell.value, span=FULL_SPAN),)))
    if pending:
        rows.extend(_cell_rows(pending))
    return rows


def _cell_rows(group: list[tuple[Field, FormCell]]) -> list[FormRow]:
    """One of the 附表's rows of three: the values that fit their cells stay side by side, in order;
    one that does not takes a row of its own where it stands."""
    rows: list[FormRow] = []
    run: list[FormCell] = []
    for spec, cell in group:
        if one_line_size(cell.value, 1, CELL_MIN_PT) is not None:
            run.append(cell)
            continue
        if run:
            rows.append(_short_row(run))
            run = []
        rows.append(_full_row(spec, cell))
    if run:
        rows.append(_short_row(run))
    return rows


def _short_row(cells: list[FormCell]) -> FormRow:
    # A row of fewer than three cells lets its last value span the remaining columns.
    span = 1 + 2 * (3 - len(cells))
    spans = [1] * (len(cells) - 1) + [span]
    return FormRow("cell", tuple(_sized(c, n) for c, n in zip(cells, spans, strict=True)))


def _sized(cell: FormCell, span: int) -> FormCell:
    size = one_line_size(cell.value, span, CELL_MIN_PT)
    return FormCell(cell.key, cell.label, cell.value, span, None if size == BODY_PT else size, (cell.value,))


def _full_row(spec: Field, cell: FormCell) -> FormRow:
    """A value across the row: a name on one line (shrunk if it must be), anything else wrapped at 10.5 pt."""
    if spec.whole:
        size = one_line_size(cell.value, FULL_SPAN, MIN_PT)
        # Longer than any name the schema allows: wrapped at 8 pt rather than lost past the page's edge.
        lines = (cell.value,) if size else wrapped_lines(cell.value, FULL_SPAN, MIN_PT)
        font = None if size == BODY_PT else size or MIN_PT
        return FormRow("row", (FormCell(cell.key, cell.label, cell.value, FULL_SPAN, font, lines),))
    lines = wrapped_lines(cell.value, FULL_SPAN)
    return FormRow("row", (FormCell(cell.key, cell.label, cell.value, FULL_SPAN, None, lines),))


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
