"""The workbook and the audit workbook as LibreOffice prints them, read back from the PDF's text boxes.

``soffice --headless --convert-to pdf`` prints each sheet with its own page
set-up (paper, fit to width, repeated header row); ``pdftotext -bbox-layout``
gives every printed line's box. A person would refuse a print where lines
overprint each other, the text is smaller than 8 pt, a character of any
record is missing (3,000-character texts included) or page 2 has no header.
"""

from __future__ import annotations

import datetime
import io
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from conftest import PROJECT, commit_all, long_text, record_data, write_record
from pdfboxes import column_texts, printed_pages
from small_repos import empty_repository

from liaison.core.checks import check_repository
from liaison.core.project import Project, open_project
from liaison.core.records import Record
from liaison.core.semesters import ALL_DATES, resolve_range
from liaison.git.audit import AUDIT_HEADER, row_values
from liaison.outputs.auditlog import audit_log
from liaison.outputs.workbook import CONTENT_SHEET, COUNT_SHEET, build_workbook

pytestmark = [
    pytest.mark.skipif(shutil.which("soffice") is None, reason="libreoffice-calc (scripts/setup.sh)"),
    pytest.mark.early,  # LibreOffice takes seconds a print: not the last thing a run waits for
]

SEMESTER = "2025-2026-1"
LONG_NAME = "阿依古丽·买买提江艾力克"  # 12 characters with a middle dot
STAMP = datetime.datetime(2026, 2, 1, 2, 0, tzinfo=datetime.UTC)


def print_with_libreoffice(workbooks: list[Path], folder: Path) -> None:
    """Print each workbook in ``folder`` to a PDF beside it, in one run of LibreOffice (it starts in about a second
    whatever it prints), with its own profile folder, so parallel runs never share one."""
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(folder / 'lo-profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            *map(str, workbooks),
        ],
        check=True,
        capture_output=True,
        timeout=100,
        env={**os.environ, "HOME": str(folder)},
    )


def _overlap(a, b) -> bool:
    """Two word boxes (x0, y0, x1, y1) printed over each other."""
    # A text box is taller than the line pitch (ascent + descent), so the lines
    # of one wrapped cell touch; overprinted lines share most of their height.
    height = min(a[3] - a[1], b[3] - b[1])
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 0.3 * height


def _cjk_size(word: str, x0: float, x1: float) -> float | None:
    """The font size of a word of CJK characters only: each is one em wide."""
    if len(word) >= 2 and all(unicodedata.east_asian_width(ch) == "W" for ch in word):
        return (x1 - x0) / len(word)
    return None


