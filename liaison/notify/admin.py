"""``build.py notify``: the administrator's view of the to-dos' ledger: list, retry one, dismiss one."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from liaison.core.project import Project

from .todoledger import FAILED
from .worker import Notifier, open_notifier


def open_for(project: Project, data_dir: Path | None) -> Notifier:
    data_dir = Path(data_dir or project.data_dir)
    if not (data_dir / "notify").is_dir():
        raise ValueError(f"{data_dir} 中没有待办记录（notify/）。请用 --data 指定表单服务（或 remind）的数据目录。")
    return open_notifier(data_dir, lambda: project)


def rows(notifier: Notifier) -> list[dict]:
    """Every item of the ledger, waiting first then done, oldest first, with local times."""
    zone = notifier.config.timezone
    found = []
    for item in notifier.ledger.waiting() + notifier.ledger.finished():
        found.append(
            {
                "id": item["id"],
                "kind": item["kind"],
                "channel": item["channel"],
                "to": item["name"],
                "state": item["state"],
                "tries": item.get("tries", 0),
                "created": _when(item.get("created"), zone),
                "sent_at": _when(item.get("sent_at"), zone),
                "next_try": _when(item.get("next_try"), zone),
                "held": item.get("held", ""),
                "code": item.get("code", ""),
                "last_error": item.get("last_error", ""),
                "fix": item.get("fix", ""),
                "template_params": dict(item.get("params") or ()),
                "url": item.get("url", ""),
            }
        )
    return found


def _when(epoch, zone: str) -> str:
    if not epoch:
        return ""
    from liaison.core import dates

    return dates.stamped(datetime.datetime.fromtimestamp(float(epoch), datetime.UTC), zone)


@dataclass
class Listed:
    """The ledger, as :func:`rows` gives it."""

    rows: list[dict]

    @property
    def ok(self) -> bool:
        return not any(row["state"] == FAILED for row in self.rows)


@dataclass
class Acted:
    """One item after ``--retry`` (``retried``) or ``--dismiss``."""

    item: dict
    retried: bool

    @property
    def ok(self) -> bool:
        return self.item["state"] != FAILED


def notify_command(project: Project, data_dir: Path | None, retry: str | None, dismiss: str | None) -> Listed | Acted:
    """``build.py notify`` with its options: retry or dismiss one item, else list the ledger.

    Raises ValueError (Chinese) when there is no ledger or no such item. Where no form service or
    reminder round has run yet (no ``.liaison/notify/`` in the repository), the list is empty.
    """
    if retry is None and dismiss is None and data_dir is None and not (project.data_dir / "notify").is_dir():
        return Listed([])
    notifier = open_for(project, data_dir)
    for wanted, action in ((retry, notifier.retry), (dismiss, notifier.dismiss)):
        if wanted is None:
            continue
        item = action(wanted.strip())
        if item is None:
            raise ValueError(f"待办记录中没有“{wanted}”。请用 python build.py notify 查看编号。")
        return Acted(item, action == notifier.retry)
    return Listed(rows(notifier))
