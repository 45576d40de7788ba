"""What a record's history is made of: commits, changes field by field, the mainline, and the History
built from them (no git here: :mod:`.gitlog` reads git, :mod:`.index` reads the stored inputs)."""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from liaison.core.bulk import collector_paused
from liaison.core.records import RECORDS_DIR
from liaison.core.schema import Schema
from liaison.git.repo import ZERO

ADDED, CHANGED, DELETED, MOVED = "新增", "修改", "删除", "移动"
SIGNERS_FILE = "allowed_signers"  # ssh-keygen ALLOWED SIGNERS: who may sign as the form
SUBMITTED_BY = "Submitted-By"  # the form's trailer: the single-sign-on login that submitted


_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.+)$")
_IDENTITY = re.compile(r"^\d{4}-\d{2}-\d{2}-(.+)$")


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: datetime.datetime
    committer_name: str
    committer_email: str
    committer_time: datetime.datetime
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def trailers(self) -> dict[str, str]:
        """``Key: value`` lines of the message's last paragraph (git's trailer convention)."""
        last = self.message.strip().rsplit("\n\n", 1)[-1]
        found = {}
        for line in last.splitlines():
            match = _TRAILER.match(line.strip())
            if match:
                found[match[1]] = match[2].strip()
        return found


@dataclass(frozen=True)
class Merge:
    """The mainline merge that brought a commit in: its merge request, or an empty reference for a local merge."""

    reference: str  # group/project!123; "" when the message names no merge request (merged outside GitLab)
    merged_by: str
    merged_at: datetime.datetime
    sha: str = ""
    merged_by_email: str = ""
    rebased: bool = True  # the merged branch contained the mainline before the merge (semi-linear history)

    @property
    def is_request(self) -> bool:
        return bool(self.reference)


@dataclass(frozen=True)
class Signature:
    """A commit's signature as git judged it (``%G?``): G is good and by an allowed signer."""

    status: str  # G good, U good but the key is not an allowed signer, B bad, E cannot check, N none, X/Y/R expired
    signer: str  # the allowed signer's principal (%GS), e.g. liaison@localhost
    key: str  # the key's fingerprint (%GK)

    @property
    def valid(self) -> bool:
        return self.status == "G"


class FieldChange(NamedTuple):  # a named tuple: a history has some 100,000 of them, built five times faster
    key: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True, eq=False)
class FieldWording:
    """How a history words what changed in a record: the schema, and its fields' labels in order (one for all
    the changes of a history)."""

    schema: Schema
    labels: dict[str, str]

    def differences(self, old: dict, new: dict) -> tuple[FieldChange, ...]:
        return field_changes(old, new, self.schema, self.labels)


@dataclass(frozen=True)
class Change:
    commit: Commit
    kind: str  # 新增 / 修改 / 删除 / 移动
    record: str  # the record's id as first added; stable across moves
    old_path: str | None
    new_path: str | None
    old_data: dict
    new_data: dict
    # How ``fields`` words the differences (None: a change no schema describes, allowed_signers). Not compared:
    # ``fields`` follows from the data.
    wording: FieldWording | None = field(compare=False, repr=False)
    merge: Merge | None  # the mainline merge that brought it in (for a change made in a merge: that merge)
    on_mainline: bool  # the commit itself is on the mainline (a direct push, or a merge's own change)
    entered: str = ""  # the mainline commit that brought this change to the mainline
    position: int = -1  # that commit's place on the mainline, 0 for the first: the honest clock
    in_merge: bool = False  # made in a merge commit itself (relative to its first parent), not by a branch commit
    signature: Signature | None = None  # None: the commit is not signed
    old_irregular: str = ""  # the git mode of the version before, when it was no plain file
    new_irregular: str = ""  # the git mode of the version after, when it is no plain file
    entered_at: datetime.datetime | None = None  # the time of the mainline commit ``entered`` (settable, but in order)

    @functools.cached_property
    def fields(self) -> tuple[FieldChange, ...]:
        """What differs between the versions before and after, field by field in the schema's order.

        Worked out when first asked: the record pages ask, the audit (13,000 changes) never does.
        """
        return self.wording.differences(self.old_data, self.new_data) if self.wording is not None else ()

    @property
    def merged(self) -> bool:
        """The change is on the mainline (its commit entered it); False for a branch's change not merged yet."""
        return bool(self.entered)

    @property
    def when(self) -> datetime.datetime:
        """The time of the change, the one every output shows: when it entered the mainline (the clock the audit
        trusts); for a change not merged yet, when its author made it."""
        return self.entered_at if self.merged and self.entered_at is not None else self.commit.author_time

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""

    @property
    def record_id(self) -> str:
        """The id the record has after this change (or had, for a deletion)."""
        return stem(self.path)

    @property
    def data(self) -> dict:
        return self.new_data or self.old_data

    @property
    def irregular(self) -> str:
        """The git mode of what the change left (or, for a removal, took away) when it is no plain file: '120000'
        for a link, '160000' for a submodule, '100755' for an executable; '' for a record file."""
        return self.new_irregular or self.old_irregular

    @property
    def by_form(self) -> bool:
        """Made by the form: signed by a signer that the mainline's ``allowed_signers`` named before it entered."""
        return self.signature is not None and self.signature.valid

    @property
    def submitted_by(self) -> str:
        """The login the form recorded (``Submitted-By:``); trusted only when ``by_form``."""
        return self.commit.trailers.get(SUBMITTED_BY, "")


