"""The outbox's worker: delivers each entry on its own schedule and keeps the mirror fresh, in the background.

:class:`Submitter` is what the web form and ``build.py outbox`` use:

* :meth:`Submitter.submit` only validates the token and writes the entry
  durably before returning, so a leader is told "received" only once the
  record is safe on disk;
* one background thread fetches the remote every ``FETCH_EVERY`` seconds
  (short timeouts) and delivers due entries. No web request ever waits on
  the network: pages read the mirror as last fetched and say how fresh it is
  (:meth:`Submitter.freshness`);
* each entry has its own backoff. A transient failure (remote away,
  timeout) defers the entry and pauses deliveries until the remote answers;
  a permanent one (a hook or a protection rule refused it) is retried
  ``MAX_TRIES`` times and then needs attention: the leader sees it on
  「我的记录」, the log and ``build.py outbox`` show it. One failing entry
  never holds back the others;
* every delivery attempt is logged, one line, on the ``liaison.submit`` logger;
* a full or read-only disk: :meth:`Submitter.submit` raises NotSaved (the
  leader is told the record was not saved), the worker logs what it could
  not write and carries on, and :meth:`Submitter.health` says so.
"""

from __future__ import annotations

import datetime
import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from liaison.core import dates
from liaison.core.config import Config

from .outbox import ATTENTION, DEFERRED, Entry, EntryState, NotSaved, Outbox, new_token, valid_token
from .push import DeliveryError, Mirror, Settings, init_local_remote

log = logging.getLogger("liaison.submit")

FETCH_EVERY = 10.0  # seconds between background fetches: how stale pages may be
MAX_TRIES = 3  # attempts refused by the remote before an entry needs attention
FIRST_DELAY = 5.0  # seconds before the second attempt; doubled each time
MAX_DELAY = 900.0
UNHEALTHY_AFTER = 3600.0  # an entry waiting longer than this makes /healthz say "not ok"
WRITE_TEST_EVERY = 5.0  # seconds: after a good test write, /healthz skips the next ones this long (a failed one, never)
DISK_TROUBLE_PAUSE = 30.0  # seconds the worker waits after the disk refused a write

__all__ = ["Entry", "NotSaved", "Submitter", "new_token", "now_iso", "open_submitter", "valid_token"]


@dataclass(frozen=True)
class Freshness:
    """When the mirror last heard from the remote (epoch seconds, 0 = never) and the last fetch's error."""

    fetched: float = 0.0
    error: str = ""


