"""The shipped demo data is what the issue promises, and consistent."""

from __future__ import annotations

from collections import Counter

from conftest import PROJECT

from liaison.core.checks import check_repository
from liaison.core.project import open_project


def test_demo_data_has_the_promised_shape():
    project = open_project(PROJECT)
    result = check_repository(project)
    assert result.ok
    leaders = project.roster.leaders
    names = Counter(leader.name for leader in leaders)
    assert 6 <= len(leaders) <= 10
    assert any(not leader.active for leader in leaders)
    shared = [name for name, count in names.items() if count > 1]
    assert shared and len({leader.department for leader in leaders if leader.name == shared[0]}) == 2
    records = result.records
    assert 50 <= len(records) <= 70
    calendar = project.config.calendar
    assert len({calendar.semester_of(r.date) for r in records}) == 3
    lengths = sorted(len(r["content"]) for r in records)
    assert lengths[-1] > 2000 > lengths[0]  # one long enough for two pages, most short
    inactive = {leader.id for leader in leaders if not leader.active}
    assert any(r.leader_id in inactive for r in records)
