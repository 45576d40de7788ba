"""The contact record: its id and file name, and reading one file into a checked Record.

A record lives at ``records/<YYYY>/<record id>.yaml`` where the id is
``<date>-<leader id>-<6 hex digits>``, e.g. ``2024-09-15-T2019001-3fa2c1``.
The random suffix lets two submissions of one leader on one day never collide.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liaison.core import dates, yamlio
from liaison.core.problems import Problem
from liaison.core.schema import Schema

RECORDS_DIR = "records"
RECORD_ID = re.compile(r"(\d{4})-(\d{2})-(\d{2})-([A-Za-z0-9]+)-([0-9a-f]{6})")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Files that may sit in records/ without being records.
_ALLOWED_EXTRA = {"README.md", ".gitkeep", ".gitattributes"}


def new_record_id(day: datetime.date, leader_id: str, suffix: str | None = None) -> str:
    """A fresh record id; ``suffix`` (6 hex digits) is random unless given."""
    import secrets  # only the form and the import make ids

    return f"{day.isoformat()}-{leader_id}-{suffix or secrets.token_hex(3)}"


def record_path(record_id: str) -> str:
    """Where a record with this id is stored, relative to the repository root."""
    return f"{RECORDS_DIR}/{record_id[:4]}/{record_id}.yaml"


@dataclass(frozen=True)
class Record:
    """One contact record. ``data`` holds every schema key with its typed value.

    ``raw`` is the file's bytes as stored: the PDF embeds them, and their hash
    (``digest``) keys the render cache.
    """

    id: str
    path: str
    data: dict[str, Any]
    lines: dict[str, int]
    raw: bytes = b""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def date(self) -> datetime.date:
        return self.data["date"]

    @property
    def leader_id(self) -> str:
        return self.data["leader_id"]

    @property
    def leader(self) -> str:
        return self.data["leader"]


def list_record_files(root: Path, known_plain: frozenset[str] = frozenset()) -> tuple[list[str], list[Problem]]:
    """Every record file under ``records/`` (sorted), and a problem for each file that cannot be one.

    A stray file is reported rather than skipped: a record saved as ``.yml``
    or outside a year folder would otherwise vanish from every output. So is
    anything that is not a plain file or folder (a symbolic link, a FIFO, an
    executable): a link would make a record of another file, in or out of the
    repository, whose edits no history of the record shows. Links are never
    followed, ``records/`` itself included.

    ``known_plain``: paths (``records/…``) someone has just vouched are plain,
    non-executable files (git, for files it saw unchanged while it trusts the
    executable bit); such a file the folder lists as a file is not looked at
    again (10,000 ``lstat`` calls are a tenth of a warm check).
    """
    base = root / RECORDS_DIR
    paths: list[str] = []
    problems: list[Problem] = []
    try:
        top = os.lstat(base)
    except OSError:
        return paths, problems
    if not stat.S_ISDIR(top.st_mode):
        return paths, [Problem(RECORDS_DIR, None, "", "", irregular_message(top.st_mode))]
    _list_folder(str(base), RECORDS_DIR, paths, problems, known_plain)
    return paths, problems


def _list_folder(
    folder: str, rel_dir: str, paths: list[str], problems: list[Problem], known_plain: frozenset[str]
) -> None:
    """``list_record_files`` of one folder and, in name order, those below it: what ``os.walk`` with sorted
    names would give, with one ``lstat`` an entry and no path joined twice (10,000 files each run)."""
    folders, files = _entries(folder)
    below = []
    for entry in sorted(folders, key=_name):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode) or entry.name.endswith(".yaml"):
            problems.append(Problem(f"{rel_dir}/{entry.name}", None, "", "", irregular_message(mode)))
        else:
            below.append(entry)
    for entry in sorted(files, key=_name):
        name = entry.name
        if rel_dir == RECORDS_DIR and name in _ALLOWED_EXTRA:
            continue
        rel = f"{rel_dir}/{name}"
        if rel in known_plain and name.endswith(".yaml") and entry.is_file(follow_symlinks=False):
            paths.append(rel)
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if not _plain_file(mode):
            problems.append(Problem(rel, None, "", "", irregular_message(mode)))
        elif name.endswith(".yaml"):
            paths.append(rel)
        else:
            problems.append(
                Problem(
                    rel,
                    None,
                    "",
                    "",
                    "不是联系记录文件：记录文件的扩展名必须是 .yaml。请改名或移出 records/ 目录。",
                )
            )
    for entry in below:
        _list_folder(entry.path, f"{rel_dir}/{entry.name}", paths, problems, known_plain)


def _entries(folder: str) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
    """The folders (a link to one included: it is named, never entered) and the other entries of ``folder``;
    none when it cannot be listed (as ``os.walk`` passes over it)."""
    folders: list[os.DirEntry] = []
    files: list[os.DirEntry] = []
    try:
        with os.scandir(folder) as listed:
            for entry in listed:
                try:
                    is_folder = entry.is_dir()
                except OSError:
                    is_folder = False
                (folders if is_folder else files).append(entry)
    except OSError:
        pass
    return folders, files


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _plain_file(mode: int) -> bool:
    return stat.S_ISREG(mode) and not mode & 0o111


GIT_MODE_NAMES = {"120000": "符号链接", "160000": "子模块（gitlink）", "100755": "可执行文件"}


def irregular_message(mode: int | str) -> str:
    """Why a file (an ``os.lstat`` mode, or git's mode as text, e.g. ``120000``) cannot be a record, and what to do."""
    if isinstance(mode, str):
        mode = {"120000": stat.S_IFLNK, "160000": -1, "040000": stat.S_IFDIR}.get(mode, stat.S_IFREG | 0o755)
    if mode == -1:
        return (
            "这是子模块（Git 的 gitlink），不是记录文件，其内容不在本仓库的历史中。"
            "请删除它（git rm --cached 路径），把记录作为普通文件提交。"
        )
    if stat.S_ISLNK(mode):
        return (
            "这是符号链接，不是记录文件：链接所指文件的改动不会出现在这条记录的历史和审计中，"
            "链接也可能指向仓库之外。本系统不读取链接。请删除链接，把记录内容作为普通文件提交。"
        )
    if stat.S_ISDIR(mode):
        return "这是文件夹（或子模块），不是记录文件。记录文件应是 records/<年份>/ 中的普通 .yaml 文件。"
    if stat.S_ISREG(mode):
        return (
            "这个文件带有可执行权限，记录文件应是普通文件。"
            "请运行 chmod -x 和 git update-index --chmod=-x 去掉可执行权限后提交。"
        )
    return "这不是普通文件（可能是管道、设备或套接字），不是记录文件，本系统不读取它。请删除它。"


def parse_record(
    path: str, raw: bytes, schema: Schema, today: datetime.date | None
) -> tuple[Record | None, list[Problem]]:
    """Read one record file's bytes into a Record, with every problem found in it.

    Returns the Record whenever the file is a YAML mapping, even if fields
    are wrong, so that cross-record rules can still look at it; callers that
    produce outputs must use only records whose problems list is empty.
    """
    try:
        node = yamlio.read_yaml_bytes(raw, yamlio.RECORD_MAX_DEPTH)
    except yamlio.YamlError as err:
        return None, [Problem(path, err.line, "", "", err.message)]
    if not isinstance(node, yamlio.Mapping):
        return None, [Problem(path, node.line, "", "", "记录文件的内容应是“字段: 值”的形式，每行一项。")]

    data, problems = _converted(path, node, schema)
    lines = dict(node.key_lines)
    for error in schema.validate(data, today):
        key = error.path[0] if error.path else ""
        if any(p.field == key for p in problems):
            continue  # already explained by the conversion above
        problems.append(Problem(path, lines.get(key, node.line), key, schema.label(error.path), error.message))
    _fill_optional_text(data, schema)
    problems.extend(path_problems(path, data, lines, schema))
    stem = Path(path).stem
    return Record(stem, path, data, lines, raw), problems


def record_values(raw: bytes, schema: Schema) -> dict[str, Any] | None:
    """The typed values ``parse_record`` gives a file's bytes (``Record.data``), without checking them; None when
    the bytes are no YAML mapping. For the history, where every past version counts only by its values."""
    try:
        node = yamlio.read_yaml_bytes(raw, yamlio.RECORD_MAX_DEPTH)
    except yamlio.YamlError:
        return None
    if not isinstance(node, yamlio.Mapping):
        return None
    data, _ = _converted("", node, schema)
    _fill_optional_text(data, schema)
    return data


def _converted(path: str, node: yamlio.Mapping, schema: Schema) -> tuple[dict[str, Any], list[Problem]]:
    """Each field's typed value, and a problem for each value that cannot be converted (left out of the data)."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    for key, value_node in node.items.items():
        field = schema.field(key)
        value, message = _field_value(field.type if field else None, value_node)
        if message:
            problems.append(Problem(path, node.key_lines[key], key, field.label if field else "", message))
        else:
            data[key] = value
    return data, problems


def _fill_optional_text(data: dict[str, Any], schema: Schema) -> None:
    """Optional text fields that are absent read as empty text (after validation: absent is not an error)."""
    for field in schema.fields:
        if field.is_text and not field.required:
            data.setdefault(field.key, "")


def _field_value(kind: str | None, node: yamlio.Node) -> tuple[Any, str | None]:
    """The typed value of one field as written, or a Chinese message saying why it has none."""
    if not isinstance(node, yamlio.Scalar) or kind is None:
        return yamlio.to_python(node), None  # cerberus explains wrong shapes and unknown keys
    text = node.value
    if kind == "string":
        return text, None  # as written: `no`, `0123`, `2020-06-20` stay text
    if node.plain and text == "":
        return None, None  # reported by cerberus as empty
    if kind == "integer":
        stripped = text.strip()
        return (int(stripped), None) if _INTEGER.fullmatch(stripped) else (text, None)
    if kind == "date":
        try:
            day = dates.parse_date(text)
            return (text, None) if day is None else (day, None)
        except ValueError:
            return None, f"“{text}”不是真实存在的日期，请核对月份和日期（写成 年-月-日，如 2024-09-15）。"
    return yamlio.scalar_to_python(node), None


def path_problems(path: str, data: dict, lines: dict[str, int], schema: Schema) -> list[Problem]:
    """The file's place must agree with its content: year folder, date and leader id in the name."""
    parts = path.split("/")
    example = "records/2024/2024-09-15-T2019001-3fa2c1.yaml"
    if len(parts) != 3 or parts[0] != RECORDS_DIR:
        return [Problem(path, None, "", "", f"记录文件应放在按年份命名的文件夹中，如 {example}。")]
    stem = parts[2][: -len(".yaml")]
    match = RECORD_ID.fullmatch(stem)
    if not match:
        return [
            Problem(
                path,
                None,
                "",
                "",
                f"文件名应为“联系日期-工号-6位编号.yaml”，如 {example}；请用网页表单提交，或按此格式改名。",
            )
        ]
    problems = []
    day = data.get("date")
    if not re.fullmatch(r"\d{4}", parts[1]) or (isinstance(day, datetime.date) and parts[1] != f"{day.year:04d}"):
        want = f"{day.year:04d}" if isinstance(day, datetime.date) else match[1]
        problems.append(
            Problem(
                path,
                None,
                "",
                "",
                f"文件所在的年份文件夹“{parts[1]}”与{schema.label(('date',))}不符，应放在 records/{want}/ 中。",
            )
        )
    if isinstance(day, datetime.date) and stem[:10] != day.isoformat():
        problems.append(
            Problem(
                path,
                lines.get("date"),
                "date",
                schema.label(("date",)),
                f"{day.isoformat()} 与文件名中的日期 {stem[:10]} 不一致。请改正日期，或把文件改名为与日期一致。",
            )
        )
    leader_id = data.get("leader_id")
    if isinstance(leader_id, str) and leader_id != match[4]:
        problems.append(
            Problem(
                path,
                lines.get("leader_id"),
                "leader_id",
                schema.label(("leader_id",)),
                f"“{leader_id}”与文件名中的工号“{match[4]}”不一致，请核对是哪一位领导的记录。",
            )
        )
    return problems


def dump_record(data: dict[str, Any], schema: Schema) -> str:
    """The YAML text of a record, keys in the schema's order; every free-text field a literal block.

    A free-text field (``plain_text`` in the schema) is written as a literal
    block (``|-``) holding the characters themselves, so the reviewer's diff
    reads like the form: no ``\\U0002A6A5`` escapes for a rare character, no
    quoted one-liner because of a tab or a colon, and an edit of a long text
    shows as the lines that changed. An empty value stays ``''``; a value a
    block cannot hold exactly (checked by reading it back) keeps PyYAML's style.
    """
    parts = []
    for field in schema.fields:
        if field.key in data:
            key, value = field.key, data[field.key]
            block = _literal_block(key, value) if field.rules.get("plain_text") else None
            parts.append(block or yamlio.dump_mapping({key: value}))
    return "".join(parts)


def _literal_block(key: str, value: Any) -> str | None:
    """``key: |-`` and the text indented by two spaces, or None when that would not read back as ``value``."""
    if not isinstance(value, str) or not value:
        return None
    indicator = "2" if value[0] in " \t" or value.startswith("\n") else ""
    chomp = "+" if value.endswith("\n") else "-"
    lines = value.removesuffix("\n").split("\n") if chomp == "+" else value.split("\n")
    text = f"{key}: |{indicator}{chomp}\n" + "".join(f"  {line}\n" if line else "\n" for line in lines)
    try:
        same = yamlio.to_python(yamlio.read_yaml_bytes(text.encode("utf-8"))) == {key: value}
    except Exception:  # noqa: BLE001 - any reading failure means: use the quoted style
        same = False
    return text if same else None


def plain_value(value: Any) -> Any:
    """A value as JSON has it: dates as ISO text, everything else as it is."""
    return value.isoformat() if isinstance(value, datetime.date) else value


def leaders_of(paths: list[str]) -> set[str]:
    """The leader ids (工号) that record file names carry, e.g. of files that fail check."""
    return {match[4] for path in paths if (match := RECORD_ID.fullmatch(Path(path).stem))}
