"""``query``: the checked records of one leader (or of every leader) in a range, in date order.

The requirement's two queries (2.(1), 2.(2)) over what ``check`` lets an
output use; ``formats`` writes the result as text, JSON or CSV.
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.core.project import Project
from liaison.core.query import leaders_for_query, select_records
from liaison.core.records import Record
from liaison.core.roster import Leader
from liaison.core.semesters import DateRange
from liaison.git.verdict import Verdict, verdict


@dataclass
class Listing:
    records: list[Record]  # in date order (newest first if asked)
    leaders: list[Leader] | None  # the one leader asked about, or None for everyone
    verdict: Verdict


def query_records(
    project: Project,
    date_range: DateRange,
    name: str | None = None,
    leader_id: str | None = None,
    newest_first: bool = False,
) -> Listing:
    """The records of the leader named (``name`` or ``leader_id``; everyone when neither) in ``date_range``.

    The leader is found first (QueryError, in Chinese, when the name fits
    none or several), so a mistyped name costs no check.
    """
    leaders = leaders_for_query(project.roster, name, leader_id) if project.roster else None
    found = verdict(project)
    return Listing(select_records(found.records, date_range, leaders, newest_first), leaders, found)
