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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths' names in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where it is not offered."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_dir(staging: Path, target: Path) -> None:
    """Put a fully built ``staging`` folder at ``target`` so that ``target`` is never missing nor partial.

    Where the system can exchange two names atomically, ``target`` is the old
    whole output until the instant it is the new one; elsewhere this is
    ``replace_dir`` (an instant without ``target`` between two renames).
    The old output ends at ``staging``'s name and is removed last.
    """
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.replace(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)
    else:
        replace_dir(staging, target)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (ours or another user's): its temporary files are not leftovers."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def left_by_dead_process(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``<prefix><pid>…`` of a process that no longer runs (or names no process)."""
    digits = ""
    for char in name[len(prefix) :]:
        if not char.isdigit():
            break
        digits += char
    if not digits:
        return True
    pid = int(digits)
    return pid != os.getpid() and not process_alive(pid)
