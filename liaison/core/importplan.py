"""Turning the office's spreadsheets into records, each row checked with exactly the rules of ``check``.

The flow, for each file: read its sheets (:mod:`liaison.core.sheets`), find
the header row among the first ten by the schema's labels and aliases, read
each row's cells into typed values the way people type them, find the
leader in the roster, then write the record as ``check`` would read it
(``dump_record`` → ``parse_record`` → ``roster_problems``) and keep every
problem. Nothing here writes a file: :func:`plan_import` returns a plan
with one outcome per row, and the submit layer commits the new records.

A record's id suffix is derived from its content, so importing a file twice
gives the same ids and the second import adds nothing; a 表2 exported by
this system carries its 记录编号, which is kept when it agrees with the row,
and its continued rows (序号 （续）, :mod:`liaison.core.continued`) are joined
back to the record they continue.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from liaison.core import dates
from liaison.core.checks import duplicate_content_problems, duplicate_id_problems, roster_problems
from liaison.core.continued import CARRIED_KEYS, SERIAL_HEADER, column_letter, join_continued
from liaison.core.problems import Problem
from liaison.core.project import ROSTER_FILE
from liaison.core.records import RECORD_ID, Record, dump_record, new_record_id, parse_record, record_path
from liaison.core.roster import Leader, Roster
from liaison.core.schema import Schema
from liaison.core.sheets import Formula, Sheet, SheetError, bounded_rows, read_sheets

HEADER_SCAN_ROWS = 10
RECORD_ID_KEY = "id"  # not a schema key: the 记录编号 column of an exported 表2
RECORD_ID_HEADERS = ("记录编号",)  # liaison.outputs.workbook.ID_HEADER and formats.ID_LABEL
LIKELY_SAME_KEYS = ("leader_id", "date", "target")  # one leader, one day, one group of students
ROSTER_KEYS = ("leader_id", "leader", "department", "position")
_BLANKS = " \t\r\n\u3000\xa0"
_FORMULA_START = ("=", "+", "-", "@")
# The ways people type a date (the form's, one pattern: 2020-6-20, 2020/6/20, 2020.6.20, 2020。6。20, 2020年6月20日),
# and 20200620.
_DATE_PATTERNS = (dates.TYPED_DATE, re.compile(r"(\d{4})(\d{2})(\d{2})"))
_TIME_OF_DAY = re.compile(r"\s+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_SIZE = re.compile(r"(?:约|大约|共)?(\d+)(?:人|名)?")
_SERIAL_LIMIT = 2958466  # Excel's last date, 9999-12-31

NEW, PRESENT, DUPLICATE, REFUSED, EMPTY = "new", "present", "duplicate", "refused", "empty"
STATUS_LABELS = {NEW: "新增", PRESENT: "已存在", DUPLICATE: "疑似重复", REFUSED: "未导入", EMPTY: "空行"}


@dataclass(frozen=True)
class Column:
    """One column of the sheet: its header and the record key it fills ('' when unused, with the reason)."""

    index: int
    header: str
    key: str = ""
    note: str = ""

    @property
    def letter(self) -> str:
        return column_letter(self.index)


@dataclass(frozen=True)
class RowProblem:
    """Why (part of) a row was not imported: the column (letter and header, '' for the whole row) and what to do."""

    column: str
    header: str
    field: str
    label: str
    message: str


@dataclass
class RowResult:
    row: int  # the spreadsheet's row number, 1-based
    status: str = NEW
    problems: list[RowProblem] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    record_id: str = ""
    path: str = ""
    raw: bytes = b""
    same_as: str = ""  # the record (path) or row this one repeats


@dataclass
class FileReport:
    name: str
    sha256: str
    sheet: str = ""
    header_row: int = 0
    columns: list[Column] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    error: str = ""  # the file (or this sheet) could not be imported at all; then rows is empty
    skipped_sheets: list[str] = field(default_factory=list)  # sheets without a header, not read

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def unused_columns(self) -> list[Column]:
        return [column for column in self.columns if not column.key]


@dataclass
class ImportPlan:
    files: list[FileReport]
    labels: dict[str, str] = field(default_factory=dict)  # record key -> label, for the report's wording
    header_needs: str = ""  # what a header row must name, for the report

    @property
    def new_rows(self) -> list[RowResult]:
        return [row for report in self.files for row in report.rows if row.status == NEW]

    @property
    def file_errors(self) -> list[FileReport]:
        return [report for report in self.files if report.error]

    @property
    def refused(self) -> int:
        return sum(report.count(REFUSED) for report in self.files)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.refused


@dataclass(frozen=True)
class ImportContext:
    """What a row is checked against. ``closed(date)`` names the closed semester a date falls in, if any."""

    schema: Schema
    roster: Roster
    today: datetime.date
    existing: list[Record]
    closed: Callable[[datetime.date], str | None] = lambda day: None
    reopen_reason: str = ""

    @functools.cached_property
    def present(self) -> dict[tuple, str]:
        """The existing records by content: a row equal to one of them is not checked or written again."""
        return {_fingerprint(record.data): record.path for record in self.existing}


# Headers -----------------------------------------------------------------------


def normalize_header(text: Any) -> str:
    """A header as compared: full-width forms folded, spaces and a trailing note such as （可选项） or ： removed."""
    name = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    previous = None
    while previous != name:
        previous = name
        name = re.sub(r"\([^()]*\)$", "", name).rstrip(":*")
    return name


def header_names(schema: Schema) -> dict[str, str]:
    """Normalised header -> record key: every label first, then the aliases of ``meta``."""
    names = {normalize_header(h): RECORD_ID_KEY for h in RECORD_ID_HEADERS}
    for f in schema.fields:
        names[normalize_header(f.label)] = f.key
    for f in schema.fields:
        for alias in f.aliases:
            names.setdefault(normalize_header(alias), f.key)
    return names


def map_header(cells: tuple, names: dict[str, str]) -> list[Column]:
    """The columns a header row names; a second column for one field is listed as unused."""
    columns: list[Column] = []
    taken: dict[str, Column] = {}
    for index, cell in enumerate(cells):
        if cell is None or isinstance(cell, Formula) or not str(cell).strip(_BLANKS):
            continue
        header = str(cell).strip(_BLANKS)
        key = names.get(normalize_header(header), "")
        if key in taken:
            first = taken[key]
            columns.append(Column(index, header, "", f"与 {first.letter} 列“{first.header}”是同一项，只导入了前者"))
        elif key:
            taken[key] = Column(index, header, key)
            columns.append(taken[key])
        else:
            columns.append(Column(index, header, "", "不是联系记录中的项目"))
    return columns


def find_header(rows: list[tuple], schema: Schema) -> tuple[int, list[Column]] | None:
    """(row number, columns) of the first row naming 联系时间 and the leader (姓名 or 工号), or None."""
    names = header_names(schema)
    for number, cells in enumerate(rows, 1):
        columns = map_header(cells, names)
        keys = {c.key for c in columns if c.key}
        if "date" in keys and keys & {"leader", "leader_id"} and len(keys) >= 3:
            return number, columns
    return None


def header_needs(schema: Schema) -> str:
    """What a header row must name, in words: the leader (by name or id) and the date."""
    name, leader_id, day = (schema.label((key,)) for key in ("leader", "leader_id", "date"))
    return f"“{name}”（或“{leader_id}”）和“{day}”两列"


def missing_columns(columns: list[Column], schema: Schema) -> list[str]:
    """Labels of required fields with no column; the roster fills 部门 and 职务, and 姓名 or 工号 suffices."""
    keys = {c.key for c in columns}
    optional = set(ROSTER_KEYS)
    return [f.label for f in schema.fields if f.required and f.key not in optional and f.key not in keys]


# Values ------------------------------------------------------------------------


def cell_text(value: Any, exact: bool = False, marked: bool = False) -> str:
    """A cell as text: line ends as \\n, 表2's dates and whole numbers as typed; blanks at both ends trimmed
    unless ``exact`` (a row this system wrote, see :func:`build_row`, comes back byte for byte).

    ``marked``: the cell comes from a CSV file, where a leading apostrophe is the mark that ``query --format
    csv`` (``liaison.outputs.formats.spreadsheet_safe``) and spreadsheets put before text that would otherwise
    run as a formula, or that starts with an apostrophe itself: one is taken off. In a workbook the mark is a
    cell style (quotePrefix), never part of the value, so an apostrophe there is the text's own.
    """
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    if marked and text[:1] == "'" and text[1:2] in (*_FORMULA_START, "\t", "\n", "'"):
        text = text[1:]
    return text if exact else text.strip(_BLANKS)


def to_date(value: Any, epoch: datetime.datetime) -> tuple[datetime.date | None, str]:
    """A date from an Excel date, a serial number or text such as 2020年6月20日; else (None, why)."""
    if isinstance(value, datetime.datetime):
        return value.date(), ""
    if isinstance(value, datetime.date):
        return value, ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_date(value, epoch)
    text = _TIME_OF_DAY.sub("", unicodedata.normalize("NFKC", str(value)).strip(_BLANKS))
    text = re.sub(r"\s+", "", text)
    if re.fullmatch(r"\d{5}", text):
        return _number_date(int(text), epoch)
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return datetime.date(int(match[1]), int(match[2]), int(match[3])), ""
            except ValueError:
                return None, f"“{_short(value)}”不是真实存在的日期，请核对月份和日期。"
    return None, (
        f"“{_short(value)}”不是能识别的日期。请写成 2020-06-20、2020/6/20、2020.6.20、2020年6月20日 或 20200620，"
        "或在 Excel 中把这一列设为日期格式。"
    )


def _number_date(number: float, epoch: datetime.datetime) -> tuple[datetime.date | None, str]:
    if float(number).is_integer() and 19000101 <= number <= 29991231:
        return to_date(str(int(number)), epoch)  # 20200620 typed as a number
    if 1 <= number < _SERIAL_LIMIT:
        return (epoch + datetime.timedelta(days=int(number))).date(), ""
    return None, f"数字 {_short(number)} 不是日期。请写成 2020-06-20 这样的日期，或在 Excel 中把这一列设为日期格式。"


def to_size(value: Any) -> tuple[int | None, str]:
    """A head count from 50, 50.0, ５０, 50人, 约50 or 1,200; else (None, why)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, ""
    if isinstance(value, float) and value.is_integer():
        return int(value), ""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
    text = re.sub(r"(?<=\d),(?=\d{3}(\D|$))", "", text)
    match = _SIZE.fullmatch(text)
    if match:
        return int(match[1]), ""
    return None, f"“{_short(value)}”不是人数。请只写一个整数，如 50（也可写 50人、约50）。"


