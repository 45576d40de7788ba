"""``python build.py outbox``: the form's undelivered records — list them, retry one, move them to a new machine."""

from __future__ import annotations

import json
from pathlib import Path

import click

from liaison.cli.shared import command, data_option, exit_with, format_option, project_of, said, say

STATES = {"pending": "待同步", "deferred": "推迟重试", "needs-attention": "待人工处理", "sent": "已送达"}


@command()
@data_option()
@click.option("--retry", "retry", metavar="令牌", help="把这一条重新设为待同步并立即尝试提交一次。")
@click.option(
    "--export", "export_to", type=click.Path(dir_okay=False, path_type=Path), help="把未送达的记录导出到文件。"
)
@click.option(
    "--import", "import_from", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="导入导出的文件。"
)
@format_option(["table", "json"])
@click.pass_context
def outbox(ctx: click.Context, data: Path | None, retry: str | None, export_to, import_from, fmt: str) -> None:
    """表单服务的待同步记录：列出待同步、待人工处理的记录（等待时间、上次错误），重试一条，迁移到新机器。

    \b
    示例：
      python build.py outbox --format json
      python build.py outbox --retry 0123456789abcdef0123456789abcdef
      python build.py outbox --export 待同步.json     # 旧机器上
      python build.py outbox --import 待同步.json     # 新机器上（重复导入不会产生重复记录）
    """
    from liaison.submit.admin import Exported, Imported, Listed, Retried, outbox_command

    project = project_of(ctx)
    with said(ValueError):
        answer = outbox_command(project, data, retry, export_to, import_from)
    if isinstance(answer, Imported):
        say(f"已导入 {answer.added} 条记录，{answer.known} 条原本就有（未重复导入）。表单服务运行时会自动提交。")
    elif isinstance(answer, Exported):
        say(f"已导出 {answer.count} 条未送达的记录到 {answer.path}。")
    elif isinstance(answer, Retried):
        state = answer.state
        say(
            f"{answer.token}：{STATES.get(state.state, state.state)}"
            + (f"（{state.last_error}）" if state.last_error else "")
        )
    elif isinstance(answer, Listed) and fmt == "json":
        say(json.dumps(answer.rows, ensure_ascii=False, indent=2), as_json=True)
    else:
        say(_table(answer.rows))
    exit_with(0 if answer.ok else 1)


def _table(rows: list[dict]) -> str:
    if not rows:
        return "没有待同步的记录。"
    lines = [f"共 {len(rows)} 条未送达："]
    for row in rows:
        age = row["age_seconds"] or 0
        lines.append(
            f"{row['token']}  {row['record_id']}  {STATES.get(row['state'], row['state'])}  "
            f"已等待 {age // 3600} 小时 {age % 3600 // 60} 分  尝试 {row['tries']} 次"
            + (f"\n    上次错误：{row['last_error']}" if row["last_error"] else "")
        )
    return "\n".join(lines)
