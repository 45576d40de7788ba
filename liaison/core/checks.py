"""``check``: every rule a record must satisfy, alone and among the others.

Per-file rules (YAML, schema, file name) live in ``records``; this module
adds the rules that need the roster or the other records, and runs them
all over a repository or over the files a merge request changes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.problems import Problem, sorted_problems
from liaison.core.project import CONFIG_FILE, ROSTER_FILE, Project, read_records
from liaison.core.records import RECORDS_DIR, Record, list_record_files
from liaison.core.roster import Roster
from liaison.core.schema import Schema

# Reads record files as ``read_records`` does, with the same result: the
# check cache (``liaison.git.checkcache``) is one that remembers by content.
RecordReader = Callable[[Project, list[str]], tuple[list[Record], list[Problem]]]


@dataclass
class CheckResult:
    problems: list[Problem]
    files: list[str]  # every file looked at, for the report
    # Every record that could be read, with or without problems; empty when the caller asked for the
    # problems only (``check_with_history(..., records=False)``) and they were known without reading any.
    records: list[Record]
    # Problems with how a record was changed (a closed semester reopened without a
    # reason), not with its content: they fail check, but the record is still valid data.
    process_problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def clean_records(self) -> list[Record]:
        """The records whose content has no problem: the only ones outputs may be built from."""
        process = set(self.process_problems)
        bad = {p.path for p in self.problems if p not in process}
        return [r for r in self.records if r.path not in bad]


def roster_problems(record: Record, roster: Roster, schema: Schema) -> list[Problem]:
    """The record's leader must be in the roster, under the roster's name."""
    leader_id = record.data.get("leader_id")
    if not isinstance(leader_id, str):
        return []
    id_label = schema.label(("leader_id",))
    leader = roster.by_id.get(leader_id)
    if leader is None:
        return [
            Problem(
                record.path,
                record.lines.get("leader_id"),
                "leader_id",
                schema.label(("leader_id",)),
                f"{id_label}“{leader_id}”不在领导干部名单（{ROSTER_FILE}）中。请核对{id_label}；新任领导请先由思政科加入名单。",
            )
        ]
    name = record.data.get("leader")
    if isinstance(name, str) and name != leader.name:
        return [
            Problem(
                record.path,
                record.lines.get("leader"),
                "leader",
                schema.label(("leader",)),
                f"“{name}”与名单中 {leader_id} 的姓名“{leader.name}”不一致，请改为“{leader.name}”或核对{id_label}。",
            )
        ]
    return []


def duplicate_id_problems(paths: list[str]) -> list[Problem]:
    """Record ids (file stems) must be unique across all year folders."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for path in paths:  # os.path, not Path: 10,000 Path objects cost a tenth of a warm check
        by_id[os.path.splitext(os.path.basename(path))[0]].append(path)
    problems = []
    for record_id, same in by_id.items():
        for path in same if len(same) > 1 else ():
            others = "、".join(p for p in same if p != path)
            problems.append(Problem(path, None, "", "", f"记录编号 {record_id} 与 {others} 重复，请删除重复的文件。"))
    return problems


# Fields that together identify one contact: the same leader meeting the same
# students on the same day about the same thing.
SAME_CONTACT_KEYS = ("leader_id", "date", "target", "content")


def duplicate_content_problems(records: list[Record], schema: Schema) -> list[Problem]:
    """Records equal in SAME_CONTACT_KEYS are almost surely one contact submitted twice."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for record in records:
        key = tuple(record.data.get(k) for k in SAME_CONTACT_KEYS)
        if None not in key:
            groups[key].append(record)
    labels = "、".join(schema.label((k,)) for k in SAME_CONTACT_KEYS)
    problems = []
    for same in groups.values():
        for record in same if len(same) > 1 else ():
            others = "、".join(r.path for r in same if r is not record)
            problems.append(
                Problem(
                    record.path,
                    None,
                    "",
                    "",
                    f"与 {others} 的{labels}完全相同，可能是重复提交。请确认后删除多余的一份。",
                )
            )
    return problems


def check_repository(
    project: Project,
    paths: list[str] | None = None,
    reader: RecordReader = read_records,
    listed: tuple[list[str], list[Problem]] | None = None,
) -> CheckResult:
    """Check the config, the roster and the records (all, or ``paths`` against all the others).

    ``paths`` are relative to the repository root; directories stand for the
    record files below them. Every problem in every file is returned. The
    rules that read the history (closed semesters) are added by
    ``liaison.git.closed.check_with_history``. ``reader`` reads the record
    files; any reader must return exactly what ``read_records`` would.
    ``listed``: ``list_record_files(project.root)``, when the caller has it.
    """
    all_paths, stray = listed if listed is not None else list_record_files(project.root)
    if paths is None:
        wanted, problems = all_paths, list(stray)
    else:
        wanted, problems = _expand(project.root, paths, all_paths, stray)
    records, found = reader(project, wanted)
    problems.extend(found)
    problems.extend(project.problems)

    if project.roster is not None:
        for record in records:
            problems.extend(roster_problems(record, project.roster, project.schema))

    # Cross-record rules look at every record but report only on the files asked about.
    asked = set(wanted)
    everything = records
    if paths is not None:
        others = [p for p in all_paths if p not in asked]
        everything = records + reader(project, others)[0]
    cross = duplicate_id_problems(sorted(set(all_paths) | asked)) + duplicate_content_problems(
        everything, project.schema
    )
    problems.extend(p for p in cross if p.path in asked)
    return CheckResult(sorted_problems(problems), checked_files(wanted, problems), records)


def checked_files(wanted: list[str], problems: list[Problem]) -> list[str]:
    """Every file a check of ``wanted`` looked at, for the report: those, config.yaml, roster.yaml, and any
    file a problem names."""
    return sorted({CONFIG_FILE, ROSTER_FILE, *wanted, *(p.path for p in problems)})


def _expand(
    root: Path, paths: list[str], all_paths: list[str], stray: list[Problem]
) -> tuple[list[str], list[Problem]]:
    wanted: list[str] = []
    problems: list[Problem] = []
    for given in paths:
        # The folders resolved, not the name: a link named as a record is read (and refused) as itself.
        lexical = Path(os.path.abspath(given))
        absolute = lexical.parent.resolve() / lexical.name
        try:
            rel = absolute.relative_to(root).as_posix()
        except ValueError:
            problems.append(Problem(given, None, "", "", f"不在仓库 {root} 之中，无法检查。"))
            continue
        if rel in (CONFIG_FILE, ROSTER_FILE):
            continue  # always checked
        if not absolute.exists() and not absolute.is_symlink():
            problems.append(Problem(rel, None, "", "", "文件不存在，请检查路径。"))
        elif absolute.is_dir() and not absolute.is_symlink():
            prefix = "" if rel == "." else rel + "/"
            wanted.extend(p for p in all_paths if p.startswith(prefix))
            problems.extend(p for p in stray if p.path.startswith(prefix) or p.path == rel)
        elif rel.startswith(RECORDS_DIR + "/") and not rel.endswith(".yaml"):
            problems.extend(p for p in stray if p.path == rel)
        else:
            wanted.append(rel)
    return list(dict.fromkeys(wanted)), problems