def _short(value: Any, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


# Rows --------------------------------------------------------------------------


def read_row(
    cells: tuple, columns: list[Column], schema: Schema, epoch, marked: bool = False
) -> tuple[dict, dict[str, str]]:
    """The typed values of one row by key, and a message for each cell that could not be read.

    A row that carries a well-formed 记录编号 is one this system exported (表2, or ``query --format csv``):
    its text is taken exactly as it is, so that an export imported again gives the same bytes. Any other
    row's text is trimmed, as people's own sheets need. ``marked``: see :func:`cell_text`.
    """
    ids = [c for c in columns if c.key == RECORD_ID_KEY and c.index < len(cells)]
    exact = bool(ids) and bool(RECORD_ID.fullmatch(cell_text(cells[ids[0].index], marked=marked)))
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for column in columns:
        if not column.key:
            continue
        cell = cells[column.index] if column.index < len(cells) else None
        if isinstance(cell, Formula):
            errors[column.key] = (
                f"是公式（{_short(cell.text)}），导入时不计算公式。请在 Excel 中选中这一列，复制后“选择性粘贴→数值”，"
                "保存后再导入。"
            )
            continue
        kind = schema.field(column.key).type if schema.field(column.key) else "string"
        if kind != "string" and cell_text(cell, marked=marked) == "":
            continue  # left out: check says it is missing
        if kind == "date":
            value, message = to_date(cell, epoch)
        elif kind == "integer":
            value, message = to_size(cell)
        else:
            value, message = cell_text(cell, exact, marked), ""
        if message:
            errors[column.key] = message
        else:
            values[column.key] = value
    return values, errors


def is_empty_row(cells: tuple) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip(_BLANKS)) for cell in cells)