class Submitter:
    """The outbox in ``data_dir``, its git mirror, and the worker thread that delivers its entries."""

    def __init__(self, data_dir: Path, settings: Settings, min_free_mb: int = 100):
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.min_free_bytes = min_free_mb * 2**20
        self._written_at = 0.0  # time.monotonic() of the last good test write
        self.outbox = Outbox(self.data_dir)
        self.mirror = Mirror(self.data_dir / "mirror.git", settings)
        self.lock_path = self.data_dir / "git.lock"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._token_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._remote_retry_at = 0.0  # after a transient failure: no delivery before this
        self.freshness = Freshness()
        self.last_error = ""

    # The outbox ----------------------------------------------------------

    def submit(self, entry: Entry) -> tuple[Entry, bool]:
        """Keep ``entry`` durably; (the entry on record, whether it is new). A known token returns the earlier entry.

        NotSaved when the disk refuses it: nothing of it is kept, and the log says so.
        """
        with self._token_lock:
            try:
                entry, new = self.outbox.add(entry)
            except NotSaved as error:
                log.error("submission record=%s not saved: %s (%s)", entry.record_id, error, error.__cause__)
                self._written_at = 0.0  # /healthz tests the disk again at once
                raise
        if new:
            self._wake.set()
        return entry, new

    def find_token(self, token: str) -> Entry | None:
        """The entry with ``token``, waiting or delivered; None also for a malformed token."""
        return self.outbox.find(token)

    def pending(self) -> list[Entry]:
        """Entries not yet delivered (whatever their state), oldest first."""
        return self.outbox.waiting()

    def entry_state(self, token: str) -> EntryState | None:
        """Where ``token``'s entry stands (pending, deferred, needs-attention, sent); None if unknown.

        For the pages (「我的记录」) and ``build.py outbox``: read it, do not
        rebuild it from the files.
        """
        return self.outbox.state(token)

    def status_of(self, record_id: str) -> EntryState | None:
        """The state of the latest waiting entry for ``record_id`` (None: nothing waiting; look at GitLab)."""
        found = None
        for entry in self.pending():  # oldest first: the last match is the latest
            if entry.record_id == record_id:
                found = entry
        return self.outbox.state(found.token) if found else None

    def retry(self, token: str) -> bool:
        """Put an entry back to pending (e.g. after the office fixed the cause); False if it is not waiting."""
        state = self.outbox.state(token)
        if state is None or state.state == "sent":
            return False
        self.outbox.set_state(token, EntryState())
        self._remote_retry_at = 0.0
        self._wake.set()
        return True

    def report(self) -> list[dict]:
        """Every waiting entry for the administrator (``build.py outbox``): state, age, tries, last error."""
        now = time.time()
        rows = []
        for entry in self.pending():
            state = self.outbox.state(entry.token) or EntryState()
            rows.append(
                {
                    "token": entry.token,
                    "record_id": entry.record_id,
                    "branch": entry.branch_name,
                    "kind": entry.kind,
                    "state": state.state,
                    "tries": state.tries,
                    "age_seconds": round(now - entry.queued_ns / 1e9) if entry.queued_ns else None,
                    "next_try_seconds": max(0, round(state.next_try - now)) if state.next_try else 0,
                    "last_error": state.last_error,
                }
            )
        return rows

    def retry_now(self, token: str) -> EntryState | None:
        """Put the entry back to pending and try to deliver it once, now; its state afterwards (None: unknown)."""
        entry = self.outbox.find(token)
        if entry is None or not self.retry(token):
            return self.outbox.state(token)
        self.deliver(entry, EntryState())
        return self.outbox.state(token)

    def health(self) -> dict:
        """The outbox's health for monitoring, without personal data; ``problems`` says (in Chinese) what is wrong."""
        now = time.time()
        entries = self.pending()
        states = [self.outbox.state(e.token) or EntryState() for e in entries]
        oldest = min((e.queued_ns for e in entries), default=0)
        age = now - oldest / 1e9 if oldest else 0.0
        attention = sum(s.state == ATTENTION for s in states)
        problems = list(self.storage_problems())
        if attention:
            problems.append(f"{attention} 条记录待人工处理：请运行 python build.py outbox 查看原因。")
        if age >= UNHEALTHY_AFTER:
            problems.append(f"最早的一条记录已等待 {round(age / 60)} 分钟仍未送达 GitLab。")
        if self._worker is not None and not self._worker.is_alive():
            problems.append("后台投递线程已停止（见日志）：请重启表单服务。")
        return {
            "ok": not problems,
            "problems": problems,
            "waiting": len(entries),
            "needs_attention": attention,
            "oldest_waiting_seconds": round(age),
            "fetched_seconds_ago": round(now - self.freshness.fetched) if self.freshness.fetched else None,
            "remote_reachable": not self.freshness.error,
        }

    def storage_problems(self) -> list[str]:
        """The outbox's disk: space below ``web.min_free_mb``, or a test write that failed (Chinese)."""
        problems = [self.outbox.space_problem(self.min_free_bytes)]
        if not self._written_at or time.monotonic() - self._written_at >= WRITE_TEST_EVERY:
            problems.append(self.outbox.write_problem())
            self._written_at = 0.0 if problems[-1] else time.monotonic()
        return [problem for problem in problems if problem]

    # The worker ------------------------------------------------------------

    def start(self) -> None:
        """Deliver what the outbox holds now (e.g. after a restart), then keep delivering as entries arrive."""
        if self._worker is None:
            self._stop.clear()
            self._worker = threading.Thread(target=self._run, name="liaison-outbox", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker:
            self._worker.join(timeout=60)
            self._worker = None

    def _run(self) -> None:
        next_fetch = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_fetch:
                self.refresh()
                next_fetch = time.monotonic() + FETCH_EVERY
            if self._stop.is_set():
                return
            try:
                self.flush(due_only=True)
                wait = max(0.05, min(next_fetch - time.monotonic(), self._next_due() - time.time()))
            except OSError as error:  # the disk refused a read or write: the entries stay; try again later
                log.error("outbox worker: %s; next try in %d s", error, DISK_TROUBLE_PAUSE)
                wait = DISK_TROUBLE_PAUSE
            self._wake.wait(timeout=wait)
            self._wake.clear()

    def _next_due(self) -> float:
        """The earliest time a waiting entry may be tried again (epoch seconds)."""
        due = []
        for state in self._states():
            if state.state != ATTENTION:
                due.append(max(state.next_try, self._remote_retry_at))
        return min(due, default=time.time() + FETCH_EVERY)

    def _states(self) -> list[EntryState]:
        return [self.outbox.state(e.token) or EntryState() for e in self.pending()]

    def refresh(self) -> Freshness:
        """Fetch the remote into the mirror (short timeouts) and note how fresh the mirror is."""
        try:
            with self._git_lock():
                self.mirror.fetch()
            self.freshness = Freshness(time.time(), "")
        except (DeliveryError, OSError) as error:
            self.freshness = Freshness(self.freshness.fetched, str(error))
            log.warning("fetch from %s failed: %s", self.settings.remote, error)
        return self.freshness

    def flush(self, due_only: bool = False) -> bool:
        """Try to deliver waiting entries, each on its own; True when none is left waiting (attention aside).

        ``due_only`` (the worker) skips entries whose next try is later and
        everything while the remote is backing off; a call from a person
        (tests, ``build.py outbox --retry``) tries every entry not needing attention.
        """
        for entry in self.pending():
            if due_only and time.time() < self._remote_retry_at:
                break
            state = self.outbox.state(entry.token)
            if state is None or state.state == ATTENTION or (due_only and state.next_try > time.time()):
                continue
            if not self.deliver(entry, state) and due_only and time.time() < self._remote_retry_at:
                break
        return all(s.state == ATTENTION for s in self._states())

    def deliver(self, entry: Entry, state: EntryState) -> bool:
        """One delivery attempt of ``entry``, logged; its state is updated. True when delivered."""
        try:
            with self._git_lock():
                if self.outbox.find(entry.token) is None or self.outbox.state(entry.token).state == "sent":
                    return True  # another process delivered it
                outcome = self.mirror.deliver(entry)
                self.outbox.mark_sent(entry)
        except (DeliveryError, OSError) as error:
            self._failed(entry, state, error)
            return False
        self.last_error = ""
        log.info("delivery record=%s branch=%s outcome=delivered (%s)", entry.record_id, entry.branch_name, outcome)
        return True

    def _failed(self, entry: Entry, state: EntryState, error: Exception) -> None:
        transient = getattr(error, "transient", True)
        tries = state.tries + 1
        delay = min(FIRST_DELAY * 2 ** (tries - 1), MAX_DELAY)
        now = time.time()
        if not transient and tries >= MAX_TRIES:
            new = EntryState(ATTENTION, tries, 0.0, str(error), now)
        else:
            new = EntryState(DEFERRED, tries, now + delay, str(error), now)
        if transient:
            self._remote_retry_at = now + delay
        try:
            self.outbox.set_state(entry.token, new)
        except OSError as unwritten:  # a full disk: the entry stays pending, tried again as if new
            log.error("delivery record=%s: state not saved: %s", entry.record_id, unwritten)
        self.last_error = str(error)
        log.warning(
            "delivery record=%s branch=%s outcome=%s tries=%d %s: %s",
            entry.record_id,
            entry.branch_name,
            new.state,
            tries,
            "transient" if transient else "refused",
            " ".join(str(error).split()),
        )

    @contextmanager
    def _git_lock(self):
        """Serialises git work on the mirror across threads and processes (the service and ``build.py outbox``)."""
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # Reading what the remote has, as last fetched -----------------------------

    def branch_records(self, leader_id: str) -> dict[str, tuple[str, str]]:
        return self.mirror.branch_records(leader_id)

    def merged_records(self, leader_id: str) -> dict[str, str]:
        return self.mirror.merged_records(leader_id)


def open_submitter(config: Config, project_root: Path, data_dir: Path) -> Submitter:
    """The Submitter the configuration describes: ``web.remote`` (or LIAISON_REMOTE, or the embedded stand-in)."""
    web = config.web
    remote = os.environ.get("LIAISON_REMOTE") or web.remote
    if not remote:
        init_local_remote(data_dir / "remote.git", project_root, web.target_branch)
        remote = str(data_dir / "remote.git")
    settings = Settings(
        remote=remote,
        target_branch=web.target_branch,
        labels=web.labels,
        committer_email=web.committer_email,
        signing_key=os.environ.get("LIAISON_SIGNING_KEY", ""),
    )
    return Submitter(data_dir, settings, web.min_free_mb)


def now_iso() -> str:
    return dates.now("UTC").isoformat()  # the clock's one door; UTC: the instant, shown in the zone where read


def local_time(epoch: float, config: Config) -> datetime.datetime:
    """``epoch`` as wall-clock time in the configured zone (「状态更新于 14:05」)."""
    return config.local(datetime.datetime.fromtimestamp(epoch, datetime.UTC))