def assert_prints_well(pdf: Path, header: tuple[str, ...]) -> list[list[tuple]]:
    """No line over another, no text under 8 pt, the header on every page; the pages' boxes."""
    pages = printed_pages(pdf)
    assert pages
    for number, lines in enumerate(pages, 1):
        words = [w for line in lines for w in line[4]]
        for i, a in enumerate(words):
            for b in words[i + 1 :]:
                assert not _overlap(a[1:], b[1:]), f"第 {number} 页：{a[0]} 与 {b[0]} 重叠"
        sizes = [s for line in lines for w in line[4] if (s := _cjk_size(w[0], w[1], w[3])) is not None]
        assert sizes and min(sizes) >= 7.9, f"第 {number} 页有 {min(sizes):.1f} pt 的字"
        text = "".join(w[0] for line in lines for w in line[4])
        assert all(label in text for label in header), f"第 {number} 页没有表头"
    return pages


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def sheet_columns(xlsx: Path, sheet: str, pages: list[list[tuple]]) -> tuple[list[str], list[str]]:
    """The sheet's header and what its printed pages show in each column (see pdfboxes.column_texts)."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    read = load_workbook(xlsx)[sheet]
    header = [cell.value for cell in read[3]]
    widths = [read.column_dimensions[get_column_letter(n)].width for n in range(1, len(header) + 1)]
    return header, column_texts(pages, header, widths)


def assert_every_value_printed(rows: list[dict], header: list[str], columns: list[str]) -> None:
    """Each row's text values (label -> text), found whole in their own printed column."""
    missing = [
        (label, value[:20], len(value))
        for row in rows
        for label, value in row.items()
        if value and squeeze(value) not in columns[header.index(label)]
    ]
    assert not missing, f"打印稿中找不到：{missing[:10]}（共 {len(missing)} 处）"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The shipped demo data plus a leader with a 12-character name, records of 3,000-character texts and
    short fields at the schema's longest, committed (one of them with a long commit message)."""
    root = tmp_path_factory.mktemp("print") / "repo"
    for name in ("schema", "records"):
        shutil.copytree(PROJECT / name, root / name)
    shutil.copy(PROJECT / "config.yaml", root / "config.yaml")
    roster = (PROJECT / "roster.yaml").read_text(encoding="utf-8")
    roster += (
        f"- {{id: T2099001, name: {LONG_NAME}, department: 护理学院, position: 副院长, login: ayili, active: true}}\n"
    )
    (root / "roster.yaml").write_text(roster, encoding="utf-8")
    commit_all(root)
    leader = {"leader_id": "T2099001", "leader": LONG_NAME, "department": "护理学院", "position": "副院长"}
    write_record(
        root,
        record_data(
            **leader,
            date=datetime.date(2025, 10, 10),
            content=long_text(3000, "内容"),
            feedback=long_text(3000, "反馈"),
            remarks=long_text(3000, "备注"),
        ),
        suffix="0a0a0a",
    )
    commit_all(root, "新增联系记录：" + "与护理学院学生座谈，内容较长，分段记录。" * 20)
    items = "、".join(f"2025级护理学{n}班" for n in range(1, 30))
    write_record(
        root,
        record_data(
            **(leader | {"position": "党委学生工作部部长、学生工作处处长、人民武装部部长"}),
            date=datetime.date(2025, 11, 11),
            place=("第一临床医学院示教室东侧" * 20)[:200],
            target=items[:200],
            student_contact="、".join(f"阿依古丽·买买提{n}" for n in range(1, 30))[:200],
            content=long_text(2999, "段"),
            feedback="",
        ),
        suffix="0b0b0b",
    )
    commit_all(root)
    return root


WIDE_LATIN = {
    "a word of the widest letter": "m" * 3000,
    "capitals and signs": "WWW@MOOC%ww " * 250,
    "separator lines": ("==========================================\n第一部分：座谈交流。\n" * 60).strip(),
}


@pytest.fixture(scope="module")
def wide_latin(tmp_path_factory):
    """A repository of one record of the semester for each text of WIDE_LATIN, committed."""
    root = empty_repository(tmp_path_factory.mktemp("wide") / "repo")
    for n, text in enumerate(WIDE_LATIN.values()):
        write_record(root, record_data(date=datetime.date(2025, 10, 1 + n), content=text), suffix=f"00000{n}")
    commit_all(root)
    return root


def semester_workbook(root: Path) -> tuple[bytes, list[Record], Project]:
    """(the workbook of the semester's records, those records, the project) of the repository at ``root``."""
    project = open_project(root)
    date_range = resolve_range(project.config.calendar, SEMESTER)
    chosen = [r for r in check_repository(project).clean_records() if r.date in date_range]
    data = build_workbook(chosen, project.roster, project.schema, project.config, date_range, STAMP, "提交 test")
    return data, chosen, project


@pytest.fixture(scope="module")
def audit(demo):
    return audit_log(open_project(demo), ALL_DATES, "xlsx")


@pytest.fixture(scope="module")
def printed(tmp_path_factory, demo, wide_latin, audit) -> dict[str, Path]:
    """The workbooks the tests read on paper, all printed by one run of LibreOffice: name -> the workbook, its PDF
    beside it (``.pdf``)."""
    folder = tmp_path_factory.mktemp("printed")
    books = {
        "both-tables": semester_workbook(demo)[0],
        "audit": audit.data,
        "wide-latin": semester_workbook(wide_latin)[0],
    }
    paths = {name: folder / f"{name}.xlsx" for name in books}
    for name, data in books.items():
        paths[name].write_bytes(data)
    print_with_libreoffice(list(paths.values()), folder)
    return paths


