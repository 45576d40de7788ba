"""The command group: every verb's command under one ``python build.py``, and ``main()``.

One module per verb (as mkdocs keeps ``commands/``); each parses its
options, makes one library call and says the result. Heavy modules
(openpyxl, WeasyPrint, the site, Flask) are imported inside the commands
that need them, so ``check`` starts quickly.
"""

from __future__ import annotations

import importlib
import signal
import sys
from pathlib import Path

import click

from liaison.cli.chinese import Group
from liaison.cli.shared import PROGRAM, UserError, say
from liaison.core.cachekit import cannot_write, take_notices, write_failure
from liaison.core.logs import configure_logging


class _Commands(Group):
    """The group, saying in Chinese when an output could not be written (a full disk, a read-only folder).

    Every output is written aside and moved into place (the PDF folder file by file), so what failed left
    nothing half-written: the person needs to know why, and what to do, not a traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OSError as error:
            if not cannot_write(error):
                raise
            where = f" {error.filename}" if error.filename else ""
            raise UserError(
                f"无法写入{where}（{write_failure(error)}），本次的输出没有写完。没写完的文件已删除，留下的都是完整的"
                "（PDF 文件夹中可能只有一部分）。请留出空间、或用 --out 换一个可写的目录后重新运行。"
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    take_notices()  # this command's own: none left from earlier work in this process
    ctx.call_on_close(_say_uncached)


def _say_uncached() -> None:
    """One Chinese line for each cache folder this run could not write (it ran without it, with the same results)."""
    for line in take_notices():
        say(line, err=True)


# Command name -> the module of liaison.cli that declares it (under the name of the module, bar a trailing _).
COMMANDS = {
    "check": "check",
    "query": "query",
    "pdf": "pdf",
    "export": "export",
    "review": "review",
    "build": "build",
    "serve": "serve",
    "outbox": "outbox",
    "notify": "notify",
    "history": "history",
    "audit": "audit",
    "remind": "remind",
    "import": "import_",
    "verify": "verify",
}


class LazyCommands(dict):
    """Command name -> command, each module imported the first time its command is asked for.

    A command pays only for its own imports: ``check`` and ``history`` never
    load the PDF renderer, the site, openpyxl or the web form (a warm
    ``check`` is mostly starting Python). Listing the names imports nothing;
    help for the whole group imports every command, as it shows each one.
    """

    def __getitem__(self, name: str) -> click.Command:
        found = super().__getitem__(name)
        if isinstance(found, str):
            module = importlib.import_module(f"liaison.cli.{found}")
            found = getattr(module, found)
            self[name] = found
        return found

    def get(self, name: str, default=None):
        return self[name] if name in self else default  # noqa: SIM401 - this is get itself

    def values(self) -> list[click.Command]:
        return [self[name] for name in self]

    def items(self) -> list[tuple[str, click.Command]]:
        return [(name, self[name]) for name in self]


cli.commands = LazyCommands(COMMANDS)


def stop_on_terminate() -> None:
    """Let SIGTERM (``timeout``, a cancelled CI job, systemd) end a command as Ctrl-C does: by unwinding, so
    that the git a command waits on is killed with what it started (``Repo.query`` runs it in a group of its
    own, which a signal to this process alone would leave running) and half-written files are removed."""

    def terminated(signum, frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)


def main() -> None:
    stop_on_terminate()
    # Chinese output must not depend on the terminal's locale (CI often has none).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    configure_logging("WARNING")
    cli(prog_name=PROGRAM)
