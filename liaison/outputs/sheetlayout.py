"""How a table prints: paper, column widths, row heights and scale, decided before a cell is written.

Pure arithmetic over the table's text, so tests can check it and the writer
can stream rows (openpyxl's write-only mode needs widths before the first
row and each row's height before the row). The units:

- a column width of ``w`` (Excel's unit, the width of a digit of the default
  font) holds about ``w`` half-width characters of the 10.5 pt body text, a
  CJK character counting two (``print_width``);
- a wrapped line of 10.5 pt text takes ``LINE_PT`` points of row height.

The page is fitted to the paper's width only while the body text stays at
least ``MIN_BODY_PT`` points: a table too wide for A4 landscape at that size
goes on A3 landscape. When even A3 is too narrow for every column on one
line, every column starts at the least it may have (names whole, ids on two
lines, short text six characters a line) and the columns that wrap share
the rest by how much text each holds, so that each needs about as many
lines. A row is at most ``MAX_ROW_PT`` tall (Excel's limit), so a long text
that needs more continues in the rows below (:func:`printed_rows`, marked as
:mod:`liaison.core.continued` says).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from liaison.core import dates

BODY_PT = 10.5
MIN_BODY_PT = 8.0
LINE_PT = 13.5  # one wrapped line of 10.5 pt 宋体, as Excel spaces it (LibreOffice needs 12.3)
ROW_PADDING_PT = 5.0
MAX_ROW_PT = 409.0  # Excel's limit for a row's height
MAX_LINES = math.floor((MAX_ROW_PT - ROW_PADDING_PT) / LINE_PT)
# Points a unit of column width takes on paper (a digit of Calibri 11 is 7 px = 5.25 pt,
# plus the cell's own padding), with room for LibreOffice's and WPS's font substitutes.
UNIT_PT = 5.6
MARGIN_SIDE_IN = 0.4
# LibreOffice settles on a zoom a few percent below what the widths need (a sheet that needs 77.6 %
# prints at 75 %): the widths are planned for 4 % less than the page holds.
FIT_SLACK = 0.96
SHORT_MAX = 26  # short fields (names, places) up to 12 CJK characters stay on one line when there is room
SHORT_WRAP = 14  # a short field that has to wrap: six characters a line
ID_MAX = 36  # Latin-only values (record ids, commits): room for them on one line when there is room
LATIN_LEAST = 22  # and when there is not, a record id on two lines (2025-09-15- / T2019001-3fa2c1)
WORD_MAX = 18  # a Latin word up to this wide (2026-11-24 ) is kept whole when its column wraps
LONG_WIDTH = 48  # 联系内容 and the like: ~23 characters a line when there is room
LONG_MIN = 20
LONG_MAX = 72  # wider lines are hard to follow
VOLUME_CAP = 8 * LONG_WIDTH


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
# The ASCII characters DejaVu Sans draws wider than that (W, m and @ nearly a CJK character), at their width
# rounded up: a text of them planned as average letters needs more lines than its rows have.
WIDER, WIDER_CHARACTERS = 1.65, b"#&+<=>DGHMNOQU^w~"
WIDEST, WIDEST_CHARACTERS = 1.9, b"%@Wm"


def print_width(text: str) -> float:
    """Column units a line of text takes when printed: a CJK character two, others up to NARROW (WIDER, WIDEST).

    Every non-ASCII character counts as wide (safe: at worst a column is a
    little wider); counting ASCII by encoding and deleting bytes runs in C,
    which matters for 10,000 records of long text.
    """
    ascii_text = text.encode("ascii", "ignore")
    narrow = len(ascii_text)
    wider = narrow - len(ascii_text.translate(None, WIDER_CHARACTERS))
    widest = narrow - len(ascii_text.translate(None, WIDEST_CHARACTERS))
    return 2 * (len(text) - narrow) + NARROW * narrow + (WIDER - NARROW) * wider + (WIDEST - NARROW) * widest


def _has_wide(text: str) -> bool:
    return not text.isascii()


def text_of(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):  # as the workbook shows a date-time (dates.SPREADSHEET_TIME_FORMAT): 2026-11-24 13:55:40
        return value.strftime(dates.SECONDS_FORMAT)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@functools.lru_cache(maxsize=65536)
def _paragraph_widths(text: str) -> tuple[float, ...]:
    # Cached: names, departments and places repeat on thousands of rows, and
    # each long text is measured twice (column widths, then row heights).
    return tuple(print_width(part) for part in text.split("\n"))


def widest_line(value) -> int:
    return math.ceil(max(_paragraph_widths(text_of(value)), default=0))


# Where Latin-only text may wrap: after a space, and after a hyphen that a letter follows
# (2025-09-15-T2019001-3fa2c1 keeps its date whole on the first line); a path after any / or -.
_LATIN_BREAK = re.compile(r"(?<= )|(?<=-)(?=[^\d\s])")
_PATH_BREAK = re.compile(r"(?<=[ /-])")
# A line's pieces: runs of wide (non-ASCII) text, breakable between any two characters; Latin words; spaces.
_TOKENS = re.compile(r"[^\x00-\x7f]+|[^\x80-\U0010ffff ]+| +")


@functools.lru_cache(maxsize=65536)
def _word_width(word: str) -> float:
    return print_width(word)  # cached: a text's words repeat


@functools.lru_cache(maxsize=65536)
def _lines_of(paragraph: str, room: float) -> int:
    """Lines a paragraph wraps to in ``room`` units, the way a spreadsheet wraps it.

    Greedy, as Excel and LibreOffice fill lines: wide characters one by one,
    a Latin word whole when it fits on a line (else broken), spaces kept.
    """
    lines, used = 1, 0.0
    per_line = max(int(room // 2), 1)  # wide characters a line holds
    for token in _TOKENS.findall(paragraph):
        if token[0] == " ":
            used += NARROW * len(token)  # a space at a line's end hangs; counting it errs on the safe side
            continue
        if token[0] >= "\x80":
            count = len(token)
            free = max(int((room - used) // 2), 0)
            if count <= free:
                used += 2 * count
                continue
            count -= free
            lines += math.ceil(count / per_line)
            used = 2 * (count - (math.ceil(count / per_line) - 1) * per_line)
            continue
        width = _word_width(token)
        if used + width <= room:
            used += width
        elif width <= room:
            lines, used = lines + 1, width
        else:  # longer than a line: broken wherever a line is full
            spill = width - max(room - used, 0)
            lines += math.ceil(spill / room)
            used = spill - (math.ceil(spill / room) - 1) * room
    return lines


def lines_needed(value, width: float) -> int:
    """Wrapped lines a value takes in a column ``width`` wide (a character of slack a line, for the
    punctuation that may not start a line and the bracket that goes with the word after it)."""
    room = max(width - 2, 2)
    return sum(_lines_of(part, room) for part in text_of(value).split("\n"))


@dataclass(frozen=True)
class _Measure:
    preferred: float  # every line on one line, within limits
    least: float  # the narrowest it may be made: wrapped, names whole, every value within one row
    widest: int  # the widest line
    volume: float = 0.0  # how much text it holds: the columns that wrap share the width by it
    cap: float = 0.0  # and no wider than this; 0 for a column that keeps its width


def _measure(label: str, values: list, long: bool, unbroken: bool) -> _Measure:
    texts = [text_of(v) for v in values]
    widest = max([math.ceil(print_width(str(label))), *(widest_line(t) for t in texts)])
    # A header may take two lines: half its width.
    header = math.ceil(print_width(str(label)) / 2) + 2
    # A cell counts up to what a wide column holds in a few lines: one text of 3,000 characters
    # should not take the width from a column that makes every row tall.
    volume = sum(min(sum(_paragraph_widths(t)), VOLUME_CAP) for t in texts)
    if long:
        least = max(header, min(LONG_MIN, widest + 2))
        cap = max(least, min(LONG_MAX, widest + 2))
        return _Measure(min(float(LONG_WIDTH), widest + 2.0), float(least), widest, volume, float(cap))
    moments = [v for v in values if hasattr(v, "hour")]
    if texts and all(not _has_wide(t) for t in texts) and not moments:
        pieces = max(
            (math.ceil(print_width(p)) for t in texts for p in (_PATH_BREAK if "/" in t else _LATIN_BREAK).split(t)),
            default=0,
        )
        preferred = min(widest + 2, ID_MAX)
        if any(" " in t for t in texts):  # words (a name and an address), not an identifier: they wrap
            # short words (a date, a time) stay whole; an e-mail address breaks where a line is full
            least = min(max(SHORT_WRAP, header, pieces + 2 if pieces + 2 <= WORD_MAX else 0), preferred)
            return _Measure(float(preferred), float(least), widest, volume, float(preferred))
        # Record ids, commits and paths stay whole or break only where they may (2025-09-15- / T2019…).
        least = min(max(pieces + 2, header), preferred, LATIN_LEAST)
        return _Measure(float(preferred), float(least), widest)
    preferred = min(widest + 2, SHORT_MAX)
    # A date-time cell (2026-11-24 13:55:40) is a number to Excel and LibreOffice: too narrow, it prints as ###.
    least = preferred if unbroken or moments else min(preferred, max(SHORT_WRAP, header))
    # Wide enough that the longest value fits one row: only long columns continue in the rows below.
    tallest = max((sum(_paragraph_widths(t)) for t in texts), default=0)
    least = max(least, min(preferred, math.ceil(tallest / (MAX_LINES - 2)) + 4))
    wraps = not unbroken and not moments
    return _Measure(float(preferred), float(least), widest, volume if wraps else 0.0, preferred if wraps else 0)


def _units(paper: Paper, scale: float) -> float:
    """The total column width that prints across ``paper`` at ``scale`` percent."""
    return 100 * paper.printable_pt / (scale * UNIT_PT)


def _budget(paper: Paper) -> int:
    """The total column width that prints across ``paper`` with the body text at least MIN_BODY_PT."""
    return math.floor(FIT_SLACK * _units(paper, 100 * MIN_BODY_PT / BODY_PT))


def _scale(widths, paper: Paper) -> int:
    return min(100, math.floor(100 * paper.printable_pt / (sum(widths) * UNIT_PT)))


def plan_layout(
    header, rows, long_columns: set[int], unbroken_columns: frozenset[int] = frozenset(), marks: dict | None = None
) -> Layout:
    """The paper and widths that keep the body text ≥ MIN_BODY_PT when fitted to the page's width.

    Every column on one line when that fits (A4, else A3); else the columns
    that may wrap share an A3 page by how much text each holds
    (``unbroken_columns``, names, never wrap; ``long_columns`` may be made
    widest). ``marks`` (column → text) are values a column may also show,
    such as （续）.
    """
    _paragraph_widths.cache_clear()  # one table's texts at a time: memory stays bounded by the table
    _lines_of.cache_clear()
    _word_width.cache_clear()
    marks = marks or {}
    columns = [
        _measure(
            label,
            [row[i] for row in rows] + ([marks[i]] if i in marks else []),
            i in long_columns,
            i in unbroken_columns,
        )
        for i, label in enumerate(header)
    ]
    preferred = [c.preferred for c in columns]
    if sum(preferred) <= _budget(A4):
        paper, widths = A4, preferred
    else:
        paper = A3
        widths = preferred if sum(preferred) <= _budget(A3) else _share(columns, _budget(A3))
    if sum(widths) > _budget(paper):  # even the least is too wide: narrow all, keeping the ratio
        factor = _budget(paper) / sum(widths)
        widths = [max(6.0, math.floor(w * factor)) for w in widths]
    # Only a column whose widest line does not fit wraps; the others take one line a paragraph.
    wraps = tuple(c.widest > width - 2 for c, width in zip(columns, widths, strict=True))
    return Layout(paper, tuple(widths), _scale(widths, paper), wraps)


def _share(columns: list[_Measure], budget: float) -> list[float]:
    """Widths within ``budget``: every column at its least, then the columns that wrap share the rest by
    how much text each holds (so that each needs about as many lines), each up to its cap; what they
    cannot use goes to the others, in the table's order, up to one line each."""
    widths = [c.least for c in columns]
    room = budget - sum(widths)
    open_ = [i for i, c in enumerate(columns) if c.cap > c.least]
    while open_ and room > 0:  # water-filling: a column that reaches its cap is settled
        total = sum(columns[i].volume for i in open_) or len(open_)
        share = {i: room * (columns[i].volume or (total / len(open_))) / total for i in open_}
        full = [i for i in open_ if widths[i] + share[i] >= columns[i].cap]
        if not full:
            for i in open_:
                widths[i] += share[i]
            room = 0
            break
        for i in full:
            room -= columns[i].cap - widths[i]
            widths[i] = columns[i].cap
        open_ = [i for i in open_ if i not in full]
    for i, column in enumerate(columns):
        grant = min(max(room, 0), max(column.preferred - widths[i], 0))
        widths[i] += grant
        room -= grant
    whole = [math.floor(w) for w in widths]
    # The units that rounding down took, back to the columns that lost the most (and may grow).
    spare = math.floor(budget - sum(whole)) if room >= 0 else 0
    growing = sorted((i for i, c in enumerate(columns) if c.cap > whole[i]), key=lambda i: whole[i] - widths[i])
    for i in growing[: max(spare, 0)]:
        whole[i] += 1
    return [float(w) for w in whole]


