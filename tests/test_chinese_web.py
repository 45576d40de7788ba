"""The form and 我的记录 as a leader sees them, in Chromium at a phone's and a PC's size.

The GitLab part runs against tests/gitlab_standin.py: a loopback server that
answers GitLab's documented REST responses for the two endpoints used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import CONFIG, proxy_headers
from english import english_words
from gitlab_standin import GitLabStandIn
from processes import wait_until
from test_submit import submit
from webclient import Client

SCREENSHOTS = os.environ.get("LIAISON_SCREENSHOTS")  # a folder (docs/screenshots) to refresh the README's pictures
VIEWPORTS = [(390, 844), (1366, 900)]
TOKEN = "read-only-token-for-tests"


@pytest.fixture
def gitlab():
    standin = GitLabStandIn("xgc/records", TOKEN)
    yield standin
    standin.close()


@pytest.fixture
def reviewed_app(form_repo, make_app, gitlab, monkeypatch):
    """Three submissions: one sent back with a comment, one under review, one still in the outbox."""
    monkeypatch.setenv("LIAISON_TODAY", "2024-10-20")
    monkeypatch.setenv("LIAISON_GITLAB_TOKEN", TOKEN)
    (form_repo / "config.yaml").write_text(
        CONFIG + "web:\n  remote: ''\n  gitlab_api: {url: '" + gitlab.url + "', project: xgc/records, every: 10}\n"
        "reminders:\n  minimum: 4\n",
        encoding="utf-8",
    )
    app = make_app(form_repo, start_worker=False)
    yield app
    app.config["LIAISON_REVIEWS"].stop()


def _setup_records(app, port, gitlab):
    client = Client(port, proxy_headers("zhao"))
    returned = submit(client, content="座谈。", date="2024-10-08")
    reviewing = submit(client, content="与学生会座谈交流。", date="2024-10-09")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    syncing = submit(client, content="还没同步的。", date="2024-10-10")
    branches = {rid: branch for rid, (_, branch) in submitter.branch_records("T1").items()}
    gitlab.add(
        12,
        branches[returned],
        labels=["联系记录", "退回"],
        notes=[
            ("liaison-form", "联系记录表单", "added 1 commit", True),
            ("szk", "思政科 李老师", "联系内容太简略，请补充谈话要点和学生提出的问题。", False),
        ],
    )
    gitlab.add(13, branches[reviewing])
    client.get("/mine")  # the first page starts the background reader; it does not wait for it
    cache = app.config["LIAISON_REVIEWS"]
    wait_until(lambda: cache.read_at > 0 and branches[returned] in cache.reviews)
    return returned, reviewing, syncing


@pytest.mark.parametrize("width, height", VIEWPORTS, ids=["phone", "pc"])
def test_a_leader_sees_every_error_progress_states_and_the_reviewers_comment(
    reviewed_app, live, gitlab, browser, width, height
):
    port = live(reviewed_app)
    returned, reviewing, syncing = _setup_records(reviewed_app, port, gitlab)
    context = browser.new_context(viewport={"width": width, "height": height}, extra_http_headers=proxy_headers("zhao"))
    page = context.new_page()
    base = f"http://127.0.0.1:{port}"

    # An empty form with the browser's own checks off: every error in one round.
    page.goto(f"{base}/new")
    page.evaluate("document.querySelector('form.record-form').noValidate = true")
    page.fill("#f-date", "")
    page.fill("#f-position", "")
    page.click("button[type=submit]")
    errors = {
        page.get_attribute(f"#{el.get_attribute('id')}", "id")[2:]: el.inner_text()
        for el in page.locator(".form-field .error").all()
    }
    assert set(errors) == {"position", "date", "place", "size", "target", "student_contact", "content"}
    assert f"有 {len(errors)} 处需要修改" in page.inner_text("main")
    for key, message in errors.items():  # the hint stays below the field, not inside the error
        hint = page.inner_text(f"#h-{key}")
        assert hint not in message
    assert english_words(page.inner_text("body")) == []
    _shot(page, f"form-errors-{width}")

    # An impossible date names itself.
    page.evaluate("document.querySelector('form.record-form').noValidate = true")
    page.evaluate("document.querySelector('#f-date').type = 'text'")
    page.fill("#f-date", "2027-02-30")
    page.click("button[type=submit]")
    assert "2027-02-30 不是真实存在的日期（2027 年 2 月只有 28 天）" in page.inner_text("#e-date")

    # 我的记录: progress, distinct states with their words, 修改 links, the reason for sending back.
    page.goto(f"{base}/mine")
    assert "本学期已记录 4 次，要求至少 4 次，距学期结束 103 天" in page.inner_text(".progress")
    states = {li.get_attribute("data-id"): li.get_attribute("data-status") for li in page.locator("ul.mine li").all()}
    assert states[returned] == "returned" and states[reviewing] == "reviewing" and states[syncing] == "syncing"
    assert "approved" in states.values()
    item = page.locator(f'li[data-id="{returned}"]')
    assert item.locator(".status-tag").inner_text() == "已退回"
    assert "退回原因：联系内容太简略" in item.inner_text()
    for rid in (returned, reviewing, syncing):
        assert page.locator(f'li[data-id="{rid}"] a.edit').inner_text() == "修改"
    approved = page.locator('li[data-status="approved"]')
    assert approved.locator("a.edit").count() == 0 and approved.locator(".status-tag").inner_text() == "已通过"
    colours = {
        page.locator(f'li[data-id="{rid}"] .status-tag').evaluate("e => getComputedStyle(e).color")
        for rid in (returned, reviewing, syncing)
    }
    assert len(colours) == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert english_words(page.inner_text("body")) == []
    _shot(page, f"mine-{width}")

    # The record sent back shows the reviewer's comment; the correction is confirmed as one.
    page.click(f'li[data-id="{returned}"] a.edit')
    page.fill("#f-content", "座谈，谈了学习计划和宿舍条件；学生提出延长自习室开放时间。")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/records/"))
    assert "修改已提交" in page.inner_text(".success")
    assert "联系内容太简略" in page.inner_text(".comments")
    context.close()


def test_without_the_setting_the_page_says_what_git_knows(form_repo, make_app):
    app = make_app(form_repo, start_worker=False)
    assert "LIAISON_REVIEWS" not in app.config
    client = Client(app, proxy_headers("zhao"))
    waiting = submit(client)
    page = client.get("/mine").text
    assert re.search(rf'data-id="{waiting}" data-status="syncing"', page) and "已提交 · 正在同步" in page


def test_a_redirect_body_is_chinese(form_repo, make_app):
    client = Client(make_app(form_repo, start_worker=False), proxy_headers("zhao"))
    reply = client.get("/")
    assert reply.status == 302 and "正在跳转" in reply.text and "Redirecting" not in reply.text


def test_a_gitlab_failure_keeps_the_last_answer(gitlab):
    from liaison.core.config import GitLabApiSettings
    from liaison.web.status import GitLabReviews, ReviewCache

    gitlab.add(3, "record/x", labels=["退回"], notes=[("szk", "思政科", "请补充。", False)])
    cache = ReviewCache(GitLabReviews(GitLabApiSettings(gitlab.url, "xgc/records", timeout=5), TOKEN), every=60)
    cache.refresh()
    assert cache.reviews["record/x"].returned and cache.reviews["record/x"].comments[0].body == "请补充。"
    cache.reader = GitLabReviews(GitLabApiSettings(gitlab.url, "xgc/records", timeout=5), "wrong-token")
    cache.refresh()
    assert cache.error and cache.reviews["record/x"].returned  # a 401 keeps what was read before
    assert any("state=opened" in r for r in gitlab.requests) and any("/notes" in r for r in gitlab.requests)


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
