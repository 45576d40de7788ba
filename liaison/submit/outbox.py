"""The outbox: submissions kept on disk until GitLab has them, each with its own delivery state.

Like Postfix's queue, every entry is a file of its own and carries its own
state, so one entry that cannot be delivered never holds back the others::

    <data>/outbox/<token>.json         the entry (written once, fsynced, renamed)
    <data>/outbox/<token>.state.json   its delivery state: deferred (tries, next try,
                                       last error) or needs-attention; absent = pending
    <data>/sent/<token>.json           delivered: kept, so a resubmitted form is one record

Files are named by the submission token, so finding a token is two file
opens however many entries were sent (no scan, no glob: a token is
validated before it names a file).

A full disk: an entry that cannot be written is not kept, and no part of it
stays behind (``write_atomic`` removes its temporary file; one left by a
crash is removed at the next start); the caller gets :class:`NotSaved`
with the reason in Chinese. :meth:`Outbox.storage_problems` tells
monitoring, before a leader meets it, that space is short or writes fail.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from liaison.core.atomic import TEMPORARY_PREFIX, write_atomic, write_durably
from liaison.core.records import record_path

TOKEN = re.compile(r"[0-9a-f]{32}")
PENDING, DEFERRED, ATTENTION, SENT = "pending", "deferred", "needs-attention", "sent"
_OLD_NAME = re.compile(r"(\d{20})-([0-9a-f]{32})\.json")  # the outbox's first layout: <ns>-<token>.json


def new_token() -> str:
    """A submission token for a freshly rendered form: the same token submitted twice is one record."""
    return secrets.token_hex(16)


def valid_token(token: object) -> bool:
    """Whether ``token`` has a token's form: 32 lowercase hex digits, nothing else (no glob, no path)."""
    return isinstance(token, str) and TOKEN.fullmatch(token) is not None


STALE_PART = 600.0  # seconds: a temporary file this old is no write in progress but a crash's leftover
PROBE = ".write-test"  # the file /healthz writes and removes to see that the outbox can be written


class NotSaved(Exception):
    """An entry could not be written (disk full, read-only, I/O error); the message, in Chinese, says why."""


