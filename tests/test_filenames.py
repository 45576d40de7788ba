"""The file-name rule: folder and PDF names that every file system and the zip accept."""

from __future__ import annotations

import datetime
import unicodedata

import pytest
from conftest import PROJECT

from liaison.core.filenames import MAX_BYTES, leader_folders, record_pdf_paths, safe_filename
from liaison.core.records import Record
from liaison.core.roster import Leader, Roster

FORBIDDEN = set('/\\:*?"<>|') | {chr(c) for c in range(32)}


@pytest.mark.parametrize(
    "text",
    [
        "国旗护卫队/学生会",
        'a\\b:c*d?e"f<g>h|i',
        "结尾有点.",
        "结尾有空格 ",
        "...隐藏",
        "CON",
        "nul.txt",
        "Lpt1",
        "换行\n制表\t",
        "",
        "   ",
        "很长" * 200,
        "e\u0301",
        "𠀾字",
        "阿依古丽·买买提",
    ],
)
def test_safe_filename_is_valid_everywhere(text):
    name = safe_filename(text)
    assert name and not (set(name) & FORBIDDEN)
    assert not name.endswith((".", " ")) and not name.startswith(".")
    assert name.upper().split(".")[0] not in {"CON", "PRN", "AUX", "NUL", "LPT1", "COM1"}
    assert len(name.encode("utf-8")) <= MAX_BYTES
    assert unicodedata.is_normalized("NFC", name)


def test_safe_filename_keeps_readable_names_as_they_are():
    assert safe_filename("2025-11-12_国旗护卫队") == "2025-11-12_国旗护卫队"
    assert safe_filename("阿依古丽·买买提") == "阿依古丽·买买提"
    assert safe_filename("国旗护卫队/学生会") == "国旗护卫队／学生会"


def leader(id_, name, department):
    return Leader(id_, name, department, "职务", id_.lower())


def record(record_id, leader_id, name, target):
    day = datetime.date.fromisoformat(record_id[:10])
    return Record(
        record_id,
        f"records/{day.year}/{record_id}.yaml",
        {"leader_id": leader_id, "leader": name, "date": day, "target": target},
        {},
    )


def test_leaders_sharing_a_name_get_their_department_then_their_id():
    roster = Roster(
        [
            leader("T1", "张伟", "后勤处"),
            leader("T2", "张伟", "学生工作处"),
            leader("T3", "赵某", "团委"),
            leader("T4", "王芳", "团委"),
            leader("T5", "王芳", "团委"),
        ]
    )
    folders = leader_folders(roster)
    assert folders["T1"] == "张伟（后勤处）" and folders["T2"] == "张伟（学生工作处）"
    assert folders["T3"] == "赵某"
    assert folders["T4"] == "王芳（团委，T4）" and folders["T5"] == "王芳（团委，T5）"
    assert len(set(folders.values())) == len(folders)


def test_two_records_with_one_date_and_target_get_distinct_names():
    roster = Roster([leader("T1", "赵某", "团委")])
    records = [
        record("2025-11-12-T1-aaaaaa", "T1", "赵某", "国旗护卫队"),
        record("2025-11-12-T1-bbbbbb", "T1", "赵某", "国旗护卫队"),
        record("2025-11-13-T1-cccccc", "T1", "赵某", "国旗护卫队/学生会"),
    ]
    paths = record_pdf_paths(records, roster)
    assert paths == {
        "2025-11-12-T1-aaaaaa": "赵某/2025-11-12_国旗护卫队_aaaaaa.pdf",
        "2025-11-12-T1-bbbbbb": "赵某/2025-11-12_国旗护卫队_bbbbbb.pdf",
        "2025-11-13-T1-cccccc": "赵某/2025-11-13_国旗护卫队／学生会.pdf",
    }


def test_demo_names_are_unique_ignoring_case():
    from liaison.core.checks import check_repository
    from liaison.core.project import open_project

    project = open_project(PROJECT)
    paths = record_pdf_paths(check_repository(project).records, project.roster)
    assert len({p.casefold() for p in paths.values()}) == len(paths)
