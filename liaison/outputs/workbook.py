"""The workbook 联系情况汇总表.xlsx: 表1 联系次数汇总 and 表2 联系内容汇总 (requirement 3.(2)②).

Cell values are decided by pure functions (``count_table``, ``content_table``)
so tests can compare them with the records; ``build_workbook`` only lays
them out with openpyxl.
"""

from __future__ import annotations

import datetime
import io
import unicodedata
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from liaison.core.config import Config
from liaison.core.records import Record
from liaison.core.roster import Roster
from liaison.core.schema import Schema
from liaison.core.semesters import DateRange
from liaison.core.summary import contact_counts, records_by_leader
from liaison.outputs.archive import normalize_office_file

WORKBOOK_NAME = "联系情况汇总表.xlsx"
COUNT_SHEET = "表1 联系次数汇总"
CONTENT_SHEET = "表2 联系内容汇总"
# 表1's own columns; 领导姓名, 部门 and 职务 take the schema's labels of those keys.
COUNT_KEYS = ("leader", "department", "position")
ID_HEADER = "记录编号"
DATE_FORMAT = "yyyy-mm-dd"
# Spreadsheet programs run a cell typed as one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    """A sheet's content: header and rows of plain values (str, int, date), plus its total row."""

    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    total: tuple[Any, ...] | None = None


def count_table(records: list[Record], roster: Roster, schema: Schema) -> Table:
    """表1: every active leader with their count (0 included), inactive ones only with records.

    Department and position are the roster's current ones.
    """
    counted = contact_counts(records, roster)
    header = ("序号", *(schema.label((key,)) for key in COUNT_KEYS), "联系学生次数", "状态")
    rows = [
        (n, c.leader.name, c.leader.department, c.leader.position, c.count, "" if c.leader.active else "已离任")
        for n, c in enumerate(counted, 1)
    ]
    total = ("合计", f"{len(counted)} 人", "", "", sum(c.count for c in counted), "")
    return Table(header, rows, total)


def content_table(records: list[Record], roster: Roster, schema: Schema) -> Table:
    """表2: every field of every record, in the schema's order and labels, by leader then date.

    职务 is the one on the record: the position at the time of the contact.
    """
    header = ("序号", *(f.label for f in schema.fields), ID_HEADER)
    rows = [
        (n, *(record.data.get(f.key, "") for f in schema.fields), record.id)
        for n, record in enumerate(records_by_leader(records, roster), 1)
    ]
    return Table(header, rows)


