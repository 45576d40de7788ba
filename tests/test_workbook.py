"""联系情况汇总表.xlsx read back with openpyxl: every cell that matters, against the records."""

from __future__ import annotations

import datetime
import io
from collections import Counter

import pytest
from conftest import long_text, record_data, write_record
from openpyxl import load_workbook

from liaison.core.checks import check_repository
from liaison.core.continued import CARRIED_KEYS, CONTINUED
from liaison.core.project import open_project
from liaison.core.semesters import resolve_range
from liaison.outputs.sheetlayout import BODY_PT, MAX_LINES, UNIT_PT, lines_needed, print_width, split_text
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
    from pypinyin import lazy_pinyin  # here, not at collection: its dictionary costs each worker 0.3 s to import

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


@pytest.fixture
def repo_with_long_texts(repo_with_records):
    write_record(
        repo_with_records,
        record_data(date=D(2024, 10, 20), content=long_text(3000, "内容"), feedback=long_text(3000, "反馈")),
        suffix="00000a",
    )
    write_record(
        repo_with_records,
        record_data(leader_id="T3", leader="张伟", date=D(2024, 11, 2), content=long_text(20000, "段"), remarks="备注"),
        suffix="00000b",
    )
    return repo_with_records


def test_a_long_text_continues_in_rows_marked_continued_that_join_back_exactly(repo_with_long_texts):
    project, chosen, book, _ = workbook_for(repo_with_long_texts)
    sheet = book[CONTENT_SHEET]
    header = [c.value for c in sheet[3]]
    rows = body_rows(sheet)
    heights = [sheet.row_dimensions[n].height for n in range(4, 4 + len(rows))]
    assert max(heights) <= 409  # Excel's limit: a taller row is cut
    firsts = [n for n, row in enumerate(rows) if row[0] != CONTINUED]
    assert [rows[n][0] for n in firsts] == list(range(1, len(chosen) + 1))  # 序号 counts records only
    long = [header.index(f.label) for f in project.schema.fields if f.widget == "textarea"]
    carried = [header.index(project.schema.label((key,))) for key in CARRIED_KEYS] + [len(header) - 1]
    by_id = {r.id: r for r in chosen}
    for start, end in zip(firsts, [*firsts[1:], len(rows)], strict=True):
        first, rest = rows[start], rows[start + 1 : end]
        record = by_id[first[-1]]
        for row in rest:
            assert all(row[i] == first[i] for i in carried)  # sorting or filtering by them keeps it with its record
            assert all(row[i] is None for i in range(1, len(header)) if i not in carried and i not in long)
        for index in long:
            joined = "".join(row[index] or "" for row in (first, *rest))
            assert joined == record[project.schema.fields[index - 1].key]
    # 20,000 characters, at most 36 a line (LONG_MAX), take many rows
    assert sum(1 for row in rows if row[0] == CONTINUED) >= 20000 // (36 * MAX_LINES)
    assert "（续）行不另计条数" in sheet["A2"].value
    total = list(book[COUNT_SHEET].iter_rows(min_row=book[COUNT_SHEET].max_row, values_only=True))[0]
    assert total[4] == len(firsts) == len(chosen)  # 表1 counts records, not rows
    assert sheet.auto_filter.ref.endswith(str(3 + len(rows)))  # the filter covers the continued rows


def test_a_sheet_without_long_texts_has_no_continued_rows(repo_with_records):
    _, chosen, book, _ = workbook_for(repo_with_records)
    rows = body_rows(book[CONTENT_SHEET])
    assert len(rows) == len(chosen) and CONTINUED not in [row[0] for row in rows]
    assert "（续）" not in book[CONTENT_SHEET]["A2"].value


