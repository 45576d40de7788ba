"""The file-name rule: names of leaders' folders and record PDFs, safe on every file system.

The office opens exports on Windows, leaders on phones and Macs, CI writes
them on Linux, and the zip must survive all three. So names avoid the
characters Windows forbids, trailing dots and spaces, reserved device names,
and stay short enough for Windows paths and ext4's 255-byte limit.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from liaison.core.records import Record
from liaison.core.roster import Leader, Roster

# ASCII characters Windows refuses in names, replaced by their full-width forms,
# which read the same to a Chinese user: 国旗护卫队/学生会 → 国旗护卫队／学生会.
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in '/\\:*?"<>|'})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)

MAX_CHARS = 60
MAX_BYTES = 180  # leaves room in 255 bytes for a suffix and the extension


def safe_filename(text: str, max_chars: int = MAX_CHARS) -> str:
    """One path component made from arbitrary text, readable and valid everywhere.

    NFC-normalised (macOS would otherwise store a different byte sequence),
    forbidden characters replaced, whitespace runs folded to one space,
    leading dots and trailing dots and spaces removed, length capped.
    """
    name = unicodedata.normalize("NFC", text)
    name = _CONTROL.sub("", name.translate(_FULL_WIDTH))
    name = _SPACES.sub(" ", name).strip()
    name = name.lstrip(".")
    name = name[:max_chars]
    while len(name.encode("utf-8")) > MAX_BYTES:
        name = name[:-1]
    name = name.rstrip(". ")
    if not name:
        return "未命名"
    if _RESERVED.fullmatch(name):
        name = "_" + name
    return name


def leader_folders(roster: Roster) -> dict[str, str]:
    """Folder name of every leader in the roster, keyed by 工号.

    Named by the leader's name; leaders sharing a name get their department
    added, e.g. 张伟（学生工作处）, and their id too if that is not enough. The
    whole roster decides, so a leader's folder keeps its name in every export.
    """
    by_name: dict[str, list[Leader]] = defaultdict(list)
    for leader in roster.leaders:
        by_name[safe_filename(leader.name)].append(leader)
    folders = {}
    for name, leaders in by_name.items():
        departments = defaultdict(int)
        for leader in leaders:
            departments[leader.department] += 1
        for leader in leaders:
            if len(leaders) == 1:
                folders[leader.id] = name
            elif departments[leader.department] == 1:
                folders[leader.id] = safe_filename(f"{name}（{leader.department}）")
            else:
                folders[leader.id] = safe_filename(f"{name}（{leader.department}，{leader.id}）")
    return folders


def record_pdf_stem(record: Record) -> str:
    """``<date>_<联系对象>``, made safe: a record's PDF is named so wherever it is saved (the export, a zip, the
    one PDF a leader downloads)."""
    return safe_filename(f"{record.date.isoformat()}_{record['target']}")


def record_pdf_paths(records: list[Record], roster: Roster, folders: dict[str, str] | None = None) -> dict[str, str]:
    """``<leader folder>/<date>_<联系对象>.pdf`` for each record id.

    Two records of one leader with the same date and 联系对象 both get the
    last part of their record id appended, so neither overwrites the other.
    ``folders``: ``leader_folders(roster)``, when the caller has it (the site asks once per leader).
    """
    folders = leader_folders(roster) if folders is None else folders
    wanted: dict[str, str] = {}
    for record in records:
        folder = folders.get(record.leader_id) or safe_filename(f"{record.leader}（{record.leader_id}）")
        wanted[record.id] = f"{folder}/{record_pdf_stem(record)}"
    counts: dict[str, int] = defaultdict(int)
    for base in wanted.values():
        counts[base.casefold()] += 1  # Windows and macOS compare names without case
    return {
        record_id: f"{base}_{record_id.rsplit('-', 1)[1]}.pdf" if counts[base.casefold()] > 1 else f"{base}.pdf"
        for record_id, base in wanted.items()
    }
