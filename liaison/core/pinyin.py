"""Names as people type them on a phone or in a terminal: full pinyin (zhaomin), a prefix of it (zhao), initials (zm).

One rule for the site's search box and the command line's ``--leader``, so
what the search box's hint promises (「姓名、拼音或首字母，如 zm」) works everywhere:
the site's search.js applies ``matches_pinyin`` to the readings listed here.
"""

from __future__ import annotations

import importlib.metadata
import re
import unicodedata
from functools import cache
from itertools import product
from pathlib import Path

from liaison.core import cachekit
from liaison.core.atomic import write_atomic

_LETTERS = re.compile(r"[a-z]+")
MEMO_FILE = "pinyin.json"
MEMO_BYTES = 16 << 20  # a roster of thousands of names writes well under a megabyte
_RECALLED: dict[str, tuple[tuple[str, ...], ...]] = {}  # name -> syllables, from a memo of an earlier run
_FOUND: set[str] = set()  # names whose syllables this process asked pypinyin for
_RECALLED_SORT: dict[str, tuple[str, ...]] = {}  # name -> its reading for sorting, from the memo
_FOUND_SORT: set[str] = set()
_UNREAD: list[Path] = []  # the memo folder recall_later named, read at the first name not recalled

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
    if name in _RECALLED or (_read_unread() and name in _RECALLED):
        return _RECALLED[name]
    from pypinyin import Style, lazy_pinyin  # its dictionary takes 0.4 s to load: only when asked

    _FOUND.add(name)
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


@cache
def sort_reading(name: str) -> tuple[str, ...]:
    """pypinyin's plain reading of ``name`` (``lazy_pinyin``), piece by piece: what orders names by pinyin."""
    if name in _RECALLED_SORT or (_read_unread() and name in _RECALLED_SORT):
        return _RECALLED_SORT[name]
    from pypinyin import lazy_pinyin

    _FOUND_SORT.add(name)
    return tuple(lazy_pinyin(name))


def typed_pinyin(text: str) -> str | None:
    """``text`` as pinyin to look up (lower case, spaces and apostrophes dropped, full-width letters as an input
    method in 全角 mode types them made half-width), or None if it is not pinyin."""
    letters = re.sub(r"[\s'’·]+", "", unicodedata.normalize("NFKC", text).strip().lower())
    return letters if _LETTERS.fullmatch(letters) else None


def matches_pinyin(name: str, typed: str) -> bool:
    """Whether ``typed`` (from ``typed_pinyin``) starts the name's full pinyin (zhao, zhaom, zhaomin)
    or its initials (zm, z): a surname alone finds every person of that surname."""
    return any(full.startswith(typed) or initials.startswith(typed) for full, initials in pinyin_readings(name))


# Every command that orders leaders (表1 and 表2, the site, the reminders) reads the same 150 names every time,
# and loading pypinyin's dictionary for them cost half of an export and more than the rest of a one-record
# site rebuild: their readings are kept in the project's cache folder (the command line recalls and keeps
# them, liaison.cli.shared.project_of), under a stamp of this module's code and pypinyin's version, and
# anything of another shape is ignored.
def _memo_stamp() -> str:
    return cachekit.stamp(cachekit.code_stamp(__name__), importlib.metadata.version("pypinyin"))


def recall_later(folder: Path) -> None:
    """``recall(folder)`` when a name is first asked for that no memo read so far gives: a command that orders
    no names (``check``) pays nothing for the memo, not even its stamp (20 ms)."""
    _UNREAD[:] = [Path(folder)]


def _read_unread() -> bool:
    """Read the memo recall_later named, if not yet; True if it did."""
    if not _UNREAD:
        return False
    recall(_UNREAD.pop())
    return True


def recall(folder: Path) -> None:
    """Take the readings an earlier run kept in ``folder`` (a cache folder), when they are of this code's making."""
    _UNREAD.clear()
    try:
        kept = cachekit.read_memo(Path(folder) / MEMO_FILE, MEMO_BYTES)
    except (OSError, ValueError, TypeError, KeyError):
        return
    if type(kept) is not dict or kept.get("stamp") != _memo_stamp():
        return
    names, sort = kept.get("names"), kept.get("sort")
    for name, syllables in names.items() if type(names) is dict else ():
        if type(syllables) is list and all(type(choices) is list and _texts(choices) for choices in syllables):
            _RECALLED[name] = tuple(tuple(choices) for choices in syllables)
    for name, pieces in sort.items() if type(sort) is dict else ():
        if type(pieces) is list and (_texts(pieces) or not pieces):
            _RECALLED_SORT[name] = tuple(pieces)


def _texts(items: list) -> bool:
    """Whether ``items`` are some short printable texts, as pypinyin gives them."""
    return bool(items) and all(type(s) is str and 0 < len(s) <= 100 and s.isprintable() for s in items)


def keep(folder: Path) -> None:
    """Write the readings known in this process to ``folder`` (a usable cache folder) when pypinyin was asked
    for any (else nothing)."""
    if not (_FOUND or _FOUND_SORT) or not cachekit.usable_folder(Path(folder)):
        return
    names = {**_RECALLED, **{name: _syllables(name) for name in _FOUND}}
    sort = {**_RECALLED_SORT, **{name: sort_reading(name) for name in _FOUND_SORT}}
    data = {
        "stamp": _memo_stamp(),
        "names": {n: [list(c) for c in s] for n, s in sorted(names.items())},
        "sort": {n: list(s) for n, s in sorted(sort.items())},
    }
    try:
        write_atomic(Path(folder) / MEMO_FILE, cachekit.seal(cachekit.dumps(data)))
    except OSError as error:
        cachekit.unwritable(Path(folder), error)
        return
    _FOUND.clear()
    _FOUND_SORT.clear()
