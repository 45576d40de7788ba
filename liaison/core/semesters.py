"""Semesters and date ranges: the one place a range given on the command line is understood.

A semester id is ``2024-2025-1`` (autumn, 第一学期) or ``2024-2025-2``
(spring, 第二学期). By default autumn starts on 1 August and spring on
1 February; the config may move the first day of any semester to the real
calendar. A semester always ends the day before the next one starts, so
semesters never overlap and never leave a gap: every record belongs to
exactly one semester, and no record can fall out of every export.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from liaison.core import dates

_SEMESTER_ID = re.compile(r"(\d{4})-(\d{4})-([12])")
_TERM_NAMES = {1: "第一学期", 2: "第二学期"}

# An override further than this from the default start is almost surely a typo
# (a wrong year); refusing it also keeps semesters in order.
MAX_START_SHIFT = datetime.timedelta(days=62)


class RangeError(ValueError):
    """A semester id, date or range a person typed that cannot be used; the message is Chinese."""


@dataclass(frozen=True, order=True)
class Semester:
    first_year: int
    term: int  # 1 autumn, 2 spring

    @property
    def id(self) -> str:
        return f"{self.first_year}-{self.first_year + 1}-{self.term}"

    @property
    def title(self) -> str:
        return f"{self.first_year}-{self.first_year + 1}学年{_TERM_NAMES[self.term]}"

    def next(self) -> Semester:
        return Semester(self.first_year, 2) if self.term == 1 else Semester(self.first_year + 1, 1)

    def previous(self) -> Semester:
        return Semester(self.first_year - 1, 2) if self.term == 1 else Semester(self.first_year, 1)

    def default_start(self) -> datetime.date:
        if self.term == 1:
            return datetime.date(self.first_year, 8, 1)
        return datetime.date(self.first_year + 1, 2, 1)


def parse_semester_id(text: str) -> Semester:
    match = _SEMESTER_ID.fullmatch(text.strip())
    if not match:
        raise RangeError(
            f"学期编号“{text}”格式不对。应写成 学年起-学年止-学期，"
            "如 2024-2025-1（第一学期，秋季）或 2024-2025-2（第二学期，春季）。"
        )
    first, second, term = int(match[1]), int(match[2]), int(match[3])
    if second != first + 1:
        raise RangeError(f"学期编号“{text}”中的学年应为相邻两年，如 {first}-{first + 1}-{term}。")
    return Semester(first, term)


def parse_date(text: str, what: str = "日期") -> datetime.date:
    try:
        day = dates.parse_date(text)
    except ValueError:
        raise RangeError(f"{what}“{text}”不是真实存在的日期，请核对月份和日期。") from None
    if day is None:
        raise RangeError(f"{what}“{text}”格式不对，应写成 年-月-日，如 2024-09-01。")
    return day


class Calendar:
    """Semester boundaries: the default rule, moved by the config's ``semester_starts``."""

    def __init__(self, starts: dict[str, datetime.date] | None = None):
        self._starts = {parse_semester_id(k): v for k, v in (starts or {}).items()}
        self._semester_of: dict[datetime.date, Semester] = {}  # the site asks for 10,000 records, many times

    @staticmethod
    def problems(starts: dict) -> list[tuple[str, str]]:
        """(semester id, Chinese message) for each override that cannot be right."""
        out = []
        for key, start in starts.items():
            try:
                semester = parse_semester_id(str(key))
            except RangeError as err:
                out.append((str(key), str(err)))
                continue
            if not isinstance(start, datetime.date):
                continue  # the schema reports the type
            if abs(start - semester.default_start()) > MAX_START_SHIFT:
                out.append(
                    (
                        str(key),
                        f"{semester.title}的起始日 {start.isoformat()} 与默认的 "
                        f"{semester.default_start().isoformat()} 相差超过两个月，请核对年份。",
                    )
                )
        return out

    def start(self, semester: Semester) -> datetime.date:
        return self._starts.get(semester, semester.default_start())

    def end(self, semester: Semester) -> datetime.date:
        return self.start(semester.next()) - datetime.timedelta(days=1)

    def semester_of(self, day: datetime.date) -> Semester:
        """The semester a date belongs to."""
        known = self._semester_of.get(day)
        if known is None:
            known = self._semester_of[day] = self._find_semester(day)
        return known

    def _find_semester(self, day: datetime.date) -> Semester:
        semester = (
            Semester(day.year, 1)
            if day.month >= 8
            else (Semester(day.year - 1, 2) if day.month >= 2 else Semester(day.year - 1, 1))
        )
        # Overrides move boundaries by at most two months, so one step suffices.
        if day < self.start(semester):
            semester = semester.previous()
        elif day > self.end(semester):
            semester = semester.next()
        return semester


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of dates; an open end is None. ``title`` is how people name it."""

    start: datetime.date | None
    end: datetime.date | None
    title: str
    semester: Semester | None = None

    def __contains__(self, day: datetime.date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    @property
    def description(self) -> str:
        """The title with the dates, e.g. 2024-2025学年第一学期（2024-08-01 至 2025-01-31）."""
        if self.semester:
            return f"{self.title}（{self.start.isoformat()} 至 {self.end.isoformat()}）"
        return self.title


ALL_DATES = DateRange(None, None, "全部记录")


def resolve_range(
    calendar: Calendar,
    semester: str | None = None,
    start: str | None = None,
    end: str | None = None,
    today: datetime.date | None = None,
) -> DateRange:
    """The range asked for by ``--semester ID`` or ``--from DATE --to DATE`` (inclusive).

    ``--semester current`` is the semester that contains ``today``;
    ``--semester previous`` the one before it (what a start-of-term export wants).
    """
    if semester and (start or end):
        raise RangeError("--semester 与 --from/--to 只能二选一。")
    if semester:
        if semester.strip() in ("current", "previous"):
            sem = calendar.semester_of(today or datetime.date.today())
            sem = sem.previous() if semester.strip() == "previous" else sem
        else:
            sem = parse_semester_id(semester)
        return DateRange(calendar.start(sem), calendar.end(sem), sem.title, sem)
    if not start and not end:
        return ALL_DATES
    first = parse_date(start, "起始日期（--from）") if start else None
    last = parse_date(end, "截止日期（--to）") if end else None
    if first and last and first > last:
        raise RangeError(f"起始日期 {first.isoformat()} 晚于截止日期 {last.isoformat()}，请把两个日期对调。")
    if first and last:
        title = f"{first.isoformat()}至{last.isoformat()}"
    elif first:
        title = f"{first.isoformat()}起"
    else:
        title = f"截至{last.isoformat()}"
    return DateRange(first, last, title)
