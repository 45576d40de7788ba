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

A workbook is a zip of XML, and a small one can unpack to gigabytes: one row
of 15 million empty cells in 63 KB, a 1.6 GB string, 2 GB of blanks, a
million shared strings. Before openpyxl sees a workbook, :func:`check_workbook`
reads every part once as a stream (expat, no tree; every part, whatever its
name: the package's relationships may call a worksheet ``sheet1.bin``) and
refuses it as soon as it passes a limit (:class:`Limits`): what the parts
unpack to in all, cells in a row and characters in a cell (Excel's own limits,
16,384 and 32,767), shared strings, a tag that never ends, any DTD or entity,
and elements: openpyxl holds a row (or a shared string) whole as a tree, and
makes an object of every element outside the sheets' rows (styles, defined
names, merged cells), so those are counted too. Only a workbook within them is
handed to openpyxl, whose streaming reader then holds one row at a time. A CSV
file is held to the same cell limits line by line.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import struct
import xml.parsers.expat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

# An import is a migration of existing records, a few thousand at most; more rows
# than this is a wrong file (a whole database dump, a sheet filled to row 1,048,576).
MAX_ROWS = 20_000
MAX_COLUMNS = 60
MAX_BLANK_RUN = 1000
MAX_FILE_BYTES = 50 * 1024 * 1024
MB = 1024 * 1024
# Excel's own limits: no workbook Excel or WPS writes has more.
MAX_CELL_CHARS = 32_767
MAX_ROW_CELLS = 16_384
MAX_SHARED_STRINGS = 1_000_000
MAX_PARTS = 10_000
MAX_DIRECTORY_BYTES = MAX_PARTS * 400  # a zip's central directory: 46 bytes a member, its name and extra fields
MAX_TAG_BYTES = 2 * MB  # bytes of XML without a single whole tag or text: an attribute or a tag that never ends
# openpyxl builds a row's (or a shared string's) elements as one tree: 16,384 cells with a value and an
# inline string each are 65,536. It keeps every row it has read as an empty element (Excel has 1,048,576
# rows at most). Everything outside the rows and the strings (styles, defined names, merged cells,
# hyperlinks) is held whole or becomes an object of about 1 KB: Excel's most of 64,000 cell formats, each
# with its alignment, stays within 200,000; 15 million `<xf/>` in a 113 KB file would fill the memory.
MAX_UNIT_ELEMENTS = 65_536
MAX_SHEET_ROWS = 1_048_576
MAX_OTHER_ELEMENTS = 200_000
_CHUNK = MB


