"""The check cache: each record file's parsed values and problems, remembered by the file's content.

``check`` reads, parses and validates every record file, and most of them
have not changed since the last run. This cache keeps, per record file, what
:func:`liaison.core.records.parse_record` made of it (the Record's id, data,
lines and bytes, and the file's own problems) in ``.cache/check.sqlite``,
keyed by the file's path and git blob id. The blob ids of files that git can
vouch for come from ``git ls-files -s`` without reading the files; every
other file (modified, untracked, outside git) is read and hashed as git would.

An entry holds only what depends on the file alone; the roster rule and the
cross-record rules run every time, on the cached values. Everything else a
file's verdict depends on is in the cache's *salt* (the record schema,
liaison's core code, the YAML and cerberus libraries, Python's version), and
a new salt empties the cache. The one rule that reads the clock, 联系时间 not
in the future, is judged per entry (``_still_true``).

The cache is never wrong, or it is not used: a file that cannot be read
(corrupt, truncated, another version, a row failing its checksum) is
discarded with a log line; one that cannot be written (a read-only checkout,
a full disk) means running uncached. A run killed while writing leaves
SQLite's last committed state. The stamp, the codec, discarding and the
folder come from :mod:`liaison.core.cachekit`. See docs/cache.md.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cerberus
import yaml

from liaison.core import cachekit
from liaison.core.checks import RecordReader
from liaison.core.problems import Problem
from liaison.core.project import Project, read_record_bytes, read_records
from liaison.core.records import RECORDS_DIR, Record, parse_record
from liaison.git.repo import GitError, Repo

log = logging.getLogger("liaison.git.checkcache")

CACHE_VERSION = 1  # raise it when what an entry holds, or how it is keyed, changes
CACHE_FILE = (cachekit.CACHE_FOLDER, "check.sqlite")
SWITCH = "LIAISON_CHECK_CACHE"  # "off": read every file, as if there were no cache
# Attributes under which a checkout may write other bytes than the blob's, while git calls the file unchanged.
_CONVERTING = ("text", "eol", "filter", "ident", "working-tree-encoding")
_REGULAR = ("100644",)  # an executable is read, so that check sees its mode (liaison.core.records)
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    raw BLOB NOT NULL,      -- the file's bytes (Record.raw)
    parsed BLOB NOT NULL,   -- JSON [id, data, lines], or null when the file is no mapping
    problems BLOB NOT NULL, -- JSON [[path, line, field, label, message], ...]
    day TEXT NOT NULL,      -- the day ("today") the verdict was reached on
    latest TEXT NOT NULL,   -- the latest date among the values, '' when none
    checksum BLOB NOT NULL, -- of all the above: a damaged row is detected, never used
    PRIMARY KEY (path, blob)
);
"""


@contextlib.contextmanager
def cached_reader(project: Project) -> Iterator[RecordReader]:
    """A record reader for ``check_repository`` that remembers by content; ``read_records`` when it cannot.

    ``LIAISON_CHECK_CACHE=off`` turns the cache off (the benchmark's cold runs).
    """
    if os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "no", "false"):
        yield read_records
        return
    path = Path(project.root).joinpath(*CACHE_FILE)
    store = Store.open(path, cache_salt(project)) if cachekit.usable_folder(path.parent) else None
    if store is None:
        yield read_records
        return
    try:
        yield CheckCache(project.root, store)
    finally:
        store.close()


def cache_salt(project: Project) -> str:
    """Everything besides a file's path and bytes that its verdict depends on, as one hash: this module's code
    and every liaison module it imports (the parser, the schema, the reading of blobs), the schema's rules,
    the libraries that parse and validate, and ``CACHE_VERSION``."""
    return cachekit.stamp(
        cachekit.code_stamp(__name__, memo=cachekit.cache_folder(project.root)),
        (CACHE_VERSION, sys.version, yaml.__version__, yaml.__with_libyaml__, cerberus.__version__),
        repr(project.schema.rules),
    )


