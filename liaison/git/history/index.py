"""The history index: what ``read_history`` reads from git, kept per commit in ``.cache/history.sqlite``.

The history of 14,000 commits costs seconds to read and the same seconds
again on every question. The index keeps the inputs of
:func:`liaison.git.history.model.build_history` (stdlib SQLite, no new dependency):

- the mainline (first-parent chain) with each commit's committer time;
- for every commit reachable from the tip: the mainline commit that brought
  it in and its canonical rank (``Mainline.entry``, ``Mainline.rank``);
- the mainline's merges (who merged, which merge request);
- every commit that touched ``records/`` or ``allowed_signers``: its metadata,
  its signature as git judged it, and its raw changes (path, old and new blob);
- the values of every record version, by blob id (JSON; dates tagged);
- the tip it was built for, and a stamp of everything else it depends on.

A run first brings the index up to the tip: nothing to do when the tip is the
indexed one; the commits of ``<indexed>..<tip>`` when the indexed tip is on the
new first-parent chain (what an earlier part of the mainline brought in never
changes); a rebuild from scratch otherwise (a rebase, a force-push, a reset
back, the indexed tip gone). The stamp holds a format version, the source of
this module and of every liaison module it imports (the history's model and
git reading, the record parser, ...: :func:`liaison.core.cachekit.code_stamp`),
the schema's rules, whether ``ssh-keygen`` can be found (signatures) and the
clone's shallow boundary (a fetch that deepens the clone changes the past);
any difference rebuilds. Then the history is built from the stored inputs by
the very code that builds it from git, so the answer is the same History.

Faults: every write is one SQLite transaction under an exclusive lock on
``history.sqlite.lock`` (two runs at once take turns; a run killed mid-write
leaves a journal SQLite rolls back), a database SQLite cannot read or whose
row counts disagree with its own record is deleted and rebuilt, and where
``.cache/`` cannot be written (a read-only checkout, a full disk) the history
is read from git as before, with the cache kit's one warning.
``LIAISON_HISTORY_INDEX=0`` turns it off.
See docs/cache.md.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TypeVar

from liaison.core import cachekit
from liaison.core.bulk import collector_paused
from liaison.core.schema import Schema
from liaison.git.history.gitlog import commit_from_fields, read_commits, read_mainline, read_signatures, record_versions
from liaison.git.history.model import (
    Change,
    Commit,
    History,
    Mainline,
    Merge,
    RawChange,
    Signature,
    build_history,
    identity,
    in_mainline_order,
    stem,
)
from liaison.git.repo import ZERO, GitError, Repo, head_from_files

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's own locking still keeps each transaction whole
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # raise when the tables or what they mean change
INDEX_FILE = (cachekit.CACHE_FOLDER, "history.sqlite")
_CHUNK = 500  # SQLite variables per statement
_TABLES = ("meta", "mainline", "reach", "merges", "commits", "changes", "versions")
_CREATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE mainline (position INTEGER PRIMARY KEY, sha TEXT NOT NULL UNIQUE, time TEXT NOT NULL);
CREATE TABLE reach (sha TEXT PRIMARY KEY, entered TEXT NOT NULL, rank INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE merges (
    sha TEXT PRIMARY KEY, reference TEXT NOT NULL, merged_by TEXT NOT NULL, merged_at TEXT NOT NULL,
    merged_by_email TEXT NOT NULL, rebased INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE commits (
    seq INTEGER PRIMARY KEY, sha TEXT NOT NULL UNIQUE, parents TEXT NOT NULL,
    author_name TEXT NOT NULL, author_email TEXT NOT NULL, author_time TEXT NOT NULL,
    committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, committer_time TEXT NOT NULL,
    message BLOB NOT NULL, sig_status TEXT, sig_signer TEXT, sig_key TEXT
);
CREATE TABLE changes (
    seq INTEGER NOT NULL, n INTEGER NOT NULL, path TEXT NOT NULL, old_blob TEXT NOT NULL, new_blob TEXT NOT NULL,
    identity TEXT NOT NULL, stem TEXT NOT NULL, PRIMARY KEY (seq, n)
) WITHOUT ROWID;
CREATE INDEX changes_identity ON changes (identity);
CREATE INDEX changes_path ON changes (path);
CREATE INDEX changes_stem ON changes (stem);
CREATE TABLE versions (blob TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID;
"""

