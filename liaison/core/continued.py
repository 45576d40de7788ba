"""Rows that continue the record above them in 表2 (and the audit log): the marker, written and read back.

A spreadsheet row is at most 409 points tall, so a long text (联系内容 of
3,000 characters) cannot be printed in one cell. The workbook continues it
in the rows below, each marked ``（续）`` in the 序号 column. A continued row
repeats the record's identity (工号, 领导姓名, 部门, 职务, 联系时间, 记录编号),
so sorting and filtering by those keep it beside its record, and holds the
next part of each long text; its other cells are empty (人员规模 among them,
so a sum counts each record once). The parts are cut so that joining a
record's cells column by column, with nothing in between, gives back the
text exactly. ``build.py import`` joins them (:func:`join_continued`), by
the mark, or by the 记录编号 when the 序号 column was deleted;
docs/printing.md says the same to people.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

SERIAL_HEADER = "序号"
CONTINUED = "（续）"
# The record's identity, repeated on each continued row (and the 记录编号 column).
CARRIED_KEYS = ("leader_id", "leader", "department", "position", "date")


def is_continued(cell: Any) -> bool:
    """Whether a 序号 cell marks a continued row: （续）, (续) or 续, with any spaces around it."""
    if not isinstance(cell, str):
        return False
    text = "".join(unicodedata.normalize("NFKC", cell).split())
    return text in ("(续)", "续")


def join_continued(
    body: list[tuple[int, tuple]],
    marker: int | None,
    record_id: int | None,
    long_columns: set[int],
    is_blank: Callable[[tuple], bool],
    carried: set[int] = frozenset(),
) -> list[tuple[int, tuple, str]]:
    """The sheet's records as (row number, cells, problem): each continued row's long cells joined to its record.

    ``body`` holds (row number, cells) in sheet order; ``marker`` is the 序号
    column and ``record_id`` the 记录编号 column, either may be None (a sheet
    whose 序号 column was deleted: a row with the 记录编号 of the record above
    continues it, if it holds nothing but the carried identity (``carried``: those columns) and long text:
    two rows with one 记录编号 and their own 联系地点, 人员规模 … are two rows, refused by the import as such);
    ``long_columns`` are the
    columns whose text continues; blank rows (``is_blank``) are kept and
    skipped over. A continued row with no record above it, naming another
    记录编号, or holding a value of its own besides long text (another place,
    another day: another record, whose text must not be spliced into this one)
    is kept as its own row with a problem (Chinese) that says so, and the
    record above the latter two gets one too (its text may be incomplete);
    everything else comes back with an empty problem.
    """
    joined: list[list] = []  # [row number, cells, problem]
    head: list | None = None  # the record that a continued row below belongs to
    for number, cells in body:
        if is_blank(cells):
            joined.append([number, list(cells), ""])
            continue
        if not _continues(cells, head, marker, record_id, long_columns | carried):
            head = [number, list(cells), ""]
            joined.append(head)
            continue
        if head is None:
            problem = f"这一行的{SERIAL_HEADER}是“{CONTINUED}”，上面却没有它接续的记录。请改用导出的原表导入。"
            joined.append([number, list(cells), problem])
            continue
        other_id = record_id is not None and _text(_at(cells, record_id)) not in ("", _text(_at(head[1], record_id)))
        own = _own_values(cells, head[1], long_columns, carried, {marker, record_id})
        if other_id or own:
            joined.append(_not_continuing(head, number, cells, other_id, own))
            head = None
            continue
        first = head[1]
        first.extend([None] * (len(cells) - len(first)))
        for index in long_columns:
            part = _at(cells, index)
            if part not in (None, ""):
                first[index] = f"{_text(first[index])}{part}"
    return [(number, tuple(cells), problem) for number, cells, problem in joined]


def _not_continuing(head: list, number: int, cells: tuple, other_id: bool, own: str) -> list:
    """A continued row that does not belong to the record above (another 记录编号, or values of its own), as its
    own row with a problem; the record above gets one too: whether the row was its text cannot be told."""
    again = "表格排序或删改过行时，请改用导出的原表导入。"
    why = (
        f"记录编号却与它上面的第 {head[0]} 行不同。{CONTINUED}行要紧接在它所属记录的下面；"
        if other_id
        else f"却有第 {head[0]} 行的记录没有的内容（{own}），像是另一次联系。{CONTINUED}行只接着写上一条"
        "记录放不下的长文字，其余各格空着或与那条记录相同；"
    )
    head[2] = (
        head[2]
        or f"下面第 {number} 行的{CONTINUED}行{'记录编号与这一行不同' if other_id else '与这一行的记录对不上'}，"
        f"不能确定这条记录的文字是否完整。{again}"
    )
    return [number, list(cells), f"这一行的{SERIAL_HEADER}是“{CONTINUED}”，{why}{again}"]


def _own_values(cells: tuple, first: list, long_columns: set[int], carried: set[int], ignored: set) -> str:
    """The columns (as "E列、F列") where a continued row holds a value of its own: anything but long text, the
    mark and the 记录编号, unless it repeats the record's (a carried identity: 工号, 领导姓名, 联系时间 …)."""
    own = [
        index
        for index, cell in enumerate(cells)
        if index not in long_columns | ignored
        and _text(cell).strip()
        and (index not in carried or _text(cell).strip() != _text(_at(first, index)).strip())
    ]
    return "、".join(f"{column_letter(index)}列" for index in own)


def column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index``: A, B, …, Z, AA."""
    number, letters = index + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _continues(cells: tuple, head: list | None, marker: int | None, record_id: int | None, may_fill: set[int]) -> bool:
    if marker is not None:
        return is_continued(_at(cells, marker))
    same = record_id is not None and head is not None and _text(_at(cells, record_id)).strip()
    if not (same and _text(_at(cells, record_id)) == _text(_at(head[1], record_id))):
        return False
    # Without the mark, only a row that holds nothing of its own (a record's other fields) can be a continuation.
    return all(_text(cell).strip() == "" for index, cell in enumerate(cells) if index not in may_fill | {record_id})


def _at(cells: tuple | list, index: int | None) -> Any:
    return cells[index] if index is not None and index < len(cells) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)
