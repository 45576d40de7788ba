"""``python build.py review``: the merge request's review page and PDFs, for 思政科."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, project_of, render_options, said, say
from liaison.git.repo import CommitNotFound
from liaison.outputs.pdf import OutputDirError, default_cache_dir


@command()
@click.option(
    "--base",
    metavar="提交",
    required=True,
    help="合并请求的基准提交（CI 中用 $CI_MERGE_REQUEST_DIFF_BASE_SHA，本地可用 main）。",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="写到哪个目录（默认为仓库中的 review/）。"
)
@render_options
@click.pass_context
def review(ctx: click.Context, base: str, out: Path | None, cache: Path | None, jobs: int | None) -> None:
    """审核预览：本次提交（当前分支）相对主分支（--base）新增、修改、移动或删除的每条记录，供思政科在合并请求中审核。

    生成 review/index.html（一个独立的网页，手机上也能看）和每条记录的 PDF：按附表排版的记录、
    逐项对比（改动的文字已标出）、检查发现的错误和审核提示（规则见 config.yaml 的 review 一节）。
    每条记录在日志中打印一行小结。审核提示不影响退出码；检查是否通过由 check 决定。

    \b
    示例：
      python build.py review --base main
      python build.py review --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --out review
    """
    from liaison.outputs.review import build_review

    project = project_of(ctx)
    out = out or project.root / "review"
    with said(CommitNotFound, OutputDirError):
        result = build_review(project, base, out, cache or default_cache_dir(project.root), jobs)
    for warning in result.warnings:
        say(warning, err=True)
    for line in result.summary_lines():
        say(line)
    say(f"审核预览已写到 {out}（新生成 PDF {result.rendered} 份）。")