@dataclass(frozen=True)
class Limits:
    """What one imported file may be; an administrator raises the sizes with environment variables."""

    file_bytes: int = MAX_FILE_BYTES  # LIAISON_IMPORT_MAX_FILE_MB
    unpacked_bytes: int = 100 * MB  # LIAISON_IMPORT_MAX_UNPACKED_MB: a workbook's XML, unpacked, in all
    rows: int = MAX_ROWS  # LIAISON_IMPORT_MAX_ROWS

    @classmethod
    def from_environment(cls) -> Limits:
        """The limits, each raised (or lowered) by its environment variable when set to a whole number."""
        return cls(
            env_int("LIAISON_IMPORT_MAX_FILE_MB", MAX_FILE_BYTES // MB) * MB,
            env_int("LIAISON_IMPORT_MAX_UNPACKED_MB", cls.unpacked_bytes // MB) * MB,
            env_int("LIAISON_IMPORT_MAX_ROWS", MAX_ROWS),
        )


def env_int(name: str, default: int) -> int:
    """The whole number ``name`` holds in the environment, or ``default`` when it is unset or not one."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


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


def read_sheets(name: str, data: bytes, wanted: str | None = None, limits: Limits | None = None) -> list[Sheet]:
    """The sheets of the file ``name`` whose bytes are ``data`` (only ``wanted`` when given).

    Rows are read lazily; :func:`bounded_rows` stops a sheet that is too long.
    """
    limits = limits or Limits.from_environment()
    if len(data) > limits.file_bytes:
        raise SheetError(
            f"文件超过 {limits.file_bytes // MB} MB 的上限，不像是联系记录表。请只保留需要导入的工作表，"
            "或拆分成几个文件（管理员可用环境变量 LIAISON_IMPORT_MAX_FILE_MB 调高上限）。"
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
        check_workbook(data, limits)
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


def _too_big(what: str, limit: str) -> SheetError:
    return SheetError(
        f"{what}，超过{limit}的上限：这不像是 Excel 或 WPS 保存的联系记录表（可能已损坏，或被故意做成“压缩炸弹”），"
        "没有读取，也没有写入任何内容。请在 Excel 或 WPS 中打开后“另存为”新的 .xlsx，只保留需要导入的内容，再导入。"
    )


def check_workbook(data: bytes, limits: Limits | None = None) -> None:
    """Raise SheetError unless the workbook ``data`` stays within ``limits`` when unpacked and parsed.

    Reads each XML part once as a stream and stops at the first limit passed: no part is held whole, and
    a refusal costs at most ``limits.unpacked_bytes`` of unpacking. A zip's declared sizes bound what
    Python's zipfile gives back (it stops there, or fails the checksum), so they are checked first.
    """
    limits = limits or Limits.from_environment()
    directory = central_directory_bytes(io.BytesIO(data))
    if directory > MAX_DIRECTORY_BYTES:
        raise _too_big(f"工作簿的目录有 {directory // 1024} KB", f" {MAX_DIRECTORY_BYTES // 1024} KB ")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip after all: openpyxl says so in its own words below
    with archive:
        members = archive.infolist()
        if len(members) > MAX_PARTS:
            raise _too_big(f"工作簿由 {len(members)} 个部分组成", f" {MAX_PARTS} 个")
        declared = sum(member.file_size for member in members)
        if declared > limits.unpacked_bytes:
            raise _too_big(f"工作簿解压后有 {declared // MB} MB", f" {limits.unpacked_bytes // MB} MB ")
        budget = _Budget(limits.unpacked_bytes)
        for member in members:
            # Every part, whatever its name: openpyxl reads a part where the package's relationships point.
            # One that is no XML stops expat at its first bytes.
            _scan_part(archive, member, budget)


def central_directory_bytes(file: BinaryIO) -> int:
    """How many bytes the zip ``file``'s central directory says it has (0 when there is no end record).

    Python's zipfile reads that many bytes and makes an object of every member in them before anyone
    can count the members (at 46 bytes or more each, a 94 MB directory is 2 million members and fills
    500 MB), and it trusts neither the member count nor anything else there. So this asks zipfile's own
    reader of the end record: the size read here is the size it will read, with no second opinion an
    attacker could play against the first.
    """
    try:
        found = zipfile._EndRecData(file)  # noqa: SLF001 - see above: zipfile's own answer, nothing parsed twice
    except (OSError, struct.error):
        return 0
    return found[zipfile._ECD_SIZE] if found else 0  # noqa: SLF001


@dataclass
class _Budget:
    """What the rest of the workbook may still hold: unpacked bytes, and elements outside rows and strings."""

    unpacked: int
    elements: int = MAX_OTHER_ELEMENTS


def _scan_part(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget) -> None:
    scan = _PartScan(member.filename, budget)
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                budget.unpacked -= len(chunk)
                if budget.unpacked < 0:
                    raise _too_big("工作簿解压后的内容", "导入的")
                scan.feed(chunk)
        scan.feed(b"", final=True)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError):
        return  # a damaged or encrypted part: openpyxl names the file's trouble below
    except xml.parsers.expat.ExpatError:
        # Not well-formed (or no XML at all): what came before the fault was counted, and openpyxl's
        # parser (expat too) stops at the same place.
        return


class _PartScan:
    """Counts as expat reads one XML part, and raises SheetError at the first limit passed."""

    TEXT = frozenset({"t", "v", "f"})  # a cell's text, value or formula
    # What openpyxl reads one at a time and lets go of: a row of a sheet's data, a string of the string table.
    UNITS = frozenset({("sheetData", "row"), ("sst", "si")})

    def __init__(self, name: str, budget: _Budget):
        self.name, self.budget = name, budget
        self.open: list[str] = []  # the names of the elements open, outermost first
        self.unit_depth = 0  # how many were open when the row or string being read began; 0 outside one
        self.unit_elements = self.rows = 0
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.doctype
        self.cells = self.strings = self.chars = 0
        self.in_text = False
        self.fed = self.seen = 0

    def feed(self, chunk: bytes, final: bool = False) -> None:
        self.fed += len(chunk)
        self.parser.Parse(chunk, final)
        if self.fed - self.seen > MAX_TAG_BYTES:
            raise _too_big(f"工作簿的 {self.name} 中有一个超过 {MAX_TAG_BYTES // MB} MB 的标记", "单个标记")

    def start(self, tag: str, attributes: dict) -> None:
        self.seen = self.parser.CurrentByteIndex
        name = tag.rpartition(":")[2]
        self._count(name)
        self.open.append(name)
        if name == "c":
            self.cells += 1
            if self.cells > MAX_ROW_CELLS:
                raise _too_big(f"工作表的一行中有超过 {MAX_ROW_CELLS} 个单元格", "每行单元格数（Excel 的）")
        elif name == "row":
            self.cells = 0
        elif name == "si":
            self.strings += 1
            if self.strings > MAX_SHARED_STRINGS:
                raise _too_big(f"工作簿中有超过 {MAX_SHARED_STRINGS} 个不同的文字", "文字个数")
        self.in_text, self.chars = name in self.TEXT, 0

    def end(self, tag: str) -> None:
        self.seen = self.parser.CurrentByteIndex
        self.in_text = False
        self.open.pop()
        if len(self.open) == self.unit_depth:
            self.unit_depth = 0

    def _count(self, name: str) -> None:
        """Count an element where openpyxl pays for it: in its row or string, as a row, or in the rest."""
        if self.unit_depth:
            self.unit_elements += 1
            if self.unit_elements > MAX_UNIT_ELEMENTS:
                raise _too_big(
                    f"工作簿的 {self.name} 中一行或一个文字有超过 {MAX_UNIT_ELEMENTS} 个 XML 元素", "每行元素数"
                )
        elif self.open and (self.open[-1], name) in self.UNITS:
            self.unit_depth, self.unit_elements = len(self.open), 0
            self.rows += name == "row"
            if self.rows > MAX_SHEET_ROWS:
                raise _too_big(f"工作簿的 {self.name} 中有超过 {MAX_SHEET_ROWS} 行", "工作表行数（Excel 的）")
        else:
            self.budget.elements -= 1
            if self.budget.elements < 0:
                raise _too_big(
                    f"工作簿中工作表数据之外的 XML 元素（样式、名称、合并单元格等）超过 {MAX_OTHER_ELEMENTS} 个",
                    "元素个数",
                )

    def text(self, data: str) -> None:
        self.seen = self.parser.CurrentByteIndex
        if self.in_text:
            self.chars += len(data)
            if self.chars > MAX_CELL_CHARS:
                raise _too_big(f"工作簿中有一个单元格超过 {MAX_CELL_CHARS} 个字", "每个单元格字数（Excel 的）")

    def doctype(self, *args) -> None:
        raise _too_big("工作簿的 XML 中有 DTD 或实体声明（Excel 从不写入）", "安全读取")


def bounded_rows(rows: Iterator[tuple[Any, ...]], limit: int | None = None) -> Iterator[tuple[Any, ...]]:
    """``rows``, raising SheetError when a non-empty row comes after more than ``limit`` rows.

    The table ends after :data:`MAX_BLANK_RUN` empty rows in a row: a sheet
    formatted down to row 1,048,576 is not read to its last row. Empty rows
    count towards the limit (the reader holds each row it is given): rows a
    thousand apart would otherwise make millions of empty ones in between.
    """
    limit = limit or Limits.from_environment().rows
    blanks = 0
    for count, row in enumerate(rows, 1):
        blanks = 0 if any(value not in (None, "") for value in row) else blanks + 1
        if blanks > MAX_BLANK_RUN:
            return
        if not blanks and count > limit:
            raise SheetError(
                f"超过 {limit} 行，不像是一份联系记录表（也可能是表格下方有大量无用的行）。"
                f"请删除多余的行，或拆分成每份不超过 {limit} 行的文件分别导入。"
            )
        yield row


def _xlsx_sheets(data: bytes, wanted: str | None) -> list[Sheet]:
    from openpyxl import load_workbook  # loads only when a workbook is imported

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as err:  # noqa: BLE001 - hostile bytes: any failure of the parser means "cannot be read"
        if isinstance(err, SheetError):
            raise
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
    except Exception as err:  # noqa: BLE001 - hostile bytes: any failure of the parser means "cannot be read"
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


def _bounded_lines(text: str, delimiter: str) -> Iterator[str]:
    """The text's lines, refusing one with more delimiters than a row may have cells: the csv module would
    build the whole row (50 MB of commas is 50 million cells) before anyone could count them."""
    if "\n" not in text:
        text = text.replace("\r", "\n")  # old Mac line ends
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        if text.count(delimiter, start, end) >= MAX_ROW_CELLS:  # counted in place: the line is never copied
            raise _too_big(f"有一行超过 {MAX_ROW_CELLS} 个单元格", "每行单元格数（Excel 的）")
        yield text[start:end]
        start = end


def _csv_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Excel's CSV with the delimiter the first line uses most (a comma when tied): a header names its
    columns with it. Without one in the first line (a title above the table), the csv module's guess.
    Guessing from the body would let the records' own text (a content full of tabs) choose."""
    first = text[: text.find("\n")] if "\n" in text[:65536] else text[:65536]
    counts = {delimiter: first.count(delimiter) for delimiter in ",\t;"}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    if counts[best]:
        return type("Found", (csv.excel,), {"delimiter": best})
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        return csv.excel


def _csv_rows(text: str) -> Iterator[tuple[Any, ...]]:
    dialect = _csv_dialect(text)
    try:
        for row in csv.reader(_bounded_lines(text, dialect.delimiter), dialect):
            if any(len(cell) > MAX_CELL_CHARS for cell in row):
                raise _too_big(f"有一个单元格超过 {MAX_CELL_CHARS} 个字", "每个单元格字数（Excel 的）")
            yield tuple(row[:MAX_COLUMNS])
    except csv.Error as err:
        raise SheetError(
            f"CSV 格式有误（{err}），可能有未配对的引号。请在 Excel 或 WPS 中打开并另存为 .xlsx 再导入。"
        ) from None
