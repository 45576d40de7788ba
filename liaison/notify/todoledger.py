"""The to-dos' ledger on disk: every to-do a file of its own, every change of state one atomic write.

Like the outbox (and Postfix's queue), each item carries its own state, so
one that cannot be sent never holds back the others::

    <data>/notify/inbox/<event>.json   a webhook delivery not yet turned into to-dos (named by its UUID's hash)
    <data>/notify/seen/<event>         a delivery already turned into to-dos: the same UUID again is a replay
    <data>/notify/todo/<item>.json     a to-do for one person by one channel: queued, held, sending or failed
    <data>/notify/done/<item>.json     sent (or dismissed by a person): kept, so the same state is never sent twice
    <data>/notify/notes/<mr>.json      the last comment of 思政科 on a merge request: the reason of a sending back
    <data>/notify/merged/<mr>          a merge request merged: a late "opened" or "sent back" of it is nothing

An item's name is a hash of (to-do key, channel, person), so the same state
of the same record reported twice is the same file. Every write is
``write_durably`` (temporary file, fsync, rename); an item leaves todo/ for
done/ by one rename, after its final state is written: a crash leaves it in
one place or the other, whole (a final state still in todo/ is moved on by
:meth:`ToDoLedger.finish_moves` at the next start). The markers in seen/
are pruned after :data:`SEEN_DAYS`: GitLab redelivers within days, and an
event replayed later still finds its to-dos in done/; the part of a write a
crash cut short, after a day.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

from liaison.core.atomic import TEMPORARY_PREFIX, write_durably

QUEUED, HELD, SENDING, SENT, FAILED, DISMISSED = "queued", "held", "sending", "sent", "failed", "dismissed"
SEEN_DAYS = 30
ITEM_ID = re.compile(r"[0-9a-f]{24}")
STATES = {
    QUEUED: "待发送",
    HELD: "暂缓",
    SENDING: "发送中",
    SENT: "已发送",
    FAILED: "失败",
    DISMISSED: "已放弃",
}


def event_name(delivery_id: str) -> str:
    """The inbox's file name for a webhook delivery: its UUID never names a file itself."""
    return hashlib.sha256(delivery_id.encode("utf-8")).hexdigest()[:32]


