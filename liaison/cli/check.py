"""``python build.py check``: the records, the roster and the config against every rule; exit 1 on any problem."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import UserError, command, format_option, project_of, said, say
from liaison.core.atomic import write_atomic
from liaison.core.problems import summary_line
from liaison.git.repo import CommitNotFound
from liaison.git.verdict import check_report


@command()
@click.argument("paths", nargs=-1, metavar="[文件]...", type=click.Path(path_type=str))
@format_option(["text", "junit"], "junit：另外写出 JUnit XML 报告（GitLab 合并请求中显示）。")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JUnit 报告写到哪个文件（--format junit 时必填）。",
)
@click.option(
    "--changed-since",
    metavar="提交",
    help="把自该提交以来改动过的文件排在最前，并单独小结（合并请求中用 $CI_MERGE_REQUEST_DIFF_BASE_SHA）。",
)
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], fmt: str, output: Path | None, changed_since: str | None) -> None:
    """检查记录、领导干部名单和配置是否符合要求。

    不带文件时检查全部记录；带上文件或文件夹时只检查它们（同时与其余记录比对是否重复）。
    每处问题按“文件:行: 项目(字段): 说明”列出；全部通过时退出码为 0，否则为 1。

    \b
    示例：
      python build.py check
      python build.py check records/2025/2025-09-15-T2019001-3fa2c1.yaml
      python build.py check --format junit --output check-report.xml
      python build.py check --changed-since origin/main
    """
    if fmt == "junit" and output is None:
        raise UserError("--format junit 需要用 --output 指定报告文件，如 --output check-report.xml。")
    project = project_of(ctx)
    with said(CommitNotFound):
        report = check_report(project, list(paths) or None, since=changed_since)
    if report.changed is not None:
        bad = report.changed_with_problems
        say(
            f"本次改动的记录与名单文件 {len(report.changed)} 个："
            + ("全部通过。" if not bad else f"{len(bad)} 个有问题：")
        )
        for problem in report.first:
            say(problem.format())
        if report.rest:
            say(f"其余文件有 {len({p.path for p in report.rest})} 个存在问题：")
    for problem in report.rest:
        say(problem.format())
    say(summary_line(report.result.problems, len(report.result.files)))
    if output is not None:
        from liaison.outputs.junit import junit_xml  # the report's writer loads only when asked for

        write_atomic(output, junit_xml(report.first + report.rest, report.files))  # never a half file for CI
    ctx.exit(0 if report.ok else 1)
