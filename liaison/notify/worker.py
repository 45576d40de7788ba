"""The to-dos' worker: webhook deliveries become to-dos, to-dos are sent, each on its own, in the background.

:class:`Notifier` is what the web form (``POST /hooks/gitlab``, ``/healthz``),
``build.py notify`` and ``build.py remind --send`` use:

* :meth:`Notifier.receive` only writes the delivery durably (a replayed UUID
  is refused) and wakes the worker: a webhook never waits on a provider;
* the worker thread turns deliveries into to-dos (liaison.notify.todos): a
  merge request merged or sent back goes to its (active) leader (a sending
  back waits ``gather_seconds`` for the reviewer's comment, its reason: the
  last comment of one of 思政科's people, never the leader's or a
  stranger's); submissions go to 思政科 once none has come for
  ``gather_seconds``, as one digest when there are several; an export that
  finished goes to 思政科. Deliveries are taken in the order they came; one
  still waiting (a submission, a sending back) is called off by a later one
  of the same merge request (merged, reopened, the 退回 label taken off), and
  a merged merge request's late "opened" or "sent back" is nothing;
* each ledger item is planned and sent on its own (one planner or sender at
  a time, across processes, under the ledger's lock): SMS wait for the end of the quiet
  hours and for the number's limits (held, never dropped); a transient
  failure is retried with backoff, ``MAX_TRIES`` times; a refusal is kept as
  failed with what to fix until a person retries it (``build.py notify --retry``);
* before each call the item is marked ``sending``. An item still ``sending``
  when the worker starts was cut short by a crash: the provider may or may
  not have it. For 企业微信 and 钉钉, which drop a repeated message, it is
  sent again; for SMS and the school's own app it is failed as uncertain,
  never sent twice by itself (docs/notify.md, 送达保证).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable

from liaison.core import dates
from liaison.core.config import Config, NotifySettings
from liaison.core.project import Project

from . import app, sms
from .events import COMMENT, EXPORTED, MERGED, OPENED, RETURNED, UNRETURNED, Event
from .todoledger import DISMISSED, FAILED, HELD, QUEUED, SEEN_DAYS, SENDING, SENT, ToDoLedger
from .todos import Message, Recipient, exported_message, items_for, leader_message, leader_recipient, office_recipients
from .todos import pending_message as digest_message
from .transport import SendError, Uncertain

log = logging.getLogger("liaison.notify")

GATHER_MOST = 900.0  # seconds: a digest of submissions waits at most this long after the first
FIRST_DELAY = 60.0  # seconds before the second try of a transient failure; doubled each time
MAX_DELAY = 3600.0
MAX_TRIES = 10  # transient failures before the item is failed (about seven hours of trying)
LONGEST_SLEEP = 30.0  # seconds the worker sleeps at most (the service's clock may be faked in tests)
PRUNE_EVERY = 3600.0  # seconds between two prunings of the delivery markers
UNCERTAIN = "uncertain"
UNCERTAIN_FIX = (
    "发送这一条时没有得到服务商的回答（服务商超时、连接中断，或本服务重启），无法确定对方是否已收到。为了不重复发送，没有自动重发。"
    "请在短信平台（或学校 APP）的发送记录中按手机号和时间查看；确实没有收到时用 python build.py notify --retry <编号> 重发。"
)
EXHAUSTED_FIX = "多次重试仍未发出。请检查网络和服务商的状态，恢复后用 python build.py notify --retry <编号> 重发。"
HOLD_WORDS = {"quiet": "免打扰时段", "limit": "号码发送上限"}


class Notifier:
    """The ledger in ``folder`` and the worker that fills and empties it; ``project()`` gives today's config and roster."""

    def __init__(self, folder, project: Callable[[], Project]):
        self.ledger = ToDoLedger(folder)
        self.project = project
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._intake = threading.Lock()
        self._worker: threading.Thread | None = None
        self._next_prune = 0.0  # time.monotonic() of the next pruning of seen/
        self.recover()

    # The clock and the settings -------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self.project().config

    @property
    def settings(self) -> NotifySettings | None:
        return self.config.notify

    def now(self) -> float:
        """The service's clock (``LIAISON_NOW`` fakes it), as epoch seconds."""
        return dates.now(self.config.timezone).timestamp()

    # Intake ---------------------------------------------------------------------------------

    def receive(self, delivery_id: str, event: Event) -> bool:
        """Keep a webhook's event durably and wake the worker; False for a delivery already received."""
        with self._intake:
            data = {"event": event.data(), "received": self.now(), "seq": time.time_ns()}
            new = self.ledger.receive(delivery_id, data)
        if new:
            self._wake.set()
        return new

    def enqueue(self, message: Message, recipients: list[Recipient]) -> tuple[list[dict], list[dict]]:
        """Put the message's items in the ledger: (items added, items that were already there).

        Under the ledger's lock: another process may be sending the same item
        and moving it to done/ between "is it known?" and the write.
        """
        with self.ledger.lock():
            return self._enqueue(message, recipients)

    def _enqueue(self, message: Message, recipients: list[Recipient]) -> tuple[list[dict], list[dict]]:
        added, known = [], []
        settings = self.settings
        if settings is None:
            return added, known
        now = self.now()
        for item in items_for(message, recipients, settings):
            problem = item.pop("problem", "")
            item.update(
                state=FAILED if problem else QUEUED,
                created=now,
                updated=now,
                tries=0,
                next_try=0.0,
                last_error=problem,
                code="no-address" if problem else "",
                fix=problem,
                held="",
            )
            if self.ledger.add(item):
                added.append(item)
                log.info(
                    "todo id=%s kind=%s channel=%s who=%s state=%s",
                    item["id"],
                    item["kind"],
                    item["channel"],
                    item["who"],
                    item["state"],
                )
            else:
                known.append(self.ledger.get(item["id"]) or item)
        return added, known

    def recover(self) -> None:
        """Items left ``sending`` by a crash: sent again where the provider drops repeats, else failed as uncertain.

        Under the ledger's lock: a sender holds it for the whole call, so an item seen
        ``sending`` here is never one that another process is sending right now.
        """
        with self.ledger.lock():
            for item in self.ledger.finish_moves():
                log.info("todo id=%s: its move to done/ finished after a restart", item["id"])
            for item in self.ledger.waiting():
                if item["state"] == SENDING:
                    self._cut_short(item)

    def _repeat_is_harmless(self, item: dict) -> bool:
        """Whether sending ``item`` again reaches its person once (the provider drops the repeat)."""
        settings = self.settings
        return (
            item["channel"] == "app"
            and settings is not None
            and settings.app is not None
            and app.repeat_is_harmless(settings.app)
        )

    def _cut_short(self, item: dict) -> None:
        if self._repeat_is_harmless(item):
            item.update(state=QUEUED, next_try=0.0)
        else:
            item.update(state=FAILED, code=UNCERTAIN, last_error="发送途中服务中断，结果不明", fix=UNCERTAIN_FIX)
        self.ledger.put(item)
        log.warning("todo id=%s cut short by a restart: now %s", item["id"], item["state"])

    # Turning deliveries into to-dos --------------------------------------------------------------

    def plan(self) -> None:
        """Turn the deliveries that are due into ledger items (deliveries still gathering wait).

        Under the ledger's lock, so that two processes on one data folder never
        both turn the same deliveries into to-dos (a digest of three and one of four).
        """
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            pruned = self.ledger.prune(time.time() - SEEN_DAYS * 86400, time.time() - 86400)
            if pruned:
                log.info("pruned %d delivery markers (older than %d days) and parts of cut writes", pruned, SEEN_DAYS)
        with self.ledger.lock():
            self._plan(self.project(), self.now())

    def _plan(self, project: Project, now: float) -> None:
        gather = float(self.settings.gather_seconds) if self.settings else 0.0
        events = self._events()
        # Comments first: a reviewer's reason that came in the same pass as the 退回 it explains (the label's wait
        # ran out while both waited in the inbox) is kept before the return is told.
        events.sort(key=lambda item: item[1].kind != COMMENT)
        called_off = _called_off(events)
        opened: list[tuple[str, Event, float]] = []
        for name, event, received in events:
            ended = name in called_off or (
                event.kind in (OPENED, RETURNED) and event.merge_request and self.ledger.was_merged(event.merge_request)
            )
            if not ended and event.kind == OPENED and not _reported(event, opened):
                opened.append((name, event, received))
            elif not ended and event.kind == RETURNED and now < received + gather:
                pass  # the reviewer's comment (the reason) often comes just after the label
            else:
                self._take(event, received, project, ended)
                self.ledger.settle(name)
        if opened:
            times = [received for _, _, received in opened]
            if now >= max(times) + gather or now >= min(times) + GATHER_MOST:
                if self.settings is not None:
                    names = {leader.id: leader.name for leader in project.roster.leaders} if project.roster else {}
                    message = digest_message([event for _, event, _ in opened], names)
                    self._enqueue(message, office_recipients(self.settings))
                for name, _, _ in opened:
                    self.ledger.settle(name)

    def _events(self) -> list[tuple[str, Event, float]]:
        """(name, event, when received) of the deliveries in the inbox, in the order they came; damaged ones dropped."""
        events = []
        for name, data in self.ledger.events():
            event = Event.from_data(data["event"])
            if event is None:
                log.warning("webhook event %s is damaged: dropped", name)
                self.ledger.settle(name)
            else:
                events.append((name, event, float(data["received"])))
        return events

    def _take(self, event: Event, received: float, project: Project, ended: bool) -> None:
        """What one delivery that is due comes to (``ended``: called off by a later one, or too late)."""
        number = event.merge_request
        reviewers = {person.login for person in self.settings.office if person.login} if self.settings else set()
        if event.kind == COMMENT:
            if event.author in reviewers:
                self.ledger.keep_note(number, event.reason, received)
            else:  # the leader's own words, or anyone else's, are never given as 思政科's reason
                log.info("comment on !%s by %r: not one of notify.office, not a reason", number, event.author)
        elif ended:
            log.info("merge request !%s: %s called off by a later event", number, event.kind)
        elif event.kind not in (OPENED, UNRETURNED):  # those: a submission reported again; a label taken off
            self._plan_one(event, project)
            if event.kind == MERGED and number:
                self.ledger.mark_merged(number)

    def _plan_one(self, event: Event, project: Project) -> None:
        settings = self.settings
        if settings is None:
            return
        if event.kind == EXPORTED:
            self._enqueue(exported_message(event), office_recipients(settings))
            return
        leader = project.roster.by_id.get(event.leader_id) if project.roster else None
        if leader is None or not leader.active:  # gone: the form no longer lets them in, their number may be another's
            log.info(
                "merge request !%s (%s) names no active leader of the roster: no to-do",
                event.merge_request,
                event.record_id,
            )
            return
        reason = self.ledger.note(event.merge_request) if event.kind == RETURNED else ""
        self._enqueue(leader_message(event, leader, self.config, reason), [leader_recipient(leader, settings)])

    # Sending ----------------------------------------------------------------------------------

    def flush(self, ids: list[str] | None = None, force: bool = False) -> list[dict]:
        """Try every due item (or those ``ids``; ``force`` also those waiting for their backoff); their states after."""
        now = self.now()
        chosen = ids if ids is not None else [i["id"] for i in self.ledger.waiting() if _due(i, now)]
        return [item for item_id in chosen if (item := self.deliver(item_id, force)) is not None]

    def deliver(self, item_id: str, force: bool = False) -> dict | None:
        """One attempt at one item, under the ledger's lock; the item afterwards (None: unknown)."""
        settings = self.settings
        with self.ledger.lock():
            item = self.ledger.get(item_id)
            now = self.now()
            if item is None or item["state"] not in (QUEUED, HELD) or settings is None:
                return item
            if item["state"] == QUEUED and not force and item.get("next_try", 0) > now:
                return item
            if item["channel"] == "sms":
                until, why = self._sms_hold(item, settings, now)
                if until:
                    item.update(state=HELD, next_try=until, held=why, updated=now)
                    self.ledger.put(item)
                    return item
            item.update(state=SENDING, tries=item.get("tries", 0) + 1, updated=now, held="")
            self.ledger.put(item)
            try:
                if item["channel"] == "sms":
                    receipt = sms.send_sms(settings.sms, item)
                else:
                    receipt = app.send_app(settings.app, item)
            except SendError as error:
                self._failed(item, error, self.now())
                return item
            except Exception as error:  # a bug, or an SDK undone by an answer: never left "sending" for ever
                log.exception("todo id=%s: the provider's call failed unexpectedly", item["id"])
                self._failed(item, Uncertain(f"发送时出现意外错误（{type(error).__name__}）", "error"), self.now())
                return item
            item.update(
                state=SENT, sent_at=self.now(), updated=self.now(), receipt=receipt, last_error="", code="", fix=""
            )
            self.ledger.put(item)
        log.info(
            "todo id=%s kind=%s channel=%s who=%s outcome=sent", item["id"], item["kind"], item["channel"], item["who"]
        )
        return item

    def _failed(self, item: dict, error: SendError, now: float) -> None:
        tries = item.get("tries", 1)
        uncertain = isinstance(error, Uncertain)
        if uncertain and not self._repeat_is_harmless(item):  # at most once: a person checks, then retries
            item.update(
                state=FAILED, next_try=0.0, last_error=str(error), code=UNCERTAIN, fix=UNCERTAIN_FIX, updated=now
            )
        elif (error.transient or uncertain) and tries < MAX_TRIES:
            delay = min(FIRST_DELAY * 2 ** (tries - 1), MAX_DELAY)
            item.update(state=QUEUED, next_try=now + delay, last_error=str(error), code=error.code, updated=now)
        else:
            fix = error.fix or EXHAUSTED_FIX
            item.update(state=FAILED, next_try=0.0, last_error=str(error), code=error.code, fix=fix, updated=now)
        self.ledger.put(item)
        log.warning(
            "todo id=%s kind=%s channel=%s who=%s outcome=%s tries=%d code=%s: %s",
            item["id"],
            item["kind"],
            item["channel"],
            item["who"],
            item["state"],
            tries,
            error.code,
            " ".join(str(error).split()),
        )

    def _sms_hold(self, item: dict, settings: NotifySettings, now: float) -> tuple[float, str]:
        """(until when, why) an SMS must wait: the quiet hours, then the number's limits; (0, '') to send now."""
        zone = dates.zone(self.config.timezone)
        local = datetime.datetime.fromtimestamp(now, zone)
        window = settings.quiet_window()
        if window and _within(local.time(), *window):
            end = datetime.datetime.combine(local.date(), window[1], zone)
            if end <= local:
                end += datetime.timedelta(days=1)
            return end.timestamp(), f"{HOLD_WORDS['quiet']}，{window[1].strftime('%H:%M')} 后发送"
        limits = settings.sms.limits
        sent = sorted(
            i.get("sent_at", 0)
            for i in self.ledger.finished(since_mtime=time.time() - 2 * 86400)
            if i["channel"] == "sms" and i["state"] == SENT and i.get("mobile") == item["mobile"]
        )
        for span, most, label in (
            (60, limits.per_minute, "每分钟"),
            (3600, limits.per_hour, "每小时"),
            (86400, limits.per_day, "每天"),
        ):
            recent = [t for t in sent if t > now - span]
            if len(recent) >= most:
                until = recent[-most] + span
                when = dates.shown(datetime.datetime.fromtimestamp(until, datetime.UTC), self.config.timezone)
                return until, f"{HOLD_WORDS['limit']}（{label}最多 {most} 条），{when} 后发送"
        return 0.0, ""

    # A person's commands ----------------------------------------------------------------------

    def retry(self, item_id: str) -> dict | None:
        """Put a failed (or waiting) item back in the queue and try it once now; the item afterwards."""
        with self.ledger.lock():
            item = self.ledger.get(item_id)
            if item is None or item["state"] in (SENT, DISMISSED, SENDING):
                return item
            item.update(state=QUEUED, tries=0, next_try=0.0, last_error="", code="", fix="", updated=self.now())
            self.ledger.put(item)
        return self.deliver(item_id, force=True)

    def dismiss(self, item_id: str) -> dict | None:
        """Give up on an item a person decided not to send (it leaves the failed list); the item afterwards."""
        with self.ledger.lock():
            item = self.ledger.get(item_id)
            if item is None or item["state"] in (SENT, DISMISSED, SENDING):
                return item
            item.update(state=DISMISSED, updated=self.now())
            self.ledger.put(item)
            return item

    def health(self) -> dict:
        """Counts for /healthz, without personal data: failed items need a person."""
        waiting = self.ledger.waiting()
        now = self.now()
        pending = [i for i in waiting if i["state"] in (QUEUED, HELD, SENDING)]
        oldest = min((i.get("created", now) for i in pending), default=now)
        return {
            "todos_failed": sum(i["state"] == FAILED for i in waiting),
            "todos_waiting": len(pending),
            "todos_held": sum(i["state"] == HELD for i in waiting),
            "todos_oldest_waiting_seconds": round(now - oldest),
            "webhook_events_waiting": len(self.ledger.events()),
        }

    # The worker thread -----------------------------------------------------------------------

    def start(self) -> None:
        """Send what the ledger holds (e.g. after a restart), then keep planning and sending as events arrive."""
        if self._worker is None:
            self._stop.clear()
            self._worker = threading.Thread(target=self._run, name="liaison-notify", daemon=True)
            self._worker.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker:
            self._worker.join(timeout=60)
            self._worker = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.plan()
                if not self._stop.is_set():
                    self.flush()
            except Exception:  # a bug or a broken file must not end the worker: logged, tried again later
                log.exception("the to-do worker failed; trying again")
            self._wake.wait(timeout=self._sleep())
            self._wake.clear()

    def _sleep(self) -> float:
        """Seconds until something may be due: an item's next try, a gathering delivery's end."""
        now = self.now()
        gather = float(self.settings.gather_seconds) if self.settings else 0.0
        due = [i.get("next_try", 0) for i in self.ledger.waiting() if i["state"] in (QUEUED, HELD)]
        due += [float(data.get("received", 0)) + gather for _, data in self.ledger.events()]
        return max(0.05, min([LONGEST_SLEEP, *(t - now for t in due)]))


def _called_off(events: list[tuple[str, Event, float]]) -> set[str]:
    """The deliveries still waiting (a submission, a sending back) that a later one of the same merge request ends.

    Reopened after a close, merged after the 退回 label, the label taken off
    again, closed before 思政科 was told of it: the person hears only of the
    state the merge request is in now.
    """
    waiting: dict[int, str] = {}
    ended = set()
    for name, event, _ in events:
        if not event.merge_request or event.kind in (COMMENT, EXPORTED):
            continue
        if event.merge_request in waiting:
            ended.add(waiting.pop(event.merge_request))
        if event.kind in (OPENED, RETURNED):
            waiting[event.merge_request] = name
    return ended


def _reported(event: Event, opened: list[tuple[str, Event, float]]) -> bool:
    """Whether the same submission (merge request and version) is already among ``opened``: reported again."""
    return any((e.merge_request, e.version) == (event.merge_request, event.version) for _, e, _ in opened)


def _due(item: dict, now: float) -> bool:
    return item["state"] in (QUEUED, HELD) and item.get("next_try", 0) <= now


def _within(moment: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    """Whether a wall-clock time is in [start, end), the window possibly wrapping midnight."""
    return start <= moment < end if start <= end else moment >= start or moment < end


def open_notifier(data_dir, project: Callable[[], Project]) -> Notifier:
    """The Notifier of a data folder (the form's ``<data>/notify``)."""
    from pathlib import Path

    return Notifier(Path(data_dir) / "notify", project)
