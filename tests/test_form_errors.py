"""The form's own Chinese list of every problem comes first, in any browser and language (issue 30 item 4).

In-process (Flask's test client) for what the server sends; Chromium at a
phone's width, with a Chinese and an English browser, for what a person
sees and where the focus goes; axe-core for what a screen reader meets.
"""

from __future__ import annotations

import datetime

import pytest
from axe import violations
from conftest import good_form, proxy_headers
from inprocess import Elements, Leader

from liaison.core.dates import typed_date

EMPTY = {key: "" for key in good_form()}
REQUIRED = ["position", "date", "place", "size", "target", "student_contact", "content"]


@pytest.fixture
def app(form_repo, make_app):
    return make_app(form_repo, start_worker=False)


def test_an_empty_form_lists_every_problem_first_each_tied_to_its_field(app):
    leader = Leader(app)
    reply = leader.post("/new", {**leader.hidden(), **EMPTY})
    assert reply.status_code == 422
    page = Elements(reply.text)
    summary = page.by_id("error-summary")
    form = page.select("form", **{"class": "record-form"})[0]
    assert page.found.index(summary) < page.found.index(form), "the list comes before the form"
    assert summary["role"] == "alert" and summary["tabindex"] == "-1"
    assert "novalidate" in form, "no browser bubble before the list"
    links = [e for e in page.found if e["tag"] == "a" and e.get("data-field")]
    assert [a["href"] for a in links] == [f"#f-{key}" for key in REQUIRED]
    assert f"有 {len(REQUIRED)} 处需要修改" in page.by_id("error-summary-title")["text"]
    for key, link in zip(REQUIRED, links, strict=True):
        box = page.by_id(f"f-{key}")
        error = page.by_id(f"e-{key}")
        assert box["aria-invalid"] == "true"
        assert box["aria-describedby"].split()[0] == f"e-{key}" and f"h-{key}" in box["aria-describedby"]
        assert error["text"] in link["text"] and link["text"].startswith(page_label(page, key))
    for key in ("feedback", "remarks"):  # may be empty: no error, nothing invalid
        assert "aria-invalid" not in page.by_id(f"f-{key}") and page.by_id(f"e-{key}") is None


def page_label(page: Elements, key: str) -> str:
    label = next(e for e in page.found if e["tag"] == "label" and e.get("for") == f"f-{key}")
    return label["text"].rstrip("*")


def test_read_only_fields_are_no_tab_stops_and_nothing_is_a_browser_date_or_number_box(app):
    page = Elements(Leader(app).get("/new").text)
    inputs = {e["name"]: e for e in page.select("input") if e.get("type") == "text"}
    assert inputs["leader"]["tabindex"] == "-1" and inputs["department"]["tabindex"] == "-1"
    assert all("tabindex" not in e for name, e in inputs.items() if name not in ("leader", "department"))
    assert not [e for e in page.select("input") if e.get("type") in ("date", "number")]
    assert inputs["size"]["inputmode"] == "numeric"


@pytest.mark.parametrize(
    "typed",
    # 2025。9。5: the period key of a Chinese input method in Chinese punctuation mode
    [
        "2025/9/5",
        "2025.9.5",
        "2025年9月5日",
        "２０２５年９月５日",
        " 2025 - 09 - 05 ",
        "2025-9-5",
        "2025。9。5",
        "2025．9．5",
    ],
)
def test_a_date_typed_the_ways_people_type_it_is_that_date(app, typed):
    assert typed_date(typed) == "2025-09-05"
    leader = Leader(app)
    reply = leader.post("/new", {**leader.hidden(), **good_form(date=typed)})
    assert reply.status_code == 303, reply.text[:400]
    page = leader.get(reply.headers["Location"]).text
    assert "2025-09-05" in page


@pytest.mark.parametrize(
    "typed, words",
    [
        ("2025/2/30", "2025-02-30 不是真实存在的日期（2025 年 2 月只有 28 天）"),
        ("2025年13月1日", "2025-13-01 不是真实存在的日期（没有 13 月）"),
        ("九月五日", "“九月五日”不是日期"),
        ("0595-02-02", "太小，不能小于 2000-01-01"),
    ],
)
def test_a_date_that_is_no_date_says_why_in_chinese(app, typed, words):
    leader = Leader(app)
    reply = leader.post("/new", {**leader.hidden(), **good_form(date=typed)})
    assert reply.status_code == 422 and words in Elements(reply.text).by_id("e-date")["text"]


# In Chromium at a phone's width, in a Chinese and an English browser.
LOCALES = ["zh-CN", "en-US"]


@pytest.fixture(params=LOCALES)
def phone(request, browser):
    def open_context(port: int, **kwargs):
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            locale=request.param,
            extra_http_headers=proxy_headers("zhao"),
            **kwargs,
        )
        contexts.append(context)
        page = context.new_page()
        page.posts = []
        page.on("request", lambda r: page.posts.append(r.url) if r.method == "POST" else None)
        page.base = f"http://127.0.0.1:{port}"
        return page

    contexts: list = []
    yield open_context
    for context in contexts:
        context.close()


