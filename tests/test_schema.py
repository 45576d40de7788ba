"""The schema is the one place the record's fields live."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import PROJECT, SCHEMA

DESIGN_KEYS = [
    "leader_id",
    "leader",
    "department",
    "position",
    "date",
    "place",
    "size",
    "target",
    "student_contact",
    "content",
    "feedback",
    "remarks",
]


def test_schema_has_the_design_keys_in_the_forms_order():
    assert [f.key for f in SCHEMA.fields] == DESIGN_KEYS
    labels = [f.label for f in SCHEMA.fields if not f.internal]
    # The customer's 附表, top to bottom.
    assert labels == [
        "领导姓名",
        "部门",
        "职务",
        "联系时间",
        "联系地点",
        "人员规模",
        "联系对象",
        "学生联系人",
        "联系内容",
        "学生反馈的意见建议",
        "备注",
    ]


def test_every_field_has_a_label_and_a_hint():
    assert all(f.label and f.hint for f in SCHEMA.fields)


def test_no_code_or_template_repeats_the_field_list():
    """Labels are read from the schema; three or more hard-coded in one file make a second field list.

    A single label may appear in prose (an error message about the 工号 in a file name).
    """
    labels = [f.label for f in SCHEMA.fields]
    sources = [
        p
        for folder in ("liaison", "templates", "site")
        for p in (PROJECT / folder).rglob("*")
        if p.is_file() and p.suffix in {".py", ".html", ".css", ".js", ".j2"}
    ]
    offenders = {
        str(p.relative_to(PROJECT)): [label for label in labels if label in p.read_text(encoding="utf-8")]
        for p in sources
    }
    assert {path: found for path, found in offenders.items() if len(found) >= 3} == {}


def test_schema_file_is_plain_yaml_with_meta_for_every_field():
    raw = yaml.safe_load(Path(PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8"))
    assert all("label" in rules["meta"] and "order" in rules["meta"] for rules in raw.values())
