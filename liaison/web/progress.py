"""「本学期已记录 1 次，要求至少 2 次，距学期结束 23 天」: a leader's semester against the policy in config.yaml."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from liaison.core.config import Config
from liaison.core.records import Record
from liaison.core.roster import Leader
from liaison.notify.plan import minimum_for


@dataclass(frozen=True)
class Progress:
    semester: str  # 2025-2026学年第一学期
    count: int
    minimum: int  # 0: config.yaml sets no minimum
    days_left: int  # days after today until the semester's last day (0 on the last day)

    @property
    def met(self) -> bool:
        return self.count >= self.minimum

    @property
    def sentence(self) -> str:
        counted = f"本学期已记录 {self.count} 次"
        required = f"，要求至少 {self.minimum} 次" if self.minimum else ""
        left = f"，距学期结束 {self.days_left} 天" if self.days_left else "，今天是学期最后一天"
        return counted + required + left


@dataclass(frozen=True)
class SemesterGroup:
    """One semester of 我的记录: its records (newest contact first), how many, and the minimum asked."""

    id: str  # 2025-2026-1
    title: str  # 2025-2026学年第一学期
    items: list  # those listed here (one shown at the top as just submitted is not)
    count: int  # every record of the semester
    minimum: int  # 0: config.yaml sets no minimum

    @property
    def short(self) -> bool:
        return self.count < self.minimum


def by_semester(items: list, leader: Leader, config: Config, record_of, shown_above=()) -> list[SemesterGroup]:
    """``items`` grouped by the semester of their record (``record_of(item)``), newest semester first,
    each newest contact first; the items in ``shown_above`` are counted but not listed."""
    calendar = config.calendar
    groups: dict = {}
    for item in sorted(items, key=lambda i: (record_of(i).date, record_of(i).id), reverse=True):
        groups.setdefault(calendar.semester_of(record_of(item).date), []).append(item)
    minimum = minimum_for(leader, config.reminders) if config.reminders else 0
    return [
        SemesterGroup(s.id, s.title, [i for i in found if i not in shown_above], len(found), minimum)
        for s, found in sorted(groups.items(), reverse=True)
    ]


def semester_progress(records: Iterable[Record], leader: Leader, config: Config, today: datetime.date) -> Progress:
    """This semester's records of ``leader`` (submitted, under review or approved) against the minimum."""
    calendar = config.calendar
    semester = calendar.semester_of(today)
    start, end = calendar.start(semester), calendar.end(semester)
    count = sum(1 for r in records if r.leader_id == leader.id and start <= r.date <= end)
    minimum = minimum_for(leader, config.reminders) if config.reminders else 0
    return Progress(semester.title, count, minimum, (end - today).days)