def row_height(row, widths, wraps=None) -> float:
    """A row's height from its tallest cell: wrapped lines where the column wraps, else its paragraphs."""
    return _height(_row_lines(row, widths, wraps))


def _height(lines: int) -> float:
    return min(MAX_ROW_PT, lines * LINE_PT + ROW_PADDING_PT)


def _row_lines(row, widths, wraps=None) -> int:
    lines = 1
    for index, (value, width) in enumerate(zip(row, widths, strict=False)):
        if wraps is None or wraps[index]:
            lines = max(lines, lines_needed(value, width))
        elif isinstance(value, str):
            lines = max(lines, value.count("\n") + 1)
    return lines


def printed_rows(
    row: tuple, layout: Layout, long_columns: set[int], continued: Callable[[int, object], object]
) -> list[tuple[tuple, float]]:
    """The sheet rows a table row takes, with their heights: itself, and when a long text passes
    ``MAX_LINES`` the rows that continue it, made by ``continued(column, value)`` for the other
    columns (the marker, a repeat, or None).

    The parts of a text join back to it exactly, with nothing between them.
    """
    lines = _row_lines(row, layout.widths, layout.wraps)
    if lines <= MAX_LINES:
        return [(row, _height(lines))]
    parts = {i: split_text(row[i], layout.widths[i]) if isinstance(row[i], str) else [row[i]] for i in long_columns}
    count = max(len(p) for p in parts.values())
    first = tuple(parts[i][0] if i in parts else value for i, value in enumerate(row))
    rest = [
        tuple(
            (parts[i][k] if k < len(parts[i]) else None) if i in parts else continued(i, value)
            for i, value in enumerate(row)
        )
        for k in range(1, count)
    ]
    return [(cells, row_height(cells, layout.widths, layout.wraps)) for cells in (first, *rest)]


