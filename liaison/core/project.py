"""A liaison repository on disk: its config, roster, schemas and records, loaded and checked.

This is the edge where files are read; everything it returns is plain data
for the pure functions in ``checks``, ``query`` and the writers.
"""

from __future__ import annotations

import datetime
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core import dates, yamlio
from liaison.core.config import Config, config_from_data
from liaison.core.problems import Problem
from liaison.core.records import Record, irregular_message, list_record_files, parse_record
from liaison.core.roster import Roster, control_problems, duplicate_problems, roster_from_data
from liaison.core.schema import Schema

CONFIG_FILE = "config.yaml"
ROSTER_FILE = "roster.yaml"
SCHEMA_DIR = "schema"
DATA_DIR = ".liaison"  # the form service's and the reminder rounds' data (outbox, to-dos), unless --data says


class ProjectError(Exception):
    """The repository cannot be used at all (e.g. not a liaison repository); message in Chinese."""


@dataclass
class Project:
    root: Path
    schema: Schema
    config: Config | None
    roster: Roster | None
    problems: list[Problem] = field(default_factory=list)  # in config.yaml and roster.yaml

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
    ``check`` reports them with everything else.
    """
    root = Path(root).resolve()
    # lexists: a link in their place is named when read (never followed), not taken for a missing file.
    if not os.path.lexists(root / CONFIG_FILE) or not os.path.lexists(root / SCHEMA_DIR / "record.yaml"):
        raise ProjectError(
            f"{root} 不是联系记录仓库（找不到 {CONFIG_FILE} 或 {SCHEMA_DIR}/record.yaml）。"
            "请在仓库根目录运行，或用 --root 指定仓库目录。"
        )
    schema = _load_schema(root, "record.yaml")
    problems: list[Problem] = []

    config_data = _load_checked(root, CONFIG_FILE, _load_schema(root, "config.yaml"), problems)
    config = None
    if config_data is not None:
        config, extra = config_from_data(config_data[0])
        problems.extend(_located(CONFIG_FILE, config_data[1], config_data[2], extra))

    roster = None
    roster_schema = _load_schema(root, "roster.yaml")
    roster_data = _load_checked(root, ROSTER_FILE, roster_schema, problems)
    if roster_data is not None:
        duplicates = duplicate_problems(roster_data[0]["leaders"]) + control_problems(roster_data[0]["leaders"])
        problems.extend(_located(ROSTER_FILE, roster_data[1], roster_schema, duplicates))
        if not duplicates:
            roster = roster_from_data(roster_data[0])
    return Project(root, schema, config, roster, problems)


def _load_schema(root: Path, name: str) -> Schema:
    """A schema file of the repository, read as a record is (never through a link, to its size limit)."""
    rel = f"{SCHEMA_DIR}/{name}"
    raw, unreadable = read_record_bytes(root, rel, executable=True)
    try:
        if raw is None:
            raise yamlio.YamlError(_not_read(root, rel, unreadable))
        return Schema(yamlio.to_python(yamlio.read_yaml_bytes(raw)), root / rel)
    except yamlio.YamlError as err:
        line = f"第 {err.line} 行：" if err.line else ""
        raise ProjectError(f"{rel} 无法使用：{line}{err.message}") from None


def _load_checked(root: Path, name: str, schema: Schema, problems: list[Problem]):
    """(data, node, schema) of a schema-valid YAML file, or None with its problems appended.

    Read as a record is: a link (which may lead out of the repository, to a secret or /dev/zero), a FIFO or a
    device is named and never read, and a file is read to the YAML size limit only.
    """
    raw, unreadable = read_record_bytes(root, name, executable=True)
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
