"""Check's verdict for a command: which records an output may use, which files it names, and the exit status.

One rule for every command that builds from the records (query, pdf, export,
build, audit, remind): a record whose content fails ``check`` is left out and
named; a problem of how a record was changed (a closed semester changed
without a Reopen-Reason) keeps the record in but fails the command; a
malformed ``closed/`` tag is named and ignored. ``check`` itself gets the
problems of the files a merge request changed first (``check_report``).
Everything here returns data; the command line and the web say it in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from liaison.core.checks import CheckResult
from liaison.core.problems import Problem
from liaison.core.project import Project
from liaison.core.records import RECORDS_DIR, Record
from liaison.git.closed import check_with_history
from liaison.git.filemodes import source_mode_problems
from liaison.git.repo import changed_files

if TYPE_CHECKING:
    from liaison.git.history.model import History

TAG_PATHS = "refs/"


class NotReady(Exception):
    """config.yaml or roster.yaml cannot be used, so nothing can be built; ``problems`` say why (in Chinese)."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


NOT_READY = "config.yaml 或 roster.yaml 有问题（见上），请先修改。"
NOT_RENDERED = "templates/ 或 site/ 中有符号链接或不是普通文件的文件（见上），为安全起见不生成任何文件，请先修改。"


@dataclass
class Verdict:
    """What a command may build from, after one run of ``check``."""

    result: CheckResult
    records: list[Record]  # the records whose content passes: the only ones an output may use (see ``verdict``)
    left_out: list[str]  # record files whose content fails check: named, never used
    notes: list[Problem]  # problems that keep their record in: a bad closed/ tag, a closed semester changed
    failed: list[str] = field(default_factory=list)  # the files that make the command exit 1

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def verdict_of(result: CheckResult, content_only: bool = False) -> Verdict:
    """The verdict a command takes from ``result`` (a whole-repository check).

    ``content_only``: the command reports how records were changed itself
    (``audit``), so a closed semester changed without a reason is neither a
    note nor a failure here.
    """
    process = set(result.process_problems)
    left_out = sorted({p.path for p in result.problems if p.path.startswith(RECORDS_DIR + "/") and p not in process})
    notes = [p for p in result.problems if p.path.startswith(TAG_PATHS) or (p in process and not content_only)]
    failed = left_out if content_only else sorted({*left_out, *(p.path for p in result.process_problems)})
    return Verdict(result, result.clean_records(), left_out, notes, failed)


def verdict(
    project: Project,
    history: History | None = None,
    content_only: bool = False,
    records: bool = True,
    renders: bool = False,
) -> Verdict:
    """Run ``check`` over the whole repository once and say what a command may build from.

    Raises NotReady when config.yaml or roster.yaml cannot be used (their
    problems are on it). ``history``: pass it when the command has read
    it already, so it is read once. ``records=False``: the command builds
    nothing from the records (the audit lists changes): the verdict's
    ``records`` may then be empty, and the check cache answers without
    reading any when nothing changed. ``renders``: the command renders templates (PDF, site, export).
    """
    require_ready(project, renders)
    return verdict_of(check_with_history(project, history=history, records=records), content_only)


def require_ready(project: Project, renders: bool = False) -> None:
    """NotReady, naming the problems of config.yaml and roster.yaml, unless both can be used; and, for a command
    that ``renders``, the links and other files that are not plain under templates/ and site/."""
    if not project.ok:
        raise NotReady(NOT_READY, project.problems)
    if renders and not project.sources_ok:
        raise NotReady(NOT_RENDERED, project.problems)
    if renders and (held := source_mode_problems(project.root)):
        raise NotReady(NOT_RENDERED, [*project.problems, *held])


@dataclass
class CheckReport:
    """``check``'s result, the files a merge request changed first."""

    result: CheckResult
    changed: list[str] | None  # the checked files changed since the base (None: no base given)
    first: list[Problem]  # problems in the changed files
    rest: list[Problem]  # problems elsewhere

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def files(self) -> list[str]:
        """Every file looked at, the changed ones first (the JUnit report's order)."""
        changed = set(self.changed or ())
        return [f for f in self.result.files if f in changed] + [f for f in self.result.files if f not in changed]

    @property
    def changed_with_problems(self) -> list[str]:
        return sorted({p.path for p in self.first})


def check_report(project: Project, paths: list[str] | None = None, since: str | None = None) -> CheckReport:
    """``check`` of ``paths`` (all when None); with ``since`` (a commit), the files changed since it come first.

    A ``since`` that names no commit raises CommitNotFound.
    """
    result = check_with_history(project, paths, since=since, records=False)
    if not since:
        return CheckReport(result, None, [], list(result.problems))
    checked = set(result.files)
    changed = [f for f in changed_files(project.root, since) if f in checked]
    first = [p for p in result.problems if p.path in changed]
    rest = [p for p in result.problems if p.path not in changed]
    return CheckReport(result, changed, first, rest)