def not_saved(error: OSError) -> NotSaved:
    """The NotSaved for a failed write, naming its cause in a person's words."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        cause = "服务器磁盘已满"
    elif error.errno == errno.EROFS:
        cause = "服务器的数据目录变成了只读"
    else:
        cause = f"服务器无法写入数据目录（{error.strerror or error}）"
    return NotSaved(cause)


@dataclass(frozen=True)
class Entry:
    """One submission waiting in (or gone through) the outbox."""

    token: str
    kind: str  # new | correction
    record_id: str
    leader_id: str
    author_name: str
    author_email: str
    yaml: str
    title: str
    created: str  # ISO time: also the commit's date, so a retried commit is the same commit
    branch: str = ""  # a correction stays on its record's first branch, even when its id changes
    previous_path: str = ""  # a correction of the date moves the file: the path it leaves
    submitted_by: str = ""  # the SSO login that sent the form (the commit's Submitted-By trailer)
    queued_ns: int = 0  # when it entered the outbox: the delivery order
    description: str = ""  # the merge request's description (push option), made by push.description
    reason: str = ""  # a correction of an approved record: why (申请更正), in the commit message
    reopen: bool = False  # that record's semester is closed: the reason goes in a Reopen-Reason trailer too

    @property
    def path(self) -> str:
        return record_path(self.record_id)

    @property
    def branch_name(self) -> str:
        return self.branch or f"record/{self.record_id}"

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class EntryState:
    """Where an entry stands: ``state`` is pending, deferred, needs-attention or sent."""

    state: str = PENDING
    tries: int = 0
    next_try: float = 0.0  # epoch seconds; 0 = now
    last_error: str = ""
    updated: float = field(default=0.0)


class Outbox:
    """The entry files under ``data_dir`` (see the module's docstring)."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / "outbox"
        self.sent = Path(data_dir) / "sent"
        for folder in (self.folder, self.sent):
            folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_parts()
        self._migrate()

    def _remove_stale_parts(self) -> None:
        """Remove temporary files a crash left (a part of an entry is never an entry); fresh ones may be in use."""
        cutoff = time.time() - STALE_PART
        for folder in (self.folder, self.sent):
            for path in folder.glob(f"{TEMPORARY_PREFIX}*"):
                with contextlib.suppress(OSError):  # gone meanwhile, or a read-only disk: the next start tries again
                    if path.stat().st_mtime < cutoff:
                        path.unlink()

    def _migrate(self) -> None:
        """Rename entries of the first layout (``<ns>-<token>.json``) to token-named files."""
        for path in self.folder.glob("*-*.json"):
            match = _OLD_NAME.fullmatch(path.name)
            entry = _read(path) if match else None
            if entry is not None:
                data = {**asdict(entry), "queued_ns": int(match[1])}
                write_durably(self.folder / f"{match[2]}.json", json.dumps(data, ensure_ascii=False).encode("utf-8"))
                path.unlink()

    def add(self, entry: Entry) -> tuple[Entry, bool]:
        """Keep ``entry`` durably unless its token is known; (the entry on record, whether it is new).

        The caller serialises calls (a lock), so two requests with one token make one entry.
        """
        if not valid_token(entry.token):
            raise ValueError("bad submission token")
        earlier = self.find(entry.token)
        if earlier is not None:
            return earlier, False
        data = {**asdict(entry), "queued_ns": entry.queued_ns or time.time_ns()}
        try:
            write_durably(self.folder / f"{entry.token}.json", json.dumps(data, ensure_ascii=False).encode("utf-8"))
        except OSError as error:
            raise not_saved(error) from error
        return Entry.from_dict(data), True

    def space_problem(self, min_free_bytes: int) -> str:
        """'' while the outbox's disk has ``min_free_bytes`` free, else what to do about it (Chinese)."""
        try:
            stats = os.statvfs(self.folder)
        except OSError as error:
            return f"无法读取数据目录 {self.folder.parent} 所在磁盘的剩余空间（{error.strerror or error}）。"
        free = stats.f_bavail * stats.f_frsize
        if free >= min_free_bytes:
            return ""
        return (
            f"数据目录 {self.folder.parent} 所在磁盘剩余空间 {free // 2**20} MB，"
            f"低于 config.yaml 中 web.min_free_mb 的 {min_free_bytes // 2**20} MB：请清理磁盘或扩容。"
        )

    def write_problem(self) -> str:
        """'' when a small file can be written (fsynced) and removed in the outbox, else why not (Chinese)."""
        try:
            write_durably(self.folder / PROBE, b"ok")
            (self.folder / PROBE).unlink()
        except OSError as error:
            return f"{not_saved(error)}：无法写入 {self.folder}，新提交的记录无法保存。"
        return ""

    def find(self, token: str) -> Entry | None:
        """The entry with ``token``, waiting or sent; None for an unknown or malformed token."""
        if not valid_token(token):
            return None
        # The outbox first, then sent/: an entry moving between them meanwhile is found in sent/.
        return _read(self.folder / f"{token}.json") or _read(self.sent / f"{token}.json")

    def waiting(self) -> list[Entry]:
        """Entries not yet delivered (pending, deferred or needing attention), oldest first."""
        entries = [_read(path) for path in self.folder.glob("*.json") if TOKEN.fullmatch(path.stem)]
        return sorted((e for e in entries if e is not None), key=lambda e: (e.queued_ns, e.token))

    def state(self, token: str) -> EntryState | None:
        """The delivery state of ``token``'s entry, or None when there is no such entry."""
        if not valid_token(token):
            return None
        try:
            return EntryState(**json.loads((self.folder / f"{token}.state.json").read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
        if (self.folder / f"{token}.json").exists():
            return EntryState()
        if (self.sent / f"{token}.json").exists():
            return EntryState(state=SENT)
        return None

    def set_state(self, token: str, state: EntryState) -> None:
        path = self.folder / f"{token}.state.json"
        if state.state == PENDING and state.tries == 0:
            path.unlink(missing_ok=True)
            return
        write_atomic(path, json.dumps(asdict(state), ensure_ascii=False).encode("utf-8"))

    def mark_sent(self, entry: Entry) -> None:
        """Move the entry to sent/ (one rename: it is never in neither place), then drop its state."""
        os.replace(self.folder / f"{entry.token}.json", self.sent / f"{entry.token}.json")
        (self.folder / f"{entry.token}.state.json").unlink(missing_ok=True)

    def export(self) -> list[dict]:
        """Every undelivered entry with its state, for ``build.py outbox --export``."""
        return [{"entry": asdict(e), "state": asdict(self.state(e.token) or EntryState())} for e in self.waiting()]

    def import_entries(self, items: list[dict]) -> tuple[int, int]:
        """Add exported entries back as pending: (added, already known). Known tokens are skipped."""
        added = known = 0
        for item in items:
            entry = Entry.from_dict(item["entry"])
            _, new = self.add(entry)
            added, known = added + new, known + (not new)
        return added, known


def _read(path: Path) -> Entry | None:
    """The entry in ``path``, or None if there is none (e.g. moved to sent/ since the folder was listed)."""
    try:
        return Entry.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
