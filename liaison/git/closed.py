"""Closed semesters: a semester is closed by the office after its export, and changes to it need a reason.

It closes by a tag ``closed/<semester id>`` on the commit the export was made
from, or in ``config.yaml`` (``closed_semesters: {2024-2025-1: 2025-02-20}``).
The clock is the **mainline** (the first-parent chain of ``main``), never a
commit's own dates, which anyone sets: a change to a record dated in a closed
semester that *enters the mainline after* the closing commit (the tagged
commit, or the first mainline commit on or after the configured day) needs a
``Reopen-Reason: …`` trailer in its commit message. In a merge request (``check
--changed-since BASE``) every change in the request to a closed semester's
record needs one, full stop. ``check`` fails without it, and the audit log
shows every such change either way.

A malformed ``closed/…`` tag is one problem naming the tag and how to fix it;
it never stops a command.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from liaison.core import cachekit, dates
from liaison.core.atomic import write_atomic
from liaison.core.checks import CheckResult
from liaison.core.problems import Problem, sorted_problems
from liaison.core.project import CONFIG_FILE, Project
from liaison.core.semesters import Calendar, RangeError, Semester, parse_semester_id
from liaison.core.yamlio import YamlError, read_yaml_bytes, to_python
from liaison.git.checkcache import check_records
from liaison.git.filemodes import IndexEntry, index_problems, source_mode_problems
from liaison.git.repo import ZERO, Repo, commits_since, head_from_files

if TYPE_CHECKING:  # the history is read only when a semester is closed: a check without one never loads it
    from liaison.git.history.model import Change, History

REOPEN = "Reopen-Reason"
_SEMESTER_KEY = re.compile(r"[0-9]{4}-[0-9]{4}-[12]")
TAG_PREFIX = "closed/"


@dataclass(frozen=True)
class Closure:
    semester: Semester
    tag: str = ""  # closed/2024-2025-1, when closed by a tag
    commit: str = ""  # the tagged commit
    day: datetime.date | None = None  # closed_semesters in config.yaml: closed from this day on

    @property
    def source(self) -> str:
        return f"标签 {self.tag}" if self.tag else f"config.yaml 的 closed_semesters（{self.day}）"


@dataclass
class Closed:
    """The closed semesters of one history: where on the mainline each closed, and the tags that could not be read."""

    starts: dict[Semester, int] = field(default_factory=dict)  # the first mainline position counted as closed
    closures: list[Closure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # malformed closed/ tags
    in_force: set[Semester] = field(default_factory=set)  # closed now (a tag exists, or the day has come)

    def __bool__(self) -> bool:
        return bool(self.closures or self.problems)

    def touch(self, change: Change, calendar: Calendar, anywhere: bool = False) -> Semester | None:
        """The closed semester this change reaches into (by the record's date before or after), if any.

        ``anywhere``: a merge request's own changes, judged against every
        semester closed now, wherever the request's commits sit.
        """
        if not self.starts:
            return None  # nothing is closed: no change reaches into a closed semester (an audit asks 13,000 times)
        for data in (change.old_data, change.new_data):
            day = data.get("date")
            if not isinstance(day, datetime.date):
                continue
            semester = calendar.semester_of(day)
            if anywhere and semester in self.in_force:
                return semester
            if semester in self.starts and change.position >= self.starts[semester]:
                return semester
        return None


def tag_problem(tag: str, error: str) -> Problem:
    return Problem(
        f"refs/tags/{tag}",
        None,
        "",
        "",
        f"标签“{tag}”不是有效的学期关闭标签（{error}），已忽略，学期关闭以其余标签和 config.yaml 为准。"
        f"请删除它：git tag -d '{tag}' && git push origin ':refs/tags/{tag}'，"
        f"再在导出所依据的提交上重新打标签：git tag closed/2024-2025-1 <提交> && git push origin closed/2024-2025-1"
        "（学期编号写成 学年起-学年止-学期，1 为第一学期，2 为第二学期）。",
    )


def config_closures_in_history(repo: Repo, ref: str = "HEAD") -> dict[str, datetime.date]:
    """Every ``closed_semesters`` entry config.yaml has had on ``ref``'s history (the earliest day of each).

    A closure, once on main, stays: a merge request that deletes the line
    from config.yaml and edits the semester's record in the same breath is
    still judged against it.
    """
    found = repo.attempt("log", "--format=", "--raw", "--no-abbrev", "--no-renames", ref, "--", CONFIG_FILE)
    blobs = {line.split()[3] for line in (found.text if found.ok else "").splitlines() if line.startswith(":")}
    closed: dict[str, datetime.date] = {}
    for raw in repo.objects(b for b in blobs if b != ZERO).values():
        try:
            data = to_python(read_yaml_bytes(raw or b""))
        except (YamlError, ValueError):
            continue  # a broken config of the past: check reported it when it was current
        entries = data.get("closed_semesters") if isinstance(data, dict) else None
        for key, day in (entries if isinstance(entries, dict) else {}).items():
            if isinstance(day, datetime.date) and _SEMESTER_KEY.fullmatch(str(key)):
                closed[str(key)] = min(day, closed.get(str(key), day))
    return closed


MEMO_FILE = "closures.json"
MEMO_BYTES = 1 << 20  # a closing day for each of a century's semesters is a few kilobytes


def remembered_closures(repo: Repo) -> dict[str, datetime.date]:
    """``config_closures_in_history`` of ``HEAD``, remembered in ``.cache/closures.json`` by the commit.

    Reading config.yaml's every version walks the whole history (a tenth of a
    second at 14,000 commits, in every command that checks); the answer is
    fixed by the commit and the clone's shallow list, which key it, together
    with this module's code. Kept only when ``HEAD`` is read from ``.git``
    with certainty (``head_from_files``); anything else asks git.
    """
    head = head_from_files(repo.root)
    folder = cachekit.cache_folder(repo.root)
    if head is None or not cachekit.usable_folder(folder):
        return config_closures_in_history(repo)
    key = cachekit.stamp(head[0], head[1], cachekit.code_stamp(__name__, memo=folder))
    try:
        kept = cachekit.read_memo(folder / MEMO_FILE, MEMO_BYTES)
        if type(kept) is dict and kept.get("key") == key and type(kept.get("closed")) is dict:
            closed = kept["closed"]
            if all(type(day) is datetime.date and _SEMESTER_KEY.fullmatch(name) for name, day in closed.items()):
                return closed
    except (OSError, ValueError, TypeError, KeyError):
        pass
    closed = config_closures_in_history(repo)
    try:
        write_atomic(folder / MEMO_FILE, cachekit.seal(cachekit.dumps({"key": key, "closed": closed})))
    except OSError as error:
        cachekit.unwritable(folder, error)
    return closed


def read_closures(root: Path, config_closed: dict | None) -> tuple[list[Closure], list[Problem]]:
    """Every closure, from config.yaml (now and in its history) and the ``closed/`` tags.

    A tag that names no semester is a problem (path ``refs/tags/…``), never an exception.
    """
    repo = Repo(root)
    days = remembered_closures(repo)
    for key, day in (config_closed or {}).items():
        days[str(key)] = min(day, days.get(str(key), day))
    closures = []
    for key, day in sorted(days.items()):
        try:
            closures.append(Closure(parse_semester_id(key), day=day))
        except RangeError:
            continue  # config.yaml's own check names it
    problems = []
    found = repo.query(
        "for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", f"refs/tags/{TAG_PREFIX}"
    )
    for line in (found.text if found.ok else "").splitlines():
        tag, target, peeled = line.split("\0")
        try:
            semester = parse_semester_id(tag[len(TAG_PREFIX) :])
        except RangeError as err:
            problems.append(tag_problem(tag, str(err).rstrip("。")))
            continue
        closures.append(Closure(semester, tag=tag, commit=peeled or target))
    return closures, problems


def closed_in(
    history: History, closures: list[Closure], problems: list[Problem], today: datetime.date, timezone: str
) -> Closed:
    """Where on ``history``'s mainline each semester closed (the earliest of its closures)."""
    closed = Closed(closures=closures, problems=problems)
    times = [history.mainline_times[sha] for sha in history.mainline]
    for closure in closures:
        if closure.commit:
            position = history.position(closure.commit)
            # A tag on a commit this history lacks (a clone behind main): closed after all of it.
            start = len(times) if position is None else position + 1
            closed.in_force.add(closure.semester)
        else:
            moment = dates.start_of_day(closure.day, timezone)
            start = next((n for n, when in enumerate(times) if when >= moment), len(times))
            if closure.day <= today:
                closed.in_force.add(closure.semester)
        closed.starts[closure.semester] = min(start, closed.starts.get(closure.semester, start))
    return closed