def git_blob_id(raw: bytes, length: int = 40) -> str:
    """Git's object id of a blob with these bytes (SHA-1, or SHA-256 in a repository that uses it)."""
    digest = hashlib.sha1() if length == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(raw))
    digest.update(raw)
    return digest.hexdigest()


def clean_blobs(root: Path) -> dict[str, str]:
    """Path -> blob id of each record file whose working copy git vouches for without reading it.

    Left out, and so read and hashed by the caller: files ``git ls-files -m``
    names (changed since staged, by git's own stat-and-content test, as
    ``git status`` decides), untracked and conflicted files, files
    flagged assume-unchanged or skip-worktree (git no longer looks at
    them), symlinks, and files a checkout may convert (``core.autocrlf``,
    the attributes in ``_CONVERTING``). Not a git repository: nothing.
    """
    try:
        repo = Repo(root)
        # -v tags each entry (H: git watches it; lowercase: assume-unchanged; S: skip-worktree);
        # -m lists changed files again, tagged C, and -d deleted ones, tagged R.
        listed = repo.attempt("ls-files", "-s", "-v", "-m", "-d", "-z", "--", f"{RECORDS_DIR}/")
        if not listed.ok:
            return {}
        autocrlf = repo.attempt("config", "--get", "core.autocrlf")
        if autocrlf.ok and autocrlf.text.lower() not in ("false", "no", "off", "0", ""):
            return {}
        blobs, changed = {}, set()
        for entry in os.fsdecode(listed.stdout).split("\0"):
            info, _, path = entry.partition("\t")
            tag, mode, blob, stage = (info.split(" ") + ["", "", "", ""])[:4]
            if tag == "H" and mode in _REGULAR and stage == "0":
                blobs[path] = blob
            else:
                changed.add(path)
        for path in changed:
            blobs.pop(path, None)
        if not blobs:
            return {}
        asked = "".join(f"{path}\0" for path in blobs).encode("utf-8", "surrogateescape")
        fields = os.fsdecode(repo.run("check-attr", "-z", "--stdin", *_CONVERTING, input=asked)).split("\0")
    except GitError as error:
        log.info("check cache: git could not list the record files' blobs, reading them all: %s", error)
        return {}
    for path, value in zip(fields[0::3], fields[2::3], strict=False):
        if value not in ("unspecified", "unset"):
            blobs.pop(path, None)
    return blobs


class CheckCache:
    """A ``RecordReader`` over one :class:`Store`, for one run of ``check``."""

    def __init__(self, root: Path, store: Store):
        self.root = Path(root)
        self.store = store
        self._clean: dict[str, str] | None = None
        self._stored: dict[tuple[str, str], tuple] = {}
        self._used: set[tuple[str, str]] = set()
        self._broken = False

    def __call__(self, project: Project, paths: list[str]) -> tuple[list[Record], list[Problem]]:
        if self._broken:
            return read_records(project, paths)
        if self._clean is None:
            self._clean = clean_blobs(self.root)
            self._stored = self.store.load()
        try:
            records, problems, fresh = self._read(project, paths)
        except DamagedEntry as damage:
            self.store.discard(damage)
            self._broken = True
            return read_records(project, paths)
        stale = self._stale()
        if fresh or stale:
            self.store.save(fresh, stale)
            self._stored.update({(row[0], row[1]): row for row in fresh})
        return records, problems

    def _read(self, project: Project, paths: list[str]) -> tuple[list[Record], list[Problem], list[tuple]]:
        today = project.today()
        length = len(next(iter(self._clean.values()), "0" * 40))
        records: list[Record] = []
        problems: list[Problem] = []
        fresh: list[tuple] = []
        for rel in paths:
            raw = None
            blob = self._clean.get(rel)
            if blob is None:
                raw, unreadable = read_record_bytes(self.root, rel)
                if raw is None:
                    problems.extend(unreadable)
                    continue
                blob = git_blob_id(raw, length)
            remembered = self._recall(rel, blob, today)
            if remembered is None:
                if raw is None:
                    raw, unreadable = read_record_bytes(self.root, rel)
                    if raw is None:
                        problems.extend(unreadable)
                        continue
                    blob = git_blob_id(raw, length)  # what was read is what is remembered
                remembered = parse_record(rel, raw, project.schema, today)
                fresh.extend(entry for entry in [_entry(rel, blob, raw, *remembered, today)] if entry)
            self._used.add((rel, blob))
            record, found = remembered
            problems.extend(found)
            if record is not None:
                records.append(record)
        return records, problems, fresh

    def _recall(self, path: str, blob: str, today: datetime.date) -> tuple[Record | None, list[Problem]] | None:
        row = self._stored.get((path, blob))
        if row is None:
            return None
        if row[7] != _checksum(row[:7]):
            raise DamagedEntry(f"{path} 的条目校验和不符")
        if not _still_true(row[5], row[6], today):
            return None
        try:
            return _decode(row)
        except (ValueError, TypeError, IndexError, KeyError) as error:
            raise DamagedEntry(f"{path} 的条目无法读出：{error}") from None

    def _stale(self) -> list[tuple[str, str]]:
        """Entries no run will ask for again: of a committed file's earlier content, or of a file now gone."""
        clean = self._clean or {}
        stale = []
        for path, blob in self._stored:
            if (path, blob) in self._used:
                continue
            if clean.get(path, blob) != blob or (path not in clean and not (self.root / path).is_file()):
                stale.append((path, blob))
        return stale