def display_width(text: str) -> int:
    """Columns a text needs: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FONT = "宋体"
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _named_styles() -> list[NamedStyle]:
    """The cell styles, registered once per workbook: assigning a named style to a
    cell is a lookup, while setting font, border and alignment one by one costs
    a hash of each style object per cell (minutes for 10,000 records)."""
    body = {"font": Font(name=_FONT, size=10.5), "border": _BORDER}
    return [
        NamedStyle(
            "liaison-表头",
            font=Font(name=_FONT, size=10.5, bold=True),
            border=_BORDER,
            fill=PatternFill("solid", fgColor="D9E1F2"),
            alignment=_CENTER,
        ),
        NamedStyle("liaison-文字", alignment=Alignment(vertical="top"), **body),
        NamedStyle("liaison-长文字", alignment=Alignment(wrap_text=True, vertical="top"), **body),
        NamedStyle("liaison-居中", alignment=_CENTER, **body),
        NamedStyle("liaison-日期", alignment=_CENTER, number_format=DATE_FORMAT, **body),
        NamedStyle("liaison-合计", font=Font(name=_FONT, size=10.5, bold=True), border=_BORDER),
    ]


LONG_TEXT_WIDTH = 60
MAX_WIDTH = 40


def build_workbook(
    records: list[Record],
    roster: Roster,
    schema: Schema,
    config: Config,
    date_range: DateRange,
    stamp: datetime.datetime,
    source: str,
) -> bytes:
    """The workbook's bytes; the same inputs always give the same bytes.

    ``stamp`` (the commit's time, not the clock) dates the document, and
    ``source`` says what it was built from (e.g. 提交 1a2b3c4).
    """
    book = _new_book()
    subtitle = f"统计范围：{date_range.description}　数据来源：{source}（{config.local(stamp):%Y-%m-%d %H:%M}）"
    counts = book.active
    counts.title = COUNT_SHEET
    _fill(
        counts,
        f"{config.school}领导干部结对联系学生情况 {COUNT_SHEET}",
        subtitle,
        count_table(records, roster, schema),
        set(),
    )
    long_columns = {n + 1 for n, f in enumerate(schema.fields) if f.widget == "textarea"}  # +1: 序号 comes first
    _fill(
        book.create_sheet(CONTENT_SHEET),
        f"{config.school}领导干部结对联系学生情况 {CONTENT_SHEET}",
        subtitle,
        content_table(records, roster, schema),
        long_columns,
    )
    return _save(book, config.office, f"联系情况汇总表 {date_range.title}", stamp)


def build_table_workbook(
    sheet: str, title: str, subtitle: str, table: Table, creator: str, stamp: datetime.datetime
) -> bytes:
    """A one-sheet workbook of any table (the audit log), laid out like 表1 and 表2."""
    book = _new_book()
    book.active.title = sheet
    _fill(book.active, title, subtitle, table, set())
    return _save(book, creator, title, stamp)


def _new_book() -> Workbook:
    book = Workbook()
    for style in _named_styles():
        book.add_named_style(style)
    return book


def _save(book: Workbook, creator: str, title: str, stamp: datetime.datetime) -> bytes:
    book.properties.creator = creator
    book.properties.title = title
    book.properties.created = stamp.astimezone(datetime.UTC).replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return normalize_office_file(out.getvalue(), stamp)


def _fill(sheet: Worksheet, title: str, subtitle: str, table: Table, long_columns: set[int]) -> None:
    columns = len(table.header)
    last = get_column_letter(columns)
    sheet.append([title])
    sheet.append([subtitle])
    sheet.merge_cells(f"A1:{last}1")
    sheet.merge_cells(f"A2:{last}2")
    sheet["A1"].font = Font(name=_FONT, size=14, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet["A2"].font = Font(name=_FONT, size=9, color="555555")
    sheet.row_dimensions[1].height = 26

    sheet.append(list(table.header))
    for cell in sheet[3]:
        cell.style = "liaison-表头"

    widths = [display_width(str(h)) for h in table.header]
    # Row numbers are counted here: openpyxl's max_row scans every cell, which
    # made a 10,000-record sheet take minutes.
    for number, row in enumerate(table.rows, start=4):
        sheet.append([_cell_value(v) for v in row])
        for index, value in enumerate(row):
            cell = sheet.cell(row=number, column=index + 1)
            _style_value(cell, value, index in long_columns)
            if index not in long_columns:
                widths[index] = max(
                    widths[index], max((display_width(part) for part in _text(value).split("\n")), default=0)
                )
    first_data, last_data = 4, 3 + len(table.rows)
    if table.total:
        sheet.append(list(table.total))
        for cell in sheet[last_data + 1]:
            cell.style = "liaison-合计"

    for index, width in enumerate(widths):
        letter = get_column_letter(index + 1)
        sheet.column_dimensions[letter].width = LONG_TEXT_WIDTH if index in long_columns else min(width + 2, MAX_WIDTH)

    sheet.freeze_panes = "A4"
    sheet.auto_filter.ref = f"A3:{last}{max(last_data, first_data - 1)}"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"


def _cell_value(value: Any) -> Any:
    return value  # dates stay dates (real Excel dates), numbers numbers, text text


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _style_value(cell, value: Any, long_text: bool) -> None:
    if isinstance(value, datetime.date):
        cell.style = "liaison-日期"
    elif isinstance(value, str):
        cell.style = "liaison-长文字" if long_text or "\n" in value else "liaison-文字"
        if value.startswith(FORMULA_START):
            # openpyxl would write "=…" as a formula; store it as text, and
            # quotePrefix keeps Excel from turning it into one when edited.
            cell.data_type = "s"
            cell.quotePrefix = True
    else:
        cell.style = "liaison-居中"
