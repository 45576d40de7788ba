"""What every command shares: the program's name, the repository, the range and render options, and how
errors and check's verdict are said.

A command parses its options, makes one library call and says the result;
library errors a person can act on become ``UserError`` here (as
sqlite-utils turns its errors into ``click.ClickException``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import click

from liaison.cli import chinese
from liaison.core import cachekit, pinyin
from liaison.core.project import Project, ProjectError, open_project
from liaison.core.semesters import RangeError, resolve_range
from liaison.core.terminal import visible, visible_json
from liaison.git.verdict import NotReady, Verdict

# What a person types: the wrapper at the repository's root (it runs build.py with the project's .venv).
PROGRAM = "python build.py"

chinese.install()  # before any command is declared: their help and type names are read then

command = functools.partial(click.command, cls=chinese.Command)


def say(text: str = "", *, err: bool = False, nl: bool = True, as_json: bool = False) -> None:
    """Print ``text`` for a person (stderr with ``err``): the one way out of the command line.

    Text from commits, file names, records and the roster may carry control
    characters that steer a terminal; they are printed as escapes such as
    ``\\x1b`` (liaison.core.terminal), in JSON output (``as_json``) as JSON's own.
    """
    click.echo((visible_json if as_json else visible)(text), err=err, nl=nl)


class UserError(click.ClickException):
    """An error the person can fix, printed in Chinese without a traceback."""

    def show(self, file=None) -> None:
        say(f"错误：{self.format_message()}", err=True)


@contextlib.contextmanager
def said(*kinds: type[Exception]) -> Iterator[None]:
    """Library errors of ``kinds`` (and NotReady, with the problems behind it) as a UserError."""
    try:
        yield
    except NotReady as err:
        for problem in err.problems:
            say(problem.format(), err=True)
        raise UserError(str(err)) from None
    except kinds as err:
        raise UserError(str(err)) from None


def project_of(ctx: click.Context, readings: bool = True) -> Project:
    """The repository ``--root`` names (the current directory by default).

    With ``readings``, the leaders' pinyin readings an earlier command kept in its ``.cache`` are taken (when a
    name is first asked for), and those this command asks pypinyin for are kept there when it ends
    (``pinyin.recall_later``/``keep``): loading pypinyin's dictionary was half of an ``export`` that only orders
    表1 and 表2 by the same names every time. ``verify`` goes without: its 表1 and 表2 must not rest on that memo.
    """
    with said(ProjectError):
        project = open_project(ctx.find_root().obj)
    if readings and not cachekit.switched_off(cachekit.CHECK_SWITCH):
        memo = cachekit.cache_folder(project.root)
        pinyin.recall_later(memo)
        ctx.find_root().call_on_close(functools.partial(pinyin.keep, memo))  # before the cache notices are said
    return project


def say_verdict(found: Verdict, what: str, lead: str = "") -> None:
    """On stderr: each note (the record is used), then the record files left out of ``what``."""
    for problem in found.notes:
        say(f"注意：{problem.format()}", err=True)
    if found.left_out:
        count = len(found.left_out)
        lead = lead or f"注意：以下 {count} 个记录文件存在问题，未计入{what}。请运行 {PROGRAM} check 查看并修改："
        say(lead, err=True)
        for path in found.left_out:
            say(f"  {path}", err=True)


def exit_with(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


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
        project = project_of(click.get_current_context())
        if project.config is None:
            raise UserError(f"config.yaml 有问题，无法确定学期范围。请先运行 {PROGRAM} check 查看。")
        with said(RangeError):
            date_range = resolve_range(project.config.calendar, semester, start, end, project.today())
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


def format_option(choices: list[str], help: str | None = None):
    """--format, one of ``choices``; the first is the default."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True, help=help)


def data_option(what: str = "表单服务的数据目录"):
    """--data: the form service's data folder (``what`` says what it holds); the repository's .liaison/ if not."""
    return click.option(
        "--data", type=click.Path(file_okay=False, path_type=Path), help=f"{what}（默认为仓库中的 .liaison/）。"
    )


def leader_options(what: str):
    """--leader NAME and --leader-id ID: one leader (``what`` says for what), or everyone."""

    def decorate(command):
        command = click.option("--leader-id", metavar="工号", help="工号；两位领导同名时用它指定。")(command)
        return click.option("--leader", "name", metavar="姓名", help=what)(command)

    return decorate
