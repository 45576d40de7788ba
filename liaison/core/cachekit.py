"""The one kit every cache under ``.cache/`` is built from: stamp, codec, damage, folder, and running without it.

Four caches (check verdicts, the history index, the site's store, PDFs) keep
what a command made so that the next run need not make it again. What they
share lives here, once:

- **the code stamp** (:func:`code_stamp`): a hash of the source of every
  ``liaison`` module the cache's output depends on, found by following the
  imports of the modules that make it, statically and transitively (imports
  inside functions too). Nobody keeps a list: a new import is covered the day
  it is written. A cache folds it with its own format version and whatever
  else shapes its output (:func:`stamp`);
- **the codec** (:func:`dumps`, :func:`loads`): JSON with dates and times
  tagged, that gives back an equal value of the very same types or refuses
  (:class:`Unstorable`); never pickle or marshal, so a cache file handed over
  by a CI cache can be wrong but cannot run code;
- **a damaged file** (:func:`discard`): removed with its SQLite companions and
  a log line; the cache starts over;
- **the folder** (:func:`usable_folder`): made with a ``.gitignore`` of ``*``
  (a cache is never committed) and tried with a real write;
- **a folder that cannot be written** (read-only checkout, EROFS, EACCES, a
  full disk, ``.cache`` not a folder): :func:`unwritable` gives the one warning
  (a log line, and a Chinese line the command line prints once,
  :func:`take_notices`), and the command goes on without the cache. Its
  results are the same: a cache only saves time.
"""

from __future__ import annotations

import ast
import datetime
import errno
import functools
import hashlib
import importlib.util
import json
import logging
import os
import sqlite3
import stat
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from liaison.core.atomic import write_atomic

log = logging.getLogger(__name__)

CACHE_FOLDER = ".cache"
# "off": check reads every record file and the project's files, as if nothing were remembered (the benchmarks'
# uncached runs, or a person who distrusts the cache): the check cache, the project's memo and the leaders'
# pinyin readings (liaison.cli.shared.project_of).
CHECK_SWITCH = "LIAISON_CHECK_CACHE"
_IGNORE = b"# made by liaison: caches, never committed\n*\n"
_PACKAGE = Path(__file__).resolve().parent.parent  # the liaison package's folder
_TOP = "liaison"

# Where a cache lives ---------------------------------------------------------


def cache_folder(root: Path, *parts: str) -> Path:
    """``<root>/.cache/<parts>``: where a project's caches live unless told otherwise."""
    return Path(root, CACHE_FOLDER, *parts)


