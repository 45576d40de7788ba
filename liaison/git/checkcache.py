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

Beside the entries, the cache keeps the last whole-repository verdict (its
problems) under a key of everything it was reached from: the salt, the day,
the roster, the project's own problems, the listing of ``records/`` and every
file's blob id. A caller that needs the problems only (``check`` itself, the
audit) gets them back without decoding a single entry when the key is the
same (:meth:`CheckCache.check`).

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
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liaison.core import cachekit
from liaison.core.bulk import collector_paused
from liaison.core.checks import CheckResult, RecordReader, check_repository, checked_files
from liaison.core.problems import Problem
from liaison.core.project import Project, read_record_bytes, read_records
from liaison.core.records import Record, list_record_files, parse_record
from liaison.git.filemodes import IndexEntry, index_listing
from liaison.git.repo import GitError, Repo

log = logging.getLogger("liaison.git.checkcache")

CACHE_VERSION = 2  # raise it when what an entry holds, or how it is keyed, changes
CACHE_FILE = (cachekit.CACHE_FOLDER, "check.sqlite")
SWITCH = cachekit.CHECK_SWITCH  # "off": read every file, as if there were no cache
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
CREATE TABLE verdict (
    key TEXT PRIMARY KEY,   -- everything the whole repository's verdict was reached from (CheckCache.check)
    problems BLOB NOT NULL, -- JSON [[path, line, field, label, message], ...]
    checksum BLOB NOT NULL
);
"""


def check_records(
    project: Project, paths: list[str] | None = None, records: bool = True
) -> tuple[CheckResult, list[IndexEntry] | None]:
    """``check_repository`` of ``paths`` (every record file when None) through the check cache, and git's index
    listing of ``records/`` when one was read on the way (None: ask :func:`index_listing`).

    ``records=False``: the caller needs the problems only (``check``, the audit); the result's ``records``
    is then empty whenever the last whole-repository verdict could be used as it is.
    """
    with cached_reader(project) as reader:
        if isinstance(reader, CheckCache):
            return reader.check(project, paths, records), reader.listing()
        return check_repository(project, paths, reader), None


@contextlib.contextmanager
def cached_reader(project: Project) -> Iterator[RecordReader]:
    """A record reader for ``check_repository`` that remembers by content; ``read_records`` when it cannot.

    ``LIAISON_CHECK_CACHE=off`` turns the cache off (the benchmark's cold runs).
    """
    if cachekit.switched_off(SWITCH):
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
        (CACHE_VERSION, sys.version),
        cachekit.library_stamp("yaml", "cerberus"),  # their installed files: importing them costs more
        repr(project.schema.rules),
    )


def git_blob_id(raw: bytes, length: int = 40) -> str:
    """Git's object id of a blob with these bytes (SHA-1, or SHA-256 in a repository that uses it)."""
    digest = hashlib.sha1() if length == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(raw))
    digest.update(raw)
    return digest.hexdigest()


def clean_blobs(root: Path, listing: list[IndexEntry] | None = None) -> tuple[dict[str, str], bool]:
    """Path -> blob id of each record file whose working copy git vouches for without reading it, and whether
    git trusts the executable bit (``core.fileMode``): then each of those is a plain, non-executable file too.

    Left out, and so read and hashed by the caller: files ``git ls-files -m``
    names (changed since staged, by git's own stat-and-content test, as
    ``git status`` decides), untracked and conflicted files, files
    flagged assume-unchanged or skip-worktree (git no longer looks at
    them), symlinks, and files a checkout may convert (``core.autocrlf``,
    the attributes in ``_CONVERTING``). Not a git repository: nothing.
    ``listing``: :func:`index_listing` of ``root``, when the caller has it.
    """
    if listing is None:
        listing = index_listing(root)
    if not listing:
        return {}, False
    # H: git watches the file (lowercase: assume-unchanged; S: skip-worktree; M: unmerged); C and R list
    # a changed or deleted file a second time.
    blobs, changed = {}, set()
    for tag, mode, blob, stage, path in listing:
        if tag == "H" and mode in _REGULAR and stage == "0":
            blobs[path] = blob
        else:
            changed.add(path)
    for path in changed:
        blobs.pop(path, None)
    if not blobs:
        return {}, False
    try:
        repo = Repo(root)
        # Both settings in one process; exit 1 is "neither is set" (both take their defaults).
        found = repo.query("config", "-z", "--get-regexp", r"^core\.(autocrlf|filemode)$")
        settings = dict(item.partition("\n")[::2] for item in found.text.split("\0") if item) if found.ok else {}
        if settings.get("core.autocrlf", "false").lower() not in ("false", "no", "off", "0", ""):
            return {}, False
        trusted = found.status in (0, 1) and settings.get("core.filemode", "true").lower() in ("true", "yes", "on", "1")
        asked = "".join(f"{path}\0" for path in blobs).encode("utf-8", "surrogateescape")
        attributes = repo.query("check-attr", "-z", "--stdin", *_CONVERTING, input=asked)
        if not attributes.ok:
            raise GitError(["check-attr"], attributes.status, attributes.stderr)
    except GitError as error:
        log.info("check cache: git could not say which record files it vouches for, reading them all: %s", error)
        return {}, False
    fields = os.fsdecode(attributes.stdout).split("\0")
    for path, value in zip(fields[0::3], fields[2::3], strict=False):
        if value not in ("unspecified", "unset"):
            blobs.pop(path, None)
    return blobs, trusted


