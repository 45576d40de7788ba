"""联系情况汇总表.xlsx read back with openpyxl: every cell that matters, against the records."""

from __future__ import annotations

import datetime
import io
from collections import Counter

import pytest
from conftest import record_data, write_record
from openpyxl import load_workbook
from pypinyin import lazy_pinyin

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.semesters import resolve_range
from liaison.outputs.workbook import CONTENT_SHEET, COUNT_SHEET, build_workbook

STAMP = datetime.datetime(2025, 2, 1, 10, 0, tzinfo=datetime.UTC)
D = datetime.date


@pytest.fixture
def repo_with_records(repo):
    roster = (repo / "roster.yaml").read_text(encoding="utf-8")
    roster += "  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian, active: true}\n"
    (repo / "roster.yaml").write_text(roster, encoding="utf-8")
    write_record(repo, record_data(date=D(2024, 10, 9), content="一"), suffix="000001")
    write_record(repo, record_data(date=D(2024, 9, 20), content="二", position="原职务"), suffix="000002")
    write_record(repo, record_data(leader_id="T3", leader="张伟", date=D(2024, 11, 1), content="三"), suffix="000003")
    write_record(
        repo, record_data(leader_id="T4", leader="阿依古丽·买买提", date=D(2024, 12, 1), content="四"), suffix="000004"
    )
    write_record(repo, record_data(date=D(2025, 3, 1), content="下学期"), suffix="000005")
    return repo


def workbook_for(root, semester="2024-2025-1", **changes):
    project = open_project(root)
    records = check_repository(project).clean_records()
    date_range = resolve_range(project.config.calendar, semester)
    chosen = [r for r in records if r.date in date_range]
    data = build_workbook(chosen, project.roster, project.schema, project.config, date_range, STAMP, "提交 abcdef12")
    return project, chosen, load_workbook(io.BytesIO(data)), data


def body_rows(sheet, total=False):
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    return rows if total else rows[:-1] if rows and rows[-1][0] == "合计" else rows


def test_table1_lists_every_active_leader_with_counts_and_zeros(repo_with_records):
    project, chosen, book, _ = workbook_for(repo_with_records)
    sheet = book[COUNT_SHEET]
    assert [c.value for c in sheet[3]] == ["序号", "领导姓名", "部门", "职务", "联系学生次数", "状态"]
    rows = body_rows(sheet)
    counted = Counter(r.leader_id for r in chosen)
    expected_ids = [leader.id for leader in project.roster.leaders if leader.active or counted[leader.id]]
    by_name_dept = {(leader.name, leader.department): leader for leader in project.roster.leaders}
    got_ids = [by_name_dept[(row[1], row[2])].id for row in rows]
    assert sorted(got_ids) == sorted(expected_ids)
    for row in rows:
        leader = by_name_dept[(row[1], row[2])]
        assert row[3] == leader.position  # the roster's current position
        assert row[4] == counted[leader.id]
        assert row[5] == ("" if leader.active else "已离任") or (row[5] is None and leader.active)
    assert any(row[4] == 0 for row in rows)  # 钱某 and 张伟 (T2) have none
    total = list(sheet.iter_rows(min_row=sheet.max_row, values_only=True))[0]
    assert total[0] == "合计" and total[4] == len(chosen)


def test_table1_is_sorted_by_department_then_name(repo_with_records):
    project, _, book, _ = workbook_for(repo_with_records)
    departments = list(dict.fromkeys(leader.department for leader in project.roster.leaders))
    keys = [(departments.index(row[2]), lazy_pinyin(row[1])) for row in body_rows(book[COUNT_SHEET])]
    assert keys == sorted(keys)


def test_inactive_leaders_appear_only_with_records(repo_with_records):
    _, _, book, _ = workbook_for(repo_with_records, semester="2024-2025-2")
    names = [row[1] for row in body_rows(book[COUNT_SHEET])]
    assert "阿依古丽·买买提" not in names  # inactive, no record this semester
    _, _, book, _ = workbook_for(repo_with_records)
    assert "阿依古丽·买买提" in [row[1] for row in body_rows(book[COUNT_SHEET])]


def test_table2_has_every_field_of_every_record_by_leader_then_date(repo_with_records):
    project, chosen, book, _ = workbook_for(repo_with_records)
    sheet = book[CONTENT_SHEET]
    header = [c.value for c in sheet[3]]
    assert header == ["序号", *(f.label for f in project.schema.fields), "记录编号"]
    rows = body_rows(sheet)
    assert len(rows) == len(chosen)
    by_id = {r.id: r for r in chosen}
    for row in rows:
        record = by_id[row[-1]]
        for field, value in zip(project.schema.fields, row[1:-1], strict=True):
            expected = record[field.key]
            if isinstance(expected, datetime.date):
                assert isinstance(value, datetime.datetime) and value.date() == expected
            else:
                assert (value if value is not None else "") == expected
    leaders = [row[1] for row in rows]
    dates = [(row[1], row[5]) for row in rows]
    assert dates == sorted(dates, key=lambda pair: (leaders.index(pair[0]), pair[1]))
    positions = {row[-1]: row[4] for row in rows}
    assert "原职务" in positions.values()  # the position at the time, from the record


def test_dates_are_real_dates_with_a_date_format(repo_with_records):
    _, _, book, _ = workbook_for(repo_with_records)
    sheet = book[CONTENT_SHEET]
    date_column = [c.value for c in sheet[3]].index("联系时间") + 1
    cell = sheet.cell(row=4, column=date_column)
    assert cell.is_date and cell.number_format == "yyyy-mm-dd"


@pytest.mark.parametrize("text", ["=1+1", '=HYPERLINK("http://x","点我")', "+86 138", "-3", "@SUM(A1:A9)", "\t=x"])
def test_formula_like_text_is_stored_as_text_exactly(repo, text):
    write_record(repo, record_data(remarks=text, place=text))
    _, _, book, _ = workbook_for(repo)
    sheet = book[CONTENT_SHEET]
    header = [c.value for c in sheet[3]]
    for label in ("备注", "联系地点"):
        cell = sheet.cell(row=4, column=header.index(label) + 1)
        assert cell.data_type == "s" and cell.value == text
        if text.startswith("="):
            assert cell.quotePrefix


def test_layout_for_reading_and_printing(repo_with_records):
    _, _, book, _ = workbook_for(repo_with_records)
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A4"
        assert sheet.auto_filter.ref.startswith("A3:")
        assert sheet.print_title_rows == "$3:$3"
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
        assert "2024-2025学年第一学期" in sheet["A2"].value and "2024-08-01 至 2025-01-31" in sheet["A2"].value
        for cell in sheet[3]:
            width = sheet.column_dimensions[cell.column_letter].width
            assert width >= 2 * len(cell.value)  # the Chinese header fits
    content = book[CONTENT_SHEET]
    header = [c.value for c in content[3]]
    assert content.cell(row=4, column=header.index("联系内容") + 1).alignment.wrap_text


def test_same_inputs_same_bytes(repo_with_records):
    *_, first = workbook_for(repo_with_records)
    *_, second = workbook_for(repo_with_records)
    assert first == second


def test_empty_range_gives_zeros(repo_with_records):
    project, chosen, book, _ = workbook_for(repo_with_records, semester="2030-2031-1")
    assert chosen == []
    rows = body_rows(book[COUNT_SHEET])
    assert len(rows) == sum(leader.active for leader in project.roster.leaders)
    assert all(row[4] == 0 for row in rows)
    assert body_rows(book[CONTENT_SHEET]) == []
