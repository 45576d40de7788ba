"""The schema is the one place the record's fields live."""

from __future__ import annotations

import ast
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


def user_visible_text(path: Path) -> str:
    """What a file can show a person: its string literals (not docstrings or comments), or a template's text."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    tree = ast.parse(text)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    )


def test_no_code_or_template_repeats_the_field_list():
    """Labels are read from the schema; three or more hard-coded in one file make a second field list.

    A label may appear in prose (an error message about the 工号 in a file name);
    docstrings and comments are shown to no one and are not counted.
    """
    labels = [f.label for f in SCHEMA.fields]
    sources = [
        p
        for folder in ("liaison", "templates", "site")
        for p in (PROJECT / folder).rglob("*")
        if p.is_file() and p.suffix in {".py", ".html", ".css", ".js", ".j2"}
    ]
    texts = {str(p.relative_to(PROJECT)): user_visible_text(p) for p in sources}  # each file parsed once
    offenders = {path: [label for label in labels if label in text] for path, text in texts.items()}
    assert {path: found for path, found in offenders.items() if len(found) >= 3} == {}


def test_the_field_list_check_would_catch_a_hard_coded_list(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text("HEADER = " + repr([f.label for f in SCHEMA.fields]) + "\n", encoding="utf-8")
    assert len([label for label in (f.label for f in SCHEMA.fields) if label in user_visible_text(copy)]) >= 3


def test_schema_file_is_plain_yaml_with_meta_for_every_field():
    raw = yaml.safe_load(Path(PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8"))
    assert all("label" in rules["meta"] and "order" in rules["meta"] for rules in raw.values())


def test_validation_is_safe_from_many_threads_at_once():
    """The form serves requests on several threads: one Schema must give each caller its own verdict.

    cerberus keeps the document and its errors on the validator, so a shared one
    mixed two requests' errors up (or raised IndexError) under load.
    """
    import datetime
    import sys
    import threading

    from conftest import record_data

    good = record_data()
    bad = dict(record_data(), size="五十", place="")
    expected = {id(good): SCHEMA.validate(good, datetime.date(2030, 1, 1)), id(bad): SCHEMA.validate(bad)}
    assert expected[id(good)] == [] and expected[id(bad)]
    wrong: list = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait(timeout=60)
        for i in range(300):
            data = good if (n + i) % 2 else bad
            try:
                got = SCHEMA.validate(data, datetime.date(2030, 1, 1) if data is good else None)
            except Exception as error:  # noqa: BLE001 - a crash is a wrong verdict too
                got = repr(error)
            if got != expected[id(data)]:
                wrong.append(got)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a shared state shows
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []
