"""The workbook 联系情况汇总表.xlsx: 表1 联系次数汇总 and 表2 联系内容汇总 (requirement 3.(2)②).

Cell values are decided by pure functions (``count_table``, ``content_table``)
so tests can compare them with the records; ``build_workbook`` only lays
them out with openpyxl.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from liaison.core import dates
from liaison.core.config import Config
from liaison.core.continued import CARRIED_KEYS, CONTINUED, SERIAL_HEADER
from liaison.core.records import Record
from liaison.core.roster import Roster
from liaison.core.schema import Schema
from liaison.core.semesters import DateRange
from liaison.core.summary import contact_counts, records_by_leader
from liaison.outputs.archive import stamped_zip
from liaison.outputs.sheetlayout import (
    BODY_PT,
    MARGIN_SIDE_IN,
    Layout,
    plan_layout,
    printed_rows,
    row_height,
)

WORKBOOK_NAME = "联系情况汇总表.xlsx"
COUNT_SHEET = "表1 联系次数汇总"
CONTENT_SHEET = "表2 联系内容汇总"
# 表1's own columns; 领导姓名, 部门 and 职务 take the schema's labels of those keys.
COUNT_KEYS = ("leader", "department", "position")
ID_HEADER = "记录编号"
DATE_FORMAT = "yyyy-mm-dd"
# Said on a sheet that has continued rows, so no one counts them as records.
CONTINUED_NOTE = f"一格放不下的文字接在下面标有“{CONTINUED}”的行中，{CONTINUED}行不另计条数"
# Spreadsheet programs run a cell typed as one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    """A sheet's content: header and rows of plain values (str, int, date), plus its total row.

    The column sets say how the columns print (0-based indexes): ``long``
    text wraps, shares the page's width and continues in the rows below
    when one row cannot hold it; ``unbroken`` values (names) never wrap; a
    continued row repeats the ``carried`` columns and says （续） in ``marker``.
    """

    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    total: tuple[Any, ...] | None = None
    long: frozenset[int] = frozenset()
    unbroken: frozenset[int] = frozenset()
    carried: frozenset[int] = frozenset()
    marker: int | None = None


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
    whole = frozenset(n for n, key in enumerate(COUNT_KEYS, 1) if schema.field(key).whole)
    return Table(header, rows, total, unbroken=whole)


def content_table(records: list[Record], roster: Roster, schema: Schema) -> Table:
    """表2: every field of every record, in the schema's order and labels, by leader then date.

    职务 is the one on the record: the position at the time of the contact.
    """
    header = (SERIAL_HEADER, *(f.label for f in schema.fields), ID_HEADER)
    rows = [
        (n, *(record.data.get(f.key, "") for f in schema.fields), record.id)
        for n, record in enumerate(records_by_leader(records, roster), 1)
    ]
    column = {f.key: n for n, f in enumerate(schema.fields, 1)}  # 1: 序号 comes first
    return Table(
        header,
        rows,
        long=frozenset(column[f.key] for f in schema.fields if f.widget == "textarea"),
        unbroken=frozenset(column[f.key] for f in schema.fields if f.whole),
        carried=frozenset({*(column[key] for key in CARRIED_KEYS), len(header) - 1}),
        marker=0,
    )


_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FONT = "宋体"
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_TOP = Alignment(vertical="top", wrap_text=True)
# Real date-time cells (the audit log's 时间) sort and filter as time, and read as every other output writes it.
DATETIME_FORMAT = dates.SPREADSHEET_TIME_FORMAT


def _named_styles() -> list[NamedStyle]:
    """The cell styles, registered once per workbook; every cell of one kind shares one style array."""
    body = {"font": Font(name=_FONT, size=BODY_PT), "border": _BORDER}
    return [
        NamedStyle("liaison-标题", font=Font(name=_FONT, size=14, bold=True), alignment=_CENTER),
        NamedStyle(
            "liaison-副标题",
            font=Font(name=_FONT, size=BODY_PT, color="555555"),
            alignment=Alignment(vertical="center", wrap_text=True),
        ),
        NamedStyle(
            "liaison-表头",
            font=Font(name=_FONT, size=BODY_PT, bold=True),
            border=_BORDER,
            fill=PatternFill("solid", fgColor="D9E1F2"),
            alignment=_CENTER,
        ),
        NamedStyle("liaison-文字", alignment=_TOP, **body),
        NamedStyle("liaison-居中", alignment=_CENTER, **body),
        NamedStyle("liaison-日期", alignment=_CENTER, number_format=DATE_FORMAT, **body),
        NamedStyle("liaison-时间", alignment=_CENTER, number_format=DATETIME_FORMAT, **body),
        NamedStyle("liaison-合计", font=Font(name=_FONT, size=BODY_PT, bold=True), border=_BORDER, alignment=_TOP),
    ]


def build_workbook(
    records: list[Record],
    roster: Roster,
    schema: Schema,
    config: Config,
    date_range: DateRange,
    stamp: datetime.datetime,
    source: str,
) -> bytes:
    """The workbook's bytes; the same inputs always give the same bytes (entries dated in the configured zone).

    ``stamp`` (the commit's time, not the clock) dates the document, and
    ``source`` says what it was built from (e.g. 提交 1a2b3c4).
    """
    book = _new_book()
    subtitle = f"统计范围：{date_range.description}　数据来源：{source}（{config.shown(stamp)}）"
    for sheet, table in (
        (COUNT_SHEET, count_table(records, roster, schema)),
        (CONTENT_SHEET, content_table(records, roster, schema)),
    ):
        _fill(book.create_sheet(sheet), f"{config.school}领导干部结对联系学生情况 {sheet}", subtitle, table)
    return _save(book, config.office, f"联系情况汇总表 {date_range.title}", config.local(stamp))


def build_table_workbook(
    sheet: str,
    title: str,
    subtitle: str,
    table: Table,
    creator: str,
    stamp: datetime.datetime,
) -> bytes:
    """A one-sheet workbook of any table (the audit log), laid out and printed like 表1 and 表2."""
    book = _new_book()
    _fill(book.create_sheet(sheet), title, subtitle, table)
    return _save(book, creator, title, stamp)


def _new_book() -> Workbook:
    # Write-only: rows stream to the file as they come, with no cell objects kept;
    # it needs every width and height decided first (liaison.outputs.sheetlayout).
    book = Workbook(write_only=True)
    for style in _named_styles():
        book.add_named_style(style)
    return book


def _save(book: Workbook, creator: str, title: str, stamp: datetime.datetime) -> bytes:
    book.properties.creator = creator
    book.properties.title = title
    moment = stamp.astimezone(datetime.UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = moment
    out = io.BytesIO()
    # Every entry dated ``stamp``, not the clock: the same inputs give the same bytes.
    ExcelWriter(book, stamped_zip(out, stamp)).save()
    return out.getvalue()


class _Carrier(Cell):
    """A cell whose style index is known: openpyxl would hash the style array for every cell."""

    __slots__ = ("sid",)

    @property
    def style_id(self) -> int:
        return self.sid


class _Cells:
    """The cells of one write-only sheet, streamed through one reused cell object.

    openpyxl's own write-only ``append`` binds each value twice, raises and
    catches an exception for every ready-made cell, and makes a new cell
    after each styled one; here a row is (value, style array) pairs and one
    cell object carries each in turn to the writer, which serialises it
    before the next is set. Every cell of a kind shares its style array.
    """

    def __init__(self, sheet: WriteOnlyWorksheet):
        self.sheet = sheet
        self.styles: dict[tuple[str, bool], StyleArray] = {}
        self.ids: dict[int, int] = {}  # style array -> its index in the workbook's cell styles
        self.carrier = _Carrier(sheet, row=1, column=1)
        sheet._values_to_row = self._to_row  # the sheet's rows are our (value, style) pairs

    def style(self, name: str, quoted: bool = False) -> StyleArray:
        key = (name, quoted)
        if key not in self.styles:
            proto = WriteOnlyCell(self.sheet)
            proto.style = name
            proto.quotePrefix = quoted
            self.styles[key] = proto._style
            self.ids[id(proto._style)] = self.sheet.parent._cell_styles.add(proto._style)
        return self.styles[key]

    def _to_row(self, pairs, row_idx: int):
        cell = self.carrier
        for column, (value, style) in enumerate(pairs, 1):
            # The style first: binding a date checks the cell's number format (ours is a date format).
            cell._style = style
            cell.sid = self.ids[id(style)]
            cell.value = value
            if style.quotePrefix:
                # openpyxl would write "=…" as a formula; store it as text, and
                # quotePrefix keeps Excel from turning it into one when edited.
                cell.data_type = "s"
            cell.column, cell.row = column, row_idx
            yield cell

    def cell(self, value: Any, name: str) -> tuple[Any, StyleArray]:
        return value, self.style(name, isinstance(value, str) and value.startswith(FORMULA_START))

    def body(self, value: Any, centered: bool) -> tuple[Any, StyleArray]:
        if isinstance(value, datetime.datetime):
            return self.cell(value, "liaison-时间")
        if isinstance(value, datetime.date):
            return self.cell(value, "liaison-日期")
        if isinstance(value, str):
            return self.cell(value, "liaison-居中" if centered and "\n" not in value else "liaison-文字")
        return self.cell(value, "liaison-居中")


def _fill(sheet: WriteOnlyWorksheet, title: str, subtitle: str, table: Table) -> None:
    """Lay the table out for reading (frozen header, filter) and for printing (sheetlayout's plan)."""
    marks = {table.marker: CONTINUED} if table.marker is not None else {}
    every_row = [*table.rows, *([table.total] if table.total else [])]
    layout = plan_layout(table.header, every_row, table.long, table.unbroken, marks)

    def continued(column: int, value: Any) -> Any:
        return CONTINUED if column == table.marker else value if column in table.carried else None

    rows = [part for row in table.rows for part in printed_rows(row, layout, table.long, continued)]
    if len(rows) > len(table.rows):
        subtitle += f"　{CONTINUED_NOTE}"
    _page_setup(sheet, title, table, layout, len(rows))
    cells = _Cells(sheet)
    last = get_column_letter(len(table.header))
    sheet.merged_cells.add(f"A1:{last}1")
    sheet.merged_cells.add(f"A2:{last}2")
    sheet.row_dimensions[1].height = 26
    sheet.row_dimensions[2].height = row_height([subtitle], [sum(layout.widths)])
    sheet.append([cells.cell(title, "liaison-标题")])
    sheet.append([cells.cell(subtitle, "liaison-副标题")])
    sheet.row_dimensions[3].height = row_height(table.header, layout.widths)
    sheet.append([cells.cell(label, "liaison-表头") for label in table.header])
    # Short values (names, dates, numbers) are centred; long ones read from the top left.
    centered = [index not in table.long for index in range(len(layout.widths))]
    for number, (row, height) in enumerate(rows, start=4):
        sheet.row_dimensions[number].height = height
        sheet.append([cells.body(value, centered[index]) for index, value in enumerate(row)])
    if table.total:
        sheet.row_dimensions[4 + len(rows)].height = row_height(table.total, layout.widths)
        sheet.append([cells.cell(value, "liaison-合计") for value in table.total])


def _page_setup(sheet: WriteOnlyWorksheet, title: str, table: Table, layout: Layout, rows: int) -> None:
    for index, width in enumerate(layout.widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    last = get_column_letter(len(table.header))
    sheet.freeze_panes = "A4"
    sheet.auto_filter.ref = f"A3:{last}{3 + max(rows, 1)}"
    sheet.print_title_rows = "3:3"  # the header row on every printed page
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = layout.paper.code
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = MARGIN_SIDE_IN
    sheet.page_margins.top = sheet.page_margins.bottom = 0.75
    sheet.print_options.horizontalCentered = True
    sheet.oddHeader.center.text = title.replace("&", "&&")
    sheet.oddHeader.center.size = 11
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"
    sheet.oddFooter.center.size = 11
