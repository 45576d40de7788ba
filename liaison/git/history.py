"""The history of every record, read from Git in one pass: who added, changed, moved or removed it, and how.

``read_history`` runs a fixed handful of git processes whatever the number of
records (the log of ``records/`` with raw diffs and renames, the commit graph,
the mainline's merge commits, and one ``cat-file --batch`` for the contents),
then works out in Python:

* which merge request brought each commit to the main line: GitLab's merge
  commits say ``See merge request group/project!123``; every commit reachable
  from a merge's second parent and not from the main line before it came
  through that merge request;
* which record each change belongs to, following renames (a record whose
  date was corrected moves to a new path);
* what changed, field by field, with the schema's Chinese labels.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from liaison.core.records import RECORDS_DIR, parse_record, plain_value
from liaison.core.schema import Schema
from liaison.git.repo import ZERO, Repo

ADDED, CHANGED, DELETED, MOVED = "新增", "修改", "删除", "移动"
_MR = re.compile(r"See merge request (\S+?)!(\d+)")
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.+)$")
_FIELDS = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: datetime.datetime
    committer_name: str
    committer_email: str
    committer_time: datetime.datetime
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def trailers(self) -> dict[str, str]:
        """``Key: value`` lines of the message's last paragraph (git's trailer convention)."""
        last = self.message.strip().rsplit("\n\n", 1)[-1]
        found = {}
        for line in last.splitlines():
            match = _TRAILER.match(line.strip())
            if match:
                found[match[1]] = match[2].strip()
        return found


@dataclass(frozen=True)
class Merge:
    """How a commit reached the main line: the merge request, or None for a direct push."""

    reference: str  # group/project!123
    merged_by: str
    merged_at: datetime.datetime


@dataclass(frozen=True)
class FieldChange:
    key: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    commit: Commit
    kind: str  # 新增 / 修改 / 删除 / 移动
    record: str  # the record's id as first added; stable across renames
    old_path: str | None
    new_path: str | None
    old_data: dict
    new_data: dict
    fields: tuple[FieldChange, ...]
    merge: Merge | None  # None: not (yet) on the main line through a merge request
    on_mainline: bool

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""

    @property
    def record_id(self) -> str:
        """The id the record has after this change (or had, for a deletion)."""
        return PurePosixPath(self.path).stem

    @property
    def data(self) -> dict:
        return self.new_data or self.old_data


@dataclass
class History:
    changes: list[Change] = field(default_factory=list)  # oldest first
    aliases: dict[str, str] = field(default_factory=dict)  # every id or path a record had -> its record key

    def of(self, record: str) -> list[Change]:
        """The changes of one record, given any id or path it ever had."""
        key = self.aliases.get(record) or self.aliases.get(PurePosixPath(record).stem)
        return [c for c in self.changes if c.record == key] if key else []


def _commit(fields: list[str]) -> Commit:
    sha, parents, an, ae, at, cn, ce, ct, message = fields
    return Commit(
        sha,
        tuple(parents.split()),
        an,
        ae,
        datetime.datetime.fromisoformat(at),
        cn,
        ce,
        datetime.datetime.fromisoformat(ct),
        message.strip("\n"),
    )


def _mainline_merges(repo: Repo, ref: str) -> tuple[dict[str, Merge], set[str]]:
    """Which merge request brought each commit to the main line, and the main line's own commits."""
    mainline = repo.run("rev-list", "--first-parent", "--reverse", ref).decode().split()
    parents: dict[str, list[str]] = {}
    for line in repo.run("rev-list", "--parents", ref).decode().splitlines():
        sha, *rest = line.split()
        parents[sha] = rest
    merges: dict[str, Commit] = {}
    raw = repo.run("log", "--first-parent", "--merges", f"--format={_FIELDS}%x1e", ref).decode("utf-8", "replace")
    for block in raw.split("\x1e"):
        if block.strip():
            commit = _commit(block.strip("\n").split("\x1f"))
            merges[commit.sha] = commit
    through: dict[str, Merge] = {}
    seen: set[str] = set()
    for sha in mainline:
        seen.add(sha)
        merge = merges.get(sha)
        if merge is None or len(parents.get(sha, [])) < 2:
            continue
        match = _MR.search(merge.message)
        info = Merge(f"{match[1]}!{match[2]}" if match else "", merge.author_name, merge.committer_time)
        stack = list(parents[sha][1:])
        while stack:  # everything the merge brought in, stopping at what the main line had
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            through[current] = info
            stack.extend(parents.get(current, []))
    return through, set(mainline)


def _log_entries(raw: str) -> Iterator[tuple[Commit, str]]:
    """Each commit of a ``log --format=%x1e{_FIELDS}%x1d`` output, with what git printed after it."""
    for block in raw.split("\x1e"):
        if block.strip():
            head, _, rest = block.partition("\x1d")
            yield _commit(head.split("\x1f")), rest


def log_commits(repo: Repo, revisions: str, paths: list[str]) -> dict[str, list[Commit]]:
    """The non-merge commits in ``revisions`` (e.g. ``base..HEAD``) that touch ``paths``: path -> commits."""
    raw = repo.run(
        "log", "--no-merges", "--no-renames", "--name-only", f"--format=%x1e{_FIELDS}%x1d", revisions, "--", *paths
    ).decode("utf-8", "replace")
    found: dict[str, list[Commit]] = {}
    for commit, names in _log_entries(raw):
        for name in names.strip().splitlines():
            found.setdefault(name, []).append(commit)
    return found


