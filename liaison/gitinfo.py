"""What Git knows about the repository: the commit an output is built from, and files at a commit."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import git

# Paths whose content shapes the exports; a change in them makes a build "dirty".
SOURCE_PATHS = ("records", "roster.yaml", "config.yaml", "schema", "templates")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    time: datetime.datetime  # the committer's time, timezone-aware
    dirty: bool  # SOURCE_PATHS differ from the commit (uncommitted or untracked changes)

    @property
    def short(self) -> str:
        return self.sha[:8]


def head_commit(root: Path) -> CommitInfo | None:
    """The commit checked out at ``root``, or None when it is not a Git repository (or has no commit)."""
    try:
        repo = git.Repo(root)
        commit = repo.head.commit
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    status = repo.git.status("--porcelain", "--untracked-files=all", "--", *SOURCE_PATHS)
    return CommitInfo(commit.hexsha, commit.committed_datetime, bool(status.strip()))


class CommitNotFound(Exception):
    """The commit is not in this clone (e.g. a shallow CI clone); the message is Chinese."""


def files_at(root: Path, sha: str, folder: str) -> dict[str, bytes]:
    """Every file under ``folder`` as it was at commit ``sha``: path -> bytes."""
    try:
        repo = git.Repo(root)
        commit = repo.commit(sha)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CommitNotFound(f"{root} 不是 Git 仓库，无法按提交 {sha[:8]} 核对。") from None
    except (git.BadName, ValueError):
        raise CommitNotFound(
            f"仓库中找不到提交 {sha[:8]}。若是浅克隆，请先 git fetch --unshallow；或确认导出来自本仓库。"
        ) from None
    try:
        tree = commit.tree / folder
    except KeyError:
        return {}
    return {blob.path: blob.data_stream.read() for blob in tree.traverse() if blob.type == "blob"}


def changed_files(root: Path, since: str) -> list[str]:
    """Files changed between ``since`` and the working tree (committed or not), relative to the root."""
    try:
        repo = git.Repo(root)
        repo.commit(since)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CommitNotFound(f"{root} 不是 Git 仓库，无法找出改动的文件。") from None
    except (git.BadName, ValueError):
        raise CommitNotFound(f"找不到提交“{since}”。若是浅克隆，请加大 GIT_DEPTH 或先 git fetch。") from None
    names = repo.git.diff("--name-only", "--no-renames", since, "--").splitlines()
    untracked = repo.git.ls_files("--others", "--exclude-standard").splitlines()
    return sorted(set(names) | set(untracked))
