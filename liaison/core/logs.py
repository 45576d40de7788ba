"""Logging for the service and the commands: one line an event, on stderr, in a format administrators grep.

The web form and the outbox log what they do (every delivery attempt, every
fetch) through ``logging.getLogger("liaison.<part>")``; the command line keeps
printing its Chinese messages for people and logs warnings only. Under
systemd the lines go to the journal as they are, control characters shown
as escapes (liaison.core.terminal).
"""

from __future__ import annotations

import logging
import os

from liaison.core.terminal import visible

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class VisibleFormatter(logging.Formatter):
    """Log lines with control characters shown as escapes: a logged commit message or file name steers no terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


def configure_logging(level: str | None = None) -> None:
    """Send ``liaison.*`` logs to stderr once; ``LIAISON_LOG_LEVEL`` (e.g. DEBUG) overrides ``level``."""
    logger = logging.getLogger("liaison")
    chosen = (os.environ.get("LIAISON_LOG_LEVEL") or level or "INFO").upper()
    logger.setLevel(chosen)
    if not any(getattr(h, "_liaison", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(VisibleFormatter(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z"))
        handler._liaison = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
