"""``python build.py audit``: every change to the records in a range, with what deserves a look."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, exit_with, format_option, range_options, said, say, say_verdict
from liaison.core.atomic import write_atomic
from liaison.core.filenames import safe_filename
from liaison.core.project import Project


@command()
@range_options
@format_option(["xlsx", "csv", "json"], "审计日志的格式。")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写到哪个文件（默认 xlsx 为 export/审计日志-<范围>.xlsx；csv、json 不填则输出到屏幕）。",
)
def audit(project: Project, date_range, fmt: str, out: Path | None) -> None:
    """审计日志：某段时间内（按进入主分支的时间）对联系记录的每一次改动，并标出值得核查的改动。

    每次改动一行：时间、操作（新增/修改/删除/移动）、记录、领导、作者、提交者、合并人与合并请求，
    来源（表单签名 / 合并请求 / 两者都不是）。提示列标出：作者不是该领导本人（按邮箱或表单签名的登录名，
    不按姓名）；未经合并请求；在合并提交中直接修改；签名问题；修改已关闭学期的记录；删除记录；
    修改签名者名单 allowed_signers。详见 docs/audit.md。

    \b
    示例：
      python build.py audit --semester 2025-2026-1
      python build.py audit --from 2025-09-01 --to 2025-12-31 --format csv --out 审计日志.csv
    """
    from liaison.outputs.auditlog import audit as audit_log

    with said():
        log = audit_log(project, date_range, fmt)
    say_verdict(log.verdict, "审计日志的“领导姓名”列（其改动仍全部列出）")
    if fmt == "xlsx":
        out = out or project.root / "export" / f"审计日志-{safe_filename(date_range.title)}.xlsx"
    if out is None:
        say(log.data.decode("utf-8-sig"), nl=False, as_json=fmt == "json")
    else:
        write_atomic(out, log.data)
        say(f"审计日志：{date_range.description}，{len(log.rows)} 次改动，其中 {log.flagged} 次需要核查。已写入 {out}")
    exit_with(log.verdict.exit_code)