HOSTILE_TEXTS = {
    "one paragraph, no punctuation": "字" * 6000,
    "a Latin word longer than a row": "https://example.edu.cn/" + "a" * 5000 + " 结束",
    "blank lines and spaces": ("第一段。\n\n\n   缩进的段落，后面有空格   \n" * 300).strip(),
    "formula-like starts everywhere": ("=SUM(A1)+1；-减号；@提及；'引号\n" * 400),
    "emoji sequences": "气氛热烈👍🏽👨‍👩‍👧‍👦🇨🇳" * 800,
    "one character a line": "\n".join("字" * 1 for _ in range(200)),
}


@pytest.mark.parametrize("text", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())
@pytest.mark.parametrize("width", [20, 54])
def test_split_text_gives_parts_that_fit_a_row_and_join_back(text, width):
    parts = split_text(text, width)
    assert "".join(parts) == text
    assert len(parts) > 1
    assert all(lines_needed(part, width) <= MAX_LINES for part in parts)
    assert all(part for part in parts)
    # A part never starts with what a spreadsheet reads as a formula, nor between an emoji and its modifier.
    assert all(part[0] not in "=+-@'" for part in parts[1:]), [part[:3] for part in parts]
    assert all(not ("\U0001f3fb" <= part[0] <= "\U0001f3ff" or part[0] == "\u200d") for part in parts[1:])


# Texts whose characters go together: a cut between them would print a flag as two letters, a syllable apart.
JOINED = {
    "flags": "🇨🇳" * 900 + "完",
    "flags between words": "🇨🇳国旗" * 500,
    "a spacing vowel sign (Devanagari)": "कि" * 3000,
    "a vowel sign (Tibetan)": "བོད་" * 1500,
    "Hangul jamo": "\u1100\u1161\u11a8" * 2000,
    "skin tones and families": "👍🏽👨\u200d👩\u200d👧" * 900,
}


def _starts_inside_a_character(text: str, cut: int) -> bool:
    """Whether ``text[cut]`` belongs with what comes before it (a simplified UAX #29 grapheme rule)."""
    import unicodedata

    here, before = text[cut], text[cut - 1]
    regional = lambda ch: "\U0001f1e6" <= ch <= "\U0001f1ff"  # noqa: E731
    run = 0
    while cut - run - 1 >= 0 and regional(text[cut - run - 1]):
        run += 1
    return (
        unicodedata.category(here) in ("Mn", "Mc", "Me", "Cf")
        or "\U0001f3fb" <= here <= "\U0001f3ff"
        or before == "\u200d"
        or (regional(here) and run % 2 == 1)
        or "\u1160" <= here <= "\u11ff"
    )


@pytest.mark.parametrize("text", JOINED.values(), ids=JOINED.keys())
@pytest.mark.parametrize("width", [20, 33, 54])
def test_split_text_never_cuts_inside_a_character_as_people_see_it(text, width):
    parts = split_text(text, width)
    assert len(parts) > 1 and "".join(parts) == text
    cuts, at = [], 0
    for part in parts[:-1]:
        at += len(part)
        cuts.append(at)
    assert not [cut for cut in cuts if _starts_inside_a_character(text, cut)], [
        p[-2:] + "|" + q[:2] for p, q in zip(parts, parts[1:], strict=False)
    ]


def test_latin_characters_are_measured_at_least_as_wide_as_libreoffice_prints_them():
    """LibreOffice prints 宋体's Latin with DejaVu Sans, where W, m and @ are nearly a CJK character wide: a
    text of them measured as average letters needs more lines than planned, and its row cuts it off."""
    import subprocess

    from fontTools.ttLib import TTFont

    path = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True, timeout=30)
    font = TTFont(path.stdout)
    cmap, advances, em = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    narrow = {
        chr(code): round(advances[cmap[code]][0] / em * BODY_PT / UNIT_PT, 2)
        for code in range(0x21, 0x7F)
        if print_width(chr(code) * 10) < 10 * advances[cmap[code]][0] / em * BODY_PT / UNIT_PT - 0.1
    }
    assert not narrow, narrow
