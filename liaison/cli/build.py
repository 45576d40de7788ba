"""``python build.py build``: the static site (``public/``) to search every record, with PDFs and workbooks."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import PROGRAM, command, exit_with, project_of, render_options, said, say, say_verdict
from liaison.outputs.pdf import OutputDirError, default_cache_dir


@command()
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="站点输出目录（默认为仓库中的 public/）。"
)
@render_options
@click.option(
    "--port",
    envvar="PORT",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="结束时提示的本机预览端口（make run 用环境变量 PORT 传入）。",
)
@click.pass_context
def build(ctx: click.Context, out: Path | None, cache: Path | None, jobs: int | None, port: int) -> None:
    """生成站内查询网站（public/）：按领导干部、日期、部门和关键词查询全部记录，含 PDF 与汇总表下载。

    网站是静态文件，可由 GitLab Pages 发布，也可直接用浏览器打开 public/index.html。

    \b
    示例：
      python build.py build
      python build.py build --out /srv/liaison-site
    """
    from liaison.git.repo import ShallowClone
    from liaison.outputs.site import build_site

    project = project_of(ctx)
    out = out or project.root / "public"
    with said(OutputDirError, ShallowClone):
        site = build_site(project, out, cache or default_cache_dir(project.root), jobs)
    for warning in site.warnings:
        say(warning, err=True)
    count = len(site.verdict.left_out)
    lead = f"注意：以下 {count} 个文件存在问题，相关记录未放入网站。请运行 {PROGRAM} check 查看："
    say_verdict(site.verdict, "网站", lead)
    say(
        f"网站已生成：{out}（{site.records} 条记录，{site.files} 个文件，其中有变化的 {len(site.made)} 个，"
        f"新生成 PDF {site.pdfs_rendered} 份）"
    )
    say(
        f"  打开 {out / 'index.html'}，或运行 python -m http.server --bind 127.0.0.1 -d {out} {port}"
        f" 后访问 http://127.0.0.1:{port}/"
    )
    exit_with(site.verdict.exit_code)
