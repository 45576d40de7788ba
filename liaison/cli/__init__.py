"""The command line: ``python build.py <command>`` (``commands``), its help in Chinese (``chinese``)."""

from liaison.cli.commands import cli, main

__all__ = ["cli", "main"]
