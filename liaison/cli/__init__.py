"""The command line, ``python build.py <command>``: the group (``main``), one module per command, what they
share (``shared``), and click in Chinese (``chinese``)."""

from liaison.cli.main import cli, main

__all__ = ["cli", "main"]
