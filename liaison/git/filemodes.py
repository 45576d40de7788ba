"""What git holds under ``records/``: its index entries, read once, and those that are no plain file (links,
submodules, executables).

The working tree can hide these (a checkout with ``core.symlinks=false`` writes a link as a file of its
target's name; ``core.fileMode=false`` drops the executable bit; a submodule not cloned is an empty
folder), so ``check`` also asks git's index, which is what a commit records. Anything there that is not
mode 100644 is one problem naming the path.

One ``git ls-files`` answers both this and the check cache's question (which files git vouches for):
:func:`index_listing`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from liaison.core.problems import Problem
from liaison.core.project import OUTPUT_SOURCES, source_message
from liaison.core.records import RECORDS_DIR, irregular_message
from liaison.git.repo import GitError, Repo, index_state

PLAIN = "100644"
CHANGED_TAGS = ("C", "R")  # -m and -d list a changed or deleted file a second time, under these tags


# One line of ``git ls-files -s -v``: (tag, mode, blob, stage, path). The tag: H a file git watches, h
# assume-unchanged, S skip-worktree, M unmerged; C and R are the second lines of a changed and a deleted file.
# Plain tuples: 10,000 named ones cost more than the reading.
IndexEntry = tuple[str, str, str, str, str]


def index_listing(root: Path) -> list[IndexEntry] | None:
    """Every entry under ``records/`` in git's index, and again each changed (C) or deleted (R) one, from one
    ``git ls-files -s -v -m -d``; None outside a git repository (or when git cannot say)."""
    try:
        listed = Repo(root).query(*_FULL_STAT, "ls-files", "-s", "-v", "-m", "-d", "-z", "--", f"{RECORDS_DIR}/")
    except GitError:
        return None
    if not listed.ok:
        return None
    text = os.fsdecode(listed.stdout)
    # "<tag> <mode> <object> <stage>\t<path>\0", 10,000 times: one pattern reads them all at C speed.
    found = _ENTRY.findall(text)
    if len(found) != text.count("\0"):  # a line of another shape: read each as it comes, none passed over
        found = [(*(info.split(" ") + ["", "", ""])[:4], path) for info, _, path in _lines(text)]
    return found


# Git's whole stat test, whatever this clone's settings: one weakened to size and mtime (core.checkStat=minimal,
# trustctime off) lets git call an edited file unchanged, and the check cache would give the committed verdict.
# (A file system monitor, whose word would do the same, is never asked by a query: Repo.query.)
_FULL_STAT = ("-c", "core.checkStat=default", "-c", "core.trustctime=true")


def _lines(text: str) -> list[tuple[str, str, str]]:
    return [line.partition("\t") for line in text.split("\0") if line]


_ENTRY = re.compile(r"(\S+) ([0-7]+) ([0-9a-f]+) ([0-3])\t([^\0]+)\0")


def index_problems(root: Path, listing: list[IndexEntry] | None = None) -> list[Problem]:
    """A problem for each entry under ``records/`` in git's index whose mode is not 100644; none outside git.

    ``listing``: :func:`index_listing` of ``root``, when the caller has it already.
    """
    if listing is None:
        listing = index_listing(root) or []
    found = {}
    for tag, mode, _blob, _stage, path in listing:
        if tag not in CHANGED_TAGS and mode != PLAIN:
            found[path] = Problem(path, None, "", "", irregular_message(mode))
    return list(found.values())


# source_mode_problems' answers by the index they were read from (repo.index_state): a build asks three times
# (the check, the PDFs, the site), pdf and export twice; git is asked once.
_SOURCE_MODES: dict[tuple, list[Problem]] = {}
_SOURCE_MODES_KEPT = 64


def source_mode_problems(root: Path) -> list[Problem]:
    """A problem for each link or submodule git holds under templates/ and site/, whatever the checkout made
    of it (with ``core.symlinks=false`` a link is a plain file holding its target's name: nothing is read
    through it there, but the next clone, or the CI runner's, follows it); none outside git. Asked again of
    the same index, the answer it gave (the modes are the index's; an index rewritten is another)."""
    state = index_state(root)
    kept = _SOURCE_MODES.get(state) if state is not None else None  # one look: another thread may clear it
    if kept is not None:
        return list(kept)
    found = _source_modes_from_git(root)
    if found is None:  # git could not say (a timeout, a refused repository): asked again next time
        return []
    if state is not None and state == index_state(root):  # an index rewritten meanwhile: its answer is not kept
        if len(_SOURCE_MODES) >= _SOURCE_MODES_KEPT:
            _SOURCE_MODES.clear()
        _SOURCE_MODES[state] = list(found)
    return found


def _source_modes_from_git(root: Path) -> list[Problem] | None:
    """source_mode_problems' answer from git; None when git could not say."""
    try:
        listed = Repo(root).query("ls-files", "-s", "-z", "--", *(f"{folder}/" for folder in OUTPUT_SOURCES))
    except GitError:
        return None
    if not listed.ok:
        return None
    found = []
    for info, _, path in _lines(os.fsdecode(listed.stdout)):
        mode = info.split(" ")[0]
        if mode in ("120000", "160000"):
            found.append(Problem(path, None, "", "", source_message(path, mode)))
    return found
