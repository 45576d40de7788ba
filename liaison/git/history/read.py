"""The one entry point: the history from the index when it can be used, else read at once from git; and, on a
branch, the history as the default branch sees it."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path

from liaison.core.schema import Schema
from liaison.git.history.gitlog import assemble, read_commits, read_mainline
from liaison.git.history.index import indexed_history, indexed_record_history
from liaison.git.history.model import Change, History
from liaison.git.repo import Repo


def read_history(root: Path, schema: Schema, ref: str = "HEAD", index: bool = True, main: str | None = None) -> History:
    """Every change to ``records/`` (and to ``allowed_signers``) reachable from ``ref``, in mainline order.

    From the history index in ``.cache/`` when it can be used (``index``, and not ``LIAISON_HISTORY_INDEX=0``):
    the same History, reading only the commits the index has not seen; else read at once from git.
    ``main``: the default branch's name (``config.yaml``'s ``web.target_branch``); changes not on it are
    marked not merged yet (see :func:`as_on_main`).
    """
    history = None
    if index and use_index():
        history = indexed_history(Path(root), schema, ref)
    if history is None:
        repo = Repo(root)
        if repo.resolve(ref) is None:
            return History()
        history = assemble(repo, ref, schema, read_mainline(repo, ref), read_commits(repo, [ref]))
    if main is not None:
        of_main = functools.cache(lambda branch: read_history(root, schema, branch, index=False))
        history.changes = as_on_main(root, history.changes, ref, main, lambda b: of_main(b).changes)
        history.signer_changes = as_on_main(
            root, history.signer_changes, ref, main, lambda b: of_main(b).signer_changes
        )
    return history


def record_history(
    root: Path, schema: Schema, record: str, ref: str = "HEAD", index: bool = True, main: str | None = None
) -> list[Change]:
    """``read_history(root, schema, ref).of(record)``: from the index, reading that record's changes only."""
    changes = None
    if index and use_index():
        changes = indexed_record_history(Path(root), schema, record, ref)
    if changes is None:
        changes = read_history(root, schema, ref, index=False).of(record)
    if main is None:
        return changes
    return as_on_main(
        root, changes, ref, main, lambda branch: read_history(root, schema, branch, index=False).of(record)
    )


def use_index() -> bool:
    """The history index is on unless ``LIAISON_HISTORY_INDEX=0`` (to compare, or to distrust a cache)."""
    return os.environ.get("LIAISON_HISTORY_INDEX", "1").strip() not in ("0", "false", "no", "off")


def main_ref(root: Path, branch: str) -> str | None:
    """The default branch as the server has it (``origin/<branch>``), else the local one; None when neither exists.

    The server's copy first: a local ``main`` left behind would make what was merged since look unmerged.
    """
    repo = Repo(root)
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if repo.resolve(ref) is not None:
            return ref
    return None


def as_on_main(
    root: Path, changes: list[Change], ref: str, branch: str, reread: Callable[[str], list[Change]]
) -> list[Change]:
    """``changes`` (read from ``ref``) as the default branch ``branch`` sees them.

    History is read from ``ref``, and its first-parent chain is the mainline it judges by. On a branch that
    chain holds the branch's own commits: those are not on main, so they are marked not merged yet (no
    merge, not on the mainline, no entry: their time is their author's), after the changes on main. When
    the branch merged main into itself, the changes it took from main were judged by that merge; then the
    changes on main are taken from the history of main itself (read from git, ``reread``: the index keeps
    one tip), those ``ref`` has. Without such a branch, or with ``ref`` on it, ``changes`` are as they were.
    """
    found = main_ref(root, branch)
    if found is None or not changes:
        return changes
    unmerged = set(Repo(root).query_text("rev-list", f"{found}..{ref}").split())
    if not unmerged:
        return changes
    mine = [
        dataclasses.replace(change, merge=None, on_mainline=False, entered="", position=-1, entered_at=None)
        for change in changes
        if change.commit.sha in unmerged
    ]
    merged = [change for change in changes if change.commit.sha not in unmerged]
    if any(change.entered in unmerged for change in merged):
        wanted = {(change.commit.sha, change.path) for change in merged}
        merged = [change for change in reread(found) if (change.commit.sha, change.path) in wanted]
    return merged + mine
