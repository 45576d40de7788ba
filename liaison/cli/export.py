"""``python build.py export``: the office's export of a semester or range: PDFs by leader, the workbook, a zip."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import UserError, command, exit_with, range_options, render_options, said, say, say_verdict
from liaison.core.project import Project
from liaison.outputs.pdf import OutputDirError, default_cache_dir


@command()
@range_options
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="导出到哪个目录（默认为仓库中的 export/）。"
)
@render_options
def export(project: Project, date_range, out: Path | None, cache: Path | None, jobs: int | None) -> None:
    """思政科导出：某学期（或某段时间）所有领导干部的记录表 PDF 和汇总表。

    在输出目录中生成“<学期或日期范围>/”文件夹：每位领导干部一个以姓名命名的文件夹，内为其全部记录表
    （PDF）；联系情况汇总表.xlsx（表1 联系次数、表2 全部记录内容）；manifest.json（每个文件的
    SHA-256 与所依据的提交）。旁边另有同名 .zip 压缩包，可直接下载或转发。

    \b
    示例：
      python build.py export --semester 2025-2026-1
      python build.py export --from 2025-09-01 --to 2025-12-31 --out 导出
    """
    from liaison.outputs.export import ExportRefused
    from liaison.outputs.export import export as export_checked

    try:
        with said(OutputDirError):
            result = export_checked(
                project, date_range, out or project.root / "export", cache or default_cache_dir(project.root), jobs
            )
    except ExportRefused as err:
        if err.verdict is not None:
            say_verdict(err.verdict, "导出")
        raise UserError(str(err)) from None
    say_verdict(result.verdict, "导出")
    for warning in result.warnings:
        say(warning, err=True)
    leaders = len({r.leader_id for r in result.records})
    if result.records:
        say(f"{date_range.description}：{leaders} 位领导干部的 {len(result.records)} 份记录表已导出。")
    else:
        say(f"{date_range.description}：该范围内没有联系记录。汇总表已生成，表1 中在职领导干部的联系次数均为 0。")
    say(f"  文件夹：{result.folder}")
    say(f"  压缩包：{result.zip_path}")
    exit_with(result.verdict.exit_code)
