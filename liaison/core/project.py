"""A liaison repository on disk: its config, roster, schemas and records, loaded and checked.

This is the edge where files are read; everything it returns is plain data
for the pure functions in ``checks``, ``query`` and the writers.
"""

from __future__ import annotations

import datetime
import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core import cachekit, dates, yamlio
from liaison.core.atomic import write_atomic
from liaison.core.config import Config, config_from_data
from liaison.core.problems import Problem
from liaison.core.records import Record, irregular_message, list_record_files, parse_record
from liaison.core.roster import Roster, control_problems, duplicate_problems, roster_from_data
from liaison.core.schema import Schema

CONFIG_FILE = "config.yaml"
ROSTER_FILE = "roster.yaml"
SCHEMA_DIR = "schema"
# What a project is read from, in the order its memo keeps them.
SOURCES = (
    f"{SCHEMA_DIR}/record.yaml",
    f"{SCHEMA_DIR}/config.yaml",
    f"{SCHEMA_DIR}/roster.yaml",
    CONFIG_FILE,
    ROSTER_FILE,
)
MEMO_FILE = "project.json"
# Folders every output reads its templates, styles and scripts from: never through a link (one may lead to
# /etc/passwd or a CI runner's secrets, which the public site would then carry), nor from a FIFO or device.
OUTPUT_SOURCES = ("templates", "site")
DATA_DIR = ".liaison"  # the form service's and the reminder rounds' data (outbox, to-dos), unless --data says


class ProjectError(Exception):
    """The repository cannot be used at all (e.g. not a liaison repository); message in Chinese."""


@dataclass
class Project:
    root: Path
    schema: Schema
    config: Config | None
    roster: Roster | None
    problems: list[Problem] = field(default_factory=list)  # in config.yaml and roster.yaml (and OUTPUT_SOURCES)
    sources_ok: bool = True  # False when OUTPUT_SOURCES hold a link or another file that is not plain: no output

    @property
    def ok(self) -> bool:
        return self.config is not None and self.roster is not None

    def today(self) -> datetime.date:
        return self.config.today() if self.config else dates.today()

    @property
    def data_dir(self) -> Path:
        """Where the form service keeps its outbox and to-dos when no --data names a folder."""
        return self.root / DATA_DIR


def open_project(root: Path) -> Project:
    """Load the schemas, config and roster of the repository at ``root``.

    Problems in config.yaml or roster.yaml are collected, not raised, so that
    ``check`` reports them with everything else. A project without problems
    is remembered in ``.cache/project.json`` (below), which the next run with
    the same files uses instead of parsing and validating them again.
    """
    root = Path(root).resolve()
    # lexists: a link in their place is named when read (never followed), not taken for a missing file.
    if not os.path.lexists(root / CONFIG_FILE) or not os.path.lexists(root / SCHEMA_DIR / "record.yaml"):
        raise ProjectError(
            f"{root} 不是联系记录仓库（找不到 {CONFIG_FILE} 或 {SCHEMA_DIR}/record.yaml）。"
            "请在仓库根目录运行，或用 --root 指定仓库目录。"
        )
    sources = {name: read_record_bytes(root, name, executable=True) for name in SOURCES}
    raws = {name: raw for name, (raw, _) in sources.items()}
    key = None if cachekit.switched_off(cachekit.CHECK_SWITCH) else _memo_key(root, raws)
    remembered = _remembered(root, key) if key is not None else None
    if remembered is not None:
        return _with_sources(remembered)
    schema = _load_schema(root, SOURCES[0], sources[SOURCES[0]])
    problems: list[Problem] = []

    config_schema = _load_schema(root, SOURCES[1], sources[SOURCES[1]])
    config_data = _load_checked(root, CONFIG_FILE, sources[CONFIG_FILE], config_schema, problems)
    config = None
    if config_data is not None:
        config, extra = config_from_data(config_data[0])
        problems.extend(_located(CONFIG_FILE, config_data[1], config_data[2], extra))

    roster = None
    roster_schema = _load_schema(root, SOURCES[2], sources[SOURCES[2]])
    roster_data = _load_checked(root, ROSTER_FILE, sources[ROSTER_FILE], roster_schema, problems)
    if roster_data is not None:
        duplicates = duplicate_problems(roster_data[0]["leaders"]) + control_problems(roster_data[0]["leaders"])
        problems.extend(_located(ROSTER_FILE, roster_data[1], roster_schema, duplicates))
        if not duplicates:
            roster = roster_from_data(roster_data[0])
    project = Project(root, schema, config, roster, problems)
    if key is not None and project.ok and not problems:
        _remember(root, key, [schema.rules, config_data[0], roster_data[0]])
    return _with_sources(project)


def _with_sources(project: Project) -> Project:
    """``project`` with a problem for each entry of OUTPUT_SOURCES that is not a plain file or folder; any makes
    it not ``sources_ok``, so that no command renders from it (``check`` names them). Looked at on every run (a few dozen ``lstat``), never
    remembered."""
    found = irregular_sources(project.root)
    if found:
        project.problems = [*project.problems, *found]
        project.sources_ok = False
    return project


