"""The command line: ``python build.py <command>``.

Each command parses its options, makes one library call and prints; the
work is in the library so that tests reach it without a subprocess. Heavy
modules (openpyxl, pypinyin, GitPython, the site) are imported inside the
commands that need them, so ``check`` starts quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from liaison.cli import chinese
from liaison.core.atomic import write_atomic
from liaison.core.filenames import safe_filename
from liaison.core.logs import configure_logging
from liaison.core.problems import summary_line
from liaison.core.project import Project, ProjectError, open_project
from liaison.core.query import QueryError, leaders_for_query, select_records
from liaison.core.records import leaders_of
from liaison.core.semesters import RangeError, resolve_range
from liaison.git.closed import check_with_history
from liaison.git.history.read import record_history
from liaison.outputs import formats
from liaison.outputs.historytext import change_json, change_text
from liaison.outputs.junit import junit_xml
from liaison.outputs.pdf import OutputDirError, build_pdfs, default_cache_dir, shard_of
from liaison.outputs.pdf import prune_cache as prune_pdf_cache

chinese.install()  # before the commands below are declared: their help and type names are read then


class UserError(click.ClickException):
    """An error the person can fix, printed in Chinese without a traceback."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


@click.group(cls=chinese.Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    envvar="LIAISON_ROOT",
    show_default=True,
    help="联系记录仓库的目录（含 config.yaml、roster.yaml、records/）。",
)
@click.version_option(package_name="liaison")
@click.pass_context
def cli(ctx: click.Context, root: Path) -> None:
    """领导干部结对联系学生情况记录：检查、查询与导出。

    \b
    示例：
      python build.py check
      python build.py query --leader 赵敏 --semester 2025-2026-1
    """
    ctx.obj = root


def _project(ctx: click.Context) -> Project:
    try:
        return open_project(ctx.find_root().obj)
    except ProjectError as err:
        raise UserError(str(err)) from None


def range_options(command):
    """--semester ID | --from DATE --to DATE, for every command that takes a range."""

    @click.option(
        "--semester",
        metavar="学期",
        help="学期，如 2024-2025-1（第一学期）、2024-2025-2（第二学期）；current 为本学期，previous 为上学期。",
    )
    @click.option("--from", "start", metavar="日期", help="起始日期（含），如 2024-09-01。")
    @click.option("--to", "end", metavar="日期", help="截止日期（含），如 2025-01-31。")
    @functools.wraps(command)
    def wrapper(*args, semester, start, end, **kwargs):
        ctx = click.get_current_context()
        project = _project(ctx)
        if project.config is None:
            raise UserError("config.yaml 有问题，无法确定学期范围。请先运行 python build.py check 查看。")
        try:
            date_range = resolve_range(project.config.calendar, semester, start, end, project.today())
        except RangeError as err:
            raise UserError(str(err)) from None
        return command(*args, project=project, date_range=date_range, **kwargs)

    return wrapper


def render_options(command):
    """--cache and --jobs, for every command that renders PDFs."""
    command = click.option("--jobs", type=click.IntRange(min=1), help="同时生成 PDF 的进程数（默认为 CPU 核数）。")(
        command
    )
    return click.option(
        "--cache",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="LIAISON_PDF_CACHE",
        help="PDF 缓存目录（默认为仓库中的 .cache/pdf）；内容未变的记录不会重新生成。",
    )(command)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[文件]...", type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "junit"]),
    default="text",
    show_default=True,
    help="junit：另外写出 JUnit XML 报告（GitLab 合并请求中显示）。",
)
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
    from liaison.git.repo import CommitNotFound, changed_files  # GitPython loads only when needed

    if fmt == "junit" and output is None:
        raise UserError("--format junit 需要用 --output 指定报告文件，如 --output check-report.xml。")
    project = _project(ctx)
    try:
        result = check_with_history(project, list(paths) or None, since=changed_since)
    except CommitNotFound as err:
        raise UserError(str(err)) from None
    changed: list[str] = []
    if changed_since:
        try:
            checked = set(result.files)
            changed = [f for f in changed_files(project.root, changed_since) if f in checked]
        except CommitNotFound as err:
            raise UserError(str(err)) from None
    first = [p for p in result.problems if p.path in changed]
    rest = [p for p in result.problems if p.path not in changed]
    if changed_since:
        bad = sorted({p.path for p in first})
        click.echo(
            f"本次改动的记录与名单文件 {len(changed)} 个：" + ("全部通过。" if not bad else f"{len(bad)} 个有问题：")
        )
        for problem in first:
            click.echo(problem.format())
        if rest:
            click.echo(f"其余文件有 {len({p.path for p in rest})} 个存在问题：")
    for problem in rest:
        click.echo(problem.format())
    click.echo(summary_line(result.problems, len(result.files)))
    if output is not None:
        files = [f for f in result.files if f in changed] + [f for f in result.files if f not in changed]
        output.write_bytes(junit_xml(first + rest, files))
    ctx.exit(0 if result.ok else 1)


@cli.command()
@click.option(
    "--leader", "name", metavar="姓名", help="领导干部的姓名、拼音或拼音首字母（如 zm）；不填则查询全部领导干部。"
)
@click.option("--leader-id", metavar="工号", help="工号；两位领导同名时用它指定。")
@range_options
@click.option(
    "--order",
    type=click.Choice(["asc", "desc"]),
    default="asc",
    show_default=True,
    help="asc：按日期从早到晚；desc：从晚到早。",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "brief", "json", "csv"]),
    default="table",
    show_default=True,
    help="table：逐条列出全部内容；brief：每条记录一行的简表；json、csv：供其他程序或 Excel 使用。",
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
    records, bad = _usable_records(project, "查询结果")
    leaders = _leaders(project, name, leader_id)
    chosen = select_records(records, date_range, leaders, newest_first=order == "desc")
    if fmt == "json":
        text = formats.as_json(chosen, project.schema)
    elif fmt == "csv":
        text = formats.as_csv(chosen, project.schema)
    else:
        who = leaders[0].display if leaders else "全部领导干部"
        direction = "从晚到早" if order == "desc" else "从早到晚"
        heading = f"{who} · {date_range.description} · 共 {len(chosen)} 条记录 · 按日期{direction}"
        if fmt == "brief":
            how = "要看每条记录的全部内容，去掉 --format brief 再运行一次。"
            text = formats.as_brief(chosen, heading, how)
        else:
            text = formats.as_text(chosen, project.schema, heading) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out, formats.file_bytes(text, fmt))
        click.echo(f"已写出 {out}（{len(chosen)} 条记录）。")
    _exit_if_problems(bad)


@cli.command()
@click.option(
    "--leader", "name", metavar="姓名", help="只生成这位领导干部的记录（姓名、拼音或拼音首字母）；不填则为全部。"
)
@click.option("--leader-id", metavar="工号", help="工号；两位领导同名时用它指定。")
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
    records, bad = _usable_records(project, "PDF")
    chosen = select_records(records, date_range, _leaders(project, name, leader_id))
    if shard:
        index, total = _parse_shard(shard)
        chosen = [r for r in chosen if shard_of(r.id, total) == index]
    out = out or project.root / "export" / "pdf"
    cache = cache or default_cache_dir(project.root)
    try:
        build = build_pdfs(
            project.root,
            project.schema,
            project.config,
            project.roster,
            chosen,
            out,
            cache,
            jobs,
        )
    except OutputDirError as err:
        raise UserError(str(err)) from None
    for warning in build.warnings:
        click.echo(warning, err=True)
    part = f"第 {shard} 份，" if shard else ""
    click.echo(
        f"{date_range.description}：{part}共 {len(chosen)} 份 PDF（新生成 {build.rendered} 份，"
        f"沿用缓存 {build.cached} 份），保存在 {out}"
    )
    if prune_cache:
        click.echo(f"已从缓存删除 {prune_pdf_cache(cache, set(build.keys.values()))} 份不再需要的 PDF。")
    _exit_if_problems(bad)


