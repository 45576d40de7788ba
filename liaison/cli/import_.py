"""``python build.py import``: existing records from the office's spreadsheets, as one commit on a new branch."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import UserError, command, format_option, project_of, say


@command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", metavar="工作表", help="只读这个工作表（默认：每一张找得到表头的工作表）。")
@click.option("--dry-run", is_flag=True, help="只检查并报告每一行的结果，不写入任何内容。")
@click.option("--branch", metavar="分支", help="新记录提交到哪个新分支（默认 import/<日期>-<文件哈希>）。")
@format_option(["text", "json", "csv"], "报告的格式：text 供阅读；json、csv 逐行列出结果，可用 Excel 打开。")
@click.option("--reopen-reason", metavar="理由", default="", help="导入已关闭学期的记录时必填：写入提交说明的理由。")
@click.option("--push", is_flag=True, help="提交后推送到 origin，并按表单同样的方式创建合并请求。")
@click.pass_context
def import_(
    ctx: click.Context,
    files: tuple[Path, ...],
    sheet: str | None,
    dry_run: bool,
    branch: str | None,
    fmt: str,
    reopen_reason: str,
    push: bool,
) -> None:
    """导入已有的联系记录：思政科的汇总表、本系统导出的表2，或其他系统导出的 .xlsx / .csv。

    按表头的名称（记录表中的名称或常见别称，见 schema/record.yaml 的 aliases）对应各列，表头可在前 10 行中任一行；
    每一行都按 check 的规则检查。新记录作为一个提交写在新分支上，提交说明列出来源文件及其 SHA-256，
    推送后经合并请求审核。同一文件再次导入不会重复添加。有未导入的行或文件时退出码为 1。
    详见 docs/import.md。

    \b
    示例：
      python build.py import docs/import-sample.xlsx --dry-run
      python build.py import 2023-2024学年汇总.xlsx --sheet "表2 联系内容汇总"
      python build.py import 老记录.csv --format csv > 导入结果.csv
      python build.py import 汇总.xlsx --push
    """
    from liaison.git.repo import GitError
    from liaison.outputs.importreport import report_csv, report_json, report_text
    from liaison.submit.importcommit import ImportRefused, import_files

    project = project_of(ctx)
    try:
        outcome = import_files(project, list(files), sheet, dry_run, branch, reopen_reason, push)
    except ImportRefused as err:
        raise UserError(str(err)) from None
    except GitError as err:  # the push failed: the branch is there, the push can be repeated
        raise UserError(f"推送失败：{err.stderr or err}。分支已在本地创建，网络恢复后可再运行 git push。") from None
    plan = outcome.plan
    # With a JSON or CSV report on stdout (often into a file), the ending on stderr has nothing above it.
    where = {"json": "报告中的“problems”和“error”", "csv": "报告中的“说明”"}.get(fmt, "上")
    ending = _ending(outcome, dry_run, _rerun_with_push(ctx, files, sheet, branch, reopen_reason), where)
    if fmt == "json":
        extra = {"dry_run": dry_run, "branch": outcome.branch, "commit": outcome.commit, "pushed": outcome.pushed}
        say(report_json(plan, extra), nl=False, as_json=True)
        say("\n".join(ending), err=True)
    elif fmt == "csv":
        say(report_csv(plan), nl=False)
        say("\n".join(ending), err=True)
    else:
        say(report_text(plan, ending), nl=False)
    if not plan.ok:
        ctx.exit(1)


def _ending(outcome, dry_run: bool, rerun: str, where: str = "上") -> list[str]:
    """The last lines of the import's report: what was committed, what was left out, what the exit code means,
    and the one next step. ``where`` the reasons are: 上 (the text report), or the JSON's or CSV's column."""
    plan = outcome.plan
    new, refused = len(plan.new_rows), plan.refused
    left_out = f"{refused} 行未导入（原因见{where}）" if refused else "没有未导入的行"
    if plan.file_errors:
        return [f"有 {len(plan.file_errors)} 个文件无法导入（见{where}），本次没有写入任何内容。请修改后重新导入。"]
    if dry_run:
        lines = [f"试运行（--dry-run）：可新增 {new} 条记录，{left_out}；没有写入任何内容。"]
    elif not new:
        lines = [f"没有新的记录，没有创建分支；{left_out}。"]
    else:
        how = "此前已由同一导入提交，这次没有重复提交" if outcome.earlier else "工作区未改动"
        lines = [f"已提交 {new} 条新记录到分支 {outcome.branch}（提交 {outcome.commit[:8]}，{how}）；{left_out}。"]
    if refused and dry_run:
        lines.append(f"退出码为 1，表示有行不能导入：去掉 --dry-run 会导入能导入的 {new} 条，其余改正表格后再导入。")
    elif refused and new:
        lines.append(
            "退出码为 1，表示只导入了一部分：改正表格中未导入的行后再导入一次即可，已导入的行到时会显示“已存在”。"
        )
    elif refused:
        lines.append(
            f"退出码为 1，表示有 {refused} 行不能导入：请按{'上面' if where == '上' else where}的说明改正表格后再导入。"
        )
    if new and not dry_run:
        if outcome.pushed:
            lines.append(f"已推送并请求创建合并请求（目标分支 {outcome.target}），请思政科在 GitLab 中审核。")
        else:
            lines += ["下一步：推送并创建合并请求（再运行一次，加上 --push；不会重复提交）：", f"  {rerun}"]
    return lines


def _rerun_with_push(ctx: click.Context, files, sheet, branch, reopen_reason) -> str:
    """The import command as it was run, with --push: every value shell-quoted (a file may be named
    ``汇总'; touch PWNED; echo '.xlsx``, a branch ``a$(touch${IFS}x)``), and the files after ``--`` when one is
    named like an option (``--reopen-reason=….xlsx``), so the line runs as it reads."""
    import shlex

    words = shlex.split(ctx.find_root().info_name or "python build.py")
    root = Path(ctx.find_root().obj)
    if root.resolve() != Path.cwd().resolve():
        words += ["--root", str(root)]
    names = [str(f) for f in files]
    options = [
        word
        for option, value in (("--sheet", sheet), ("--branch", branch), ("--reopen-reason", reopen_reason))
        if value
        for word in (option, value)
    ]
    if any(name.startswith("-") for name in names):  # named like an option (--reopen-reason=….xlsx): after "--"
        return shlex.join([*words, "import", *options, "--push", "--", *names])
    return shlex.join([*words, "import", *names, *options, "--push"])
