"""The site as 思政科 and leaders read it, often on a phone: results first, pinyin works, matches marked, no English."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from english import english_words

SCREENSHOTS = os.environ.get("LIAISON_SCREENSHOTS")
VIEWPORTS = [(390, 844), (1366, 900)]


@pytest.fixture(params=VIEWPORTS, ids=["phone", "pc"])
def screen(request, browser):
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=width < 600)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page, width, height
    context.close()


def _wait(page):
    page.wait_for_function("document.getElementById('status').hasAttribute('data-count')")


def test_a_result_is_in_the_first_screen_zm_finds_the_leader_and_matches_are_marked(demo_site, serve, screen):
    page, width, height = screen
    page.goto(serve(demo_site) + "index.html")
    _wait(page)
    first = page.locator("#results article").first
    assert first.bounding_box()["y"] < height, "the first result must show without scrolling"
    filters_open = page.evaluate("document.getElementById('filters').open")
    assert filters_open == (width > 640)
    if not filters_open:
        assert "全部领导干部" in page.inner_text("#filters-summary")
        page.click("#filters > summary")
    runs = page.get_attribute("#status", "data-search")
    page.fill("input[name=leader]", "zm")
    page.press("input[name=leader]", "Enter")
    page.wait_for_function(f"document.getElementById('status').dataset.search !== '{runs}'")
    _wait(page)
    titles = page.locator("#results article h2").all_inner_texts()
    assert titles and all("赵敏" in t for t in titles)
    page.fill("input[name=q]", "学生")
    page.press("input[name=q]", "Enter")
    page.wait_for_function("document.querySelectorAll('#results mark').length > 0")
    marks = set(page.locator("#results mark").all_inner_texts())
    assert marks == {"学生"}
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.errors == []
    if SCREENSHOTS:
        page.goto(serve(demo_site) + "index.html?leader=T2012003&q=学生")
        _wait(page)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"site-search-{width}.png"))


def test_the_leader_count_table_keeps_headers_over_numbers_on_a_phone(demo_site, serve, screen):
    page, width, _ = screen
    page.goto(serve(demo_site) + "leaders/T2012003.html")
    for column in (2, 3, 4):
        header = page.locator(f"table.compare thead th:nth-child({column})").bounding_box()
        cell = page.locator(f"table.compare tbody tr:first-child td:nth-child({column})").bounding_box()
        assert abs((header["x"] + header["width"]) - (cell["x"] + cell["width"])) < 2  # right edges line up
        assert header["height"] < 2 * cell["height"]  # one line: 本人 and 最多 do not break
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_downloads_list_every_semester(demo_site):
    html = (demo_site / "downloads.html").read_text(encoding="utf-8")
    semesters = sorted({p.name for p in (demo_site / "data").glob("semester-*.js")})
    workbooks = sorted((demo_site / "downloads").glob("联系情况汇总表-*.xlsx"))
    assert len(workbooks) >= len(semesters) and len(re.findall(r"\.xlsx\"", html)) == len(workbooks)
    # All records come as CSV only (a workbook of every record would be remade on every commit).
    assert len(list((demo_site / "downloads").glob("联系记录-*.csv"))) == len(workbooks) + 1


def test_history_says_who_did_what_in_words(demo_site):
    page = next((demo_site / "records").glob("*.html")).read_text(encoding="utf-8")
    history = page[page.index("修改历史") :]
    assert "作者" not in history and not re.search(r"提交 [0-9a-f]{8}", history)
    assert re.search(r"(通过表单|直接)(提交|修改|删除|改了日期)", history)
    assert re.search(r'class="commit"[^>]*>[0-9a-f]{8}<', history)


PAGES = ["index.html", "leaders.html", "overview.html", "downloads.html", "leaders/T2012003.html"]


def test_no_english_word_on_the_site(demo_site, serve, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    base = serve(demo_site)
    record = next((demo_site / "records").glob("*.html")).relative_to(demo_site).as_posix()
    found = {}
    for path in [*PAGES, record]:
        page.goto(base + path)
        words = english_words(page.inner_text("body"), {"Seed", "maintainers"})  # the demo commits' author name: data
        if words:
            found[path] = words
    context.close()
    assert found == {}


def test_no_english_word_in_a_pdf_or_the_workbook(demo_site):
    import openpyxl
    from pypdf import PdfReader

    pdf = next((demo_site / "records").glob("*.pdf"))
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "联系内容" in text and english_words(text) == []
    workbook = openpyxl.load_workbook(next((demo_site / "downloads").glob("*.xlsx")), read_only=True)
    cells = [str(c) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c]
    workbook.close()
    assert "联系学生次数" in " ".join(cells) or "表1" in " ".join(workbook.sheetnames)
    assert english_words("\n".join(cells), {"Seed", "maintainers"}) == []
