"""Repositories made once for a module's tests, outside any one test's ``tmp_path``, and copies of them.

A module fixture that builds something costly (git compressing 600 MB, LibreOffice starting) makes its
repository with ``empty_repository``, the same start as conftest's ``repo`` fixture; a test that runs a
command on it takes a ``linked_copy`` of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import CONFIG, PROJECT, ROSTER


def empty_repository(root: Path) -> Path:
    """An empty liaison repository at ``root``, as the ``repo`` fixture makes one: the project's schema, the
    test config and roster, an empty ``records/``."""
    shutil.copytree(PROJECT / "schema", root / "schema")
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    (root / "records").mkdir()
    return root


def linked_copy(source: Path, target: Path) -> Path:
    """``source`` copied as hard links: no byte is copied. Only for a repository whose files the test reads:
    git and the caches write new files (git replaces its index through a lock file), never into old ones."""
    shutil.copytree(source, target, symlinks=True, copy_function=os.link)
    return target
