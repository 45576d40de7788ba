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
@click.option(
    "--by-merge-date",
    is_flag=True,
    help="按改动进入主分支的时间筛选（不论记录的联系时间）；默认按记录的联系时间。",
)
@format_option(["xlsx", "csv", "json"], "审计日志的格式。")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写到哪个文件（默认 xlsx 为 export/审计日志-<范围>.xlsx；csv、json 不填则输出到屏幕）。",
)
def audit(project: Project, date_range, by_merge_date: bool, fmt: str, out: Path | None) -> None:
    """审计日志：某段时间内联系记录的每一次改动，并标出值得核查的改动。

    默认按记录的联系时间：--semester 2025-2026-1 列出联系时间在这个学期内的每条记录的全部改动，
    不论改动何时发生（改过日期而移入、移出这个学期的记录也在内）。加 --by-merge-date 则改为列出
    这段时间内进入主分支的全部改动，不论记录的日期。不加范围列出全部改动。

    每次改动一行：时间（进入主分支的时间）、操作（新增/修改/删除/移动）、记录、领导、作者、提交者、
    合并人与合并请求，来源（表单签名 / 合并请求 / 两者都不是）。提示列标出：作者不是该领导本人
    （按邮箱或表单签名的登录名，不按姓名）；未经合并请求；在合并提交中直接修改；签名问题；
    修改已关闭学期的记录；删除记录；修改签名者名单 allowed_signers。详见 docs/audit.md。

    \b
    示例：
      python build.py audit --semester 2025-2026-1
      python build.py audit --semester 2025-2026-1 --by-merge-date
      python build.py audit --from 2025-09-01 --to 2025-12-31 --format csv --out 审计日志.csv
    """
    from liaison.git.repo import ShallowClone
    from liaison.outputs.auditlog import audit as audit_log

    with said(ShallowClone):
        log = audit_log(project, date_range, fmt, by_merge_date)
    say_verdict(log.verdict, "审计日志的“领导姓名”列（其改动仍全部列出）")
    if fmt == "xlsx":
        out = out or project.root / "export" / f"审计日志-{safe_filename(date_range.title)}.xlsx"
    summary = f"审计日志（{log.scope}）：{date_range.description}，{log.counted}，其中 {log.flagged} 次需要核查。"
    if out is None:
        say(log.data.decode("utf-8-sig"), nl=False, as_json=fmt == "json")
        say(summary + (f"\n{log.note}" if log.note else ""), err=True)  # stdout carries the data only
    else:
        write_atomic(out, log.data)
        say(f"{summary}已写入 {out}" + (f"\n{log.note}" if log.note else ""))
    exit_with(log.verdict.exit_code)