class ToDoLedger:
    """The folders under ``<data>/notify`` (see the module's docstring)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.inbox, self.seen = self.folder / "inbox", self.folder / "seen"
        self.todo, self.done, self.notes = self.folder / "todo", self.folder / "done", self.folder / "notes"
        self.merged = self.folder / "merged"
        for path in (self.inbox, self.seen, self.todo, self.done, self.notes, self.merged):
            path.mkdir(parents=True, exist_ok=True)

    # Webhook deliveries --------------------------------------------------------------

    def receive(self, delivery_id: str, data: dict) -> bool:
        """Keep a delivery durably unless its UUID was seen; whether it is new. Callers serialise (a lock)."""
        name = event_name(delivery_id)
        if (self.inbox / f"{name}.json").exists() or (self.seen / name).exists():
            return False
        write_durably(self.inbox / f"{name}.json", _encode(data))
        return True

    def events(self) -> list[tuple[str, dict]]:
        """(name, data) of the deliveries waiting to be turned into to-dos, oldest first."""
        found = []
        for path in self.inbox.glob("*.json"):
            data = _read(path)
            if (
                data is not None
                and isinstance(data.get("event"), dict)
                and isinstance(data.get("received"), int | float)
            ):
                found.append((path.stem, data))
            elif data is not None:  # damaged: nothing can be made of it, and it must not stop the others
                self.settle(path.stem)
        # "received" is the service's clock, to the second; "seq" (nanoseconds) orders deliveries within one.
        return sorted(found, key=lambda pair: (pair[1]["received"], _ordinal(pair[1].get("seq")), pair[0]))

    def settle(self, name: str) -> None:
        """The delivery is turned into to-dos: remember its UUID (a replay sends nothing), drop the event."""
        write_durably(self.seen / name, b"")
        (self.inbox / f"{name}.json").unlink(missing_ok=True)

    def prune(self, seen_before: float, parts_before: float) -> int:
        """Forget the deliveries settled before ``seen_before``, and remove the parts of writes a crash cut
        short (temporary files) from before ``parts_before`` (epoch seconds, the files' times); how many."""
        pruned = _remove_older(self.seen, seen_before, lambda name: True)
        for folder in (self.inbox, self.seen, self.todo, self.done, self.notes, self.merged):
            # Only old parts: another process may be writing a fresh one right now.
            pruned += _remove_older(folder, parts_before, lambda name: name.startswith(TEMPORARY_PREFIX))
        return pruned

    def mark_merged(self, merge_request: int) -> None:
        write_durably(self.merged / str(int(merge_request)), b"")

    def was_merged(self, merge_request: int) -> bool:
        return (self.merged / str(int(merge_request))).exists()

    def keep_note(self, merge_request: int, text: str, when: float) -> None:
        write_durably(self.notes / f"{int(merge_request)}.json", _encode({"text": text, "when": when}))

    def note(self, merge_request: int) -> str:
        """The last comment on the merge request, or ''."""
        data = _read(self.notes / f"{int(merge_request)}.json") or {}
        return data.get("text", "")

    # To-do items ------------------------------------------------------------------------

    def known(self, item_id: str) -> bool:
        return (self.todo / f"{item_id}.json").exists() or (self.done / f"{item_id}.json").exists()

    def add(self, item: dict) -> bool:
        """Keep a new item durably; False (nothing written) when the same item exists, waiting or done."""
        if self.known(item["id"]):
            return False
        write_durably(self.todo / f"{item['id']}.json", _encode(item))
        return True

    def get(self, item_id: str) -> dict | None:
        """The item, waiting or done; None for an unknown or malformed id (or a damaged file)."""
        if not ITEM_ID.fullmatch(item_id or ""):
            return None
        for folder in (self.todo, self.done):
            item = _read(folder / f"{item_id}.json")
            if _whole(item, item_id):
                return item
        return None

    def put(self, item: dict) -> None:
        """Write a waiting item's new state; a final state (sent, dismissed) moves it to done/ by one rename."""
        path = self.todo / f"{item['id']}.json"
        write_durably(path, _encode(item))
        if item["state"] in (SENT, DISMISSED):
            os.replace(path, self.done / f"{item['id']}.json")

    def finish_moves(self) -> list[dict]:
        """Items whose final state was written but which a crash kept from done/: moved there now."""
        moved = [item for item in _sorted(self.todo) if item["state"] in (SENT, DISMISSED)]
        for item in moved:
            os.replace(self.todo / f"{item['id']}.json", self.done / f"{item['id']}.json")
        return moved

    def waiting(self) -> list[dict]:
        """Every item not yet sent (queued, held, sending, failed), oldest first."""
        return _sorted(self.todo)

    def finished(self, since_mtime: float = 0.0) -> list[dict]:
        """Items sent or dismissed (their file written at or after ``since_mtime``, epoch seconds), oldest first."""
        return _sorted(self.done, since_mtime)

    @contextmanager
    def lock(self):
        """One sender at a time across threads and processes (the service, ``build.py notify``, ``remind``)."""
        with open(self.folder / "send.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_older(folder: Path, before: float, chosen) -> int:
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if chosen(entry.name) and entry.stat().st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # removed by another process meanwhile
                pass
    return removed


def _ordinal(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _encode(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _read(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is gone (moved meanwhile) or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _whole(item: dict | None, name: str) -> bool:
    """Whether a file read back is an item the worker can handle; anything else is left alone, never a crash."""
    return (
        isinstance(item, dict)
        and item.get("id") == name
        and item.get("state") in STATES
        and item.get("channel") in ("sms", "app")
        and all(isinstance(item.get(key), str) for key in ("kind", "key", "who", "name", "login", "mobile"))
        and isinstance(item.get("created", 0), int | float)
        and isinstance(item.get("next_try", 0), int | float)
    )


def _sorted(folder: Path, since_mtime: float = 0.0) -> list[dict]:
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(".json") or not ITEM_ID.fullmatch(entry.name[:-5]):
                continue
            if since_mtime and entry.stat().st_mtime < since_mtime:
                continue
            item = _read(Path(entry.path))
            if _whole(item, entry.name[:-5]):
                found.append(item)
    return sorted(found, key=lambda item: (item.get("created", 0), item["id"]))
