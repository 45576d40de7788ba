"""What git holds under ``records/`` that is not a plain file: links, submodules (gitlinks), executables.

The working tree can hide these (a checkout with ``core.symlinks=false`` writes a link as a file of its
target's name; ``core.fileMode=false`` drops the executable bit; a submodule not cloned is an empty
folder), so ``check`` also asks git's index, which is what a commit records. Anything there that is not
mode 100644 is one problem naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from liaison.core.problems import Problem
from liaison.core.records import RECORDS_DIR, irregular_message
from liaison.git.repo import GitError, Repo

PLAIN = "100644"


def index_problems(root: Path) -> list[Problem]:
    """A problem for each entry under ``records/`` in git's index whose mode is not 100644; none outside git."""
    try:
        listed = Repo(root).attempt("ls-files", "-s", "-z", "--", f"{RECORDS_DIR}/")
    except GitError:
        return []
    if not listed.ok:
        return []
    found = {}
    for entry in os.fsdecode(listed.stdout).split("\0"):
        info, _, path = entry.partition("\t")
        mode = info.split(" ", 1)[0]
        if path and mode != PLAIN:
            found[path] = Problem(path, None, "", "", irregular_message(mode))
    return list(found.values())
