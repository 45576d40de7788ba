"""Counting and ordering contacts per leader: what 表1 shows, and the order of 表2.

Pure functions over records and the roster; the workbook, the site and the
reminders all use them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from liaison.core.pinyin import sort_reading
from liaison.core.records import Record
from liaison.core.roster import Leader, Roster


@dataclass(frozen=True)
class LeaderCount:
    leader: Leader
    count: int


def leader_sort_key(roster: Roster) -> Callable[[Leader], tuple]:
    """Department in the roster's order (the office orders the roster), then name by pinyin, then 工号."""
    department_rank: dict[str, int] = {}
    for leader in roster.leaders:
        department_rank.setdefault(leader.department, len(department_rank))

    def key(leader: Leader) -> tuple:
        return (
            department_rank.get(leader.department, len(department_rank)),
            sort_reading(leader.name),
            leader.name,
            leader.id,
        )

    return key


def contact_counts(records: Iterable[Record], roster: Roster) -> list[LeaderCount]:
    """Contacts per leader: every active leader (0 included), plus inactive ones who have records here."""
    counts = Counter(record.leader_id for record in records)
    shown = [leader for leader in roster.leaders if leader.active or counts[leader.id]]
    shown.sort(key=leader_sort_key(roster))
    return [LeaderCount(leader, counts[leader.id]) for leader in shown]


def records_by_leader(records: Iterable[Record], roster: Roster) -> list[Record]:
    """Records grouped by leader in 表1's order, each leader's by date (then id, for stability)."""
    order = {leader.id: n for n, leader in enumerate(sorted(roster.leaders, key=leader_sort_key(roster)))}
    return sorted(records, key=lambda r: (order.get(r.leader_id, len(order)), r.leader_id, r.date, r.id))