def test_libreoffice_prints_every_character_of_both_tables(demo, printed):
    data, chosen, project = semester_workbook(demo)
    assert max(len(r["content"]) for r in chosen) >= 2999
    xlsx = printed["both-tables"]
    assert xlsx.read_bytes() == data  # the semester's workbook, as printed
    active = [leader.name for leader in project.roster.leaders if leader.active]
    # Both sheets print into one PDF: 表1's header on its page(s), 表2's on the rest.
    pages = assert_prints_well(xlsx.with_suffix(".pdf"), ("序号", "领导姓名"))
    table1 = [p for p in pages if "联系学生次数" in "".join(w[0] for line in p for w in line[4])]
    assert table1 and len(table1) < len(pages)
    header, columns = sheet_columns(xlsx, COUNT_SHEET, table1)
    assert_every_value_printed([{"领导姓名": name} for name in active], header, columns)
    header, columns = sheet_columns(xlsx, CONTENT_SHEET, [p for p in pages if p not in table1])
    texts = [f for f in project.schema.fields if f.is_text]
    rows = [{f.label: r[f.key] for f in texts} | {"记录编号": r.id} for r in chosen]
    assert_every_value_printed(rows, header, columns)
    # The long name sits on one printed line.
    assert any(LONG_NAME in "".join(w[0] for w in line[4]) for page in pages for line in page)


def test_libreoffice_prints_every_change_of_the_audit_whole_about_ten_a_page(audit, printed):
    rows = audit.rows
    xlsx = printed["audit"]
    pages = assert_prints_well(xlsx.with_suffix(".pdf"), ("时间", "记录编号", "提示"))
    header, columns = sheet_columns(xlsx, "审计日志", pages)
    # Every value as the CSV writes it: the 时间 cell's format prints the time as every output writes it.
    shown = [dict(zip(AUDIT_HEADER, row_values(row), strict=True)) for row in rows]
    assert_every_value_printed(shown, header, columns)
    assert max(len(row.subject) for row in rows) > 400
    first = sheet_columns(xlsx, "审计日志", pages[:1])[1][header.index("操作")]
    assert len(re.findall("新增|修改|删除", first)) >= 9  # the demo's changes, about ten to a page


def test_audit_workbook_times_are_real_date_times_in_the_configured_zone(demo, audit):
    from openpyxl import load_workbook

    project = open_project(demo)
    rows = audit.rows
    sheet = load_workbook(io.BytesIO(audit.data)).active
    cell = sheet.cell(row=4, column=1)
    assert cell.is_date and isinstance(cell.value, datetime.datetime)
    assert cell.number_format == "yyyy-mm-dd hh:mm:ss"  # as the CSV, history and the site write a time
    assert cell.value == project.config.local(rows[0].when).replace(tzinfo=None)


def test_libreoffice_prints_whole_the_texts_of_the_widest_latin_letters(wide_latin, printed):
    """DejaVu Sans, LibreOffice's stand-in for 宋体, draws W, m, @ and = nearly as wide as a CJK character:
    planned as average letters, such a text needed more lines than its rows had and lost its end on paper."""
    _, records, _ = semester_workbook(wide_latin)
    assert len(records) == len(WIDE_LATIN)
    xlsx = printed["wide-latin"]
    pages = assert_prints_well(xlsx.with_suffix(".pdf"), ("序号", "领导姓名"))
    table2 = [p for p in pages if "联系学生次数" not in "".join(w[0] for line in p for w in line[4])]
    header, columns = sheet_columns(xlsx, CONTENT_SHEET, table2)
    assert_every_value_printed([{"联系内容": r["content"]} for r in records], header, columns)