_SENTENCE_END = "。！？；!?;…"
_PAUSE = "，、：,:）)」』】》"
_NO_START = "=+-@'\t "  # a part never starts with what a spreadsheet reads as a formula, a text mark or a blank


def split_text(text: str, width: float, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` cut into parts of at most ``max_lines`` lines in a column ``width`` wide; ''.join gives it back.

    A part ends, by preference, at a line end, else after a sentence, else
    after a pause (，、), else wherever a line is full; never between a
    character and the mark that modifies it.
    """
    parts = []
    while lines_needed(text, width) > max_lines:
        low, high = 1, len(text) - 1  # the longest prefix that fits: lines grow with the prefix
        while low < high:
            middle = (low + high + 1) // 2
            if lines_needed(text[:middle], width) <= max_lines:
                low = middle
            else:
                high = middle - 1
        cut = _good_cut(text, low)
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


def _good_cut(text: str, end: int) -> int:
    """The best place at or before ``end`` to cut ``text``, looking back at most a quarter of the part."""
    start = max(1, end - max(end // 4, 1))
    for wanted in (lambda c: c == "\n", lambda c: c in _SENTENCE_END, lambda c: c in _PAUSE, lambda c: True):
        for cut in range(end, start - 1, -1):
            if wanted(text[cut - 1]) and _can_cut(text, cut):
                return cut
    return end


def _can_cut(text: str, cut: int) -> bool:
    """Whether a part may start at ``cut``: not with a formula's mark or a blank, and never inside a character
    as people see it (a vowel sign, a skin tone, an emoji sequence, a flag's second letter, a jamo syllable)."""
    after = text[cut]
    if after in _NO_START or after == "\n" or unicodedata.category(after) in ("Mn", "Mc", "Me", "Cf", "Sk"):
        return False
    if text[cut - 1] == "\u200d" or "\u1160" <= after <= "\u11ff":  # inside an emoji sequence; a vowel or final jamo
        return False
    return not (_is_regional(after) and _regional_run(text, cut) % 2 == 1)  # a flag is two regional letters


def _is_regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _regional_run(text: str, end: int) -> int:
    """How many regional indicator letters stand right before ``end``."""
    start = end
    while start > 0 and _is_regional(text[start - 1]):
        start -= 1
    return end - start