@cli.command()
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
    from liaison.outputs.export import export_range

    if date_range.start is None and date_range.end is None:
        raise UserError("请用 --semester 学期 或 --from/--to 日期 指定导出范围，如 --semester 2025-2026-1。")
    if date_range.start is not None and date_range.end is None:
        click.echo(
            f"注意：只给了 --from，导出 {date_range.start} 起到今天（{project.today()}）为止的全部记录；"
            "如需别的截止日期，请加 --to 日期。",
            err=True,
        )
    # A record that fails check may belong to the range: an export without it would look whole.
    refusal = "有记录文件未通过检查（见上），未导出，也未改动以前的导出。请修改后重新导出。"
    records, bad = _usable_records(project, "导出", refuse_with=refusal)
    try:
        result = export_range(
            project, records, date_range, out or project.root / "export", cache or default_cache_dir(project.root), jobs
        )
    except OutputDirError as err:
        raise UserError(str(err)) from None
    for warning in result.warnings:
        click.echo(warning, err=True)
    leaders = len({r.leader_id for r in result.records})
    if result.records:
        click.echo(f"{date_range.description}：{leaders} 位领导干部的 {len(result.records)} 份记录表已导出。")
    else:
        click.echo(
            f"{date_range.description}：该范围内没有联系记录。汇总表已生成，表1 中在职领导干部的联系次数均为 0。"
        )
    click.echo(f"  文件夹：{result.folder}")
    click.echo(f"  压缩包：{result.zip_path}")
    _exit_if_problems(bad)


@cli.command()
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
    """审核预览：本分支相对 --base 新增、修改、移动或删除的每条记录，供思政科在合并请求中审核。

    生成 review/index.html（一个独立的网页，手机上也能看）和每条记录的 PDF：按附表排版的记录、
    逐项对比（改动的文字已标出）、检查发现的错误和审核提示（规则见 config.yaml 的 review 一节）。
    每条记录在日志中打印一行小结。审核提示不影响退出码；检查是否通过由 check 决定。

    \b
    示例：
      python build.py review --base main
      python build.py review --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --out review
    """
    from liaison.git.repo import CommitNotFound
    from liaison.outputs.review import build_review

    project = _project(ctx)
    if project.config is None:
        raise UserError("config.yaml 有问题，无法生成审核预览。请先运行 python build.py check 查看。")
    out = out or project.root / "review"
    try:
        result = build_review(project, base, out, cache or default_cache_dir(project.root), jobs)
    except (CommitNotFound, OutputDirError) as err:
        raise UserError(str(err)) from None
    for warning in result.warnings:
        click.echo(warning, err=True)
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"审核预览已写到 {out}（新生成 PDF {result.rendered} 份）。")