def resolve_leader(values: dict, roster: Roster, schema: Schema) -> tuple[Leader | None, str, str]:
    """(the leader, '' , '') or (None, the key at fault, why): by 工号 if given, else by name and 部门."""
    leader_id, name = values.get("leader_id", ""), values.get("leader", "")
    id_label, name_label, department_label = (schema.label((key,)) for key in ("leader_id", "leader", "department"))
    if leader_id:
        leader = roster.by_id.get(leader_id)
        if leader is None:
            return (
                None,
                "leader_id",
                f"{id_label}“{leader_id}”不在领导干部名单（{ROSTER_FILE}）中。请核对{id_label}；新任领导请先由思政科加入名单。",
            )
        return leader, "", ""
    if not name:
        return (
            None,
            "leader",
            (f"没有填写{name_label}。若这一行在合并单元格的下方，请在 Excel 中取消合并，并把姓名填到每一行后再导入。"),
        )
    candidates = roster.named(name)
    if len(candidates) == 1:
        return candidates[0], "", ""
    if not candidates:
        close = "、".join(leader.display for leader in roster.close_names(name))
        hint = f"名单中相近的有：{close}。" if close else ""
        return (
            None,
            "leader",
            (f"“{name}”不在领导干部名单（{ROSTER_FILE}）中。{hint}请核对姓名；新任领导请先由思政科加入名单。"),
        )
    department = normalize_header(values.get("department", ""))
    chosen = [c for c in candidates if department and normalize_header(c.department) == department]
    if len(chosen) == 1:
        return chosen[0], "", ""
    who = "、".join(c.display for c in candidates)
    why = (
        f"“{department_label}”列的“{values['department']}”与他们都不一致"
        if department
        else f"这一行没有填写{department_label}"
    )
    return (
        None,
        "leader",
        (
            f"名单中有 {len(candidates)} 位“{name}”：{who}；{why}。"
            f"请在“{department_label}”列写明与名单一致的{department_label}，或加一列“{id_label}”。"
        ),
    )


