"""The workbook and the audit workbook as LibreOffice prints them, read back from the PDF's text boxes.

``soffice --headless --convert-to pdf`` prints each sheet with its own page
set-up (paper, fit to width, repeated header row); ``pdftotext -bbox-layout``
gives every printed line's box. A person would refuse a print where lines
overprint each other, the text is smaller than 8 pt, a record is missing or
page 2 has no header.
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
from conftest import PROJECT, commit_all, record_data, write_record
from pdfboxes import printed_pages

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.semesters import ALL_DATES, resolve_range
from liaison.outputs.auditlog import audit_log
from liaison.outputs.workbook import build_workbook

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None, reason="libreoffice-calc (scripts/setup.sh)")

SEMESTER = "2025-2026-1"
LONG_NAME = "阿依古丽·买买提江艾力克"  # 12 characters with a middle dot
STAMP = datetime.datetime(2026, 2, 1, 2, 0, tzinfo=datetime.UTC)


def print_with_libreoffice(xlsx: Path, tmp_path: Path) -> Path:
    """The PDF LibreOffice prints of ``xlsx`` (its own profile folder, so parallel runs never share one)."""
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(xlsx.parent),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=100,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    return xlsx.with_suffix(".pdf")


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


def assert_prints_well(pdf: Path, header: tuple[str, ...], must_appear: list[str]) -> list[list[tuple]]:
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
    everything = re.sub(r"\s", "", "".join(w[0] for lines in pages for line in lines for w in line[4]))
    missing = [item for item in must_appear if item not in everything]
    assert not missing, f"打印稿中找不到：{missing}"
    return pages


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The shipped demo data plus a leader with a 12-character name and a record of long text, committed."""
    root = tmp_path_factory.mktemp("print") / "repo"
    for name in ("schema", "records"):
        shutil.copytree(PROJECT / name, root / name)
    shutil.copy(PROJECT / "config.yaml", root / "config.yaml")
    roster = (PROJECT / "roster.yaml").read_text(encoding="utf-8")
    roster += (
        f"- {{id: T2099001, name: {LONG_NAME}, department: 护理学院, position: 副院长, login: ayili, active: true}}\n"
    )
    (root / "roster.yaml").write_text(roster, encoding="utf-8")
    long_text = "与同学们座谈，了解学习、生活和就业的情况，逐一回应同学们提出的问题。" * 12
    write_record(
        root,
        record_data(
            leader_id="T2099001",
            leader=LONG_NAME,
            department="护理学院",
            position="副院长",
            date=datetime.date(2025, 10, 10),
            content=long_text,
            feedback=long_text[:200],
        ),
        suffix="0a0a0a",
    )
    commit_all(root)
    return root


def test_libreoffice_prints_both_tables_readably(demo, tmp_path):
    project = open_project(demo)
    records = check_repository(project).clean_records()
    date_range = resolve_range(project.config.calendar, SEMESTER)
    chosen = [r for r in records if r.date in date_range]
    xlsx = tmp_path / "workbook.xlsx"
    xlsx.write_bytes(
        build_workbook(chosen, project.roster, project.schema, project.config, date_range, STAMP, "提交 test")
    )
    pdf = print_with_libreoffice(xlsx, tmp_path)
    active = [leader.name for leader in project.roster.leaders if leader.active]
    # Both sheets print into one PDF: 表1's header on its page(s), 表2's on the rest.
    pages = printed_pages(pdf)
    table1 = [p for p in pages if "联系学生次数" in "".join(w[0] for line in p for w in line[4])]
    assert table1 and len(table1) < len(pages)
    assert_prints_well(pdf, ("序号", "领导姓名"), [r.id for r in chosen] + active)
    # The long name sits on one printed line.
    assert any(LONG_NAME in "".join(w[0] for w in line[4]) for page in pages for line in page)


def test_libreoffice_prints_the_audit_workbook_readably(demo, tmp_path):
    project = open_project(demo)
    rows, data = audit_log(project, ALL_DATES, "xlsx")
    xlsx = tmp_path / "audit.xlsx"
    xlsx.write_bytes(data)
    pdf = print_with_libreoffice(xlsx, tmp_path)
    assert_prints_well(pdf, ("时间", "记录编号", "提示"), sorted({row.record_id for row in rows}))


def test_audit_workbook_times_are_real_date_times_in_the_configured_zone(demo):
    from openpyxl import load_workbook

    project = open_project(demo)
    rows, data = audit_log(project, ALL_DATES, "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    cell = sheet.cell(row=4, column=1)
    assert cell.is_date and isinstance(cell.value, datetime.datetime)
    assert "年" in cell.number_format and "hh:mm" in cell.number_format
    assert cell.value == project.config.local(rows[0].when).replace(tzinfo=None)
