"""Reading the history's inputs from git in a fixed handful of passes: the mainline, per-commit changes,
signatures and record versions; :func:`assemble` builds the History from them."""

from __future__ import annotations

import datetime
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from liaison.core.records import RECORDS_DIR, record_values
from liaison.core.schema import Schema
from liaison.git.history.model import (
    SIGNERS_FILE,
    Commit,
    History,
    Mainline,
    Merge,
    RawChange,
    Signature,
    build_history,
    in_mainline_order,
    irregular_mode,
    tagged_blob,
)
from liaison.git.repo import ZERO, Repo

_MR = re.compile(r"See merge request (\S+?)!(\d+)")


_FIELDS = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"


def commit_from_fields(fields: list[str]) -> Commit:
    """A Commit from ``_FIELDS``' values, as git prints them (and the history index stores them)."""
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
            found.append((commit_from_fields(head.strip("\n").split("\x1f")), diff))
    return found


def log_commits(repo: Repo, revisions: str, paths: list[str]) -> dict[str, list[Commit]]:
    """The non-merge commits in ``revisions`` (e.g. ``base..HEAD``) that touch ``paths``: path -> commits,
    parents before children (whatever dates the commits carry)."""
    raw = repo.run(
        "log",
        "--reverse",
        "--topo-order",
        "--no-merges",
        "--no-renames",
        "--name-only",
        f"--format=%x1e{_FIELDS}%x1d",
        revisions,
        "--",
        *paths,
    )
    found: dict[str, list[Commit]] = {}
    for commit, names in _log_commits(raw):
        for name in names.strip().splitlines():
            found.setdefault(name, []).append(commit)
    return found


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


def _raw_changes(diff: str) -> list[RawChange]:
    """``--raw`` lines (``:`` one parent, ``::`` a merge's combined diff) as changes against the first parent."""
    found = []
    for line in diff.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta.lstrip(":").split()
        half = (len(parts) - 1) // 2
        modes, blobs = parts[:half], parts[half:-1]  # n+1 modes, then n+1 blobs (each parent's, then the result)
        found.append(RawChange(path, tagged_blob(modes[0], blobs[0]), tagged_blob(modes[-1], blobs[-1])))
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


def record_versions(repo: Repo, schema: Schema, blobs: Iterable[str]) -> dict[str, dict]:
    """Each record version's values by blob id: {} for bytes that are no record (a YAML error), none for a blob
    this clone lacks. A version's values do not depend on its path, only its problems do."""
    found = {}
    # A link's blob is its target's name, a gitlink's id a commit: neither is read as a record.
    for blob, raw in repo.objects(b for b in blobs if b != ZERO and not irregular_mode(b)).items():
        if raw is not None:
            found[blob] = record_values(raw, schema) or {}
    return found


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