def usable_folder(folder: Path) -> bool:
    """Make ``folder`` (and a ``.gitignore`` of ``*`` in the ``.cache`` folder holding it) and write a file
    there; False, after the one warning, when it cannot be written: then the caller runs without its cache.

    Only a ``.cache`` folder gets the ``.gitignore``: a folder given by
    ``--cache`` may be anything, even the repository itself.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        area = _cache_folder_of(folder)
        if area is not None and not (area / ".gitignore").is_file():
            write_atomic(area / ".gitignore", _IGNORE)
            (area / ".gitignore").chmod(0o644)  # written as a private temporary file
        # A real write: a read-only bind mount, chattr +i or a foreign owner answer only to one.
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".tmp-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        unwritable(folder, error)
        return False
    return True


def switched_off(variable: str) -> bool:
    """Whether the environment variable ``variable`` turns a cache off (``off``, ``0``, ``no``, ``false``)."""
    return os.environ.get(variable, "").strip().lower() in ("off", "0", "no", "false")


def discard(path: Path, why: object) -> None:
    """Remove a cache file that cannot be believed (and SQLite's journal, WAL and shared memory beside it)."""
    log.warning("cache %s discarded (%s): it is made again from scratch", path, why)
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
        except OSError as error:
            unwritable(Path(path).parent, error)


# Running without it ------------------------------------------------------------

_NOTICES: dict[str, str] = {}  # cache area -> the Chinese line for it; an area warns once until taken
_REASONS = {
    errno.EROFS: "只读文件系统",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "不允许写入",
    errno.ENOSPC: "磁盘已满",
    errno.EDQUOT: "超出磁盘配额",
    errno.ENOTDIR: "路径中有同名文件而不是文件夹",
    errno.EEXIST: "同名文件不是文件夹",
    errno.EISDIR: "同名的是文件夹而不是文件",
}
_SQLITE_REASONS = {
    "SQLITE_READONLY": "只读，无法写入",
    "SQLITE_CANTOPEN": "无法打开或新建文件",
    "SQLITE_PERM": "没有写入权限",
    "SQLITE_FULL": "磁盘已满",
    # Writes the disk refused (a full tmpfs fails growing the WAL's shared memory): not a damaged file.
    "SQLITE_IOERR_WRITE": "写入失败，磁盘可能已满",
    "SQLITE_IOERR_FSYNC": "写入失败，磁盘可能已满",
    "SQLITE_IOERR_TRUNCATE": "写入失败，磁盘可能已满",
    "SQLITE_IOERR_SHMSIZE": "写入失败，磁盘可能已满",
    "SQLITE_IOERR_SHMMAP": "写入失败，磁盘可能已满",
}
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_WRITE_ERRORS = frozenset(_REASONS) | {errno.EIO}


def cannot_write(error: OSError) -> bool:
    """Whether ``error`` says "this place cannot take the file" (read-only, no right, full), not a bug."""
    return isinstance(error, OSError) and error.errno in _WRITE_ERRORS


def write_failure(error: OSError) -> str:
    """Why ``error`` (one that :func:`cannot_write` names) kept a file from being written, in Chinese: 磁盘已满 …"""
    return _REASONS.get(error.errno, "") or "写入失败，磁盘可能已满或已损坏"


def sqlite_unwritable(error: sqlite3.Error) -> bool:
    """Whether SQLite says the file cannot be written here (read-only, no right, disk full)."""
    return _sqlite_name(error).startswith(tuple(_SQLITE_REASONS))


def sqlite_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite says another run holds the file: not now, not broken."""
    return _sqlite_name(error).startswith(_SQLITE_BUSY)


def sqlite_damaged(error: sqlite3.Error) -> bool:
    """Whether ``error`` says the file is broken or foreign (then it is discarded), not busy or unwritable."""
    name = _sqlite_name(error)
    return name == "SQLITE_IOERR_SHORT_READ" or not (sqlite_unwritable(error) or sqlite_busy(error))


def _sqlite_name(error: sqlite3.Error) -> str:
    return getattr(error, "sqlite_errorname", None) or ""


def unwritable(place: Path, error: OSError | sqlite3.Error) -> None:
    """Say once, for the cache area holding ``place``, that it cannot be written and the run goes on without it.

    An area is the ``.cache`` folder ``place`` is in (else ``place`` itself):
    a read-only ``.cache`` makes every cache fail, and that is one warning.
    """
    area = str(_cache_folder_of(Path(place)) or place)
    if area in _NOTICES:
        log.info("cache %s unusable too (%s): running without it", place, error)
        return
    why = getattr(error, "strerror", None) or error
    log.warning("cache %s unusable (%s): running without caches there, the results are the same", place, why)
    name = _sqlite_name(error) if isinstance(error, sqlite3.Error) else ""
    reason = next((text for prefix, text in _SQLITE_REASONS.items() if name.startswith(prefix)), "")
    reason = reason or _REASONS.get(getattr(error, "errno", None), "") or str(error)
    _NOTICES[area] = (
        f"注意：缓存目录 {area} 无法写入（{reason}），本次不用缓存，结果不受影响，只是更慢。"
        "要恢复缓存，请让该目录可写并留出空间（或删除它）后重新运行。"
    )


def _cache_folder_of(place: Path) -> Path | None:
    """The ``.cache`` folder ``place`` is in (or is), if any."""
    return next((folder for folder in (place, *place.parents) if folder.name == CACHE_FOLDER), None)


def take_notices() -> list[str]:
    """The Chinese lines of the areas found unwritable since the last call (the CLI prints them on stderr)."""
    notices = list(_NOTICES.values())
    _NOTICES.clear()
    return notices


# The stamp ---------------------------------------------------------------------


def stamp(*parts: object) -> str:
    """One hash of ``parts`` (text, bytes, or anything by its ``repr``), each length-prefixed: no two lists of
    parts give the same bytes. A file name that is not UTF-8 (Python holds its bytes as surrogates) counts by
    those bytes."""
    digest = hashlib.sha256()
    for part in parts:
        text = part if isinstance(part, (bytes, str)) else repr(part)
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@functools.cache
def library_stamp(*packages: str) -> str:
    """A hash of the installed files of the top-level ``packages`` (their names, sizes and modification times),
    found as ``import`` would find them, without importing them.

    What a library's ``__version__`` says, and more (a libyaml extension
    present or not, a patched file), at a fraction of the cost: importing
    PyYAML and cerberus only to read their versions would be a third of a warm
    ``check``. A reinstall of the same version gives another stamp: the cache
    starts over, which is never wrong. A package that cannot be found counts
    as absent.
    """
    parts: list[object] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None and not spec.submodule_search_locations:
            parts.append((name, None))
            continue
        files = []
        for place in spec.submodule_search_locations or ():  # a package: the files of its folder
            with os.scandir(place) as entries:
                files.extend(entry.path for entry in entries if entry.is_file())
        for path in sorted(files) or [spec.origin]:  # a module of one file: that file
            found = os.stat(path)
            parts.append((name, path, found.st_size, found.st_mtime_ns))
    return stamp(*parts)


@functools.cache
def code_stamp(*modules: str, memo: Path | None = None) -> str:
    """A hash of the source of ``modules`` and of every ``liaison`` module they import, at any depth.

    Imports are read from each module's syntax tree (inside functions too;
    relative ones resolved), and importing ``a.b.c`` runs ``a`` and ``a.b``
    first, so their ``__init__`` counts as well. Each module's name and the
    hash of its bytes go in, sorted by name. Once per process: the source does
    not change under a running command. Parsing fifty modules costs a tenth of
    a second, so what each source imports is remembered by the hash of its
    bytes in ``memo`` (a cache folder), where a later run finds it.
    """
    found = dependencies(*modules, memo=memo)
    return stamp(*(part for name in sorted(found) for part in (name, found[name])))


def dependencies(*modules: str, memo: Path | None = None) -> dict[str, bytes]:
    """Name -> SHA-256 of the source of ``modules`` and of every ``liaison`` module they reach through imports."""
    imports = _Imports(memo)
    found: dict[str, bytes] = {}
    waiting = list(modules)
    while waiting:
        name = waiting.pop()
        if name in found:
            continue
        read = _read_module(name)
        if read is None:  # a name imported from a module (a function, a class), not a module
            continue
        source, found[name], is_package = read
        waiting.extend(imports.of(name, is_package, source, found[name]))
    imports.save()
    return found


@functools.cache
def _read_module(module: str) -> tuple[bytes, bytes, bool] | None:
    """(source, its SHA-256, whether a package) of a liaison module; None for a name that is no module. Once
    per process, as the stamp: the four caches of one command share their modules."""
    path = _module_files().get(module)
    if path is None:
        return None
    source = path.read_bytes()
    return source, hashlib.sha256(source).digest(), path.name == "__init__.py"


@functools.cache
def _module_files() -> dict[str, Path]:
    """Dotted name -> source file of every module of the liaison package (a package by its ``__init__.py``)."""
    found = {}
    for folder, subfolders, files in os.walk(_PACKAGE):
        subfolders[:] = [name for name in subfolders if name.isidentifier() and name != "__pycache__"]
        parts = [_TOP, *Path(folder).relative_to(_PACKAGE).parts]
        for name in files:
            stem, suffix = os.path.splitext(name)
            if suffix == ".py" and stem.isidentifier():
                found[".".join(parts if stem == "__init__" else [*parts, stem])] = Path(folder, name)
    return found


class _Imports:
    """What each module's source imports, parsed once and remembered by the hash of (name, source).

    The answer depends on nothing else, so a remembered one is right for
    those bytes; the file (``code-imports.json``) only saves the parsing.
    Besides the cache folder's, one file beside the package's own bytecode
    (``liaison/__pycache__``) serves every project on the machine: a project
    with no ``.cache`` yet (a fresh clone, a CI job without its cache) parses
    nothing either. Who can write that folder can change the bytecode Python
    runs, so the file there is trusted no more than the code it sits with.
    """

    FILE = "code-imports.json"

    def __init__(self, folder: Path | None):
        self.path = Path(folder, self.FILE) if folder is not None else None
        self.missing = False  # whether this file lacks an answer this run needed
        # The package's file first, so the project's own answers win where the two differ.
        for path in [p for p in (_package_memo(), self.path) if p is not None]:
            if str(path) not in _IN_FILE:
                remembered = _remembered(path)
                _IN_FILE[str(path)] = set(remembered)
                _KNOWN_IMPORTS.update(remembered)

    def of(self, module: str, is_package: bool, source: bytes, digest: bytes) -> list[str]:
        key = f"{module} {int(is_package)} {digest.hex()}"
        _USED.add(key)
        found = _KNOWN_IMPORTS.get(key)
        if found is None:
            found = _KNOWN_IMPORTS[key] = sorted(_imported(module, is_package, source))
        if self.path is not None and key not in _IN_FILE[str(self.path)]:
            self.missing = True
        return found

    def save(self) -> None:
        """Write what this process knows, when the file lacked an answer and its folder is there to take it."""
        if len(_KNOWN_IMPORTS) > _KEEP:  # of sources long edited away: keep what this process used
            for key in set(_KNOWN_IMPORTS) - _USED:
                del _KNOWN_IMPORTS[key]
        shared = _package_memo()
        if shared is not None and _USED - _IN_FILE[str(shared)] and shared.parent.is_dir():
            try:  # no warning: a package installed read-only is normal, and the project's file still serves
                write_atomic(shared, dumps(_KNOWN_IMPORTS))
                shared.chmod(0o644)  # every user of a shared install reads it, as they read the bytecode
                _IN_FILE[str(shared)] = set(_KNOWN_IMPORTS)
            except OSError as error:
                log.debug("imports not remembered beside the package (%s): %s", shared, error)
        if self.path is None or not self.missing or not self.path.parent.is_dir():
            return
        try:
            write_atomic(self.path, dumps(_KNOWN_IMPORTS))
        except OSError as error:
            unwritable(self.path.parent, error)
            return
        _IN_FILE[str(self.path)] = set(_KNOWN_IMPORTS)


_KNOWN_IMPORTS: dict[str, list[str]] = {}  # the whole process shares what it parsed or read
_IN_FILE: dict[str, set[str]] = {}  # file -> the answers it holds
_USED: set[str] = set()
_KEEP = 1000
_PACKAGE_MEMO = _PACKAGE / "__pycache__" / "liaison-code-imports.json"


def _package_memo() -> Path | None:
    """The file beside the package's bytecode; None when Python keeps bytecode elsewhere (``PYTHONPYCACHEPREFIX``):
    then that folder is not the one whose writers could already change the code."""
    return None if sys.pycache_prefix else _PACKAGE_MEMO


_MEMO_BYTES = 1 << 20


def _remembered(path: Path) -> dict[str, list[str]]:
    """The remembered imports in ``path``; none when it is missing, too large or not of the shape written."""
    try:
        known = loads(_read_regular(path, _MEMO_BYTES))
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    if type(known) is not dict or not all(
        type(names) is list and all(type(n) is str and n.split(".")[0] == _TOP for n in names)
        for names in known.values()
    ):
        return {}
    return known


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (not a link); OSError for anything else (a FIFO would
    block the read, a link to /dev/zero never end it), checked on the file opened, not on its name."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    file = open(descriptor, "rb")  # noqa: SIM115 - handed to the caller, who closes it
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        file.close()
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return file


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (:func:`open_regular`) of at most ``limit`` bytes."""
    with open_regular(path) as file:
        data = file.read(limit + 1)
    if len(data) > limit:  # a file no run of ours writes: not worth reading
        raise OSError(errno.EFBIG, "too large", str(path))
    return data