def _summary(page) -> list[str]:
    return page.locator("#error-summary li").all_inner_texts()


def test_the_chinese_list_comes_first_in_any_browser_language_and_focus_goes_to_it(app, live, phone):
    port = live(app)
    page = phone(port, bypass_csp=True)
    page.goto(page.base + "/new")
    assert violations(page) == []
    for selector in ("#f-position", "#f-date"):
        page.fill(selector, "")
    page.fill("#f-size", "50人")
    page.tap("button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert page.posts == [], "the page's own check answers before anything is sent"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    shown = _summary(page)
    assert len(shown) == len(REQUIRED) and "人员规模：“50人”不是整数，请只填阿拉伯数字。" in shown
    assert page.evaluate("document.querySelector('form.record-form').noValidate")
    assert page.get_attribute("#f-place", "aria-invalid") == "true"
    assert page.get_attribute("#f-place", "aria-describedby").split()[0] == "e-place"
    assert violations(page) == []
    # A link of the list puts the cursor in its field.
    page.click("#error-summary a[data-field=content]")
    assert page.evaluate("document.activeElement.id") == "f-content"
    # The server's list for the same form, with the script off, says the same words.
    server = phone(port, java_script_enabled=False)
    server.goto(server.base + "/new")
    for selector in ("#f-position", "#f-date"):
        server.fill(selector, "")
    server.fill("#f-size", "50人")
    server.click("button[type=submit]")
    server.wait_for_selector("#error-summary")
    assert _summary(server) == shown


def test_a_future_date_and_a_typed_date_are_said_in_chinese_not_by_the_browser(app, live, phone):
    port = live(app)
    page = phone(port)
    page.goto(page.base + "/new")
    future = (datetime.date.today() + datetime.timedelta(days=400)).isoformat()
    page.fill("#f-date", future)
    page.tap("button[type=submit]")
    page.wait_for_selector("#e-date")
    assert f"{future} 晚于今天" in page.inner_text("#e-date") and "Value must" not in page.inner_text("body")
    for typed in ("2025/9/5", "2025。9。5"):
        page.fill("#f-date", typed)
        page.locator("#f-date").blur()
        assert page.input_value("#f-date") == "2025-09-05", typed
    page.fill("#f-date", "2025年9月5日")
    page.fill("#f-place", "图书馆101")
    page.fill("#f-size", "２５")
    page.fill("#f-target", "国旗护卫队")
    page.fill("#f-student_contact", "刘某")
    page.fill("#f-content", "座谈交流。")
    page.tap("button[type=submit]")
    page.wait_for_url("**/records/**")
    assert "2025-09-05" in page.inner_text("h1") and page.posts
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_tab_never_stops_on_a_read_only_field(app, live, phone):
    page = phone(live(app))
    page.goto(page.base + "/new")
    visited = []
    for _ in range(12):
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.name || document.activeElement.id"))
    assert "leader" not in visited and "department" not in visited
    assert visited.index("position") < visited.index("place")


def test_the_form_service_pages_have_no_axe_violations(app, live, phone):
    """axe-core on every page a leader meets: 我的记录 by semester, a record, 申请更正, a moved record."""
    port = live(app)
    app.config["LIAISON_SUBMITTER"].refresh()  # the approved record on main
    page = phone(port, bypass_csp=True)
    page.goto(page.base + "/new")
    for selector, value in good_form(date="2024-10-08").items():
        if value:
            page.fill(f"#f-{selector}", value)
    page.tap("button[type=submit]")
    page.wait_for_url("**/records/**")
    record = page.url.rsplit("/", 1)[1]
    found = {"record": violations(page)}
    for name, path in [
        ("mine", "/mine"),
        ("request", "/records/2024-09-01-T1-0000aa/edit"),
        ("moved", f"/records/2024-10-07-{record.split('-', 3)[3]}"),
    ]:
        page.goto(page.base + path)
        found[name] = violations(page)
    assert found == {name: [] for name in found}


def test_a_form_left_open_past_midnight_takes_the_new_day(app, live, phone, monkeypatch):
    """Opened at 23:59:50 in Beijing, sent just after midnight dated the new day: that day is today now, not
    晚于今天 (the page's own check knew only the day it was opened); a day later still is refused."""
    monkeypatch.delenv("LIAISON_TODAY", raising=False)
    monkeypatch.setenv("LIAISON_NOW", "2025-11-11T23:59:50+08:00")
    page = phone(live(app))
    page.clock.install()
    page.goto(page.base + "/new")
    for key, value in good_form(date="2025-11-13").items():
        if value and key not in ("leader", "department"):
            page.fill(f"#f-{key}", value)
    page.clock.fast_forward(30_000)
    monkeypatch.setenv("LIAISON_NOW", "2025-11-12T00:00:20+08:00")
    page.tap("button[type=submit]")
    page.wait_for_selector("#e-date")
    assert "2025-11-13 晚于今天" in page.inner_text("#e-date")
    page.fill("#f-date", "2025-11-12")
    page.tap("button[type=submit]")
    page.wait_for_url("**/records/**")
    assert "2025-11-12" in page.inner_text("h1")