def irregular_sources(root: Path) -> list[Problem]:
    """A problem naming each link, FIFO, device or socket under OUTPUT_SOURCES (the folders themselves too)."""
    found = []
    for top in OUTPUT_SOURCES:
        base = root / top
        entries = [base] if os.path.lexists(base) else []
        if not os.path.islink(base):  # a linked folder is named, never walked (it may be /)
            for folder, folders, files in os.walk(base):  # nor a linked folder inside: followlinks=False
                entries += [Path(folder, name) for name in sorted(folders + files)]
        for path in entries:
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                rel = path.relative_to(root).as_posix()
                found.append(Problem(rel, None, "", "", source_message(rel, mode)))
    return found


def source_message(rel: str, mode: int | str) -> str:
    """Why ``rel`` under OUTPUT_SOURCES stops every output: an ``lstat`` mode, or git's (``120000``, ``160000``)."""
    if mode == "160000":
        return f"这是子模块（Git 的 gitlink），其内容不在本仓库的历史中。请删除它（git rm --cached {rel}），把文件作为普通文件提交。"
    if mode == "120000" or (isinstance(mode, int) and stat.S_ISLNK(mode)):
        return (
            "这是符号链接：本系统不读取链接，它可能指向仓库之外（如服务器上的密码文件），所指内容会出现在生成的 "
            f"PDF 和网站上，其改动也不在本仓库的历史中。请删除链接，把 {rel} 作为普通文件提交后再生成。"
        )
    return f"这不是普通文件（可能是管道、设备或套接字），本系统不读取它。请删除 {rel}，或换成普通文件后再生成。"


def _load_schema(root: Path, rel: str, read: tuple[bytes | None, list[Problem]]) -> Schema:
    """A schema file of the repository from ``read`` (``read_record_bytes``: never through a link, to its limit)."""
    raw, unreadable = read
    try:
        if raw is None:
            raise yamlio.YamlError(_not_read(root, rel, unreadable))
        return Schema.from_bytes(raw, root / rel)
    except yamlio.YamlError as err:
        line = f"第 {err.line} 行：" if err.line else ""
        raise ProjectError(f"{rel} 无法使用：{line}{err.message}") from None


def _load_checked(
    root: Path, name: str, read: tuple[bytes | None, list[Problem]], schema: Schema, problems: list[Problem]
):
    """(data, node, schema) of a schema-valid YAML file, or None with its problems appended.

    Read as a record is: a link (which may lead out of the repository, to a secret or /dev/zero), a FIFO or a
    device is named and never read, and a file is read to the YAML size limit only.
    """
    raw, unreadable = read
    if raw is None:
        problems.append(Problem(name, None, "", "", _not_read(root, name, unreadable)))
        return None
    try:
        node = yamlio.read_yaml_bytes(raw)
    except yamlio.YamlError as err:
        problems.append(Problem(name, err.line, "", "", err.message))
        return None
    if not isinstance(node, yamlio.Mapping):
        problems.append(Problem(name, node.line, "", "", "文件内容应是“键: 值”的形式。"))
        return None
    data = yamlio.to_python(node)
    errors = [(e.path, e.message) for e in schema.validate(data)]
    if errors:
        problems.extend(_located(name, node, schema, errors))
        return None
    return data, node, schema


# The project's memo (.cache/project.json) -------------------------------------------------------------------
#
# Every command starts by reading the schemas, config.yaml and roster.yaml, and validating the two: PyYAML
# and cerberus imported, a roster of 150 leaders walked by cerberus, about a third of a warm ``check``. A
# project without problems is remembered as the plain values its files gave (the record schema's rules,
# config.yaml's and roster.yaml's data), keyed by the bytes of all five files, the code that reads them
# (``liaison.core.project`` and every liaison module it imports: the YAML reader, the schema, the config),
# PyYAML's and cerberus' installed files and Python's version. The next run with the same key builds the
# very same Project from those values by the same functions (``Schema``, ``config_from_data``,
# ``roster_from_data``), without parsing or validating. A project with a problem is never remembered: it is
# read, and worded, anew. The memo is a cache: deleting it is always safe, and LIAISON_CHECK_CACHE=off
# leaves it unused, as it does the check cache.


def _memo_key(root: Path, sources: dict[str, bytes | None]) -> str | None:
    """The key of a project read from ``sources``; None when a file is missing or too large (read and refused)."""
    if any(data is None or len(data) > yamlio.MAX_FILE_BYTES for data in sources.values()):
        return None
    code = cachekit.code_stamp(__name__, memo=cachekit.cache_folder(root))
    return cachekit.stamp(code, sys.version, cachekit.library_stamp("yaml", "cerberus"), *sources.values())


