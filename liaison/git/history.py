"""The history of every record, read from Git in a fixed handful of passes: who added, changed, moved or removed it.

The clock that counts is the **mainline**, the first-parent chain of ``ref``:
a change happened when it entered the mainline, whatever its author or
committer dates say. ``read_history`` works in three steps, so an index can
feed the middle one a range of commits:

1. :func:`read_mainline`: the mainline in order, and for every commit the
   mainline commit that brought it in (itself, or the merge whose second
   parent reaches it) and that merge's GitLab merge request, if it names one
   (``See merge request group/project!123``);
2. :func:`read_commits`: per commit, the raw changes to ``records/`` and to
   ``allowed_signers`` (merges included: a path that differs from every
   parent was changed in the merge itself, git's combined diff);
3. :func:`assemble`: the changes in mainline order, moves paired by the
   record's identity (工号 and the 6-hex suffix, never git's similarity),
   field by field with the schema's Chinese labels, each with its commit's
   SSH signature checked against the ``allowed_signers`` the mainline had
   just before the change entered it.
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from liaison.core.records import RECORDS_DIR, plain_value, record_values
from liaison.core.schema import Schema
from liaison.git.repo import ZERO, Repo

ADDED, CHANGED, DELETED, MOVED = "新增", "修改", "删除", "移动"
SIGNERS_FILE = "allowed_signers"  # ssh-keygen ALLOWED SIGNERS: who may sign as the form
SUBMITTED_BY = "Submitted-By"  # the form's trailer: the single-sign-on login that submitted
_MR = re.compile(r"See merge request (\S+?)!(\d+)")
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.+)$")
_IDENTITY = re.compile(r"^\d{4}-\d{2}-\d{2}-(.+)$")
_FIELDS = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"


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


@dataclass(frozen=True)
class Change:
    commit: Commit
    kind: str  # 新增 / 修改 / 删除 / 移动
    record: str  # the record's id as first added; stable across moves
    old_path: str | None
    new_path: str | None
    old_data: dict
    new_data: dict
    fields: tuple[FieldChange, ...]
    merge: Merge | None  # the mainline merge that brought it in (for a change made in a merge: that merge)
    on_mainline: bool  # the commit itself is on the mainline (a direct push, or a merge's own change)
    entered: str = ""  # the mainline commit that brought this change to the mainline
    position: int = -1  # that commit's place on the mainline, 0 for the first: the honest clock
    in_merge: bool = False  # made in a merge commit itself (relative to its first parent), not by a branch commit
    signature: Signature | None = None  # None: the commit is not signed

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


def _commit(fields: list[str]) -> Commit:
    sha, parents, an, ae, at, cn, ce, ct, message = fields
    return Commit(
        sha,
        tuple(parents.split()),
        an,
        ae,
        datetime.datetime.fromisoformat(at),
        cn,
        ce,
        datetime.datetime.fromisoformat(ct),
        message.strip("\n"),
    )


def _log_commits(raw: bytes) -> list[tuple[Commit, str]]:
    """Split ``log --format=%x1e{_FIELDS}%x1d`` output into (commit, what followed it: raw diff lines)."""
    found = []
    for block in raw.decode("utf-8", "replace").split("\x1e"):
        if block.strip():
            head, _, diff = block.partition("\x1d")
            found.append((_commit(head.strip("\n").split("\x1f")), diff))
    return found


def log_commits(repo: Repo, revisions: str, paths: list[str]) -> dict[str, list[Commit]]:
    """The non-merge commits in ``revisions`` (e.g. ``base..HEAD``) that touch ``paths``: path -> commits."""
    raw = repo.run(
        "log", "--no-merges", "--no-renames", "--name-only", f"--format=%x1e{_FIELDS}%x1d", revisions, "--", *paths
    )
    found: dict[str, list[Commit]] = {}
    for commit, names in _log_commits(raw):
        for name in names.strip().splitlines():
            found.setdefault(name, []).append(commit)
    return found


# 1. The mainline ------------------------------------------------------------


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


def read_mainline(repo: Repo, ref: str, base: str | None = None) -> Mainline:
    """The first-parent chain of ``ref`` and, for every commit, the mainline commit that brought it in.

    With ``base`` (a commit on that chain), only the part after it: the commits in ``base..ref``; what
    ``base`` reaches counts as brought in already. ``Mainline.base`` then says whether the chain really
    passes through ``base`` (it is the first parent of the oldest new mainline commit).
    """
    revisions = f"{base}..{ref}" if base else ref
    commits, times, first_base = [], {}, None
    for line in repo.text("log", "--first-parent", "--reverse", "--format=%H %cI %P", revisions).splitlines():
        sha, when, *parents_of = line.split()
        if first_base is None:
            first_base = parents_of[0] if parents_of else ""
        commits.append(sha)
        times[sha] = datetime.datetime.fromisoformat(when)
    parents: dict[str, list[str]] = {}
    for line in repo.text("rev-list", "--parents", revisions).splitlines():
        sha, *rest = line.split()
        parents[sha] = rest
    claimed = {p for listed in parents.values() for p in listed if p not in parents}  # reached from base
    entry, rebased, rank = _claim(commits, parents, claimed)
    merges = {}
    log = repo.run("log", "--first-parent", "--merges", f"--format=%x1e{_FIELDS}%x1d", revisions)
    for commit, _ in _log_commits(log):
        match = _MR.search(commit.message)
        reference = f"{match[1]}!{match[2]}" if match else ""
        merges[commit.sha] = Merge(
            reference, commit.author_name, commit.committer_time, commit.sha, commit.author_email, commit.sha in rebased
        )
    return Mainline(commits, times, entry, merges, rank, first_base or "")


def _claim(
    commits: list[str], parents: dict[str, list[str]], claimed: set[str] | frozenset = frozenset()
) -> tuple[dict[str, str], set[str], dict[str, int]]:
    """Every commit -> the mainline commit that brought it in; the merges whose branch contained the mainline
    before them (rebased first: what GitLab's semi-linear method requires); and the canonical order (``rank``).

    ``claimed``: commits brought in before ``commits`` (an earlier part of the mainline), not walked again.
    Each mainline commit's new commits are walked depth first, parents in order, and ranked after their
    parents: a topological order that git's own ``--topo-order`` does not promise for a part of the graph.
    """
    entry: dict[str, str] = {}
    rank: dict[str, int] = {}
    rebased = set()
    for sha in commits:  # oldest first: what an earlier mainline commit has is already claimed
        first = (parents.get(sha) or [None])[0]
        reached = 0
        entry[sha] = sha
        stack = [(sha, 0)]
        while stack:
            current, index = stack[-1]
            listed = parents.get(current, ())
            if index == len(listed):
                stack.pop()
                rank[current] = len(rank)
                continue
            stack[-1] = (current, index + 1)
            parent = listed[index]
            reached += parent == first
            if parent not in entry and parent not in claimed:
                entry[parent] = sha
                stack.append((parent, 0))
        if reached > 1:  # the first parent, and again through the merged branch
            rebased.add(sha)
    return entry, rebased, rank


# 2. Per-commit changes ------------------------------------------------------


@dataclass(frozen=True)
class RawChange:
    path: str
    old_blob: str  # relative to the first parent; ZERO when absent
    new_blob: str  # ZERO when removed


def _raw_changes(diff: str) -> list[RawChange]:
    """``--raw`` lines (``:`` one parent, ``::`` a merge's combined diff) as changes against the first parent."""
    found = []
    for line in diff.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta.lstrip(":").split()
        blobs = parts[(len(parts) - 1) // 2 : -1]  # n+1 modes, then n+1 blobs (each parent's, then the result)
        found.append(RawChange(path, blobs[0], blobs[-1]))
    return found


def read_commits(repo: Repo, revisions: list[str]) -> list[tuple[Commit, list[RawChange]]]:
    """Every commit in ``revisions`` (rev-list arguments, e.g. ``[ref]`` or ``[old..new]``) that changes a record
    or ``allowed_signers``, parents before children, with its raw changes against its first parent.

    A merge is listed with the paths that differ from every parent: the changes made in the merge itself.
    """
    raw = repo.run(
        "log",
        "--reverse",
        "--topo-order",
        "--no-show-signature",  # a user's log.showSignature would print into the parsed output
        "--full-history",
        "--no-renames",
        "-c",
        "--raw",
        "--no-abbrev",
        f"--format=%x1e{_FIELDS}%x1d",
        *revisions,
        "--",
        f"{RECORDS_DIR}/",
        SIGNERS_FILE,
    )
    listed = [(commit, _raw_changes(diff)) for commit, diff in _log_commits(raw)]
    return [(commit, changes) for commit, changes in listed if changes]


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


# 3. Signatures and assembly -------------------------------------------------


def _signers_in_force(repo: Repo, ref: str, mainline: Mainline) -> dict[str, str | None]:
    """Mainline commit -> the ``allowed_signers`` blob its first parent had (None: no such file).

    A change is judged by the signers the mainline named *before* it entered,
    so a merge request cannot vouch for itself by adding its own key.
    """
    raw = repo.run(
        "log", "--first-parent", "-m", "--raw", "--no-abbrev", "--format=%x1e%H%x1d", ref, "--", SIGNERS_FILE
    )
    set_by: dict[str, str | None] = {}
    for block in raw.decode("utf-8", "replace").split("\x1e"):
        sha, _, diff = block.partition("\x1d")
        for change in _raw_changes(diff):
            set_by[sha.strip()] = None if change.new_blob == ZERO else change.new_blob
    in_force, current = {}, None
    for sha in mainline.commits:
        in_force[sha] = current
        current = set_by.get(sha, current)
    return in_force


def read_signatures(repo: Repo, ref: str, mainline: Mainline, shas: list[str]) -> dict[str, Signature]:
    """The signature of each signed commit in ``shas``, checked with ssh-keygen through git (``%G?``)."""
    headers = repo.objects(shas)
    signed = [s for s in shas if b"\ngpgsig " in (headers.get(s) or b"").partition(b"\n\n")[0]]
    if not signed:
        return {}
    in_force = _signers_in_force(repo, ref, mainline)
    groups: dict[str | None, list[str]] = defaultdict(list)
    for sha in signed:
        groups[in_force.get(mainline.entry.get(sha, ""))].append(sha)
    blobs = repo.objects(blob for blob in groups if blob)
    found = {}
    with tempfile.TemporaryDirectory(prefix="liaison-signers-") as folder:
        for blob, members in groups.items():
            signers = Path(folder) / f"{blob or 'none'}"
            signers.write_bytes((blobs.get(blob) or b"") if blob else b"")
            out = repo.text(
                "-c",
                f"gpg.ssh.allowedSignersFile={signers}",
                "log",
                "--no-walk=unsorted",
                "--no-show-signature",
                "--stdin",
                "--format=%H%x1f%G?%x1f%GS%x1f%GK",
                input="".join(f"{sha}\n" for sha in members).encode(),
            )
            for line in out.splitlines():
                sha, status, signer, key = (line.split("\x1f") + ["", "", ""])[:4]
                found[sha] = Signature(status, signer, key)
    return found


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


def stem(path: str) -> str:
    """``PurePosixPath(path).stem`` for git's paths (normalised already), without building a path object."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def record_versions(repo: Repo, schema: Schema, blobs: Iterable[str]) -> dict[str, dict]:
    """Each record version's values by blob id: {} for bytes that are no record (a YAML error), none for a blob
    this clone lacks. A version's values do not depend on its path, only its problems do."""
    found = {}
    for blob, raw in repo.objects(b for b in blobs if b != ZERO).items():
        if raw is not None:
            found[blob] = record_values(raw, schema) or {}
    return found


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


def assemble(
    repo: Repo, ref: str, schema: Schema, mainline: Mainline, commits: list[tuple[Commit, list[RawChange]]]
) -> History:
    """The history from the mainline and the per-commit changes: in mainline order, moves followed."""
    order = in_mainline_order(mainline, commits)
    signatures = read_signatures(repo, ref, mainline, [commit.sha for commit, _ in order])
    versions = record_versions(
        repo, schema, {b for _, changes in order for c in changes for b in (c.old_blob, c.new_blob)}
    )
    return build_history(schema, mainline, order, signatures, versions)


def build_history(
    schema: Schema,
    mainline: Mainline,
    order: list[tuple[Commit, list[RawChange]]],
    signatures: dict[str, Signature],
    versions: dict[str, dict],
) -> History:
    """The history from what git said (``order`` from :func:`in_mainline_order`), with no git: what the index
    stores is these inputs, so a history from the index is built by the same code as one read at once."""
    positions = mainline.positions
    history = History(mainline=mainline.commits, mainline_times=mainline.times, entry=mainline.entry)
    current: dict[str, str] = {}
    labels = field_labels(schema)
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
                    commit, kind, key, old_path, new_path, old, new, field_changes(old, new, schema, labels), **common
                )
            )
        for change in (c for c in changes if c.path == SIGNERS_FILE):
            kind = ADDED if change.old_blob == ZERO else DELETED if change.new_blob == ZERO else CHANGED
            paths = (None if kind == ADDED else SIGNERS_FILE, None if kind == DELETED else SIGNERS_FILE)
            history.signer_changes.append(Change(commit, kind, SIGNERS_FILE, *paths, {}, {}, (), **common))
    return history


def read_history(root: Path, schema: Schema, ref: str = "HEAD", index: bool = True) -> History:
    """Every change to ``records/`` (and to ``allowed_signers``) reachable from ``ref``, in mainline order.

    From the history index in ``.cache/`` when it can be used (``index``, and not ``LIAISON_HISTORY_INDEX=0``):
    the same History, reading only the commits the index has not seen; else read at once from git.
    """
    if index and use_index():
        from liaison.git.historyindex import indexed_history  # the index builds on this module

        found = indexed_history(Path(root), schema, ref)
        if found is not None:
            return found
    repo = Repo(root)
    if repo.resolve(ref) is None:
        return History()
    return assemble(repo, ref, schema, read_mainline(repo, ref), read_commits(repo, [ref]))


def record_history(root: Path, schema: Schema, record: str, ref: str = "HEAD", index: bool = True) -> list[Change]:
    """``read_history(root, schema, ref).of(record)``: from the index, reading that record's changes only."""
    if index and use_index():
        from liaison.git.historyindex import indexed_record_history

        found = indexed_record_history(Path(root), schema, record, ref)
        if found is not None:
            return found
    return read_history(root, schema, ref, index=False).of(record)


def use_index() -> bool:
    """The history index is on unless ``LIAISON_HISTORY_INDEX=0`` (to compare, or to distrust a cache)."""
    return os.environ.get("LIAISON_HISTORY_INDEX", "1").strip() not in ("0", "false", "no", "off")


def change_json(change: Change) -> dict:
    """A change as JSON-ready data (``history --format json``)."""
    commit, merge = change.commit, change.merge
    return {
        "when": commit.committer_time.isoformat(),
        "kind": change.kind,
        "record_id": change.record_id,
        "old_path": change.old_path,
        "new_path": change.new_path,
        "author": commit.author_name,
        "author_email": commit.author_email,
        "authored_at": commit.author_time.isoformat(),
        "committer": commit.committer_name,
        "committer_email": commit.committer_email,
        "commit": commit.sha,
        "message": commit.message,
        "merge_request": merge.reference if merge else None,
        "merged_by": merge.merged_by if merge else None,
        "merged_at": merge.merged_at.isoformat() if merge else None,
        "direct_to_main": change.on_mainline and change.merge is None,
        "made_in_merge": change.in_merge,
        "entered_mainline": change.entered,
        "mainline_position": change.position,
        "signature": change.signature.status if change.signature else "N",
        "signed_by_form": change.by_form,
        "signer": change.signature.signer if change.by_form else None,
        "submitted_by": change.submitted_by or None,
        "fields": [
            {"key": f.key, "label": f.label, "old": plain_value(f.old), "new": plain_value(f.new)}
            for f in change.fields
        ],
    }


def how_it_entered(change: Change) -> str:
    """How the change reached the mainline, in words: the merge request, a local merge, a direct push, a merge's own edit."""
    merge = change.merge
    if merge is None:
        return "直接提交到主分支，未经合并请求" if change.on_mainline else "尚未合并到主分支"
    merged = f"{merge.merged_by} 于 {merge.merged_at:%Y-%m-%d %H:%M} 合并"
    if not merge.is_request:
        how = f"本地合并后推送到主分支（合并提交 {merge.sha[:12]}，{merged}），未经合并请求"
    else:
        how = f"合并请求 {merge.reference}，{merged}"
    return f"在合并提交中直接修改（{how}）" if change.in_merge else how


def change_text(number: int, change: Change) -> list[str]:
    """A change as lines for the terminal (``history --format table``)."""
    commit = change.commit
    how = how_it_entered(change)
    lines = [
        f"━━ {number}. {commit.committer_time:%Y-%m-%d %H:%M} · {change.kind} · {change.path}",
        f"   作者：{commit.author_name} <{commit.author_email}>　提交者：{commit.committer_name} <{commit.committer_email}>",
        f"   {how}",
        *(
            [
                f"   由表单提交（签名有效：{change.signature.signer}）"
                + (f"，登录名 {change.submitted_by}" if change.submitted_by else "")
            ]
            if change.by_form
            else []
        ),
        f"   提交 {commit.sha[:12]}：{commit.subject}",
    ]
    if change.kind == MOVED:
        lines.append(f"   文件：{change.old_path} → {change.new_path}")
    if change.kind in (ADDED, DELETED):  # the whole record, once
        data = change.new_data if change.kind == ADDED else change.old_data
        return lines + [
            f"   {item.label}：{plain_value(item.new if change.kind == ADDED else item.old)}"
            for item in change.fields
            if (data.get(item.key, "") != "")
        ]
    for item in change.fields:
        old = plain_value(item.old) if item.old != "" else "（空）"
        new = plain_value(item.new) if item.new != "" else "（空）"
        if "\n" in f"{old}{new}" or len(f"{old}{new}") > 60:
            lines.append(f"   {item.label}：")
            lines.extend(f"     - {part}" for part in str(old).split("\n"))
            lines.extend(f"     + {part}" for part in str(new).split("\n"))
        else:
            lines.append(f"   {item.label}：{old} → {new}")
    return lines