def semesters_closed_now(project: Project) -> set[Semester]:
    """The semesters closed today (a ``closed/`` tag, or the configured day has come): no history needed.

    Where a closure falls on the mainline matters only to judge past commits
    (``closed_semesters``); whether a new change needs a Reopen-Reason does
    not, so the review and the import skip reading all of the history.
    """
    config = project.config
    closures, _problems = read_closures(project.root, config.closed_semesters)
    today = config.today()
    return {c.semester for c in closures if c.commit or c.day <= today}


def closed_semesters(project: Project, history: History) -> Closed:
    """The closed semesters of the project, placed on ``history``'s mainline."""
    config = project.config
    closures, problems = read_closures(project.root, config.closed_semesters)
    return closed_in(history, closures, problems, config.today(), config.timezone)


def closed_semester_problems(
    history: History, calendar: Calendar, closed: Closed, since: set[str] | None
) -> list[Problem]:
    """Changes into a closed semester without a Reopen-Reason trailer (in a merge request: its commits, ``since``)."""
    problems = []
    for change in history.changes:
        if since is not None and change.commit.sha not in since:
            continue
        semester = closed.touch(change, calendar, anywhere=since is not None)
        if semester is None or change.commit.trailers.get(REOPEN):
            continue
        problems.append(
            Problem(
                change.path,
                None,
                "",
                "",
                f"这条记录属于已关闭的{semester.title}（{closure_source(closed, semester)}），"
                f"提交 {change.commit.sha[:8]}（{change.commit.author_name} <{change.commit.author_email}>）"
                f"在关闭之后{change.kind}了它，但提交说明里没有“{REOPEN}: 理由”。"
                f"请在提交说明末尾另起一段写“{REOPEN}: 理由”（如 git commit --amend），或撤回这次修改。",
            )
        )
    return problems