@cli.command()
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
    from liaison.outputs.site import build_site

    project = _project(ctx)
    if project.roster is None or project.config is None:
        raise UserError("config.yaml 或 roster.yaml 有问题，请先运行 python build.py check 查看。")
    out = out or project.root / "public"
    try:
        site = build_site(project, out, cache or default_cache_dir(project.root), jobs)
    except OutputDirError as err:
        raise UserError(str(err)) from None
    for warning in site.warnings:
        click.echo(warning, err=True)
    notes = [*site.process_problems, *(p for p in site.problems if p.path.startswith("refs/"))]
    for problem in notes:  # the record is on the site; the message says what to fix
        click.echo(f"注意：{problem.format()}", err=True)
    bad = sorted({p.path for p in site.problems if p not in notes})
    if bad:
        click.echo(
            f"注意：以下 {len(bad)} 个文件存在问题，相关记录未放入网站。请运行 python build.py check 查看：", err=True
        )
        for path in bad:
            click.echo(f"  {path}", err=True)
    click.echo(
        f"网站已生成：{out}（{site.records} 条记录，{site.files} 个文件，其中有变化的 {len(site.made)} 个，"
        f"新生成 PDF {site.pdfs_rendered} 份）"
    )
    click.echo(
        f"  打开 {out / 'index.html'}，或运行 python -m http.server --bind 127.0.0.1 -d {out} {port}"
        f" 后访问 http://127.0.0.1:{port}/"
    )
    if bad or site.process_problems:
        ctx.exit(1)


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="监听地址；默认只对本机开放，由统一身份认证代理转发。"
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="监听端口。")
@click.option("--dev-login", is_flag=True, help="本机试用：以名单中任一领导干部的身份登录（只允许本机访问）。")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="数据目录：待同步的记录、Git 镜像、会话密钥（默认为仓库中的 .liaison/）。",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="处理请求的线程数。")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, dev_login: bool, data: Path | None, threads: int) -> None:
    """运行网页表单：领导干部填写联系记录，提交为 GitLab 合并请求，并可立即下载 PDF。

    正式部署：放在学校统一身份认证代理之后；代理以 config.yaml 中 web.user_header 指定的请求头
    传来用户名，并以 web.secret_header 传来与环境变量 LIAISON_PROXY_SECRET 相同的密钥。
    记录推送到 web.remote（GitLab 仓库地址；留空则为本机内置的演示仓库）。

    \b
    示例：
      python build.py serve --dev-login                 # 本机试用
      LIAISON_PROXY_SECRET=... python build.py serve --port 8080
    """
    from waitress import serve as waitress_serve

    from liaison.web import ConfigurationError, create_app
    from liaison.web.auth import is_loopback

    if dev_login and not is_loopback(host):
        raise UserError("开发模式登录只能在本机地址上运行（--host 127.0.0.1）。")
    try:
        app = create_app(ctx.find_root().obj, data, dev_login=dev_login)
    except ConfigurationError as err:
        raise UserError(str(err)) from None
    configure_logging("INFO")  # the service logs every delivery attempt and fetch for the administrator
    click.echo(f"表单服务：http://{host}:{port}/{'（开发模式登录，仅限本机）' if dev_login else ''}，按 Ctrl-C 停止。")
    waitress_serve(app, host=host, port=port, threads=threads, ident="liaison")


@cli.command()
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="表单服务的数据目录（默认为仓库中的 .liaison/）。",
)
@click.option("--retry", "retry", metavar="令牌", help="把这一条重新设为待同步并立即尝试提交一次。")
@click.option(
    "--export", "export_to", type=click.Path(dir_okay=False, path_type=Path), help="把未送达的记录导出到文件。"
)
@click.option(
    "--import", "import_from", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="导入导出的文件。"
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def outbox(ctx: click.Context, data: Path | None, retry: str | None, export_to, import_from, fmt: str) -> None:
    """表单服务的待同步记录：列出待同步、待人工处理的记录（等待时间、上次错误），重试一条，迁移到新机器。

    \b
    示例：
      python build.py outbox --format json
      python build.py outbox --retry 0123456789abcdef0123456789abcdef
      python build.py outbox --export 待同步.json     # 旧机器上
      python build.py outbox --import 待同步.json     # 新机器上（重复导入不会产生重复记录）
    """
    from liaison.submit.admin import outbox_command

    project = _project(ctx)
    try:
        text, ok = outbox_command(project, data, retry, export_to, import_from, fmt)
    except ValueError as err:
        raise UserError(str(err)) from None
    click.echo(text, nl=not text.endswith("\n"))
    if not ok:
        sys.exit(1)


@cli.command()
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="表单服务的数据目录（默认为仓库中的 .liaison/）。",
)
@click.option("--retry", "retry", metavar="编号", help="把这一条待办重新排队并立即尝试发送一次。")
@click.option("--dismiss", metavar="编号", help="放弃这一条失败的待办（不再发送，也不再计入健康检查的失败数）。")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def notify(ctx: click.Context, data: Path | None, retry: str | None, dismiss: str | None, fmt: str) -> None:
    """待办（短信与校园 APP）的发送记录：每一条发给谁、什么状态、失败的原因和处理办法；重发或放弃一条。

    有失败的待办时退出码为 1。各环节的待办与服务商的设置见 docs/notify.md。

    \b
    示例：
      python build.py notify
      python build.py notify --format json
      python build.py notify --retry 0123456789abcdef01234567
      python build.py notify --dismiss 0123456789abcdef01234567
    """
    from liaison.notify.admin import notify_command

    project = _project(ctx)
    if project.config is None:
        raise UserError("config.yaml 有问题，请先运行 python build.py check 修改。")
    try:
        text, ok = notify_command(project, data, retry, dismiss, fmt)
    except ValueError as err:
        raise UserError(str(err)) from None
    click.echo(text, nl=not text.endswith("\n"))
    if not ok:
        sys.exit(1)


