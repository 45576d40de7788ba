"""Which version of the data each page and download names: the commit of its own last change, not the build's.

A page naming the commit built would change on every commit, so no file
could ever be kept, and it would tell the reader less than it should. So:

- the front pages (查询, 领导干部, 概览, 下载) say what the whole site was built
  from, as before: 数据版本 <commit> · 共 N 条记录;
- a record's page names the mainline commit of the record's last change
  (本记录版本 <commit>), the one an auditor finds at the end of its history;
- a semester's workbook is stamped with the newest mainline commit that
  changed a record of that semester (an addition, an edit, a move in or out,
  a deletion) or the roster, config or schema it is summarised with: checking
  out that commit and exporting the semester gives the same sheets.

"Mainline commit": the commit that brought the change onto the first-parent
chain (a merge request's merge commit), since that is a state of the whole
repository in which the page's content is exactly what it shows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from liaison.core.semesters import Calendar, Semester
from liaison.git.history.model import Change, History
from liaison.git.repo import SOURCE_PATHS, CommitInfo, GitError, Repo

UNCOMMITTED = "本机文件（尚未提交）"
DIRTY = "（含未提交的修改）"
SUMMARY_INPUTS = ("roster.yaml", "config.yaml", "schema")  # what a workbook is summarised with besides records


@dataclass(frozen=True)
class Version:
    """A mainline commit (or none: not committed), its time, and whether the files differ from it."""

    sha: str
    time: datetime.datetime
    position: int = -1  # its place on the mainline: the later of two versions is the newer
    dirty: bool = False

    @property
    def source(self) -> str:
        """版本 1a2b3c4d, with （含未提交的修改） when the working files differ; 本机文件（尚未提交） without a commit."""
        if not self.sha:
            return UNCOMMITTED
        return f"版本 {self.sha[:8]}" + (DIRTY if self.dirty else "")


def _newer(a: Version | None, b: Version | None) -> Version | None:
    if a is None or b is None:
        return a or b
    return b if b.position > a.position else a


def _day_of(path: str | None) -> datetime.date | None:
    """The date in a record's file name (records/<YYYY>/<YYYY-MM-DD-…>.yaml), or None."""
    if not path:
        return None
    try:
        return datetime.date.fromisoformat(path.rsplit("/", 1)[-1][:10])
    except ValueError:
        return None


@dataclass
class Versions:
    """The version of each thing the site shows, computed once from the history read for the check."""

    head: Version
    calendar: Calendar
    by_record: dict[str, list[Change]] = field(default_factory=dict)  # record key -> its changes, oldest first
    aliases: dict[str, str] = field(default_factory=dict)
    by_semester: dict[Semester, Version] = field(default_factory=dict)
    newest_change: Version | None = None
    summary_inputs: Version | None = None  # the newest mainline commit that changed roster, config or schema
    dirty_paths: set[str] = field(default_factory=set)
    dirty_summary: bool = False  # roster, config or schema differ from the commit

    @classmethod
    def read(cls, root, commit: CommitInfo | None, history: History, calendar: Calendar, now) -> Versions:
        if commit is None:
            return cls(Version("", now), calendar)
        positions = history.positions
        versions = cls(
            Version(commit.sha, commit.time, positions.get(commit.sha, len(positions)), commit.dirty),
            calendar,
            aliases=history.aliases,
        )
        for change in history.changes:
            versions.by_record.setdefault(change.record, []).append(change)
            version = versions.mainline_version(history, change)
            versions.newest_change = _newer(versions.newest_change, version)
            for day in {_day_of(change.old_path), _day_of(change.new_path)} - {None}:
                semester = calendar.semester_of(day)
                versions.by_semester[semester] = _newer(versions.by_semester.get(semester), version)
        repo = Repo(root)
        found = repo.query("log", "-1", "--first-parent", "--format=%H %cI", "HEAD", "--", *SUMMARY_INPUTS)
        if found.ok and found.text:
            sha, when = found.text.split()
            versions.summary_inputs = Version(sha, datetime.datetime.fromisoformat(when), positions.get(sha, -1))
        if commit.dirty:
            versions.dirty_paths = _dirty_paths(repo)
            versions.dirty_summary = any(p.split("/")[0] in SUMMARY_INPUTS for p in versions.dirty_paths)
        return versions

    @staticmethod
    def mainline_version(history: History, change: Change) -> Version:
        sha = change.entered or change.commit.sha
        return Version(sha, history.mainline_times.get(sha, change.commit.committer_time), change.position)

    def changes_of(self, record_id: str) -> list[Change]:
        """A record's changes (as ``History.of``, for all records in one pass)."""
        key = self.aliases.get(record_id)
        return self.by_record.get(key, []) if key else []

    def record_text(self, record_path: str, changes: list[Change], history: History) -> str:
        """本记录版本 1a2b3c4d (its last change), or 本记录尚未提交."""
        if not changes:
            return "本记录尚未提交"
        version = self.mainline_version(history, changes[-1])
        return f"本记录版本 {version.sha[:8]}" + (DIRTY if record_path in self.dirty_paths else "")

    def of_semester(self, semester: Semester | None) -> Version:
        """What a semester's workbook (or, for None, all records') is stamped with."""
        if not self.head.sha:
            return self.head
        found = self.newest_change if semester is None else self.by_semester.get(semester)
        version = _newer(found, self.summary_inputs) or self.head
        dirty = self.dirty_summary or any(
            semester is None or self.calendar.semester_of(day) == semester
            for day in filter(None, map(_day_of, self.dirty_paths))
        )
        return Version(version.sha, version.time, version.position, dirty)


def _dirty_paths(repo: Repo) -> set[str]:
    """The source paths (records, roster, config, schema, templates) that differ from the commit."""
    # Without optional locks: a question that never writes the index. Not stripped: " M path" starts with a space.
    found = repo.query(
        "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all", "--", *SOURCE_PATHS
    )
    if not found.ok:
        raise GitError(["status"], found.status, found.stderr)
    raw = found.stdout.decode("utf-8")
    paths, entries = set(), iter(raw.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if "R" in entry[:2] or "C" in entry[:2]:
            paths.add(next(entries, ""))  # a rename's other name
    return paths