def field_changes(old: dict, new: dict, schema: Schema) -> tuple[FieldChange, ...]:
    """What differs between two versions of a record, in the schema's order with its labels."""
    keys = [f.key for f in schema.fields] + sorted((set(old) | set(new)) - {f.key for f in schema.fields})
    return tuple(
        FieldChange(key, schema.label((key,)) or key, old.get(key, ""), new.get(key, ""))
        for key in keys
        if old.get(key, "") != new.get(key, "")
    )


def read_history(root: Path, schema: Schema, ref: str = "HEAD") -> History:  # noqa: C901, PLR0912 - split pending (issue 19)
    """Every change to ``records/`` reachable from ``ref``, oldest first."""
    repo = Repo(root)
    if repo.resolve(ref) is None:
        return History()
    through, mainline = _mainline_merges(repo, ref)
    raw = repo.run(
        "log",
        "--reverse",
        "--full-history",
        "--no-merges",
        "-M",
        "--raw",
        "--no-abbrev",
        f"--format=%x1e{_FIELDS}%x1d",
        ref,
        "--",
        f"{RECORDS_DIR}/",
    ).decode("utf-8", "replace")
    entries = []
    wanted: set[str] = set()
    for commit, diff in _log_entries(raw):
        for line in diff.strip().splitlines():
            if not line.startswith(":"):
                continue
            meta, *paths = line.split("\t")
            _, _, old_blob, new_blob, status = meta.split()
            entries.append((commit, status[0], paths, old_blob, new_blob))
            wanted.update(b for b in (old_blob, new_blob) if b != ZERO)
    contents = repo.objects(wanted)

    def data_of(blob: str, path: str | None) -> dict:
        raw = contents.get(blob) if blob != ZERO else None
        if raw is None or path is None:
            return {}
        record, _ = parse_record(path, raw, schema, None)
        return dict(record.data) if record else {}

    history = History()
    current: dict[str, str] = {}  # path now -> record key
    for commit, status, paths, old_blob, new_blob in entries:
        if not all(p.endswith(".yaml") for p in paths):
            continue
        if status == "R":
            old_path, new_path = paths
            key = current.pop(old_path, PurePosixPath(old_path).stem)
            current[new_path], kind = key, MOVED
        elif status == "A":
            old_path, new_path = None, paths[0]
            key = current.setdefault(new_path, PurePosixPath(new_path).stem)
            kind = ADDED
        elif status == "D":
            old_path, new_path = paths[0], None
            key = current.pop(old_path, PurePosixPath(old_path).stem)
            kind = DELETED
        else:
            old_path = new_path = paths[-1]
            key = current.setdefault(new_path, PurePosixPath(new_path).stem)
            kind = CHANGED
        for path in (old_path, new_path):
            if path:
                history.aliases[path] = key
                history.aliases[PurePosixPath(path).stem] = key
        old, new = data_of(old_blob, old_path), data_of(new_blob, new_path)
        history.changes.append(
            Change(
                commit,
                kind,
                key,
                old_path,
                new_path,
                old,
                new,
                field_changes(old, new, schema),
                through.get(commit.sha),
                commit.sha in mainline,
            )
        )
    return history


def change_json(change: Change) -> dict:
    """A change as JSON-ready data (``history --format json``)."""
    commit, merge = change.commit, change.merge
    return {
        "when": commit.committer_time.isoformat(),
        "kind": change.kind,
        "record_id": change.record_id,
        "old_path": change.old_path,
        "new_path": change.new_path,
        "author": commit.author_name,
        "author_email": commit.author_email,
        "authored_at": commit.author_time.isoformat(),
        "committer": commit.committer_name,
        "committer_email": commit.committer_email,
        "commit": commit.sha,
        "message": commit.message,
        "merge_request": merge.reference if merge else None,
        "merged_by": merge.merged_by if merge else None,
        "merged_at": merge.merged_at.isoformat() if merge else None,
        "direct_to_main": change.on_mainline,
        "fields": [
            {"key": f.key, "label": f.label, "old": plain_value(f.old), "new": plain_value(f.new)}
            for f in change.fields
        ],
    }


def change_text(number: int, change: Change) -> list[str]:
    """A change as lines for the terminal (``history --format table``)."""
    commit, merge = change.commit, change.merge
    how = (
        f"合并请求 {merge.reference or '（未注明编号）'}，{merge.merged_by} 于 {merge.merged_at:%Y-%m-%d %H:%M} 合并"
        if merge
        else ("直接提交到主分支，未经合并请求" if change.on_mainline else "尚未合并")
    )
    lines = [
        f"━━ {number}. {commit.committer_time:%Y-%m-%d %H:%M} · {change.kind} · {change.path}",
        f"   作者：{commit.author_name} <{commit.author_email}>　提交者：{commit.committer_name} <{commit.committer_email}>",
        f"   {how}",
        f"   提交 {commit.sha[:12]}：{commit.subject}",
    ]
    if change.kind == MOVED:
        lines.append(f"   文件：{change.old_path} → {change.new_path}")
    if change.kind in (ADDED, DELETED):  # the whole record, once
        data = change.new_data if change.kind == ADDED else change.old_data
        return lines + [
            f"   {item.label}：{plain_value(item.new if change.kind == ADDED else item.old)}"
            for item in change.fields
            if (data.get(item.key, "") != "")
        ]
    for item in change.fields:
        old = plain_value(item.old) if item.old != "" else "（空）"
        new = plain_value(item.new) if item.new != "" else "（空）"
        if "\n" in f"{old}{new}" or len(f"{old}{new}") > 60:
            lines.append(f"   {item.label}：")
            lines.extend(f"     - {part}" for part in str(old).split("\n"))
            lines.extend(f"     + {part}" for part in str(new).split("\n"))
        else:
            lines.append(f"   {item.label}：{old} → {new}")
    return lines
