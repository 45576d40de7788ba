"""Names as people type them on a phone or in a terminal: full pinyin (zhaomin) and initials (zm).

One rule for the site's search box and the command line's ``--leader``, so
what the search box's hint promises (「姓名或拼音首字母，如 zm」) works everywhere.
"""

from __future__ import annotations

import re
from functools import cache

_LETTERS = re.compile(r"[a-z]+")


@cache
def pinyin_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a Chinese name, lower case without spaces: ('zhaomin', 'zm')."""
    from pypinyin import Style, lazy_pinyin  # its dictionary takes 0.15 s to load: only when asked

    syllables = lazy_pinyin(name, errors="ignore")
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables if s).lower()
    if not initials:  # a name without Han characters: its own letters
        initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()
    return full, initials


def typed_pinyin(text: str) -> str | None:
    """``text`` as pinyin to look up (lower case, spaces and apostrophes dropped), or None if it is not pinyin."""
    letters = re.sub(r"[\s'’]+", "", text.strip().lower())
    return letters if _LETTERS.fullmatch(letters) else None


def matches_pinyin(name: str, typed: str) -> bool:
    """Whether ``typed`` (from ``typed_pinyin``) is the name's full pinyin or its initials."""
    full, initials = pinyin_keys(name)
    return typed in (full, initials)