@dataclass
class History:
    changes: list[Change] = field(default_factory=list)  # in mainline order (oldest first)
    aliases: dict[str, str] = field(default_factory=dict)  # every id or path a record had -> its record key
    mainline: list[str] = field(default_factory=list)  # the first-parent chain of ref, oldest first
    mainline_times: dict[str, datetime.datetime] = field(default_factory=dict)  # committer time (settable!)
    entry: dict[str, str] = field(default_factory=dict)  # every commit -> the mainline commit that brought it in
    signer_changes: list[Change] = field(default_factory=list)  # changes to allowed_signers: who counts as the form
    _positions: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def of(self, record: str) -> list[Change]:
        """The changes of one record, given any id or path it ever had."""
        key = self.aliases.get(record) or self.aliases.get(PurePosixPath(record).stem)
        return [c for c in self.changes if c.record == key] if key else []

    def position(self, sha: str) -> int | None:
        """Where the commit ``sha`` entered the mainline (its mainline index), or None when ``ref`` lacks it."""
        entered = self.entry.get(sha)
        return None if entered is None else self.positions.get(entered)

    @property
    def positions(self) -> dict[str, int]:
        """Mainline commit -> its index."""
        if len(self._positions) != len(self.mainline):
            self._positions.clear()
            self._positions.update((sha, n) for n, sha in enumerate(self.mainline))
        return self._positions


@dataclass
class Mainline:
    commits: list[str]  # oldest first
    times: dict[str, datetime.datetime]
    entry: dict[str, str]  # every commit reachable from ref -> the mainline commit that brought it in
    merges: dict[str, Merge]  # mainline merge commit -> who merged it and the merge request it names
    # Every commit -> its place in a canonical order, parents before children: the order of the changes that
    # one mainline commit brought in. It depends on that commit's own part of the graph only, so the history
    # read in pieces (an index adding new commits) orders them exactly as the history read at once.
    rank: dict[str, int] = field(default_factory=dict)
    base: str = ""  # the first parent of the oldest commit listed ("" when it is a root)
    known_positions: dict[str, int] | None = None  # some mainline commits' places, when ``commits`` is not all

    @property
    def positions(self) -> dict[str, int]:
        """Mainline commit -> its index, 0 for the oldest."""
        if self.known_positions is not None:
            return self.known_positions
        return {sha: n for n, sha in enumerate(self.commits)}


@dataclass(frozen=True)
class RawChange:
    path: str
    old_blob: str  # relative to the first parent; ZERO when absent; see tagged_blob
    new_blob: str  # ZERO when removed


PLAIN_MODES = ("100644", "000000")  # a plain file, or none


def tagged_blob(mode: str, blob: str) -> str:
    """The object id of a path's version, prefixed ``<mode>:`` when it is not a plain file (a link 120000, a
    gitlink 160000, an executable 100755): such a version is never read as a record, and says what it was.
    The mode travels inside the id so that every store of changes (the index too) keeps it as it is."""
    return blob if mode in PLAIN_MODES else f"{mode}:{blob}"


def irregular_mode(blob: str) -> str:
    """The git mode a tagged blob (:func:`tagged_blob`) carries, or '' for a plain file's."""
    mode, colon, _ = blob.partition(":")
    return mode if colon else ""


@functools.cache  # pure, and asked for each path many times while a history is built
def identity(path: str) -> str:
    """What stays when a record's date is corrected: 工号 and the 6-hex suffix (the id without its date)."""
    name = stem(path)
    match = _IDENTITY.match(name)
    return match[1] if match else name


def pair_moves(changes: list[RawChange]) -> list[tuple[str, str | None, str | None, str, str]]:
    """A commit's record changes as (kind, old path, new path, old blob, new blob), a removal and an addition
    of the same identity (工号 + suffix) paired as one move, however much the text changed too."""
    added = {identity(c.path): c for c in changes if c.old_blob == ZERO and c.new_blob != ZERO}
    paired: set[str] = set()
    found = []
    for change in changes:
        if change.old_blob != ZERO and change.new_blob == ZERO:
            partner = added.get(identity(change.path))
            if partner is not None and partner.path not in paired:
                paired.add(partner.path)
                found.append((MOVED, change.path, partner.path, change.old_blob, partner.new_blob))
            else:
                found.append((DELETED, change.path, None, change.old_blob, ZERO))
        elif change.old_blob == ZERO:
            if change.new_blob != ZERO:
                found.append((ADDED, None, change.path, ZERO, change.new_blob))
        else:
            found.append((CHANGED, change.path, change.path, change.old_blob, change.new_blob))
    return [item for item in found if not (item[0] == ADDED and item[2] in paired)]


