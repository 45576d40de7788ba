"""Reading one record: text stays text, numbers and dates are checked, the file name agrees."""

from __future__ import annotations

import datetime

import pytest
from conftest import SCHEMA, china_today, record_data, replace_field
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.core.records import RECORD_ID, dump_record, new_record_id, parse_record, record_path

TODAY = datetime.date(2026, 11, 24)


def parse(data: dict | None = None, text: str | None = None, path: str | None = None, today=TODAY):
    data = data or record_data()
    text = dump_record(data, SCHEMA) if text is None else text
    path = path or record_path(new_record_id(data["date"], data["leader_id"], "abc123"))
    return parse_record(path, text.encode("utf-8"), SCHEMA, today)


def test_a_valid_record_reads_back_exactly():
    data = record_data()
    record, problems = parse(data)
    assert problems == []
    assert record.data == data
    assert record.id == "2024-09-15-T1-abc123"


def test_text_fields_written_by_hand_stay_text():
    text = replace_field(dump_record(record_data(), SCHEMA), "remarks", "remarks: 2020-06-20")
    text = replace_field(replace_field(text, "place", "place: no"), "target", "target: 0123")
    text = replace_field(text, "student_contact", "student_contact: 1:30")
    text = replace_field(text, "feedback", "feedback: null")
    record, problems = parse(text=text)
    assert problems == []
    assert (record["place"], record["target"], record["student_contact"], record["feedback"], record["remarks"]) == (
        "no",
        "0123",
        "1:30",
        "null",
        "2020-06-20",
    )


def test_optional_text_fields_may_be_left_out_and_read_as_empty():
    text = replace_field(replace_field(dump_record(record_data(), SCHEMA), "feedback", ""), "remarks", "")
    record, problems = parse(text=text)
    assert problems == []
    assert record["feedback"] == "" and record["remarks"] == ""


@pytest.mark.parametrize(
    "written, word",
    [
        ("50人", "整数"),
        ("约50", "整数"),
        ("'50'", None),
        ("0", "不能小于 1"),
        ("-3", "不能小于 1"),
        ("5.5", "整数"),
        ("", "不能为空"),
    ],
)
def test_size_must_be_a_whole_number_of_at_least_one(written, word):
    text = dump_record(record_data(), SCHEMA).replace("size: 50", f"size: {written}")
    record, problems = parse(text=text)
    if word is None:
        assert problems == [] and record["size"] == 50  # quoting a number is harmless
        return
    assert [p.field for p in problems] == ["size"]
    assert word in problems[0].message
    assert "如 50" in problems[0].message  # the hint says what to write


@pytest.mark.parametrize(
    "written, word",
    [
        ("2024-02-30", "不是真实存在的日期"),
        ("2024年9月15日", "日期"),
        ("1999-12-31", "2000-01-01"),
        ("2024-13-01", "不是真实存在的日期"),
    ],
)
def test_date_must_be_real_and_not_before_2000(written, word):
    text = dump_record(record_data(), SCHEMA).replace("date: 2024-09-15", f"date: {written}")
    _, problems = parse(text=text)
    date_problems = [p for p in problems if p.field == "date"]
    assert date_problems and word in date_problems[0].message


def test_date_in_the_future_is_refused_by_china_time():
    today = china_today()
    tomorrow = today + datetime.timedelta(days=1)
    _, problems = parse(record_data(date=tomorrow), today=today)
    assert [p.field for p in problems] == ["date"]
    assert "晚于今天" in problems[0].message
    _, problems = parse(record_data(date=today), today=today)
    assert problems == []


def test_today_is_allowed_and_tomorrow_refused_on_both_validators():
    """The same day rule when another problem sends a record past the fast validator to cerberus (which
    words the problems): a record of today is refused only for that other problem."""
    today = china_today()
    tomorrow = today + datetime.timedelta(days=1)
    _, problems = parse(record_data(date=today, size="约50"), today=today)
    assert [p.field for p in problems] == ["size"]
    _, problems = parse(record_data(date=tomorrow, size="约50"), today=today)
    assert sorted(p.field for p in problems) == ["date", "size"]


@pytest.mark.parametrize(
    "field",
    ["leader_id", "leader", "department", "position", "date", "place", "size", "target", "student_contact", "content"],
)
def test_each_required_field_missing_is_named(field):
    text = replace_field(dump_record(record_data(), SCHEMA), field, "")
    _, problems = parse(text=text)
    assert field in [p.field for p in problems]
    problem = next(p for p in problems if p.field == field)
    assert problem.label == SCHEMA.field(field).label
    assert "缺少" in problem.message


def test_required_text_of_spaces_only_counts_as_empty():
    _, problems = parse(record_data(content="  \n\u3000 "))
    assert [p.field for p in problems] == ["content"]
    assert "只有空格" in problems[0].message


def test_unknown_field_and_control_characters_are_reported_together():
    text = dump_record(record_data(content="含有\x07响铃"), SCHEMA) + "signature: 某某\n"
    _, problems = parse(text=text)
    assert {p.field for p in problems} == {"content", "signature"}


@pytest.mark.parametrize(
    "path, word",
    [
        ("records/2023/2024-09-15-T1-abc123.yaml", "年份文件夹"),
        ("records/2024/2024-09-16-T1-abc123.yaml", "文件名中的日期"),
        ("records/2024/2024-09-15-T2-abc123.yaml", "文件名中的工号"),
        ("records/2024/zhao-record.yaml", "文件名应为"),
        ("records/2024-09-15-T1-abc123.yaml", "按年份命名的文件夹"),
    ],
)
def test_the_file_path_must_agree_with_the_content(path, word):
    _, problems = parse(path=path)
    assert problems and any(word in p.message for p in problems)


def test_record_ids_have_a_random_suffix_and_a_fixed_shape():
    day = datetime.date(2024, 9, 15)
    ids = {new_record_id(day, "T2019001") for _ in range(50)}
    assert len(ids) == 50
    assert all(RECORD_ID.fullmatch(i) for i in ids)
    assert record_path("2024-09-15-T2019001-3fa2c1") == "records/2024/2024-09-15-T2019001-3fa2c1.yaml"


# Text a person can type: anything but control and format characters (bidi overrides,
# zero-width ones: core/schema.py's one rule); tab allowed, newline in long text only.
typed_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"), blacklist_characters="\x7f")
    | st.sampled_from("\n\t"),
    max_size=200,
)
needed_text = typed_text.filter(lambda s: s.strip() != "")
one_line_text = needed_text.map(lambda s: s.replace("\n", " ")).filter(lambda s: s.strip() != "")


@settings(max_examples=200, deadline=None)
@given(
    place=one_line_text,
    target=one_line_text,
    content=needed_text,
    feedback=typed_text,
    remarks=typed_text,
    student_contact=st.sampled_from(["阿依古丽·买买提", "𠀾", "= SUM(A1)", "@x", "- 张三", "'", '"', "a: b # c"]),
)
def test_any_typed_text_survives_writing_and_reading(place, target, content, feedback, remarks, student_contact):
    data = record_data(
        place=place, target=target, content=content, feedback=feedback, remarks=remarks, student_contact=student_contact
    )
    record, problems = parse(data)
    assert problems == []
    assert record.data == data
