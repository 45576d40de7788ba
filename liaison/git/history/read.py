"""The one entry point: the history from the index when it can be used, else read at once from git."""

from __future__ import annotations

import os
from pathlib import Path

from liaison.core.schema import Schema
from liaison.git.history.gitlog import assemble, read_commits, read_mainline
from liaison.git.history.index import indexed_history, indexed_record_history
from liaison.git.history.model import Change, History
from liaison.git.repo import Repo


def read_history(root: Path, schema: Schema, ref: str = "HEAD", index: bool = True) -> History:
    """Every change to ``records/`` (and to ``allowed_signers``) reachable from ``ref``, in mainline order.

    From the history index in ``.cache/`` when it can be used (``index``, and not ``LIAISON_HISTORY_INDEX=0``):
    the same History, reading only the commits the index has not seen; else read at once from git.
    """
    if index and use_index():
        found = indexed_history(Path(root), schema, ref)
        if found is not None:
            return found
    repo = Repo(root)
    if repo.resolve(ref) is None:
        return History()
    return assemble(repo, ref, schema, read_mainline(repo, ref), read_commits(repo, [ref]))


def record_history(root: Path, schema: Schema, record: str, ref: str = "HEAD", index: bool = True) -> list[Change]:
    """``read_history(root, schema, ref).of(record)``: from the index, reading that record's changes only."""
    if index and use_index():
        found = indexed_record_history(Path(root), schema, record, ref)
        if found is not None:
            return found
    return read_history(root, schema, ref, index=False).of(record)


def use_index() -> bool:
    """The history index is on unless ``LIAISON_HISTORY_INDEX=0`` (to compare, or to distrust a cache)."""
    return os.environ.get("LIAISON_HISTORY_INDEX", "1").strip() not in ("0", "false", "no", "off")