class DamagedEntry(Exception):
    """A stored entry is not what was written: the whole cache is discarded."""


def _still_true(day: str, latest: str, today: datetime.date | None) -> bool:
    """Whether a verdict reached on ``day`` holds ``today``.

    Only "not in the future" reads the clock (``Schema.validate``'s ``today``):
    its verdict, and its message, which names the day, are the same on both
    days when the day is the same or no date in the record lies after the
    earlier of the two. A record dated tomorrow is judged afresh tomorrow.
    """
    now = today.isoformat() if today else ""
    return day == now or not latest or bool(day and now and latest <= min(day, now))


def _entry(
    path: str, blob: str, raw: bytes, record: Record | None, problems: list[Problem], today: datetime.date | None
) -> tuple | None:
    """The row remembering one file's verdict; None when a value cannot be stored exactly (then it is re-read)."""
    try:
        path.encode("utf-8")  # a file name that is not UTF-8 cannot be a key
        parsed_json = cachekit.dumps(None if record is None else [record.id, record.data, record.lines])
        problems_json = (
            cachekit.dumps([[p.path, p.line, p.field, p.label, p.message] for p in problems]) if problems else b"[]"
        )
    except (cachekit.Unstorable, UnicodeEncodeError):
        return None
    days = _days(record.data) if record is not None else []
    latest = max(days).isoformat() if days else ""
    row = (path, blob, raw, parsed_json, problems_json, today.isoformat() if today else "", latest)
    return (*row, _checksum(row))


def _checksum(row: tuple) -> bytes:
    path, blob, raw, parsed, problems, day, latest = row
    digest = hashlib.blake2b(raw, digest_size=16)
    digest.update(parsed)
    digest.update(problems)
    names = f"{len(raw)} {len(parsed)} {len(problems)}\0{path}\0{blob}\0{day}\0{latest}"
    digest.update(names.encode("utf-8", "surrogatepass"))
    return digest.digest()


def _days(value: Any) -> list[datetime.date]:
    """Every date among ``value``'s values (a time counts as its day): what "not in the future" looks at."""
    if type(value) is dict:
        value = list(value.values())
    if type(value) is list:
        return [day for item in value for day in _days(item)]
    if isinstance(value, datetime.datetime):
        return [value.date()]
    return [value] if isinstance(value, datetime.date) else []


def _decode(row: tuple) -> tuple[Record | None, list[Problem]]:
    path, _blob, raw, parsed_json, problems_json = row[:5]
    parsed = cachekit.loads(parsed_json)
    problems = [] if problems_json == b"[]" else [Problem(*fields) for fields in cachekit.loads(problems_json)]
    if parsed is None:
        return None, problems
    record_id, data, lines = parsed
    return Record(record_id, path, data, lines, raw), problems