def build_row(
    number: int, cells: tuple, columns: list[Column], epoch, context: ImportContext, marked: bool = False
) -> RowResult:
    """One row as a record checked like ``check`` does; its problems name the columns."""
    schema = context.schema
    values, errors = read_row(cells, columns, schema, epoch, marked)
    leader, fault, why = resolve_leader(values, context.roster, schema)
    if fault and fault not in errors:
        errors[fault] = why
    data = {key: value for key, value in values.items() if key != RECORD_ID_KEY}
    if leader is not None:
        data["leader_id"] = leader.id
        data["leader"] = data.get("leader") or leader.name
        data["department"] = data.get("department") or leader.department
        data["position"] = data.get("position") or leader.position
        same = None if errors else context.present.get(_fingerprint(data))
        if same is not None:  # importing a file again: skip the work for what is already there
            return RowResult(number, PRESENT, data=data, record_id=PurePosixPath(same).stem, path=same, same_as=same)
    raw = dump_record(data, schema).encode("utf-8")
    record_id = _record_id(data, values.get(RECORD_ID_KEY, ""), raw)
    path = record_path(record_id) if record_id else "records/0000/import.yaml"
    record, problems = parse_record(path, raw, schema, context.today)
    if leader is not None and record is not None:
        problems += roster_problems(record, context.roster, schema)
    found = [(key, message) for key, message in errors.items()]
    skip = set(errors) | (set() if leader is not None else set(ROSTER_KEYS))
    found += [(p.field, p.message) for p in problems if p.field not in skip and (record_id or p.field)]
    found += _closed_problem(data, context)
    result = RowResult(number, data=data, record_id=record_id, path=path, raw=raw)
    problems_found = [_row_problem(key, message, columns, schema) for key, message in found]
    result.problems = sorted(problems_found, key=lambda p: (p.column == "", len(p.column), p.column))
    result.status = REFUSED if result.problems else NEW
    return result


def _record_id(data: dict, given: str, raw: bytes) -> str:
    """表2's 记录编号 when it agrees with the date and 工号; else one derived from the file's bytes ('' without both).

    The id is not part of the file, so the same row always gives the same id.
    """
    day, leader_id = data.get("date"), data.get("leader_id")
    if not isinstance(day, datetime.date) or not leader_id:
        return ""
    match = RECORD_ID.fullmatch(given)
    if match and given[:10] == day.isoformat() and match[4] == leader_id:
        return given
    digest = hashlib.sha256(raw).hexdigest()
    return new_record_id(day, leader_id, digest[:6])


def _closed_problem(data: dict, context: ImportContext) -> list[tuple[str, str]]:
    day = data.get("date")
    title = context.closed(day) if isinstance(day, datetime.date) else None
    if not title or context.reopen_reason:
        return []
    return [
        (
            "date",
            f'{day.isoformat()} 属于已关闭的{title}。导入这一学期的记录要写明理由：加上 --reopen-reason "理由" '
            "重新导入（理由写入提交说明，审计日志中会标出）。",
        )
    ]


def _row_problem(key: str, message: str, columns: list[Column], schema: Schema) -> RowProblem:
    column = next((c for c in columns if c.key == key), None)
    label = schema.label((key,)) if key else ""
    if column is None:
        return RowProblem("", label, key, label, message)
    return RowProblem(column.letter, column.header, key, label, message)


# Files ----------------------------------------------------------------------------