@cli.command()
@click.argument("record", metavar="记录")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table：逐次列出；json：供其他程序使用。",
)
@click.pass_context
def history(ctx: click.Context, record: str, fmt: str) -> None:
    """一条记录的全部历史：谁在何时新增、修改、移动或删除了它，经哪个合并请求，改了哪些项目。

    记录：记录编号或文件路径（改过日期而移动过的记录也能找到）。按时间从早到晚列出。

    \b
    示例：
      python build.py history 2025-11-12-T2012003-403e34
      python build.py history records/2025/2025-11-12-T2012003-403e34.yaml --format json
    """
    project = _project(ctx)
    changes = record_history(project.root, project.schema, record.strip())
    if not changes:
        raise UserError(f"Git 历史中找不到记录“{record}”。请核对记录编号或路径（如 records/2025/…yaml）。")
    if fmt == "json":
        click.echo(json.dumps([change_json(c) for c in changes], ensure_ascii=False, indent=2))
        return
    leader = changes[-1].data.get("leader", "")
    click.echo(f"记录 {changes[-1].record_id}（{leader}）的历史，共 {len(changes)} 次改动，从早到晚：")
    for number, change in enumerate(changes, 1):
        click.echo("\n".join(change_text(number, change)))


@cli.command()
@range_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv", "json"]),
    default="xlsx",
    show_default=True,
    help="审计日志的格式。",
)
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
    from liaison.outputs.auditlog import audit_log

    _, bad = _usable_records(project, "审计日志的“领导姓名”列（其改动仍全部列出）", content_only=True)
    rows, data = audit_log(project, date_range, fmt)
    flagged = sum(1 for row in rows if row.flags)
    if fmt == "xlsx":
        out = out or project.root / "export" / f"审计日志-{safe_filename(date_range.title)}.xlsx"
    if out is None:
        click.echo(data.decode("utf-8-sig"), nl=False)
    else:
        write_atomic(out, data)
        click.echo(f"审计日志：{date_range.description}，{len(rows)} 次改动，其中 {flagged} 次需要核查。已写入 {out}")
    _exit_if_problems(bad)


