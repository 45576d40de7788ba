"""Output folders liaison manages: claimed with a marker file so a wrong ``--out`` never deletes someone's files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class OutputDirError(Exception):
    """The output folder is not one liaison manages; the message is Chinese."""


def claim_output_dir(out_dir: Path, marker: str, note: str) -> None:
    """Make ``out_dir`` ours: refuse a non-empty folder without our ``marker``, then create it and the marker."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / marker).exists():
        raise OutputDirError(f"输出目录 {out_dir} 已有其他文件。为免误删，请指定一个新的或空的目录（--out）。")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / marker).write_text(note + "\n", encoding="utf-8")


def replace_dir(staging: Path, target: Path) -> None:
    """Move a fully built ``staging`` folder to ``target``, replacing what was there.

    The old folder is renamed aside first and removed last, so ``target`` is
    always either the old whole output or the new whole output.
    """
    staging, target = Path(staging), Path(target)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)