class CheckCache:
    """A ``RecordReader`` over one :class:`Store`, for one run of ``check``."""

    def __init__(self, root: Path, store: Store):
        self.root = Path(root)
        self.store = store
        self._listing: list[IndexEntry] | None = None
        self._listed = False
        self._clean: dict[str, str] | None = None
        self._plain: frozenset[str] = frozenset()  # files git vouches are plain and not executable
        self._stored: dict[tuple[str, str], tuple] | None = None
        self._used: set[tuple[str, str]] = set()
        self._broken = False
        self._bytes: dict[str, bytes] = {}  # files read (and hashed) for the verdict's key: parsed as read
        self._vouched = True  # every file read had the blob git vouched for (else no verdict is kept)

    def listing(self) -> list[IndexEntry] | None:
        """git's index under ``records/`` (:func:`index_listing`), read once per run."""
        if not self._listed:
            self._listing, self._listed = index_listing(self.root), True
        return self._listing

    def clean(self) -> dict[str, str]:
        """:func:`clean_blobs` of this run, asked once."""
        if self._clean is None:
            self._clean, trusted = clean_blobs(self.root, self.listing())
            self._plain = frozenset(self._clean) if trusted else frozenset()
        return self._clean

    def check(self, project: Project, paths: list[str] | None, records: bool) -> CheckResult:
        """``check_repository`` through this reader; with ``records=False`` and every file asked for, the last
        verdict when it was reached from exactly what there is now (then no entry is decoded)."""
        self.clean()
        listed = list_record_files(project.root, self._plain)
        if records or paths is not None:
            return check_repository(project, paths, self, listed=listed)
        key = self._verdict_key(project, *listed)
        remembered = self.store.verdict(key) if key is not None else None
        if remembered is not None:
            return CheckResult(remembered, checked_files(listed[0], remembered), [])
        result = check_repository(project, None, self, listed=listed)
        if key is not None and self._vouched and not self._broken:
            self.store.save_verdict(key, result.problems)
        return result

    def _verdict_key(self, project: Project, paths: list[str], stray: list[Problem]) -> str | None:
        """Everything the whole repository's verdict is reached from, as one hash; None when a file cannot be
        read (its verdict is not kept)."""
        clean = self.clean()
        length = len(next(iter(clean.values()), "0" * 40))
        blobs = []
        for rel in paths:
            blob = clean.get(rel)
            if blob is None:
                raw, unreadable = read_record_bytes(self.root, rel)
                if raw is None:
                    return None
                self._bytes[rel] = raw
                blob = git_blob_id(raw, length)
            blobs.append(blob)
        return cachekit.stamp(
            self.store.salt,
            project.today().isoformat(),
            repr(project.roster.leaders if project.roster is not None else None),
            repr(project.problems),
            repr(stray),
            "\0".join(paths),
            "\0".join(blobs),
        )

    def __call__(self, project: Project, paths: list[str]) -> tuple[list[Record], list[Problem]]:
        if self._broken:
            return read_records(project, paths)
        clean = self.clean()
        if self._stored is None:
            self._stored = self.store.load()
        try:
            with collector_paused():  # 10,000 records that all stay: liaison.core.bulk
                records, problems, fresh = self._read(project, paths, clean)
        except DamagedEntry as damage:
            self.store.discard(damage)
            self._broken = True
            return read_records(project, paths)
        stale = self._stale()
        if fresh or stale:
            self.store.save(fresh, stale)
            self._stored.update({(row[0], row[1]): row for row in fresh})
        return records, problems

    def _read(
        self, project: Project, paths: list[str], clean: dict[str, str]
    ) -> tuple[list[Record], list[Problem], list[tuple]]:
        today = project.today()
        length = len(next(iter(clean.values()), "0" * 40))
        records: list[Record] = []
        problems: list[Problem] = []
        fresh: list[tuple] = []
        for rel in paths:
            raw = self._bytes.pop(rel, None)
            blob = clean.get(rel)
            if raw is not None:
                blob = git_blob_id(raw, length)
            elif blob is None:
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
                        self._vouched = False
                        continue
                    read = git_blob_id(raw, length)  # what was read is what is remembered
                    self._vouched = self._vouched and read == blob
                    blob = read
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
        problems_json = _problems_json(problems)
    except (cachekit.Unstorable, UnicodeEncodeError):
        return None
    days = _days(record.data) if record is not None else []
    latest = max(days).isoformat() if days else ""
    row = (path, blob, raw, parsed_json, problems_json, today.isoformat() if today else "", latest)
    return (*row, _checksum(row))


