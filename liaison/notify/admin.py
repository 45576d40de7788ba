"""``build.py notify``: the administrator's view of the to-dos' ledger: list, retry one, dismiss one."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from liaison.core.project import Project

from .todoledger import FAILED, STATES
from .worker import Notifier, open_notifier

KINDS = {
    "reminder": "提醒填写",
    "approved": "已通过",
    "returned": "需要修改",
    "pending": "待审核",
    "exported": "导出已完成",
}
CHANNELS = {"sms": "短信", "app": "校园APP"}


def open_for(project: Project, data_dir: Path | None) -> Notifier:
    data_dir = Path(data_dir or project.root / ".liaison")
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

    return datetime.datetime.fromtimestamp(float(epoch), dates.zone(zone)).isoformat()


def notify_command(
    project: Project, data_dir: Path | None, retry: str | None, dismiss: str | None, fmt: str
) -> tuple[str, bool]:
    """(what to print, success) for ``build.py notify`` with its options."""
    notifier = open_for(project, data_dir)
    for wanted, action, verb in ((retry, notifier.retry, "重发"), (dismiss, notifier.dismiss, "放弃")):
        if wanted is None:
            continue
        item = action(wanted.strip())
        if item is None:
            raise ValueError(f"待办记录中没有“{wanted}”。请用 python build.py notify 查看编号。")
        line = f"{item['id']}（{verb}）：{STATES.get(item['state'], item['state'])}"
        if item["state"] == FAILED:
            line += f"。{item.get('last_error', '')}。{item.get('fix', '')}"
        elif item.get("held"):
            line += f"（{item['held']}）"
        return line, item["state"] != FAILED
    found = rows(notifier)
    ok = not any(row["state"] == FAILED for row in found)
    if fmt == "json":
        return json.dumps(found, ensure_ascii=False, indent=2) + "\n", ok
    return table(found), ok


def table(found: list[dict]) -> str:
    if not found:
        return "还没有待办。"
    failed = sum(row["state"] == FAILED for row in found)
    lines = [f"共 {len(found)} 条待办，其中失败 {failed} 条："]
    for row in found:
        when = row["sent_at"] or row["created"]
        lines.append(
            f"{row['id']}  {when[:16].replace('T', ' ')}  {KINDS.get(row['kind'], row['kind'])}  "
            f"{CHANNELS.get(row['channel'], row['channel'])}  {row['to']}  {STATES.get(row['state'], row['state'])}"
            + (f"（{row['held']}）" if row["held"] and row["state"] != "sent" else "")
        )
        if row["state"] == FAILED:
            lines.append(f"    {row['last_error']}")
            lines.append(f"    处理：{row['fix']}")
    return "\n".join(lines)
