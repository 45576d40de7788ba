"""``python build.py verify``: an export rebuilt from the commit its manifest names and compared byte by byte."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, project_of, render_options, say
from liaison.outputs.pdf import default_cache_dir


@command()
@click.argument("target", metavar="导出目录", type=click.Path(exists=True, path_type=Path))
@render_options
@click.pass_context
def verify(ctx: click.Context, target: Path, cache: Path | None, jobs: int | None) -> None:
    """核对一份导出（文件夹或 .zip）：按清单所写的提交重新生成每份 PDF 和汇总表，逐字节比较。

    不只相信清单：清单可以和文件一起被改。每处差异写明文件、记录和哪里不同（PDF 中嵌入的记录数据、
    页面或汇总表的单元格）；该范围内在那次提交之后才加入或修改的记录另作说明。
    全部一致时退出码为 0；否则逐条列出差异，退出码为 1。

    \b
    示例：
      python build.py verify export/2025-2026学年第一学期.zip
      python build.py verify export/2025-2026学年第一学期
    """
    from liaison.outputs.verify import verify_report

    project = project_of(ctx, readings=False)  # 表1 and 表2 ordered by pypinyin itself, never by the pinyin memo
    report = verify_report(target, project, cache or default_cache_dir(project.root), jobs)
    for difference in report.differences:
        say(difference)
    for note in report.notes:
        say(f"说明：{note}")
    if report.differences:
        say(f"核对未通过：共 {len(report.differences)} 处差异。")
        ctx.exit(1)
    say(f"核对通过：{target} 与清单及所依据的提交完全一致。")
