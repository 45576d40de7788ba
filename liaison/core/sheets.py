"""Reading the office's spreadsheets safely: .xlsx through openpyxl, .csv in UTF-8 (with or without BOM) or GB18030.

A sheet is read as plain cell values, never evaluated: a formula cell comes
back as :class:`Formula` so the importer can refuse that row (a cached
result may be stale or forged, and we never run one). Workbooks are opened
``read_only`` (streamed, so a large sheet does not fill the memory) and with
``data_only=False``: with ``data_only=True`` openpyxl hands back a formula's
*cached* result and the formula itself is invisible.

Anything that is not a readable spreadsheet (an encrypted workbook, an old
.xls, a Word file renamed .xlsx, an empty file, more rows than
:data:`MAX_ROWS`) is one :class:`SheetError` with a Chinese message that
says what to do.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# An import is a migration of existing records, a few thousand at most; more rows
# than this is a wrong file (a whole database dump, a sheet filled to row 1,048,576).
MAX_ROWS = 20_000
MAX_COLUMNS = 60
MAX_BLANK_RUN = 1000
MAX_FILE_BYTES = 50 * 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: encrypted .xlsx, or .xls/.et
_ZIP_MAGIC = b"PK\x03\x04"
EXCEL_EPOCH = datetime.datetime(1899, 12, 30)


class SheetError(Exception):
    """The file cannot be read as a spreadsheet; the message (Chinese) says why and what to do."""


@dataclass(frozen=True)
class Formula:
    """A formula cell, as written (e.g. ``=A1+1``): never evaluated, never trusted."""

    text: str


@dataclass
class Sheet:
    """One sheet's rows of cell values (str, int, float, datetime, bool, Formula or None), row 1 first."""

    name: str  # the worksheet's name; '' for a CSV file
    rows: Iterator[tuple[Any, ...]]
    epoch: datetime.datetime = EXCEL_EPOCH  # day 0 of the workbook's serial dates


def read_sheets(name: str, data: bytes, wanted: str | None = None) -> list[Sheet]:
    """The sheets of the file ``name`` whose bytes are ``data`` (only ``wanted`` when given).

    Rows are read lazily; :func:`bounded_rows` stops a sheet that is too long.
    """
    if len(data) > MAX_FILE_BYTES:
        raise SheetError(
            f"文件有 {len(data) // (1024 * 1024)} MB，超过 {MAX_FILE_BYTES // (1024 * 1024)} MB 的上限，"
            "不像是联系记录表。请只保留需要导入的工作表，或拆分成几个文件。"
        )
    if not data.strip():
        raise SheetError("文件是空的，没有可导入的内容。请确认选对了文件。")
    suffix = Path(name).suffix.lower()
    if data.startswith(_CFB_MAGIC):
        raise SheetError(
            "这是加密（设置了打开密码）的 Excel 文件，或旧版 .xls/.et 格式，无法安全读取。"
            "请在 Excel 或 WPS 中打开，取消密码后“另存为” .xlsx 格式，再导入。"
        )
    if data.startswith(_ZIP_MAGIC):
        return _xlsx_sheets(data, wanted)
    if suffix in (".xlsx", ".xlsm", ".xls", ".et", ".ods"):
        raise SheetError(
            f"文件扩展名是 {suffix}，但内容不是 Excel 工作簿（.xlsx）。请在 Excel 或 WPS 中打开后“另存为” .xlsx 再导入。"
        )
    if suffix not in (".csv", ".txt"):
        raise SheetError("不是电子表格：只能导入 .xlsx 工作簿或 .csv 文件。请在 Excel 或 WPS 中“另存为”其中一种格式。")
    if wanted:
        raise SheetError(f"CSV 文件只有一张表，不能用 --sheet“{wanted}”指定工作表；请去掉 --sheet 后重试。")
    return [Sheet("", _csv_rows(_decode_text(data)))]


def bounded_rows(rows: Iterator[tuple[Any, ...]], limit: int = MAX_ROWS) -> Iterator[tuple[Any, ...]]:
    """``rows``, raising SheetError once more than ``limit`` non-empty rows have come.

    The table ends after :data:`MAX_BLANK_RUN` empty rows in a row: a sheet
    formatted down to row 1,048,576 is not read to its last row.
    """
    count = blanks = 0
    for row in rows:
        blanks = 0 if any(value not in (None, "") for value in row) else blanks + 1
        if blanks > MAX_BLANK_RUN:
            return
        if not blanks:
            count += 1
            if count > limit:
                raise SheetError(
                    f"超过 {limit} 行，不像是一份联系记录表（也可能是表格下方有大量无用的行）。"
                    f"请删除多余的行，或拆分成每份不超过 {limit} 行的文件分别导入。"
                )
        yield row


def _xlsx_sheets(data: bytes, wanted: str | None) -> list[Sheet]:
    from openpyxl import load_workbook  # loads only when a workbook is imported
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as err:
        raise SheetError(
            f"无法作为 Excel 工作簿读取（{type(err).__name__}）：文件可能已损坏，或不是 .xlsx。"
            "请在 Excel 或 WPS 中打开后“另存为” .xlsx 再导入。"
        ) from None
    names = book.sheetnames
    if wanted is not None and wanted not in names:
        raise SheetError(f"没有名为“{wanted}”的工作表。工作簿中的工作表有：{'、'.join(names)}。请核对 --sheet。")
    epoch = book.epoch
    return [Sheet(n, _xlsx_rows(book[n]), epoch) for n in names if wanted is None or n == wanted]


def _xlsx_rows(worksheet) -> Iterator[tuple[Any, ...]]:
    try:
        for cells in worksheet.iter_rows():
            yield tuple(
                Formula(str(cell.value)) if cell.data_type == "f" else cell.value for cell in cells[:MAX_COLUMNS]
            )
    except (SyntaxError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise SheetError(
            f"工作表“{worksheet.title}”内容损坏，无法读取（{type(err).__name__}）。"
            "请在 Excel 或 WPS 中打开后“另存为”新的 .xlsx 再导入。"
        ) from None


def _decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else GB18030, which Excel on Chinese Windows writes."""
    if b"\0" in data[:4096]:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise SheetError(
                "这是 UTF-16 编码的文本（Excel 的“Unicode 文本”），无法导入。"
                "请在 Excel 或 WPS 中“另存为” .xlsx 或“CSV（逗号分隔）”再导入。"
            )
        raise SheetError("不是电子表格：文件中有二进制内容。只能导入 .xlsx 工作簿或 .csv 文件。")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError(
            "CSV 文件的编码既不是 UTF-8 也不是 GB18030（GBK），无法读取。"
            "请在 Excel 或 WPS 中“另存为” .xlsx 或“CSV UTF-8”再导入。"
        ) from None


def _csv_rows(text: str) -> Iterator[tuple[Any, ...]]:
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            yield tuple(row[:MAX_COLUMNS])
    except csv.Error as err:
        raise SheetError(
            f"CSV 格式有误（{err}），可能有未配对的引号。请在 Excel 或 WPS 中打开并另存为 .xlsx 再导入。"
        ) from None