def _imported(module: str, is_package: bool, source: bytes) -> set[str]:
    """The ``liaison`` modules (and names that may be modules) ``source`` imports, with their parent packages."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from a import b`: b may be a module
    reached = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == _TOP:
            reached.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return reached


# The codec ---------------------------------------------------------------------

_TAG = "\x00"  # the key marking a tagged value; a dict holding it is refused, so no value is mistaken for one
_PLAIN = frozenset({str, int, bool, type(None)})


class Unstorable(ValueError):
    """A value the codec would not give back exactly (a tuple, a NaN, a subclass, a key that is not text)."""


def dumps(value: Any) -> bytes:
    """``value`` as UTF-8 JSON that :func:`loads` turns back into an equal value of the very same types.

    Takes None, bool, int, finite float, str (lone surrogates too), date,
    datetime (naive or a fixed offset), list, and dict with str keys; anything
    else raises :class:`Unstorable`: the caller keeps no entry for it.
    """
    try:
        text = json.dumps(_tagged(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as error:  # NaN or infinity
        raise Unstorable(str(error)) from None
    return text.encode("utf-8", "surrogatepass")


def loads(data: bytes | str) -> Any:
    """The value :func:`dumps` wrote; ``ValueError`` (or ``TypeError``, ``KeyError``) when ``data`` is damaged."""
    if not isinstance(data, str):
        data = bytes(data).decode("utf-8", "surrogatepass")
    try:
        return _DECODER.decode(data)
    except RecursionError:  # nesting no dumps of ours writes (a damaged or planted file): never a crash
        raise ValueError("nested too deeply") from None


def seal(data: bytes) -> bytes:
    """``data`` with its CRC-32 in front, for a memo file that decides a verdict (:func:`unseal`)."""
    return b"%08x\n" % zlib.crc32(data) + data


def read_memo(path: Path, limit: int, sealed: bool = True) -> Any:
    """The value the memo file at ``path`` holds: OSError when it cannot be read, ValueError when it is larger
    than ``limit`` bytes (no run of this code writes one so large: it is never read whole) or damaged."""
    try:
        data = _read_regular(Path(path), limit)  # a FIFO in its place would hang every command
    except OSError as error:
        if error.errno == errno.EFBIG:
            raise ValueError(f"the memo is larger than {limit} bytes") from None
        raise
    return loads(unseal(data) if sealed else data)


def unseal(sealed: bytes) -> bytes:
    """What :func:`seal` wrapped; ``ValueError`` when the file is damaged. A flipped bit in a memo's JSON still
    reads as JSON (a leader's name, a closing day, a schema's number), and would be believed (docs/cache.md)."""
    head, data = sealed[:8], sealed[9:]
    if sealed[8:9] != b"\n" or head != b"%08x" % zlib.crc32(data):
        raise ValueError("the memo's checksum does not match")
    return data


def _tagged(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN or kind is float:
        return value
    if kind is list:
        return [item if type(item) in _PLAIN else _tagged(item) for item in value]
    if kind is dict:
        if _TAG in value or not all(type(key) is str for key in value):
            raise Unstorable("a dict whose keys are not all text, or that holds the tag")
        return {key: item if type(item) in _PLAIN else _tagged(item) for key, item in value.items()}
    if kind is datetime.date:
        return {_TAG: "d", "v": value.isoformat()}
    if kind is datetime.datetime and not value.fold and type(value.tzinfo) in (type(None), datetime.timezone):
        return {_TAG: "t", "v": value.isoformat()}
    raise Unstorable(kind.__name__)


def _untagged(found: dict) -> Any:
    kind = found.get(_TAG)
    if kind is None:
        return found
    if kind == "d":
        return datetime.date.fromisoformat(found["v"])
    if kind == "t":
        return datetime.datetime.fromisoformat(found["v"])
    raise ValueError(f"unknown tag {kind!r}")


_DECODER = json.JSONDecoder(object_hook=_untagged)
