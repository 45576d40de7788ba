"""The scan for English a user reads: ASCII words left after taking out code, ids, paths and an allow-list.

Code and ids a person types or copies stay as they are (``--leader``,
``build.py``, ``records/2025/…``, ``T2019001``, ``zm``); what is left must be
Chinese, apart from the few product and format names on ALLOWED.
"""

from __future__ import annotations

import re

# Names people know as they are, and values typed in a command (choices, examples).
_ALLOWED_WORDS = """
PDF GitLab Git CI CPU JUnit XML YAML JSON CSV Excel APP SSH Tab UTF GBK KB MB SMTP URL HTTP HTTPS ID
Ctrl WPS SHA Pages xlsx zip
python check query pdf export build serve history audit remind verify text junit table brief json csv
asc desc current previous zm zhaomin make run test PORT reminders web
import outbox review main origin aliases BOM notify
"""
# Products and formats; then the command line: the program, its commands, option values shown in help,
# make's targets, environment variables and config.yaml's keys a person types.
ALLOWED = set(re.findall(r"\S+", _ALLOWED_WORDS))
# Code-shaped tokens: options, paths and file names, dotted names, identifiers with digits or underscores.
CODE = re.compile(
    r"--?[A-Za-z][\w-]*(=\S*)?"  # options
    r"|\$?[A-Za-z_][\w.-]*[/.][\w./{}*-]*"  # paths, file names, dotted keys, URLs
    r"|[A-Za-z]*[0-9_][\w-]*"  # ids with digits or underscores: T2019001, web_user
    r"|https?://\S+"
)
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """The ASCII words a user reads in ``text`` that are neither code nor allowed, in order of appearance."""
    plain = CODE.sub(" ", text)
    return [w for w in WORD.findall(plain) if w not in ALLOWED and w not in allowed]