@cli.command()
@click.option(
    "--semester",
    default="current",
    show_default=True,
    metavar="学期",
    help="哪个学期：如 2025-2026-1，或 current（本学期）、previous（上学期）。",
)
@click.option("--round", "round_name", metavar="轮次", help="按哪一轮提醒（默认为日期已到的最近一轮）。")
@click.option("--send", is_flag=True, help="真正发送；不加则只列出将要发送的内容（试运行）。")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    help="邮件与群机器人的发送记录文件，重复运行同一轮时不会重复发送（默认为仓库中的 .cache/remind/ledger.json）。",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="短信与校园 APP 待办的数据目录（默认为仓库中的 .liaison/，与表单服务相同，暂缓的短信由表单服务接着发送）。",
)
@click.pass_context
def remind(
    ctx: click.Context, semester: str, round_name: str | None, send: bool, ledger: Path | None, data: Path | None
) -> None:
    """提醒联系次数不足的领导干部（邮件、短信、校园 APP），并把名单汇总发给思政科。

    最少次数、提醒轮次和邮件在 config.yaml 的 reminders 中设置，短信与校园 APP 在 notify 中设置
    （见 docs/notify.md）；密码与密钥放在环境变量中。任一渠道失败不影响其他渠道，失败会逐条列出，
    退出码为 1；免打扰时段内的短信暂缓，下次运行（或表单服务）时发出。

    \b
    示例：
      python build.py remind                      # 试运行：看看本学期会提醒谁、发什么
      python build.py remind --send
      python build.py remind --semester 2025-2026-2 --round 期末提醒 --send
    """
    from liaison.notify.ledger import Ledger, default_ledger_path
    from liaison.notify.plan import ReminderConfigError, plan_round
    from liaison.notify.rounds import send_reminders
    from liaison.notify.worker import open_notifier

    project = _project(ctx)
    records, bad = _usable_records(project, "提醒统计")
    today = project.today()
    try:
        chosen = resolve_range(project.config.calendar, semester, today=today).semester
        plan = plan_round(records, project.roster, project.config, chosen, today, round_name, leaders_of(bad))
    except (RangeError, ReminderConfigError) as err:
        raise UserError(str(err)) from None
    if not plan.round:
        click.echo(f"{chosen.title}：提醒轮次还没有开始（见 config.yaml 的 reminders.rounds），本次不发送。")
        return
    mode = "发送" if send else "试运行，未发送；加 --send 发送"
    click.echo(f"{chosen.title} · {plan.round} · {len(plan.due)} 位领导干部低于要求（{mode}）")
    for due in plan.due:
        click.echo(f"━━ {due.leader.display}：已联系 {due.count} 次，要求 {due.minimum} 次")
        click.echo(f"  短信/消息（{len(due.sms)} 字）：{due.sms}")
        click.echo(f"  邮件：{due.email_subject}")
    if plan.due:
        click.echo(f"思政科汇总：{plan.digest_subject}")
    for leader in plan.held:
        click.echo(f"暂不提醒 {leader.display}：其记录文件有问题，联系次数可能少算。请先修改（见上）。", err=True)
    if not send or not plan.due:
        _exit_if_problems(bad)
        return
    notifier = open_notifier(data or project.root / ".liaison", lambda: project) if project.config.notify else None
    report = send_reminders(plan, project, Ledger(ledger or default_ledger_path(project.root)), notifier)
    click.echo(
        f"已发送 {len(report.sent)} 条，本轮此前已发送而跳过 {len(report.skipped)} 条，失败 {len(report.failures)} 条。"
    )
    for held in report.held:
        click.echo(f"暂缓：{held}")
    for failure in report.failures:
        click.echo(f"失败：{failure}", err=True)
    if not report.ok or bad:
        ctx.exit(1)


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", metavar="工作表", help="只读这个工作表（默认：每一张找得到表头的工作表）。")
@click.option("--dry-run", is_flag=True, help="只检查并报告每一行的结果，不写入任何内容。")
@click.option("--branch", metavar="分支", help="新记录提交到哪个新分支（默认 import/<日期>-<文件哈希>）。")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="报告的格式：text 供阅读；json、csv 逐行列出结果，可用 Excel 打开。",
)
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
    from liaison.submit.importcommit import ImportRefused, import_files, push_command

    project = _project(ctx)
    try:
        outcome = import_files(project, list(files), sheet, dry_run, branch, reopen_reason, push)
    except ImportRefused as err:
        raise UserError(str(err)) from None
    except GitError as err:  # the push failed: the branch is there, the push can be repeated
        raise UserError(f"推送失败：{err.stderr or err}。分支已在本地创建，网络恢复后可再运行 git push。") from None
    plan = outcome.plan
    ending = _import_ending(outcome, dry_run, push_command)
    if fmt == "json":
        extra = {"dry_run": dry_run, "branch": outcome.branch, "commit": outcome.commit, "pushed": outcome.pushed}
        click.echo(report_json(plan, extra), nl=False)
        click.echo("\n".join(ending), err=True)
    elif fmt == "csv":
        click.echo(report_csv(plan), nl=False)
        click.echo("\n".join(ending), err=True)
    else:
        click.echo(report_text(plan, ending), nl=False)
    if not plan.ok:
        ctx.exit(1)


