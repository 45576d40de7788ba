"""``python build.py history``: every change to one record — who, when, through which merge request, what changed."""

from __future__ import annotations

import json

import click

from liaison.cli.shared import UserError, command, format_option, project_of, said, say
from liaison.core import dates
from liaison.core.config import Config
from liaison.git.repo import ShallowClone
from liaison.outputs.historytext import change_json, change_text, whole_record_history


@command()
@click.argument("record", metavar="记录")
@format_option(["table", "json"], "table：逐次列出；json：供其他程序使用。")
@click.pass_context
def history(ctx: click.Context, record: str, fmt: str) -> None:
    """一条记录的全部历史：谁在何时新增、修改、移动或删除了它，经哪个合并请求，改了哪些项目。

    记录：记录编号或文件路径（改过日期而移动过的记录也能找到）。按时间从早到晚列出。

    \b
    示例：
      python build.py history 2025-11-12-T2012003-403e34
      python build.py history records/2025/2025-11-12-T2012003-403e34.yaml --format json
    """
    project = project_of(ctx)
    # A broken config.yaml does not hide the history: the default zone and branch name stand in.
    config = project.config or Config(school="", office="")
    main = config.web.target_branch
    with said(ShallowClone):
        changes = whole_record_history(project.root, project.schema, record.strip(), main)
    if not changes:
        raise UserError(f"Git 历史中找不到记录“{record}”。请核对记录编号或路径（如 records/2025/…yaml）。")
    zone = config.timezone
    if fmt == "json":
        say(json.dumps([change_json(c, zone) for c in changes], ensure_ascii=False, indent=2), as_json=True)
        return
    leader = changes[-1].data.get("leader", "")
    title = f"记录 {changes[-1].record_id}（{leader}）的历史，共 {len(changes)} 次改动，从早到晚"
    say(f"{title}（{dates.zone_title(zone)}）：")
    for number, change in enumerate(changes, 1):
        say("\n".join(change_text(number, change, zone)))