def _checksum(row: tuple) -> bytes:
    """A CRC-32 of a row: it catches damage (a flipped bit, a torn page SQLite cannot see), not tampering, as
    the cache trusts whoever wrote it (docs/cache.md); a cryptographic hash cost three times more."""
    path, blob, raw, parsed, problems, day, latest = row
    names = f"{len(raw)} {len(parsed)} {len(problems)}\0{path}\0{blob}\0{day}\0{latest}"
    crc = zlib.crc32(problems, zlib.crc32(parsed, zlib.crc32(raw)))
    return zlib.crc32(names.encode("utf-8", "surrogatepass"), crc).to_bytes(4, "big")


def _problems_json(problems: list[Problem]) -> bytes:
    return cachekit.dumps([[p.path, p.line, p.field, p.label, p.message] for p in problems]) if problems else b"[]"


def _problems_of(data: bytes) -> list[Problem]:
    return [] if data == b"[]" else [Problem(*fields) for fields in cachekit.loads(data)]


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
    problems = _problems_of(problems_json)
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

    def verdict(self, key: str) -> list[Problem] | None:
        """The problems of the verdict kept under ``key``, or None; a damaged one discards the file."""
        if self.connection is None:
            return None
        try:
            row = self.connection.execute("SELECT problems, checksum FROM verdict WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as error:
            self._start_over(f"reading failed: {error}")
            return None
        if row is None:
            return None
        problems, checksum = row
        try:
            if type(problems) is not bytes or checksum != _verdict_checksum(key, problems):
                raise ValueError("the verdict's checksum does not match")
            return _problems_of(problems)
        except (ValueError, TypeError, KeyError) as error:
            self._start_over(f"the kept verdict is damaged: {error}")
            return None

    def save_verdict(self, key: str, problems: list[Problem]) -> None:
        """Keep ``problems`` as the verdict of ``key`` (the only one kept); a failure costs only the keeping."""
        connection = self.connection
        try:
            data = _problems_json(problems)
        except (cachekit.Unstorable, UnicodeEncodeError):
            return
        if connection is None:
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
            found = connection.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if found is None or found[0] != self.salt:
                connection.execute("ROLLBACK")
                return
            connection.execute("DELETE FROM verdict")
            connection.execute("INSERT INTO verdict VALUES (?, ?, ?)", (key, data, _verdict_checksum(key, data)))
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            _not_now(self.path, error)

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
                for table in ("entries", "verdict", "meta"):
                    connection.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {CACHE_VERSION}")
            else:
                connection.execute("DELETE FROM entries")
                connection.execute("DELETE FROM verdict")
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('salt', ?)", (salt,))
            connection.execute("COMMIT")
            if found is not None:
                log.info("check cache %s emptied: the schema, liaison's code or a library changed", path)
    except BaseException:
        connection.close()
        raise
    return connection


def _verdict_checksum(key: str, problems: bytes) -> bytes:
    return zlib.crc32(problems, zlib.crc32(key.encode("ascii", "replace"))).to_bytes(4, "big")


def _not_now(path: Path, error: sqlite3.Error) -> None:
    """A file that cannot be written (read-only, full disk) or is held by another run: this run saves nothing."""
    if cachekit.sqlite_busy(error):
        log.warning("check cache %s busy (%s): this run's verdicts are not saved", path, error)
    else:
        cachekit.unwritable(path, error)