def field_changes(
    old: dict, new: dict, schema: Schema, labels: dict[str, str] | None = None
) -> tuple[FieldChange, ...]:
    """What differs between two versions of a record, in the schema's order with its labels (``labels``: the
    schema's fields' labels, from :func:`field_labels`, when many versions are compared)."""
    labels = field_labels(schema) if labels is None else labels
    found = []
    for key, label in labels.items():
        before, after = old.get(key, ""), new.get(key, "")
        if before != after:
            found.append(_field_change(FieldChange, (key, label, before, after)))
    if not (old.keys() <= labels.keys() and new.keys() <= labels.keys()):  # keys the schema does not know
        for key in sorted((old.keys() | new.keys()) - labels.keys()):
            before, after = old.get(key, ""), new.get(key, "")
            if before != after:
                found.append(FieldChange(key, schema.label((key,)) or key, before, after))
    return tuple(found)


_field_change = tuple.__new__  # FieldChange without its Python-level __new__: a history builds 100,000


def field_labels(schema: Schema) -> dict[str, str]:
    """The schema's fields in order -> their labels (the key when a field has none)."""
    return {f.key: schema.label((f.key,)) or f.key for f in schema.fields}


@functools.cache  # pure, and asked for each path many times while a history is built
def stem(path: str) -> str:
    """``PurePosixPath(path).stem`` for git's paths (normalised already), without building a path object."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _version(versions: dict[str, dict], blob: str, path: str | None) -> dict:
    return versions.get(blob, {}) if blob != ZERO and path is not None else {}


def _record_key(current: dict[str, str], kind: str, old_path: str | None, new_path: str | None) -> str:
    """The record a change belongs to (its id as first added), updating ``current`` (path now -> key)."""
    if kind == MOVED:
        key = current.pop(old_path, stem(old_path))
        current[new_path] = key
    elif kind == DELETED:
        key = current.pop(old_path, stem(old_path))
    else:
        key = current.setdefault(new_path, stem(new_path))
    return key


def in_mainline_order(
    mainline: Mainline, commits: list[tuple[Commit, list[RawChange]]]
) -> list[tuple[Commit, list[RawChange]]]:
    """The commits in the order their changes count: by where they entered the mainline, then canonically."""
    positions = mainline.positions
    entry, rank = mainline.entry, mainline.rank
    return sorted(commits, key=lambda item: (positions.get(entry.get(item[0].sha, ""), -1), rank.get(item[0].sha, -1)))


def build_history(
    schema: Schema,
    mainline: Mainline,
    order: list[tuple[Commit, list[RawChange]]],
    signatures: dict[str, Signature],
    versions: dict[str, dict],
) -> History:
    """The history from what git said (``order`` from :func:`in_mainline_order`), with no git: what the index
    stores is these inputs, so a history from the index is built by the same code as one read at once."""
    with collector_paused():  # a million objects that all stay: liaison.core.bulk
        positions = mainline.positions
        history = History(mainline=mainline.commits, mainline_times=mainline.times, entry=mainline.entry)
        current: dict[str, str] = {}
        wording = FieldWording(schema, field_labels(schema))
        for commit, changes in order:
            entered = mainline.entry.get(commit.sha, "")
            in_merge = len(commit.parents) > 1
            common = {
                "merge": mainline.merges.get(entered) if entered != commit.sha or in_merge else None,
                "on_mainline": entered == commit.sha,
                "entered": entered,
                "position": positions.get(entered, -1),
                "in_merge": in_merge,
                "signature": signatures.get(commit.sha),
                "entered_at": mainline.times.get(entered),
            }
            records = [c for c in changes if c.path.startswith(f"{RECORDS_DIR}/") and c.path.endswith(".yaml")]
            for kind, old_path, new_path, old_blob, new_blob in pair_moves(records):
                key = _record_key(current, kind, old_path, new_path)
                for path in (old_path, new_path):
                    if path:
                        history.aliases[path] = key
                        history.aliases[stem(path)] = key
                old = _version(versions, old_blob, old_path)
                new = _version(versions, new_blob, new_path)
                history.changes.append(
                    Change(
                        commit,
                        kind,
                        key,
                        old_path,
                        new_path,
                        old,
                        new,
                        wording,
                        **common,
                        old_irregular=irregular_mode(old_blob),
                        new_irregular=irregular_mode(new_blob),
                    )
                )
            for change in (c for c in changes if c.path == SIGNERS_FILE):
                kind = ADDED if change.old_blob == ZERO else DELETED if change.new_blob == ZERO else CHANGED
                paths = (None if kind == ADDED else SIGNERS_FILE, None if kind == DELETED else SIGNERS_FILE)
                history.signer_changes.append(Change(commit, kind, SIGNERS_FILE, *paths, {}, {}, None, **common))
        return history
