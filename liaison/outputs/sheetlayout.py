"""How a table prints: paper, column widths, row heights and scale, decided before a cell is written.

Pure arithmetic over the table's text, so tests can check it and the writer
can stream rows (openpyxl's write-only mode needs widths before the first
row and each row's height before the row). The units:

- a column width of ``w`` (Excel's unit, the width of a digit of the default
  font) holds about ``w`` half-width characters of the 10.5 pt body text, a
  CJK character counting two (``display_width``);
- a wrapped line of 10.5 pt text takes ``LINE_PT`` points of row height.

The page is fitted to the paper's width only while the body text stays at
least ``MIN_BODY_PT`` points: a table too wide for A4 landscape at that size
goes on A3 landscape, and long-text columns are narrowed (wrapping more)
until it fits there.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass

BODY_PT = 10.5
MIN_BODY_PT = 8.0
LINE_PT = 14.0  # one wrapped line of 10.5 pt CJK text, with the font's leading
ROW_PADDING_PT = 5.0
MAX_ROW_PT = 409.0  # Excel's limit for a row's height
# Points a unit of column width takes on paper (a digit of Calibri 11 is 7 px = 5.25 pt,
# plus the cell's own padding), with room for LibreOffice's and WPS's font substitutes.
UNIT_PT = 5.6
MARGIN_SIDE_IN = 0.4
SHORT_MAX = 26  # short fields (names, places) up to 12 CJK characters stay on one line
ID_MAX = 36  # Latin-only values (record ids, commits) cannot wrap between characters: room for them
LONG_WIDTH = 48  # 联系内容 and the like: wide enough for ~23 characters a line
LONG_MIN = 20


@dataclass(frozen=True)
class Paper:
    name: str
    code: int  # openpyxl's paperSize
    width_pt: float  # landscape

    @property
    def printable_pt(self) -> float:
        return self.width_pt - 2 * 72 * MARGIN_SIDE_IN


A4 = Paper("A4", 9, 842.0)
A3 = Paper("A3", 8, 1191.0)


@dataclass(frozen=True)
class Layout:
    paper: Paper
    widths: tuple[float, ...]
    scale: int  # percent, what fitting to the paper's width comes to
    wraps: tuple[bool, ...] = ()  # columns whose text may wrap (needs measuring row by row)

    @property
    def body_pt(self) -> float:
        return BODY_PT * self.scale / 100


def display_width(text: str) -> int:
    """Columns a text needs: CJK characters (and the ambiguous ones CJK fonts draw wide, like ·) are two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


# Half-width characters at their widest substitute (DejaVu Sans stands in for 宋体 in LibreOffice).
NARROW = 1.3


def print_width(text: str) -> float:
    """Column units a line of text takes when printed: a CJK character two, others up to NARROW.

    Every non-ASCII character counts as wide (safe: at worst a column is a
    little wider); counting ASCII by encoding runs in C, which matters for
    10,000 records of long text.
    """
    narrow = len(text.encode("ascii", "ignore"))
    return 2 * (len(text) - narrow) + NARROW * narrow


def _has_wide(text: str) -> bool:
    return not text.isascii()


def text_of(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat(" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


@functools.lru_cache(maxsize=65536)
def _paragraph_widths(text: str) -> tuple[float, ...]:
    # Cached: names, departments and places repeat on thousands of rows, and
    # each long text is measured twice (column widths, then row heights).
    return tuple(print_width(part) for part in text.split("\n"))


def widest_line(value) -> int:
    return math.ceil(max(_paragraph_widths(text_of(value)), default=0))


def column_widths(header, rows, long_columns: set[int]) -> tuple[list[float], list[int]]:
    """Each column as wide as its widest line (within limits), long-text columns a fixed reading
    width; and each column's widest line."""
    widths, widest_lines = [], []
    for index, label in enumerate(header):
        widest = max([math.ceil(print_width(str(label))), *(widest_line(row[index]) for row in rows)])
        widest_lines.append(widest)
        if index in long_columns:
            widths.append(float(LONG_WIDTH))
            continue
        latin = all(not _has_wide(text_of(row[index])) for row in rows)
        widths.append(float(min(widest + 2, ID_MAX if latin else SHORT_MAX)))
    return widths, widest_lines


def _scale(widths, paper: Paper) -> int:
    return min(100, math.floor(100 * paper.printable_pt / (sum(widths) * UNIT_PT)))


def plan_layout(header, rows, long_columns: set[int]) -> Layout:
    """The paper and widths that keep the body text ≥ MIN_BODY_PT when fitted to the page's width."""
    _paragraph_widths.cache_clear()  # one table's texts at a time: memory stays bounded by the table
    widths, widest = column_widths(header, rows, long_columns)
    least = math.ceil(100 * MIN_BODY_PT / BODY_PT)
    paper = A4 if _scale(widths, A4) >= least else A3
    # Too wide even for A3: narrow the long columns, then the short ones, keeping the ratio.
    while _scale(widths, paper) < least and any(w > LONG_MIN for i, w in enumerate(widths) if i in long_columns):
        widths = [w - 2 if i in long_columns and w > LONG_MIN else w for i, w in enumerate(widths)]
    if _scale(widths, paper) < least:
        factor = paper.printable_pt * 100 / (least * UNIT_PT * sum(widths))
        widths = [max(6.0, math.floor(w * factor)) for w in widths]
    # Only a column whose widest line does not fit wraps; the others take one line a paragraph.
    wraps = tuple(w > width - 2 for w, width in zip(widest, widths, strict=True))
    return Layout(paper, tuple(widths), _scale(widths, paper), wraps)


def lines_needed(value, width: float) -> int:
    """Wrapped lines a value takes in a column ``width`` wide (latin words wrap whole, so leave slack)."""
    room = max(width - 2, 2)
    return sum(max(1, math.ceil(width / room)) for width in _paragraph_widths(text_of(value)))


def row_height(row, widths, wraps=None) -> float:
    """A row's height from its tallest cell: wrapped lines where the column wraps, else its paragraphs."""
    lines = 1
    for index, (value, width) in enumerate(zip(row, widths, strict=False)):
        if wraps is None or wraps[index]:
            lines = max(lines, lines_needed(value, width))
        elif isinstance(value, str):
            lines = max(lines, value.count("\n") + 1)
    return min(MAX_ROW_PT, lines * LINE_PT + ROW_PADDING_PT)
