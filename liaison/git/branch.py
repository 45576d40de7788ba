"""What a branch does to ``records/`` relative to its base: the files it adds, changes, moves or removes.

A merge request's review reads this: the diff from the merge base (``base...ref``,
as GitLab shows a merge request), both versions of each file in one batch read,
and the branch's own commits that touched each file (their authors, times and
``Reopen-Reason:`` trailers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.records import RECORDS_DIR
from liaison.git.history.gitlog import log_commits
from liaison.git.history.model import ADDED, CHANGED, DELETED, MOVED, Commit, identity, irregular_mode, tagged_blob
from liaison.git.repo import ZERO, Repo, require_commit

_KINDS = {"A": ADDED, "M": CHANGED, "T": CHANGED, "D": DELETED, "R": MOVED}


@dataclass(frozen=True)
class FileChange:
    """One record file the branch touches; raw bytes are None on the side where it does not exist."""

    kind: str  # 新增 / 修改 / 删除 / 移动 (liaison.git.history's words)
    old_path: str | None
    new_path: str | None
    old_raw: bytes | None
    new_raw: bytes | None
    commits: tuple[Commit, ...] = field(default=())  # the branch's commits of this record (any path), oldest first

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def _raw_diff(repo: Repo, base: str, ref: str) -> list[tuple[str, str, str, list[str]]]:
    """(status letter, old blob, new blob, paths) of each record file in ``base...ref``."""
    # --no-renames: a move is paired by identity (工号 + suffix) below, never by git's similarity score, which
    # would pair two different records whose YAML happens to look alike.
    out = repo.run(
        "diff", "--raw", "-z", "--no-renames", "--no-abbrev", f"{base}...{ref}", "--", f"{RECORDS_DIR}/"
    ).decode("utf-8", "replace")
    parts = out.split("\0")
    entries = []
    position = 0
    while position < len(parts) and parts[position].startswith(":"):
        old_mode, new_mode, old_blob, new_blob, status = parts[position][1:].split()
        old_blob, new_blob = tagged_blob(old_mode, old_blob), tagged_blob(new_mode, new_blob)
        count = 2 if status[0] in "RC" else 1
        paths = parts[position + 1 : position + 1 + count]
        position += 1 + count
        if all(p.endswith(".yaml") for p in paths):
            entries.append((status[0], old_blob, new_blob, paths))
    return _paired(entries)


def _paired(entries: list[tuple[str, str, str, list[str]]]) -> list[tuple[str, str, str, list[str]]]:
    """A removal and an addition of the same identity (a corrected date) become one move."""
    added = {identity(paths[0]): n for n, (status, _, _, paths) in enumerate(entries) if status == "A"}
    moved: dict[int, tuple[str, str, str, list[str]]] = {}
    for n, (status, old_blob, _, paths) in enumerate(entries):
        other = added.get(identity(paths[0])) if status == "D" else None
        if other is not None and other not in moved:
            new_blob, new_path = entries[other][2], entries[other][3][0]
            moved[other] = ("R", old_blob, new_blob, [paths[0], new_path])
            moved[n] = ("", "", "", [])
    return [moved.get(n, entry) for n, entry in enumerate(entries) if moved.get(n, entry)[0]]


def branch_changes(root: Path, base: str, ref: str = "HEAD") -> list[FileChange]:
    """Every record file ``ref`` adds, changes, moves or removes since its merge base with ``base``, by path.

    ``base`` that names no commit is a CommitNotFound (e.g. a shallow clone), never "no changes".
    """
    repo = Repo(root)
    base_sha = require_commit(repo, base, "找出合并请求改动的记录")
    entries = _raw_diff(repo, base_sha, ref)
    # A link's or a submodule's version is never read as a record: its raw bytes stay None (check names it).
    blobs = repo.objects(b for _, old, new, _ in entries for b in (old, new) if b != ZERO and not irregular_mode(b))
    # A record's commits follow its identity (工号 + suffix), not its path: a new record whose date the leader
    # corrected on the branch has commits on paths that the diff from the base no longer shows.
    commits = log_commits(repo, f"{base_sha}..{ref}", [f"{RECORDS_DIR}/"]) if entries else {}
    order: dict[str, int] = {}
    by_identity: dict[str, dict[str, Commit]] = {}
    for path, listed in commits.items():
        for commit in listed:
            order.setdefault(commit.sha, len(order))
            by_identity.setdefault(identity(path), {})[commit.sha] = commit
    changes = []
    for status, old_blob, new_blob, paths in entries:
        kind = _KINDS.get(status, CHANGED)
        old_path = None if kind == ADDED else paths[0]
        new_path = None if kind == DELETED else paths[-1]
        mine = {sha: c for p in paths for sha, c in by_identity.get(identity(p), {}).items()}
        changes.append(
            FileChange(
                kind,
                old_path,
                new_path,
                blobs.get(old_blob) if old_blob != ZERO else None,
                blobs.get(new_blob) if new_blob != ZERO else None,
                tuple(sorted(mine.values(), key=lambda c: order[c.sha])),
            )
        )
    return sorted(changes, key=lambda c: c.path)