def closure_source(closed: Closed, semester: Semester) -> str:
    return "，".join(c.source for c in closed.closures if c.semester == semester)


def _with_index_modes(
    root: Path, result: CheckResult, paths: list[str] | None, listing: list[IndexEntry] | None
) -> CheckResult:
    """``result`` with a problem for each link, submodule or executable git holds under records/ (of ``paths``
    only, when given); git's word replaces what the working tree showed of the same path. ``listing``: git's
    index under records/, when the check cache read it."""
    found = index_problems(root, listing)
    if paths is not None:
        asked = [_relative(root, given) for given in paths]
        found = [p for p in found if any(p.path == a or p.path.startswith(a.rstrip("/") + "/") for a in asked)]
    if not found:
        return result
    named = {p.path for p in found}
    problems = [p for p in result.problems if p.path not in named] + found
    files = sorted({*result.files, *named})
    return CheckResult(sorted_problems(problems), files, result.records, result.process_problems)


def _relative(root: Path, given: str) -> str:
    """A path as given to check, relative to the repository, without following a link at its end."""
    absolute = Path(os.path.abspath(given))
    try:
        return (absolute.parent.resolve() / absolute.name).relative_to(root).as_posix()
    except ValueError:
        return given


def _with_source_modes(root: Path, result: CheckResult) -> CheckResult:
    """``result`` with each link or submodule git holds under templates/ and site/ that the working tree did not
    show as one (a ``core.symlinks=false`` checkout): the project's own walk names the others."""
    named = {p.path for p in result.problems}
    found = [p for p in source_mode_problems(root) if p.path not in named]
    if not found:
        return result
    files = sorted({*result.files, *(p.path for p in found)})
    return CheckResult(sorted_problems(result.problems + found), files, result.records, result.process_problems)


def check_with_history(
    project: Project,
    paths: list[str] | None = None,
    since: str | None = None,
    history: History | None = None,
    records: bool = True,
) -> CheckResult:
    """``check``: the core rules, plus closed semesters judged from the history.

    When semesters are closed, changes to their records need a Reopen-Reason
    trailer: all of the history is checked, or only commits after ``since``
    (a ``since`` naming no commit is a CommitNotFound, never "everything");
    a caller that has read the history already passes it as ``history``.
    A malformed ``closed/`` tag is a problem of its own (path ``refs/tags/…``).
    Record files are read through the check cache (``.cache/check.sqlite``,
    see ``liaison.git.checkcache``), which gives exactly what reading them would.
    ``records=False``: the caller needs the problems only; the result may then hold no records.
    """
    result, listing = check_records(project, paths, records)
    result = _with_index_modes(project.root, result, paths, listing)
    result = _with_source_modes(project.root, result) if paths is None else result
    if project.config is None:
        return result
    config = project.config
    closures, tags = read_closures(project.root, config.closed_semesters)
    if not closures and not tags:
        return result
    commits = commits_since(project.root, since) if since else None
    if history is None:
        from liaison.git.history.read import read_history

        history = read_history(project.root, project.schema)
    closed = closed_in(history, closures, tags, config.today(), config.timezone)
    process = closed_semester_problems(history, config.calendar, closed, commits)
    files = sorted({*result.files, *(p.path for p in process), *(p.path for p in tags)})
    return CheckResult(sorted_problems(result.problems + process + tags), files, result.records, process)
