"""``python build.py notify``: the to-dos' ledger (短信 and the campus app) — list it, retry or dismiss one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from liaison.cli.shared import command, data_option, exit_with, format_option, project_of, said, say

KINDS = {
    "reminder": "提醒填写",
    "approved": "已通过",
    "returned": "需要修改",
    "pending": "待审核",
    "exported": "导出已完成",
}
CHANNELS = {"sms": "短信", "app": "校园APP"}


@command()
@data_option()
@click.option("--retry", "retry", metavar="编号", help="把这一条待办重新排队并立即尝试发送一次。")
@click.option("--dismiss", metavar="编号", help="放弃这一条失败的待办（不再发送，也不再计入健康检查的失败数）。")
@format_option(["table", "json"])
@click.pass_context
def notify(ctx: click.Context, data: Path | None, retry: str | None, dismiss: str | None, fmt: str) -> None:
    """待办（短信与校园 APP）的发送记录：每一条发给谁、什么状态、失败的原因和处理办法；重发或放弃一条。

    有失败的待办时退出码为 1。各环节的待办与服务商的设置见 docs/notify.md。

    \b
    示例：
      python build.py notify
      python build.py notify --format json
      python build.py notify --retry 0123456789abcdef01234567
      python build.py notify --dismiss 0123456789abcdef01234567
    """
    from liaison.notify.admin import Acted, notify_command
    from liaison.notify.todoledger import FAILED, STATES

    project = project_of(ctx)
    with said(ValueError):
        answer = notify_command(project, data, retry, dismiss)
    if isinstance(answer, Acted):
        item = answer.item
        line = f"{item['id']}（{'重发' if answer.retried else '放弃'}）：{STATES.get(item['state'], item['state'])}"
        if item["state"] == FAILED:
            line += f"。{item.get('last_error', '')}。{item.get('fix', '')}"
        elif item.get("held"):
            line += f"（{item['held']}）"
        say(line)
    elif fmt == "json":
        say(json.dumps(answer.rows, ensure_ascii=False, indent=2), as_json=True)
    else:
        say(_table(answer.rows, FAILED, STATES))
    exit_with(0 if answer.ok else 1)


def _table(rows: list[dict], failed_state: str, states: dict[str, str]) -> str:
    if not rows:
        return "还没有待办。表单服务（python build.py serve）和 python build.py remind --send 发出的短信、APP 消息会列在这里。"
    failed = sum(row["state"] == failed_state for row in rows)
    lines = [f"共 {len(rows)} 条待办，其中失败 {failed} 条："]
    for row in rows:
        when = row["sent_at"] or row["created"]
        lines.append(
            f"{row['id']}  {when[:16].replace('T', ' ')}  {KINDS.get(row['kind'], row['kind'])}  "
            f"{CHANNELS.get(row['channel'], row['channel'])}  {row['to']}  {states.get(row['state'], row['state'])}"
            + (f"（{row['held']}）" if row["held"] and row["state"] != "sent" else "")
        )
        if row["state"] == failed_state:
            lines.append(f"    {row['last_error']}")
            lines.append(f"    处理：{row['fix']}")
    return "\n".join(lines)
