"""The numbers of the 概览 page and of each leader's page: counts per month, department, leader and semester."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from liaison.core.records import Record
from liaison.core.roster import Leader, Roster
from liaison.core.semesters import Calendar, Semester
from liaison.core.summary import contact_counts
from liaison.outputs.site.bars import horizontal_bars, vertical_bars
from liaison.outputs.site.search import leader_label


def overview_charts(records: list[Record], roster: Roster, calendar: Calendar, today: datetime.date) -> list:
    """Contacts per month (last 24), per department and per leader this semester."""
    per_month = Counter(f"{r.date.year}-{r.date.month:02d}" for r in records)
    months = []
    year, month = today.year, today.month
    for _ in range(24):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    month_items = [(m[2:].replace("-", "/"), per_month[m]) for m in months]
    current = calendar.semester_of(today)
    this_term = [r for r in records if calendar.semester_of(r.date) == current]
    counts = contact_counts(this_term, roster)
    per_department: Counter = Counter()
    for item in counts:
        per_department[item.leader.department] += item.count
    departments = list(dict.fromkeys(item.leader.department for item in counts))
    names = Counter(item.leader.name for item in counts)
    return [
        vertical_bars("近 24 个月每月联系次数", month_items),
        horizontal_bars(f"{current.title} 各部门联系次数", [(d, per_department[d]) for d in departments]),
        horizontal_bars(
            f"{current.title} 每位领导干部联系次数",
            [(leader_label(i.leader, names[i.leader.name] > 1), i.count) for i in counts],
            highlight_zero=True,
        ),
    ]


@dataclass(frozen=True)
class SemesterCounts:
    """Per semester, every leader's count, the active leaders' mean and the most anyone had: computed once."""

    per_leader: dict[Semester, Counter]
    mean: dict[Semester, float]
    most: dict[Semester, int]

    @classmethod
    def of(cls, records: list[Record], roster: Roster, calendar: Calendar) -> SemesterCounts:
        per_leader: dict[Semester, Counter] = defaultdict(Counter)
        for record in records:
            per_leader[calendar.semester_of(record.date)][record.leader_id] += 1
        active = [person.id for person in roster.leaders if person.active]
        mean = {s: statistics.mean(c[i] for i in active) if active else 0 for s, c in per_leader.items()}
        most = {s: max(c.values(), default=0) for s, c in per_leader.items()}
        return cls(dict(per_leader), mean, most)


def semester_comparison(leader: Leader, counts: SemesterCounts, semesters: list[Semester]) -> list[dict]:
    """Per semester: this leader's count, the active leaders' mean and the most anyone had."""
    return [
        {
            "title": semester.title,
            "count": counts.per_leader.get(semester, Counter())[leader.id],
            "mean": f"{counts.mean.get(semester, 0):.1f}",
            "most": counts.most.get(semester, 0),
        }
        for semester in semesters
    ]
