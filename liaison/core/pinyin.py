"""Names as people type them on a phone or in a terminal: full pinyin (zhaomin), a prefix of it (zhao), initials (zm).

One rule for the site's search box and the command line's ``--leader``, so
what the search box's hint promises (「姓名、拼音或首字母，如 zm」) works everywhere:
the site's search.js applies ``matches_pinyin`` to the readings listed here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import product

_LETTERS = re.compile(r"[a-z]+")

# Surnames read otherwise than the character's common reading (曾 is zēng as a surname, not céng).
# pypinyin reads a name as ordinary text, so both readings are kept: a person may type either.
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "缪": "miao",
    "翟": "zhai",
    "种": "chong",
    "秘": "bi",
    "尉": "yu",
    "都": "du",
    "万": "wan",
    "黑": "he",
    "召": "shao",
    "折": "she",
    "晟": "cheng",
    "芮": "rui",
    "员": "yun",
    "句": "gou",
    "长": "zhang",
}


@cache
def _syllables(name: str) -> tuple[tuple[str, ...], ...]:
    """Each character's readings (lower case), the surname's family reading added: (('ceng', 'zeng'), ('guo',), …)."""
    from pypinyin import Style, lazy_pinyin  # its dictionary takes 0.15 s to load: only when asked

    syllables = [s.lower() for s in lazy_pinyin(name, errors="ignore") if _LETTERS.fullmatch(s.lower())]
    if not syllables:  # a name without Han characters: its own letters
        return tuple((s,) for s in lazy_pinyin(name, style=Style.FIRST_LETTER) if s)
    readings = [(s,) for s in syllables]
    family = SURNAME_READINGS.get(name[:1])
    if family and family != readings[0][0]:
        readings[0] = (readings[0][0], family)
    return tuple(readings)


@cache
def pinyin_readings(name: str) -> tuple[tuple[str, str], ...]:
    """Every (full pinyin, initials) a person may type for ``name``; the dictionary's reading first."""
    out = []
    for choice in product(*_syllables(name)):
        pair = ("".join(choice), "".join(s[0] for s in choice))
        if pair not in out:
            out.append(pair)
    return tuple(out) or (("", ""),)


def pinyin_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a Chinese name, lower case without spaces: ('zhaomin', 'zm')."""
    return pinyin_readings(name)[0]


def typed_pinyin(text: str) -> str | None:
    """``text`` as pinyin to look up (lower case, spaces and apostrophes dropped, full-width letters as an input
    method in 全角 mode types them made half-width), or None if it is not pinyin."""
    letters = re.sub(r"[\s'’·]+", "", unicodedata.normalize("NFKC", text).strip().lower())
    return letters if _LETTERS.fullmatch(letters) else None


def matches_pinyin(name: str, typed: str) -> bool:
    """Whether ``typed`` (from ``typed_pinyin``) starts the name's full pinyin (zhao, zhaom, zhaomin)
    or its initials (zm, z): a surname alone finds every person of that surname."""
    return any(full.startswith(typed) or initials.startswith(typed) for full, initials in pinyin_readings(name))
