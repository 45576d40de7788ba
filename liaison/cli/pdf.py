"""``python build.py pdf``: the record form's PDF of each record in a range, one folder per leader."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import (
    UserError,
    command,
    exit_with,
    leader_options,
    range_options,
    render_options,
    said,
    say,
    say_verdict,
)
from liaison.core.project import Project
from liaison.core.query import QueryError
from liaison.outputs.pdf import OutputDirError
from liaison.outputs.pdf.folder import pdf_folder


@command()
@leader_options("只生成这位领导干部的记录（姓名、拼音或拼音首字母）；不填则为全部。")
@range_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="输出目录（默认为仓库中的 export/pdf）；其中每位领导干部一个文件夹。",
)
@render_options
@click.option(
    "--shard", metavar="第几份/共几份", help="只生成第 I 份（共 N 份，按记录编号的哈希分配），供 CI 多个作业并行。"
)
@click.option("--prune-cache", is_flag=True, help="从缓存中删除本次未用到的 PDF（CI 缓存不再增长）。")
def pdf(
    project: Project,
    date_range,
    name: str | None,
    leader_id: str | None,
    out: Path | None,
    cache: Path | None,
    jobs: int | None,
    shard: str | None,
    prune_cache: bool,
) -> None:
    """生成联系记录表 PDF：每条记录一份，按领导干部分文件夹存放。

    文件名为 <联系日期>_<联系对象>.pdf；PDF 为 PDF/A-3b 归档格式，内嵌原始记录（YAML）。

    \b
    示例：
      python build.py pdf --semester 2025-2026-1
      python build.py pdf --leader 赵敏 --from 2025-09-01 --to 2025-12-31 --out 赵敏的记录
      python build.py pdf --shard 1/2 --prune-cache
    """
    which = _parse_shard(shard) if shard else None
    with said(QueryError, OutputDirError):
        done = pdf_folder(project, date_range, out, cache, jobs, name, leader_id, which, prune_cache)
    say_verdict(done.verdict, "PDF")
    for warning in done.build.warnings:
        say(warning, err=True)
    part = f"第 {shard} 份，" if shard else ""
    say(
        f"{date_range.description}：{part}共 {len(done.records)} 份 PDF（新生成 {done.build.rendered} 份，"
        f"沿用缓存 {done.build.cached} 份），保存在 {done.out}"
    )
    if done.pruned is not None:
        say(f"已从缓存删除 {done.pruned} 份不再需要的 PDF。")
    exit_with(done.verdict.exit_code)


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard 应写成 I/N，如 1/2，而不是“{text}”。") from None
    if not 1 <= index <= total:
        raise UserError(f"--shard {text}：I 应在 1 到 N 之间。")
    return index, total
