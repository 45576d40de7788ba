"""Putting cached files into an output folder: always copies of the cache, and a file left untouched is kept.

A PDF or page placed in an output is a copy of the cache's bytes (a reflink
where the file system has them), never a hard link to the cache: an output
opened and saved in place, or edited on purpose, must not change the cache
entry that later builds, exports and ``verify`` use.

Copying every file on every build would cost seconds for 10,000 PDFs, so an
output folder has an index of what was placed: for each file its cache key and
its inode, size, mtime and ctime then. A file whose key and stat still agree is
the copy placed last time and is kept as it is; any other is copied again. The
ctime is what makes this sound: any write changes it, even one that puts the
old mtime back with ``touch``, and no user can set it. Two ways to build:

* **in place** (``previous`` is the folder itself): files are replaced one by
  one (the managed PDF folder);
* **beside** (a new tree that will take ``previous``'s place: the site): a kept
  file is hard-linked from the old tree into the new one. The two trees share
  the inode, never the cache. Linking and the old tree's removal change the
  ctime, so ``save(final)`` stamps the files where they ended, after the swap.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import threading
from pathlib import Path

from liaison.core import cachekit
from liaison.core.atomic import write_atomic

PLACED = ".liaison-placed.json"
TEMPORARY = ".tmp-liaison-"
INDEX_BYTES = 256 << 20  # 20,000 placed files write about 3 MB; a larger index is damage, never read whole


class Placer:
    """Places files under ``tree`` and records them; ``save()`` writes the record to ``index`` (None: no record).

    The record says what was placed at ``previous`` (the folder being
    replaced, or ``tree`` itself): the site keeps it in its cache, outside the
    published tree, and a managed PDF folder beside its PDFs (``PLACED``).
    """

    def __init__(self, tree: Path, previous: Path | None = None, index: Path | None = None):
        self.tree = os.fspath(tree)
        self.previous = os.fspath(previous) if previous is not None else self.tree
        self.in_place = os.path.abspath(self.previous) == os.path.abspath(self.tree)
        self.index = index
        self.before = _read_index(index) if index else {}
        self.now: dict[str, list] = {}
        self._folders: set[str] = set()

    def kept(self, name: str, key: str) -> bool:
        """Keep the file placed last time at ``name`` if it is ``key``'s and untouched since; False otherwise."""
        entry = self.before.get(name)
        if entry is None or entry[0] != key:
            return False
        old = f"{self.previous}/{name}"
        try:
            if _stamp(os.stat(old)) != entry[1:]:
                return False
            if not self.in_place:
                os.link(old, self._target(name))
        except OSError:  # gone, or no hard links here: a fresh copy instead
            return False
        self.now[name] = entry
        return True

    def kept_if_same(self, name: str, key: str, data: bytes) -> bool:
        """Keep the old file at ``name`` (its inode and mtime) if its bytes are ``data``: a page made anew, unchanged."""
        if self.in_place:
            return False
        old = f"{self.previous}/{name}"
        try:
            stat = os.stat(old)
            if stat.st_size != len(data) or Path(old).read_bytes() != data:
                return False
            os.link(old, self._target(name))
        except OSError:
            return False
        self.now[name] = [key]  # stamped by save(), where the file ends
        return True

    def copy(self, name: str, key: str, source: Path | str) -> None:
        """Place a copy of the file ``source`` (a cache entry) at ``name``."""
        self._put(name, key, lambda target: _copy(source, target))

    def write(self, name: str, key: str, data: bytes) -> None:
        """Place ``data`` at ``name``."""

        def write(target: str) -> None:
            with open(target, "xb") as handle:
                handle.write(data)

        self._put(name, key, write)

    def save(self, final: Path | None = None) -> None:
        """Write the index (whole or not at all), if it changed; ``final``: where a tree built beside now is.

        A failure costs only speed (the next build copies what it cannot
        trust), so it is logged, never raised.
        """
        if not self.index:
            return
        now = self.now
        if not self.in_place:
            now = {}
            for name, entry in self.now.items():
                try:
                    now[name] = [entry[0], *_stamp(os.stat(f"{final or self.tree}/{name}"))]
                except OSError:
                    continue
        if now == self.before:
            return
        try:
            write_atomic(self.index, cachekit.dumps(now))
        except OSError as error:  # the next build copies every file again
            cachekit.unwritable(Path(self.index).parent, error)

    def _put(self, name: str, key: str, fill) -> None:
        target = self._target(name)
        if not self.in_place:  # a new tree: nothing to replace, and a killed build removes the whole tree
            fill(target)
        else:
            temporary = os.path.join(os.path.dirname(target), f"{TEMPORARY}{os.getpid()}-{threading.get_ident()}")
            try:
                fill(temporary)
                os.replace(temporary, target)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        self.now[name] = [key, *_stamp(os.stat(target))] if self.in_place else [key]

    def _target(self, name: str) -> str:
        target = f"{self.tree}/{name}"
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        return target


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _read_index(path: Path) -> dict[str, list]:
    """The index at ``path``; entries not of the shape written (damage, an old format) are left out: copied again."""
    try:
        placed = cachekit.read_memo(Path(path), INDEX_BYTES, sealed=False)
    except OSError:
        return {}
    except ValueError as error:
        cachekit.discard(Path(path), error)
        return {}
    if not isinstance(placed, dict):
        return {}
    return {
        name: entry
        for name, entry in placed.items()
        if type(entry) is list
        and len(entry) == 5
        and type(entry[0]) is str
        and all(type(number) is int for number in entry[1:])
    }


_FICLONE = 0x40049409  # linux/fs.h: share the source's blocks copy-on-write (btrfs, XFS)
_NO_REFLINK = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EBADF}
_reflinks = [sys.platform == "linux"]


def _copy(source: Path | str, target: str) -> None:
    """``target`` (new; permissions from the umask) with the bytes of ``source``."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        if _reflinks[0]:
            import fcntl

            try:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
                return
            except OSError as err:
                if err.errno not in _NO_REFLINK:
                    raise
                _reflinks[0] = False  # this file system has none: plain copies from now on
        shutil.copyfileobj(src, dst, 1 << 20)
