"""Writing a file whole or not at all: the one atomic write (durable where a crash must not lose it)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"  # the part being written; one left behind is a crash's (Outbox removes stale ones)


def write_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    """Write beside, then rename: readers see the old file or the new one, never a part.

    ``durable`` also fsyncs the file and its folder, so the file survives a
    power cut once this returns (the outbox, the reminders' ledger). When
    the write fails (a full disk: ENOSPC may come at write, flush, fsync or
    close), the part written is removed before the error goes on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as tmp:
            tmp.write(data)
            if durable:
                tmp.flush()
                os.fsync(tmp.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_durably(path: Path, data: bytes) -> None:
    """``write_atomic`` with fsync: the file exists whole or not at all, even after a crash."""
    write_atomic(path, data, durable=True)
