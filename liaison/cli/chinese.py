"""click in Chinese: the help option, usage lines, headings and usage errors of ``python build.py``.

click marks its own messages for gettext (``from gettext import gettext as
_`` in each module) but ships no catalogue, and a catalogue found through the
locale would depend on the terminal's settings, which CI often lacks. So
``install()`` points those module-level ``_``/``ngettext`` names at the table
below, whatever the locale; a message missing from the table stays as click
wrote it (a test lists every message a user can meet and checks it is here).
It also passes click's error messages through ``visible``, as all output is
(liaison.core.terminal): they quote the file names and values they were given.
"""

from __future__ import annotations

import click
import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types
import click.utils

from liaison.core.terminal import visible

MESSAGES = {
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行 {command} {option} 查看用法。",
    "No such command {name!r}.": "没有“{name}”这个命令。",
    "No such option {name!r}.": "没有 {name} 这个选项。",
    "No such option: {name}": "没有 {name} 这个选项。",
    "Did you mean {possibility}?": "您要找的是不是 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（您要找的是不是其中之一：{possibilities}？）",
    "Missing command.": "缺少命令。请在下面的命令中选一个。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "argument": "参数",
    "option": "选项",
    "parameter": "参数",
    "Invalid value: {message}": "取值不对：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值不对：{message}",
    "Option {name!r} does not take a value.": "选项 {name} 后面不能带值。",
    "Option {name!r} requires an argument.": "选项 {name} 后面需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name} 后面需要 {nargs} 个值。",
    "Got unexpected extra argument ({args})": "多了一个参数（{args}），请检查是否少写了选项名或多了空格。",
    "Got unexpected extra arguments ({args})": "多了几个参数（{args}），请检查是否少写了选项名或多了空格。",
    "Argument {name!r} takes {nargs} values.": "参数 {name} 需要 {nargs} 个值。",
    "{value!r} is not {choice}.": "“{value}”不是可选的值，只能是 {choice}。",
    "{value!r} is not one of {choices}.": "“{value}”不是可选的值，只能是 {choices} 之一。",
    "{value!r} is not a valid {number_type}.": "“{value}”不是{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在允许的范围 {range} 之内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "“{value}”不是是/否的值，可写：{states}。",
    "{name} {filename!r} does not exist.": "{name}“{filename}”不存在。",
    "{name} {filename!r} is a file.": "{name}“{filename}”是一个文件，这里需要目录。",
    "{name} {filename!r} is a directory.": "{name}“{filename}”是一个目录，这里需要文件。",
    "{name} {filename!r} is not readable.": "{name}“{filename}”不可读。",
    "{name} {filename!r} is not writable.": "{name}“{filename}”不可写。",
    "{name} {filename!r} is not executable.": "{name}“{filename}”不可执行。",
    "Could not open file {filename!r}: {message}": "无法打开文件“{filename}”：{message}",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "(dynamic)": "（动态）",
    "Aborted!": "已中止。",
    "Error: invalid input": "错误：输入无效",
    "unknown error": "未知错误",
}

# click's type names appear in usage lines as metavars (TEXT, INTEGER, …).
TYPE_NAMES = {
    click.types.StringParamType: "文本",
    click.types.UnprocessedParamType: "文本",
    click.types.IntParamType: "整数",
    click.types.IntRange: "整数",
    click.types.FloatParamType: "数字",
    click.types.FloatRange: "数字",
    click.types.BoolParamType: "是或否",
    click.types.DateTime: "日期时间",
}

OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."


def gettext(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return gettext(singular if count == 1 else plural)


def install() -> None:
    """Make click speak Chinese in this process (idempotent)."""
    for module in (
        click.core,
        click.decorators,
        click.exceptions,
        click.formatting,
        click.parser,
        click.termui,
        click.types,
        click.utils,
    ):
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext
    for cls, name in TYPE_NAMES.items():
        cls.name = name
    click.exceptions.echo = _visible_echo


def _visible_echo(message=None, file=None, nl: bool = True, err: bool = False, color=None) -> None:
    """click's own error messages quote what was given (a file name, a value); shown as every output is."""
    click.utils.echo(visible(message) if isinstance(message, str) else message, file=file, nl=nl, err=err, color=color)


class Command(click.Command):
    """A command whose usage line reads 「用法：python build.py check [选项] [文件]...」."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)


class Group(click.Group):
    """The ``build.py`` group: Chinese usage line; an unknown command suggests the close ones in Chinese."""

    command_class = Command

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)