def _remembered(root: Path, key: str) -> Project | None:
    """The project the memo holds under ``key``, or None (then the files are read)."""
    path = cachekit.cache_folder(root, MEMO_FILE)
    try:
        kept = cachekit.read_memo(path, _MEMO_BYTES)  # a regular file only: a FIFO there would hang every command
        if type(kept) is not dict or kept.get("key") != key:
            return None
        record_rules, config_data, roster_data = kept["values"]
        config, extra = config_from_data(config_data)
        roster = roster_from_data(roster_data)
        schema = Schema(record_rules, root / SOURCES[0])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, or not what this code wrote: read the files
    if config is None or extra:
        return None
    return Project(root, schema, config, roster, [])


def _remember(root: Path, key: str, values: list) -> None:
    folder = cachekit.cache_folder(root)
    try:
        data = cachekit.seal(cachekit.dumps({"key": key, "values": values}))
    except cachekit.Unstorable:
        return  # a value the codec cannot give back exactly: the files are read every time
    if not cachekit.usable_folder(folder):
        return
    try:
        write_atomic(folder / MEMO_FILE, data)
    except OSError as error:
        cachekit.unwritable(folder, error)


_MEMO_BYTES = 4 * yamlio.MAX_FILE_BYTES  # what five files of at most MAX_FILE_BYTES give, written as plain values


def _not_read(root: Path, rel: str, unreadable: list[Problem]) -> str:
    """Why a file of the repository itself (roster.yaml, config.yaml, a schema) was not read, and what to do."""
    path = root / rel
    if not os.path.lexists(path):
        return f"找不到 {rel}，请从示例仓库复制一份并按本校情况填写。"
    if any(os.path.islink(place) for place in (path, *path.parents) if place.is_relative_to(root) and place != root):
        return (
            "这是符号链接（或在链接的文件夹中）：本系统不读取链接，它可能指向仓库之外，所指文件的改动也不在本仓库的历史中。"
            f"请删除链接，把 {rel} 作为普通文件提交。"
        )
    if not os.path.isfile(path):
        return f"这不是普通文件（可能是管道、设备或文件夹），本系统不读取它。请把 {rel} 作为普通文件提交。"
    return unreadable[0].message


def _located(name: str, node: yamlio.Node, schema: Schema, errors: list[tuple[tuple, str]]) -> list[Problem]:
    return [
        Problem(name, yamlio.line_of(node, path), ".".join(str(p) for p in path), schema.label(path), message)
        for path, message in errors
    ]


def read_records(project: Project, paths: list[str] | None = None) -> tuple[list[Record], list[Problem]]:
    """Read record files (all of ``records/`` when ``paths`` is None).

    Returns every record that parsed as a mapping and every problem found in
    the files, including stray files in ``records/`` when reading them all.
    """
    problems: list[Problem] = []
    if paths is None:
        paths, problems = list_record_files(project.root)
    today = project.today()
    records = []
    for rel in paths:
        raw, unreadable = read_record_bytes(project.root, rel)
        if raw is None:
            problems.extend(unreadable)
            continue
        record, found = parse_record(rel, raw, project.schema, today)
        problems.extend(found)
        if record is not None:
            records.append(record)
    return records, problems


def read_record_bytes(root: Path, rel: str, executable: bool = False) -> tuple[bytes | None, list[Problem]]:
    """The bytes of the file ``rel``, or None and the problem saying why there are none.

    Opened one path component at a time without following a link (``O_NOFOLLOW``), so neither the file nor
    ``records/`` nor a year folder can lead out of the repository, and only a plain file is read: a FIFO
    would block, a device never end. At most :data:`yamlio.MAX_FILE_BYTES` + 1 bytes are read. A record must
    not be ``executable`` (git would keep it as 100755); roster.yaml, config.yaml and the schemas may be.
    """
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None, [Problem(rel, None, "", "", "路径不规范（含 . 或 ..），无法读取。")]
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    opened: list[int] = []
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        opened.append(folder)
        for part in parts[:-1]:
            folder = os.open(part, flags | os.O_DIRECTORY, dir_fd=folder)
            opened.append(folder)
        handle = os.open(parts[-1], flags, dir_fd=folder)
        opened.append(handle)
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode) or (mode & 0o111 and not executable):
            return None, [Problem(rel, None, "", "", irregular_message(mode))]
        with os.fdopen(os.dup(handle), "rb") as file:
            return file.read(yamlio.MAX_FILE_BYTES + 1), []
    except FileNotFoundError:
        return None, [Problem(rel, None, "", "", "文件不存在，请检查路径。")]
    except IsADirectoryError:
        return None, [Problem(rel, None, "", "", "这是一个文件夹，不是记录文件。")]
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):  # a link where a folder or the file should be
            return None, [Problem(rel, None, "", "", irregular_message(stat.S_IFLNK))]
        return None, [Problem(rel, None, "", "", f"无法读取（{err.strerror}）。")]
    finally:
        for descriptor in opened:
            os.close(descriptor)