def plan_import(sources: Iterable[tuple[str, bytes]], context: ImportContext, sheet: str | None = None) -> ImportPlan:
    """What importing these files would do, row by row; nothing is written.

    ``sources`` are (name as given, bytes). Every sheet with a header is read
    (one report each), or only ``sheet``. Rows are compared with the existing
    records and with the rows before them, across all files.
    """
    reports = [report for name, data in sources for report in read_file(name, data, context, sheet)]
    classify(reports, context)
    labels = {f.key: f.label for f in context.schema.fields}
    return ImportPlan(reports, labels, header_needs(context.schema))


def read_file(name: str, data: bytes, context: ImportContext, wanted: str | None) -> list[FileReport]:
    """One report per sheet that has a header; or one report whose ``error`` says why the file cannot be read."""
    digest = hashlib.sha256(data).hexdigest()
    reports: list[FileReport] = []
    skipped: list[str] = []
    try:
        sheets = read_sheets(name, data, wanted)
        for sheet in sheets:
            report = FileReport(name, digest)
            if _read_sheet(sheet, report, context):
                reports.append(report)
            else:
                skipped.append(sheet.name)
        if not reports:
            return [FileReport(name, digest, error=_no_header_message(sheets, wanted, context.schema))]
    except SheetError as err:
        return [FileReport(name, digest, error=str(err))]
    for report in reports:
        if not report.error and all(row.status == EMPTY for row in report.rows):
            report.error = f"工作表“{report.sheet}”第 {report.header_row} 行的表头下面没有数据行，没有可导入的记录。"
        if report.error:
            report.rows = []
    reports[0].skipped_sheets = skipped
    return reports


def _read_sheet(sheet: Sheet, report: FileReport, context: ImportContext) -> bool:
    """Fill ``report`` from ``sheet`` if its header is found; False when it has none."""
    rows = bounded_rows(sheet.rows)
    head = list(itertools.islice(rows, HEADER_SCAN_ROWS))
    found = find_header(head, context.schema)
    if found is None:
        return False
    report.sheet, (report.header_row, report.columns) = sheet.name, found
    missing = missing_columns(report.columns, context.schema)
    if missing:
        report.error = (
            f"工作表“{sheet.name}”第 {report.header_row} 行的表头中找不到这些列：{'、'.join(missing)}。"
            "请补上这些列（表头用记录表中的名称），再导入。"
        )
        return True
    used = {c.index for c in report.columns}
    # Read to the end first: a file over the row limit is refused before any row is worked on.
    body = head[report.header_row :] + list(rows)
    for number, cells, problem in _records(body, report, context.schema):
        if is_empty_row(cells):
            report.rows.append(RowResult(number, EMPTY))
            continue
        for index, cell in enumerate(cells):
            if index not in used and not is_empty_row((cell,)):
                used.add(index)
                report.columns.append(Column(index, "", "", "这一列没有表头"))
        # A CSV file has no cell styles: an apostrophe before text may be the formula mark (cell_text).
        result = build_row(number, cells, report.columns, sheet.epoch, context, marked=not sheet.name)
        if problem:
            result.status = REFUSED
            result.problems.insert(0, RowProblem("", "", "", "", problem))
        report.rows.append(result)
    while report.rows and report.rows[-1].status == EMPTY:
        report.rows.pop()  # blank rows below the table are not rows of it
    report.columns.sort(key=lambda c: c.index)
    return True


def _records(body: list[tuple], report: FileReport, schema: Schema) -> list[tuple[int, tuple, str]]:
    """The sheet's rows numbered, with 表2's continued rows (序号 （续）) joined to the record above them."""
    numbered = list(enumerate(body, report.header_row + 1))
    marker = next((c.index for c in report.columns if normalize_header(c.header) == SERIAL_HEADER), None)
    record_id = next((c.index for c in report.columns if c.key == RECORD_ID_KEY), None)
    if marker is None and record_id is None:
        return [(number, cells, "") for number, cells in numbered]
    long = {
        c.index for c in report.columns if c.key and schema.field(c.key) and schema.field(c.key).widget == "textarea"
    }
    carried = {c.index for c in report.columns if c.key in CARRIED_KEYS}
    return join_continued(numbered, marker, record_id, long, is_empty_row, carried)


