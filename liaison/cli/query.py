"""``python build.py query``: one leader's (or every leader's) records in a range, as text, JSON or CSV."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, exit_with, format_option, leader_options, range_options, said, say, say_verdict
from liaison.core.atomic import write_atomic
from liaison.core.project import Project
from liaison.core.query import QueryError
from liaison.outputs import formats
from liaison.outputs.listing import Listing, query_records


@command()
@leader_options("领导干部的姓名、拼音或拼音首字母（如 zm）；不填则查询全部领导干部。")
@range_options
@click.option(
    "--order",
    type=click.Choice(["asc", "desc"]),
    default="asc",
    show_default=True,
    help="asc：按日期从早到晚；desc：从晚到早。",
)
@format_option(
    ["table", "brief", "json", "csv"],
    "table：逐条列出全部内容；brief：每条记录一行的简表；json、csv：供其他程序或 Excel 使用。",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写到这个文件而不是屏幕。csv 文件以 UTF-8 BOM 开头，Excel、WPS 直接打开不乱码；"
    "输出到屏幕（标准输出）时不带 BOM，供管道中的程序读取。",
)
def query(
    project: Project, date_range, name: str | None, leader_id: str | None, order: str, fmt: str, out: Path | None
) -> None:
    """查询联系记录：某位领导干部或全部领导干部，在某段时间内的全部记录。

    \b
    示例：
      python build.py query --leader 赵敏 --semester 2025-2026-1
      python build.py query --from 2025-09-01 --to 2025-12-31 --order desc
      python build.py query --leader 张伟 --leader-id T2015004 --format json
      python build.py query --semester 2025-2026-1 --format csv --out 联系记录.csv
    """
    with said(QueryError):
        listing = query_records(project, date_range, name, leader_id, newest_first=order == "desc")
    say_verdict(listing.verdict, "查询结果")
    text = _text(listing, project, date_range, order, fmt)
    if out is None:
        say(text, nl=False, as_json=fmt == "json")
    else:
        write_atomic(out, formats.file_bytes(text, fmt))
        say(f"已写出 {out}（{len(listing.records)} 条记录）。")
    exit_with(listing.verdict.exit_code)


def _text(listing: Listing, project: Project, date_range, order: str, fmt: str) -> str:
    if fmt == "json":
        return formats.as_json(listing.records, project.schema)
    if fmt == "csv":
        return formats.as_csv(listing.records, project.schema)
    who = listing.leaders[0].display if listing.leaders else "全部领导干部"
    direction = "从晚到早" if order == "desc" else "从早到晚"
    heading = f"{who} · {date_range.description} · 共 {len(listing.records)} 条记录 · 按日期{direction}"
    if fmt == "brief":
        return formats.as_brief(listing.records, heading, "要看每条记录的全部内容，去掉 --format brief 再运行一次。")
    return formats.as_text(listing.records, project.schema, heading) + "\n"