def _import_ending(outcome, dry_run: bool, push_command) -> list[str]:
    """The last lines of the import's report: what was written, and what to do next."""
    plan = outcome.plan
    new, refused = len(plan.new_rows), plan.refused
    lines = []
    if plan.file_errors:
        lines.append(f"有 {len(plan.file_errors)} 个文件无法导入（见上），本次没有写入任何内容。请修改后重新导入。")
    elif dry_run:
        lines.append(f"试运行（--dry-run）：可新增 {new} 条记录，没有写入任何内容。")
    elif not new:
        lines.append("没有新的记录，没有创建分支。")
    else:
        lines.append(f"已把 {new} 条新记录提交到分支 {outcome.branch}（提交 {outcome.commit[:8]}），工作区未改动。")
        if outcome.pushed:
            lines.append(f"已推送并请求创建合并请求（目标分支 {outcome.target}），请思政科在 GitLab 中审核。")
        else:
            lines.append("推送并创建合并请求：")
            lines.append(f"  {push_command(outcome)}")
    if refused and not plan.file_errors:
        lines.append(f"另有 {refused} 行未导入（见上）：改正表格后再导入一次即可，已导入的行会显示“已存在”。")
    return lines


@cli.command()
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

    project = _project(ctx)
    report = verify_report(target, project, cache or default_cache_dir(project.root), jobs)
    differences = report.differences
    for difference in differences:
        click.echo(difference)
    for note in report.notes:
        click.echo(f"说明：{note}")
    if differences:
        click.echo(f"核对未通过：共 {len(differences)} 处差异。")
        ctx.exit(1)
    click.echo(f"核对通过：{target} 与清单及所依据的提交完全一致。")


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard 应写成 I/N，如 1/2，而不是“{text}”。") from None
    if not 1 <= index <= total:
        raise UserError(f"--shard {text}：I 应在 1 到 N 之间。")
    return index, total


def _usable_records(
    project: Project, what: str, content_only: bool = False, refuse_with: str = ""
) -> tuple[list, list[str]]:
    """Records that pass check, and the paths of those with problems (named on stderr, never silently dropped).

    The rule for every command: a problem ``check`` reports makes the exit
    code 1 (``_exit_if_problems``), and the output is still written where
    that is safe. A change to a closed semester without a reason is a problem
    of how the record was changed, not of its content: the record stays in
    the outputs. ``audit`` reports those changes itself, so it asks for the
    content problems only (``content_only``). ``refuse_with``: the command
    does not run at all when a record's content fails (export), with this message.
    """
    result = check_with_history(project)
    if project.roster is None or project.config is None:
        for problem in result.problems:
            click.echo(problem.format(), err=True)
        raise UserError("config.yaml 或 roster.yaml 有问题（见上），请先修改。")
    process = set(result.process_problems)
    bad = sorted({p.path for p in result.problems if p.path.startswith("records/") and p not in process})
    for problem in (p for p in result.problems if p.path.startswith("refs/")):  # a bad closed/ tag: named, ignored
        click.echo(f"注意：{problem.format()}", err=True)
    for problem in () if content_only else result.process_problems:
        click.echo(f"注意：{problem.format()}", err=True)
    if bad:
        click.echo(
            f"注意：以下 {len(bad)} 个记录文件存在问题，未计入{what}。请运行 python build.py check 查看并修改：",
            err=True,
        )
        for path in bad:
            click.echo(f"  {path}", err=True)
    if bad and refuse_with:
        raise UserError(refuse_with)
    if not content_only:
        bad = sorted({*bad, *(p.path for p in process)})
    return result.clean_records(), bad


def _exit_if_problems(bad: list[str]) -> None:
    if bad:
        raise click.exceptions.Exit(1)


def _leaders(project: Project, name: str | None, leader_id: str | None):
    try:
        return leaders_for_query(project.roster, name, leader_id)
    except QueryError as err:
        raise UserError(str(err)) from None


def main() -> None:
    # Chinese output must not depend on the terminal's locale (CI often has none).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    configure_logging("WARNING")
    cli(prog_name="python build.py")