T = TypeVar("T")


class Damaged(Exception):
    """The index disagrees with itself (a row count, a missing row): it is discarded and rebuilt."""


def indexed_history(root: Path, schema: Schema, ref: str = "HEAD") -> History | None:
    """The whole history of ``ref`` from the index (brought up to date first); None when the index cannot be
    used here or ``ref`` names no commit: then the caller reads the history from git."""
    return _answer(root, schema, ref, lambda index: index.history())


def indexed_record_history(root: Path, schema: Schema, record: str, ref: str = "HEAD") -> list[Change] | None:
    """``History.of(record)`` from the index, reading only the rows of that record's changes."""
    return _answer(root, schema, ref, lambda index: index.record_changes(record))


def index_path(root: Path) -> Path:
    return Path(root).joinpath(*INDEX_FILE)


def _answer(root: Path, schema: Schema, ref: str, question: Callable[[HistoryIndex], T]) -> T | None:
    path = index_path(root)
    if not cachekit.usable_folder(path.parent):
        return None
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_exclusive(path))
        except OSError as err:
            cachekit.unwritable(path, err)
            return None
        for attempt in (1, 2):
            try:
                with contextlib.closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as db:
                    index = HistoryIndex(db, root, schema)
                    return question(index) if index.refresh(ref) else None
            except sqlite3.DatabaseError as err:
                if attempt == 2 or not cachekit.sqlite_damaged(err):
                    _not_now(path, err)
                    return None
                cachekit.discard(path, err)
            except Damaged as err:  # also a row that no longer decodes
                cachekit.discard(path, err)
            except OSError as err:
                cachekit.unwritable(path, err)
                return None
    return None


