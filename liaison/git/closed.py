"""Closed semesters: a semester is closed by the office after its export, and changes to it need a reason.

It closes in ``config.yaml`` (``closed_semesters: {2024-2025-1: 2025-02-20}``,
closed from that day on) or by a tag ``closed/<semester id>`` (closed from
the tagged commit's time). A later change to a record dated in a closed
semester needs a ``Reopen-Reason: …`` trailer in its commit message;
``check`` fails without one, and the audit log shows every such change
either way. The rule reads the history, so it lives in the git layer and
:func:`check_with_history` composes it with the core checks.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from liaison.core import dates
from liaison.core.checks import CheckResult, check_repository
from liaison.core.problems import Problem, sorted_problems
from liaison.core.project import Project
from liaison.core.semesters import Calendar, Semester, parse_semester_id
from liaison.git.history import Change, History, read_history
from liaison.git.repo import Repo, commits_since

REOPEN = "Reopen-Reason"


def closed_semesters(
    root: Path, starts: dict, config_closed: dict, timezone: str = dates.DEFAULT_ZONE
) -> dict[Semester, datetime.datetime]:
    """Closed semester -> the moment it closed (config dates at 00:00 in ``timezone``, tags at their commit time)."""
    closed = {
        parse_semester_id(str(key)): dates.start_of_day(day, timezone) for key, day in (config_closed or {}).items()
    }
    found = Repo(root).attempt(
        "for-each-ref", "--format=%(refname:strip=3) %(creatordate:iso-strict)", "refs/tags/closed/"
    )
    tags = found.text if found.ok else ""
    for line in tags.splitlines():
        name, _, when = line.partition(" ")
        semester = parse_semester_id(name)
        moment = datetime.datetime.fromisoformat(when)
        closed[semester] = min(moment, closed.get(semester, moment))
    return closed


def closed_touch(change: Change, calendar: Calendar, closed: dict[Semester, datetime.datetime]) -> Semester | None:
    """The closed semester this change reaches into (by the record's date before or after), if any."""
    for data in (change.old_data, change.new_data):
        day = data.get("date")
        if isinstance(day, datetime.date):
            semester = calendar.semester_of(day)
            if semester in closed and change.commit.committer_time >= closed[semester]:
                return semester
    return None


def closed_semester_problems(
    history: History, calendar: Calendar, closed: dict, since: set[str] | None
) -> list[Problem]:
    """Changes into a closed semester without a Reopen-Reason trailer (only commits in ``since``, if given)."""
    problems = []
    for change in history.changes:
        if since is not None and change.commit.sha not in since:
            continue
        semester = closed_touch(change, calendar, closed)
        if semester is None or change.commit.trailers.get(REOPEN):
            continue
        problems.append(
            Problem(
                change.path,
                None,
                "",
                "",
                f"这条记录属于已关闭的{semester.title}，提交 {change.commit.sha[:8]}（{change.commit.author_name}）"
                f"{change.kind}了它，但提交说明里没有“{REOPEN}: 理由”。请在提交说明末尾写明重开理由，或撤回这次修改。",
            )
        )
    return problems


def check_with_history(
    project: Project, paths: list[str] | None = None, since: str | None = None, history: History | None = None
) -> CheckResult:
    """``check``: the core rules, plus closed semesters judged from the history.

    When semesters are closed, changes to their records need a Reopen-Reason
    trailer: all of the history is checked, or only commits after ``since``
    (a ``since`` naming no commit is a CommitNotFound, never "everything");
    a caller that has read the history already passes it as ``history``.
    """
    result = check_repository(project, paths)
    if project.config is None:
        return result
    config = project.config
    closed = closed_semesters(project.root, config.semester_starts, config.closed_semesters, config.timezone)
    if not closed:
        return result
    commits = commits_since(project.root, since) if since else None
    history = history if history is not None else read_history(project.root, project.schema)
    process = closed_semester_problems(history, project.config.calendar, closed, commits)
    files = sorted({*result.files, *(p.path for p in process)})
    return CheckResult(sorted_problems(result.problems + process), files, result.records, process)