def _no_header_message(sheets: list[Sheet], wanted: str | None, schema: Schema) -> str:
    where = f"工作表“{wanted}”" if wanted else ("各工作表" if len(sheets) > 1 else "表格")
    labels = "、".join(f.label for f in schema.fields if f.key not in ("leader_id",))
    return (
        f"{where}的前 {HEADER_SCAN_ROWS} 行中找不到表头：表头行至少要有{header_needs(schema)}。"
        f"请把表头改为记录表中的名称（{labels}），或用 --sheet 指定工作表。"
    )


def classify(reports: list[FileReport], context: ImportContext) -> None:
    """Mark each clean row new, already present, or a likely duplicate (of a record, or of an earlier row).

    "Present" means a record with exactly these values exists (whatever its
    id); "likely duplicate" means one of the same leader, date and 联系对象.
    """
    seen = _Seen(
        dict(context.present),
        {_contact(r.data): r.path for r in context.existing},
        {r.path: r for r in context.existing},
    )
    for report in reports:
        for row in report.rows:
            if row.status == NEW:
                _classify_row(report, row, seen)
    _refuse_shared_ids(reports)
    _check_together(reports, context)


@dataclass
class _Seen:
    content: dict[tuple, str]  # fingerprint -> the record's path, or "<file> 第 N 行"
    contact: dict[tuple, str]
    paths: dict[str, Record]
    earlier_rows: set[str] = field(default_factory=set)  # the values above that name a row of this import


def _classify_row(report: FileReport, row: RowResult, seen: _Seen) -> None:
    fingerprint, contact = _fingerprint(row.data), _contact(row.data)
    existing = seen.paths.get(row.path)
    same = seen.content.get(fingerprint)
    if existing is not None and _fingerprint(existing.data) != fingerprint:
        row.status = REFUSED
        message = f"记录编号 {row.record_id} 已被 {row.path} 使用，内容却不同。请删除“记录编号”列后再导入。"
        row.problems.append(RowProblem("", "", "", "", message))
    elif same is not None:
        row.status, row.same_as = (DUPLICATE if same in seen.earlier_rows else PRESENT), same
    elif contact in seen.contact:
        row.status, row.same_as = DUPLICATE, seen.contact[contact]
    else:
        here = row_place(report, row)
        seen.content[fingerprint] = seen.contact[contact] = here
        seen.earlier_rows.add(here)


def row_place(report: FileReport, row: RowResult) -> str:
    """``汇总.xlsx 工作表“2023秋” 第 3 行``: where a row is, for a person to find it."""
    return f"{report.name}" + (f" 工作表“{report.sheet}”" if report.sheet else "") + f" 第 {row.row} 行"


def _refuse_shared_ids(reports: list[FileReport]) -> None:
    """New rows that would be written to one file (one 记录编号, in a sheet or across sheets and files) are all
    refused: each names the others. Rows with equal content are duplicates already; these differ, and which
    one is right only a person can say. Without this the last row would silently overwrite the others."""
    by_path: dict[str, list[tuple[FileReport, RowResult]]] = {}
    for report in reports:
        for row in report.rows:
            if row.status == NEW:
                by_path.setdefault(row.path, []).append((report, row))
    for path, rows in by_path.items():
        if len(rows) < 2:
            continue
        for _, row in rows:
            others = "、".join(row_place(r, o) for r, o in rows if o is not row)
            row.status = REFUSED
            row.problems.append(
                RowProblem(
                    "",
                    "",
                    "",
                    "",
                    f"记录编号 {PurePosixPath(path).stem} 与 {others} 相同，内容却不同：同一条记录只能有一行。"
                    "请核对后只保留正确的一行，或删除“记录编号”列后再导入。",
                )
            )


def _check_together(reports: list[FileReport], context: ImportContext) -> None:
    """The cross-record rules of ``check`` over the existing records and the new ones, as a last guard."""
    rows = {row.path: row for report in reports for row in report.rows if row.status == NEW}
    news = [Record(PurePosixPath(path).stem, path, row.data, {}, row.raw) for path, row in rows.items()]
    paths = [r.path for r in context.existing] + list(rows)
    found: list[Problem] = duplicate_id_problems(paths) + duplicate_content_problems(
        context.existing + news, context.schema
    )
    for problem in found:
        row = rows.get(problem.path)
        if row is not None:
            row.status = REFUSED
            row.problems.append(RowProblem("", "", "", "", problem.message))


def _fingerprint(data: dict) -> tuple:
    return tuple(sorted((key, str(value)) for key, value in data.items() if value not in ("", None)))


def _contact(data: dict) -> tuple:
    return tuple(str(data.get(key)) for key in LIKELY_SAME_KEYS)