def _not_now(path: Path, error: sqlite3.Error) -> None:
    """A file that cannot be written (read-only, full disk) or is damaged again: the history comes from git."""
    if cachekit.sqlite_unwritable(error):
        cachekit.unwritable(path, error)
    else:
        log.warning("history index %s unusable (%s): reading the history from git", path, error)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold ``<index>.lock``: one run at a time reads or writes the index (a killed run's lock is released)."""
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _stamp(schema: Schema, shallow: bytes, memo: Path) -> str:
    """What the index depends on besides the commits: a difference rebuilds it."""
    try:
        rules = cachekit.dumps(schema.rules)
    except cachekit.Unstorable:  # a rule holding a value JSON has no form for
        rules = repr(schema.rules)
    code = cachekit.code_stamp(__name__, memo=memo)
    return cachekit.stamp(code, FORMAT_VERSION, rules, str(shutil.which("ssh-keygen")), shallow)


def encode_version(data: dict) -> bytes | None:
    """A record version's values, stored; None when the codec cannot give them back exactly: that version is
    read from git again when needed."""
    try:
        return cachekit.dumps(data)
    except cachekit.Unstorable:
        return None


# The index ---------------------------------------------------------------------


class HistoryIndex:
    """One open index database; every method runs under the caller's lock."""

    def __init__(self, db: sqlite3.Connection, root: Path, schema: Schema):
        self.db = db
        self.root = root
        self.schema = schema

    @functools.cached_property
    def repo(self) -> Repo:  # started only when git must run: a warm index answers without it
        return Repo(self.root)

    # Bringing it up to date

    def refresh(self, ref: str) -> bool:
        """Bring the index to the commit ``ref`` names; False when it names none (the caller reads from git)."""
        if not ref or ref.startswith("-"):
            return False
        found = head_from_files(self.root) if ref == "HEAD" else None
        if found is None:
            result = self.repo.attempt("rev-parse", "--git-path", "shallow", f"{ref}^{{commit}}")
            lines = result.text.splitlines()
            if not result.ok or len(lines) != 2:
                return False
            shallow = Path(self.root, lines[0])
            found = (lines[1], shallow.read_bytes() if shallow.is_file() else b"")
        tip, shallow_list = found
        stamp = _stamp(self.schema, shallow_list, index_path(self.root).parent)
        meta = self._meta()
        if meta.get("stamp") == stamp and not {"tip", "counts"} <= set(meta):
            raise Damaged("meta lacks the tip or the row counts")
        if meta.get("stamp") != stamp:
            log.info("history index: building it for %s", tip[:12])
            self._rebuild(tip, stamp)
        elif meta.get("tip") != tip and not self._extend(meta["tip"], tip, meta):
            log.info("history index: %s is no longer on the mainline of %s; rebuilding", meta["tip"][:12], ref)
            self._rebuild(tip, stamp)
        return True

    def _meta(self) -> dict[str, str]:
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            return {}
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def _rebuild(self, tip: str, stamp: str) -> None:
        repo = self.repo
        mainline = read_mainline(repo, tip)
        commits = read_commits(repo, [tip])
        signatures = read_signatures(repo, tip, mainline, [commit.sha for commit, _ in commits])
        versions = record_versions(repo, self.schema, _blobs(commits))
        with self._writing():
            for table in _TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _CREATE.split(";"):  # not executescript: it would commit the transaction first
                if statement.strip():
                    self.db.execute(statement)
            counts = self._store(mainline, 0, commits, signatures, versions, {})
            self._set_meta(tip, stamp, counts)

    def _extend(self, indexed: str, tip: str, meta: dict[str, str]) -> bool:
        """Add the commits of ``indexed..tip``; False when ``indexed`` is no longer on the tip's mainline."""
        repo = self.repo
        try:
            segment = read_mainline(repo, tip, base=indexed)
        except GitError:  # the indexed tip is gone (a force-push, then gc)
            return False
        if not segment.commits or segment.base != indexed:
            return False
        commits = read_commits(repo, [f"{indexed}..{tip}"])
        signatures = {}
        if commits:
            known = [sha for (sha,) in self.db.execute("SELECT sha FROM mainline ORDER BY position")]
            whole = Mainline(known + segment.commits, {}, segment.entry, {}, segment.rank)
            signatures = read_signatures(repo, tip, whole, [commit.sha for commit, _ in commits])
        blobs = _blobs(commits)
        stored = self._stored_versions(blobs)
        versions = record_versions(repo, self.schema, blobs - stored)
        counts = _counts(meta)
        with self._writing():
            added = self._store(segment, counts["mainline"], commits, signatures, versions, counts)
            self._set_meta(tip, meta["stamp"], added)
        return True

    def _stored_versions(self, blobs: set[str]) -> set[str]:
        listed = sorted(blobs)
        found = set()
        for start in range(0, len(listed), _CHUNK):
            part = listed[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            found.update(b for (b,) in self.db.execute(f"SELECT blob FROM versions WHERE blob IN ({marks})", part))
        return found

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _store(
        self,
        mainline: Mainline,
        start: int,
        commits: list[tuple[Commit, list[RawChange]]],
        signatures: dict[str, Signature],
        versions: dict[str, dict],
        counts: dict[str, int],
    ) -> dict[str, int]:
        """Insert the rows; return the tables' row counts afterwards (kept in meta, checked when read)."""
        db = self.db
        db.executemany(
            "INSERT INTO mainline VALUES (?, ?, ?)",
            ((start + n, sha, mainline.times[sha].isoformat()) for n, sha in enumerate(mainline.commits)),
        )
        db.executemany(
            "INSERT INTO reach VALUES (?, ?, ?)",
            ((sha, entered, mainline.rank[sha]) for sha, entered in mainline.entry.items()),
        )
        db.executemany(
            "INSERT INTO merges VALUES (?, ?, ?, ?, ?, ?)",
            (
                (m.sha, m.reference, m.merged_by, m.merged_at.isoformat(), m.merged_by_email, int(m.rebased))
                for m in mainline.merges.values()
            ),
        )
        first = counts.get("commits", 0)
        db.executemany(
            "INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_commit_row(first + n, commit, signatures.get(commit.sha)) for n, (commit, _) in enumerate(commits)),
        )
        db.executemany(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (first + n, k, c.path, c.old_blob, c.new_blob, identity(c.path), stem(c.path))
                for n, (_, changes) in enumerate(commits)
                for k, c in enumerate(changes)
            ),
        )
        db.executemany(
            "INSERT INTO versions VALUES (?, ?)", ((blob, encode_version(data)) for blob, data in versions.items())
        )
        return {
            "mainline": start + len(mainline.commits),
            "reach": counts.get("reach", 0) + len(mainline.entry),
            "merges": counts.get("merges", 0) + len(mainline.merges),
            "commits": first + len(commits),
            "changes": counts.get("changes", 0) + sum(len(changes) for _, changes in commits),
            "versions": counts.get("versions", 0) + len(versions),
        }

    def _set_meta(self, tip: str, stamp: str, counts: dict[str, int]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [("tip", tip), ("stamp", stamp), ("counts", cachekit.dumps(counts).decode())],
        )

    # Reading it

    def history(self) -> History:
        """The whole History, built from the stored rows."""
        with collector_paused():  # the rows and what they become all stay: liaison.core.bulk
            return self._history()

    def _history(self) -> History:
        db = self.db
        db.execute("BEGIN")
        try:
            counts = _counts(self._meta())
            rows = {
                "mainline": db.execute("SELECT sha, time FROM mainline ORDER BY position").fetchall(),
                "reach": db.execute("SELECT sha, entered, rank FROM reach").fetchall(),
                "merges": db.execute("SELECT * FROM merges").fetchall(),
                "commits": db.execute("SELECT * FROM commits").fetchall(),
                "changes": db.execute("SELECT seq, path, old_blob, new_blob FROM changes ORDER BY seq, n").fetchall(),
                "versions": db.execute("SELECT blob, data FROM versions").fetchall(),
            }
        finally:
            db.execute("COMMIT")
        for table, listed in rows.items():
            if counts.get(table) != len(listed):
                raise Damaged(f"{table}: {len(listed)} rows, {counts.get(table)} recorded")
        with _decoding():
            mainline = Mainline(
                [sha for sha, _ in rows["mainline"]],
                {sha: datetime.datetime.fromisoformat(when) for sha, when in rows["mainline"]},
                {sha: entered for sha, entered, _ in rows["reach"]},
                _merges(rows["merges"]),
                {sha: rank for sha, _, rank in rows["reach"]},
            )
            return self._build(mainline, rows["commits"], rows["changes"], rows["versions"])

    def record_changes(self, record: str) -> list[Change]:
        """``History.of(record)``, from the rows of the record's identity (工号 + suffix) only.

        Every path a record had shares its identity (moves are paired by it), and pairing, keys and
        aliases of one identity never depend on another's paths: the same changes as the whole history's.
        """
        db = self.db
        names = sorted({record, PurePosixPath(record).stem})
        marks = ",".join("?" * len(names))
        db.execute("BEGIN")
        try:
            found = [
                i
                for (i,) in db.execute(
                    f"SELECT DISTINCT identity FROM changes WHERE path IN ({marks}) OR stem IN ({marks})", names * 2
                )
            ]
            if not found:
                return []
            marks = ",".join("?" * len(found))
            changes = db.execute(
                f"SELECT seq, path, old_blob, new_blob FROM changes WHERE identity IN ({marks}) ORDER BY seq, n", found
            ).fetchall()
            seqs = sorted({row[0] for row in changes})
            commits = _select(db, "SELECT * FROM commits WHERE seq IN ({})", seqs)
            reach = _select(db, "SELECT sha, entered, rank FROM reach WHERE sha IN ({})", [row[1] for row in commits])
            merges = _select(db, "SELECT * FROM merges WHERE sha IN ({})", sorted({row[1] for row in reach}))
            blobs = sorted({b for row in changes for b in row[2:]})
            versions = _select(db, "SELECT blob, data FROM versions WHERE blob IN ({})", blobs)
            entered = sorted({row[1] for row in reach})
            places = _select(db, "SELECT sha, position, time FROM mainline WHERE sha IN ({})", entered)
        finally:
            db.execute("COMMIT")
        if len(commits) != len(seqs) or len(reach) != len(commits) or len(places) != len(entered):
            raise Damaged("rows of a record's commits are missing")
        with _decoding():
            entry = {sha: entered for sha, entered, _ in reach}
            rank = {sha: rank for sha, _, rank in reach}
            positions = {sha: position for sha, position, _ in places}
            times = {sha: datetime.datetime.fromisoformat(when) for sha, _, when in places}
            mainline = Mainline([], times, entry, _merges(merges), rank, known_positions=positions)
            return self._build(mainline, commits, changes, versions).of(record)

    def _build(self, mainline: Mainline, commit_rows: list, change_rows: list, version_rows: list) -> History:
        with collector_paused():  # every row becomes objects that stay: liaison.core.bulk
            return self._built(mainline, commit_rows, change_rows, version_rows)

    def _built(self, mainline: Mainline, commit_rows: list, change_rows: list, version_rows: list) -> History:
        raw: dict[int, list[RawChange]] = defaultdict(list)
        for seq, path, old_blob, new_blob in change_rows:
            raw[seq].append(RawChange(path, old_blob, new_blob))
        commits, signatures = [], {}
        for row in commit_rows:
            commit, signature = _commit_of(row)
            commits.append((commit, raw[row[0]]))
            if signature is not None:
                signatures[commit.sha] = signature
        versions, unstored = {}, []
        for blob, text in version_rows:
            if text is None:
                unstored.append(blob)
            else:
                versions[blob] = cachekit.loads(text)
        if unstored:  # git starts only when a version's values could not be stored
            versions.update(record_versions(self.repo, self.schema, unstored))
        return build_history(self.schema, mainline, in_mainline_order(mainline, commits), signatures, versions)


def _counts(meta: dict[str, str]) -> dict[str, int]:
    with _decoding():
        counts = cachekit.loads(meta["counts"])
    if not isinstance(counts, dict) or not all(isinstance(counts.get(t), int) for t in _TABLES[1:]):
        raise Damaged("the row counts in meta are unreadable")
    return counts


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """A stored value that no longer reads as what was written (a damaged row) makes the index Damaged."""
    try:
        yield
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as err:
        raise Damaged(f"a stored value does not decode: {err!r}") from err


def _blobs(commits: list[tuple[Commit, list[RawChange]]]) -> set[str]:
    return {b for _, changes in commits for c in changes for b in (c.old_blob, c.new_blob)} - {ZERO}


def _select(db: sqlite3.Connection, query: str, values: list) -> list:
    found = []
    for start in range(0, len(values), _CHUNK):
        part = values[start : start + _CHUNK]
        found.extend(db.execute(query.format(",".join("?" * len(part))), part))
    return found


def _commit_row(seq: int, commit: Commit, signature: Signature | None) -> tuple:
    return (
        seq,
        commit.sha,
        " ".join(commit.parents),
        commit.author_name,
        commit.author_email,
        commit.author_time.isoformat(),
        commit.committer_name,
        commit.committer_email,
        commit.committer_time.isoformat(),
        commit.message.encode("utf-8", "surrogatepass"),
        *((signature.status, signature.signer, signature.key) if signature else (None, None, None)),
    )


def _commit_of(row: tuple) -> tuple[Commit, Signature | None]:
    _, sha, parents, an, ae, at, cn, ce, ct, message, status, signer, key = row
    text = bytes(message).decode("utf-8", "surrogatepass")
    commit = commit_from_fields([sha, parents, an, ae, at, cn, ce, ct, text])
    return commit, None if status is None else Signature(status, signer, key)


def _merges(rows: list) -> dict[str, Merge]:
    return {
        sha: Merge(reference, merged_by, datetime.datetime.fromisoformat(at), sha, email, bool(rebased))
        for sha, reference, merged_by, at, email, rebased in rows
    }