_ROW_TYPES = (
    str,
    str,
    bytes,
    bytes,
    bytes,
    str,
    str,
    bytes,
)  # path, blob, raw, parsed, problems, day, latest, checksum


class Store:
    """The SQLite file: open (or discard and recreate), load every entry, save new ones in one transaction."""

    def __init__(self, path: Path, connection: sqlite3.Connection, salt: str):
        self.path = path
        self.connection: sqlite3.Connection | None = connection
        self.salt = salt

    @classmethod
    def open(cls, path: Path, salt: str) -> Store | None:
        """The store at ``path`` for this salt (emptied if it held another's); None when it cannot be used."""
        for attempt in (1, 2):
            try:
                return cls(path, _connect(path, salt), salt)
            except sqlite3.Error as error:
                if attempt == 2 or not cachekit.sqlite_damaged(error):
                    _not_now(path, error)
                    return None
                cachekit.discard(path, error)
        return None

    def load(self) -> dict[tuple[str, str], tuple]:
        """Every stored entry by (path, blob); a file that fails to read is discarded and gives none."""
        try:
            rows = self.connection.execute(
                "SELECT path, blob, raw, parsed, problems, day, latest, checksum FROM entries"
            ).fetchall()
        except sqlite3.Error as error:
            return self._start_over(f"reading failed: {error}")
        if not all(tuple(map(type, row)) == _ROW_TYPES for row in rows):
            # SQLite keeps whatever type a damaged page says: a blob read back as text is damage, not a row.
            return self._start_over("an entry of the wrong type")
        return {(row[0], row[1]): row for row in rows}

    def _start_over(self, why: str) -> dict:
        """Discard a file that cannot be believed and open a new one (or none): this run checks everything."""
        self.discard(why)
        try:
            self.connection = _connect(self.path, self.salt)
        except sqlite3.Error:
            self.connection = None
        return {}

    def save(self, fresh: list[tuple], stale: list[tuple[str, str]]) -> None:
        """Add ``fresh`` entries and drop ``stale`` ones, all or nothing; a failure costs only the saving."""
        connection = self.connection
        if connection is None:
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
            found = connection.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if found is None or found[0] != self.salt:  # another version's run emptied it meanwhile
                connection.execute("ROLLBACK")
                return
            write_entries(connection, fresh)
            connection.executemany("DELETE FROM entries WHERE path = ? AND blob = ?", stale)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            _not_now(self.path, error)

    def discard(self, why: object) -> None:
        """Close and remove the file; the next run starts a new one."""
        self.close()
        cachekit.discard(self.path, why)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def write_entries(connection: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert rows inside the caller's transaction (a function of its own, so a test can stop a run mid-write)."""
    connection.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _connect(path: Path, salt: str) -> sqlite3.Connection:
    """Open the file, make its tables if new (or of another format), and empty it if its salt is not ``salt``."""
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        found = None
        if version == CACHE_VERSION:
            found = connection.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
        if found is None or found[0] != salt:
            connection.execute("BEGIN IMMEDIATE")
            if version != CACHE_VERSION:
                connection.execute("DROP TABLE IF EXISTS entries")
                connection.execute("DROP TABLE IF EXISTS meta")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {CACHE_VERSION}")
            else:
                connection.execute("DELETE FROM entries")
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('salt', ?)", (salt,))
            connection.execute("COMMIT")
            if found is not None:
                log.info("check cache %s emptied: the schema, liaison's code or a library changed", path)
    except BaseException:
        connection.close()
        raise
    return connection


def _not_now(path: Path, error: sqlite3.Error) -> None:
    """A file that cannot be written (read-only, full disk) or is held by another run: this run saves nothing."""
    if cachekit.sqlite_busy(error):
        log.warning("check cache %s busy (%s): this run's verdicts are not saved", path, error)
    else:
        cachekit.unwritable(path, error)
