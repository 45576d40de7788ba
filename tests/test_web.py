"""The form's guards, in-process and (where only a socket shows it) over a real waitress server, and a leader's
whole visit in headless Chromium."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from conftest import PROXY_SECRET, good_form, proxy_headers
from webclient import Client


@pytest.fixture
def app(form_repo, make_app):
    return make_app(form_repo, start_worker=False)


@pytest.fixture
def port(app, live):
    """The app behind a real waitress server, for what the in-process client cannot show."""
    return live(app)


def test_no_proxy_headers_is_401(app):
    reply = Client(app).get("/new")
    assert reply.status == 401 and "统一身份认证" in reply.text


def test_a_wrong_secret_is_403(app):
    reply = Client(app, {"X-Remote-User": "zhao", "X-Liaison-Proxy-Secret": "guess"}).get("/new")
    assert reply.status == 403 and "密钥不正确" in reply.text


def test_the_user_header_spelled_with_underscores_is_not_the_user(port):
    # waitress drops the header (a WSGI environ cannot tell X_Remote_User from X-Remote-User): a socket shows it.
    reply = Client(port, {"X_Remote_User": "zhao", "X-Liaison-Proxy-Secret": PROXY_SECRET}).get("/new")
    assert reply.status == 401


@pytest.mark.parametrize("login, word", [("nobody", "不在领导干部名单中"), ("ayi", "已离任")])
def test_someone_not_on_the_roster_is_told_whom_to_contact(app, login, word):
    reply = Client(app, proxy_headers(login)).get("/new")
    assert reply.status == 403 and word in reply.text and "思政科（电话 1234）" in reply.text


def test_the_form_is_filled_from_the_roster(app):
    page = Client(app, proxy_headers("zhao")).get("/new")
    assert page.status == 200
    assert re.search(r'name="leader" type="text" value="赵某" readonly tabindex="-1"', page.text)
    assert re.search(r'name="department" type="text" value="学生工作处" readonly tabindex="-1"', page.text)
    assert re.search(r'name="position" type="text" value="副处长"(?! readonly)', page.text)
    # A text box (a browser's date box turns a typed 2025/9/5 into 0595-02-02), today filled in.
    assert re.search(r'name="date" type="text" value="\d{4}-\d{2}-\d{2}"', page.text)


def test_another_leaders_record_and_pdf_are_404(app):
    owner = Client(app, proxy_headers("zhao"))
    reply = owner.post("/new", {**owner.new_form(), **good_form()})
    record_id = reply.headers["Location"].rsplit("/", 1)[1]
    assert owner.get(f"/records/{record_id}.pdf").status == 200
    other = Client(app, proxy_headers("zhangwei"))
    assert other.get(f"/records/{record_id}.pdf").status == 404
    assert other.get(f"/records/{record_id}").status == 404
    assert other.get(f"/records/{record_id}/edit").status == 404


def test_an_expired_csrf_token_gives_the_form_back_with_everything_typed_and_submits_nothing(app):
    client = Client(app, proxy_headers("zhao"))
    hidden = client.new_form()
    long_text = "与学生座谈，" * 55  # 330 characters, as in the report
    for forged in ("", "x" * 43, "中文令牌"):
        reply = client.post("/new", {"csrf_token": forged, "token": hidden["token"], **good_form(content=long_text)})
        assert reply.status == 403 and "再按一次「提交」" in reply.text
        assert long_text in reply.text and 'value="图书馆101"' in reply.text
        assert reply.field("csrf_token") and reply.field("csrf_token") != forged
        assert reply.field("token") == hidden["token"]  # pressing 提交 again is still one record
    assert app.config["LIAISON_SUBMITTER"].pending() == []
    again = client.post("/new", {"csrf_token": reply.field("csrf_token"), "token": hidden["token"], **good_form()})
    assert again.status == 303


def test_a_post_elsewhere_without_the_csrf_token_is_403(form_repo, make_app):
    app = make_app(form_repo, dev_login=True, start_worker=False)
    local = app.test_client()
    reply = local.post("/dev-login", data={"login": "zhao"})
    assert reply.status_code == 403 and "CSRF" in reply.text


def test_an_oversized_body_is_413(port):
    # Over a socket: the refusal reaches a browser that is still sending the body.
    client = Client(port, proxy_headers("zhao"))
    reply = client.post("/new", {**client.new_form(), **good_form(content="长" * 200_000)})
    assert reply.status == 413 and "512 KB" in reply.text


def test_a_field_over_its_limit_is_a_field_error_and_nothing_typed_is_lost(app):
    client = Client(app, proxy_headers("zhao"))
    reply = client.post("/new", {**client.new_form(), **good_form(place="楼" * 201, content="我写的内容")})
    assert reply.status == 422
    error = re.search(r'name="place"[^>]*>\s*<p class="error"[^>]*>([^<]+)', reply.text)
    assert error and "最多 200 字" in error[1]
    assert "我写的内容" in reply.text and "楼" * 201 in reply.text


def test_leader_fields_always_come_from_the_roster(app, form_repo):
    client = Client(app, proxy_headers("zhao"))
    reply = client.post("/new", {**client.new_form(), **good_form(), "leader": "别人", "department": "别处"})
    page = client.get(reply.headers["Location"])
    assert "赵某" in page.text and "别人" not in page.text and "别处" not in page.text


def test_a_phone_user_fixes_an_error_submits_downloads_the_pdf_and_finds_it(form_repo, make_app, live, browser):
    port = live(make_app(form_repo, start_worker=False))
    context = browser.new_context(
        viewport={"width": 375, "height": 780},
        is_mobile=True,
        has_touch=True,
        extra_http_headers=proxy_headers("zhao"),
        accept_downloads=True,
    )
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{port}/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.fill("#f-place", "图书馆101")
    page.fill("#f-size", "25")
    page.fill("#f-target", "国旗护卫队")
    page.fill("#f-student_contact", "刘某")
    page.fill("#f-content", "   ")  # only spaces: the browser lets it through, the server does not
    page.click("button[type=submit]")
    error = page.locator(".form-field.has-error .error")
    assert error.count() == 1 and "请填写联系内容" in error.inner_text()
    assert page.locator(".form-field.has-error #f-content").count() == 1  # beside its own field
    assert page.input_value("#f-place") == "图书馆101"  # what was typed is kept
    page.fill("#f-content", "与国旗护卫队队员座谈，了解训练情况。")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/records/"))
    assert "已收到" in page.inner_text("main")
    with page.expect_download() as download:
        page.click("text=下载 PDF 记录表")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    record_id = page.url.rsplit("/", 1)[1]
    page.click("text=我的记录")
    page.wait_for_selector(f'li[data-id="{record_id}"]')  # the click starts the page; count once it is there
    assert page.locator(f'li[data-id="{record_id}"]').count() == 1
    context.close()


def test_the_development_login_lists_the_roster_and_works_only_from_this_machine(form_repo, make_app):
    app = make_app(form_repo, dev_login=True, start_worker=False)
    local = app.test_client()
    assert local.get("/new").headers["Location"].endswith("/dev-login")
    page = local.get("/dev-login")
    assert page.status_code == 200 and "开发模式登录" in page.text and "赵某" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    assert local.post("/dev-login", data={"csrf_token": token, "login": "zhao"}).status_code == 303
    form = local.get("/new")
    assert form.status_code == 200 and "开发模式" in form.text and 'value="赵某" readonly' in form.text
    remote = app.test_client()
    refused = remote.get("/dev-login", environ_base={"REMOTE_ADDR": "192.0.2.7"})  # in-process: no traffic leaves
    assert refused.status_code == 403 and "只允许本机访问" in refused.text


def test_the_development_login_cannot_be_bound_to_another_address(form_repo, run):
    done = run(form_repo, "serve", "--dev-login", "--host", "0.0.0.0")
    assert done.exit_code != 0 and "只能在本机地址上运行" in done.output


def test_production_mode_needs_the_proxy_secret(form_repo, monkeypatch):
    from liaison.web import ConfigurationError, create_app

    monkeypatch.delenv("LIAISON_PROXY_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="LIAISON_PROXY_SECRET"):
        create_app(form_repo, form_repo / ".liaison", start_worker=False)


def test_an_edited_roster_is_used_without_a_restart_and_a_broken_one_is_not(form_repo, app):
    import os

    newcomer = Client(app, proxy_headers("qian"))
    assert newcomer.get("/new").status == 403
    roster = form_repo / "roster.yaml"
    text = roster.read_text(encoding="utf-8")
    roster.write_text(
        text + "  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian, active: true}\n",
        encoding="utf-8",
    )
    os.utime(roster, ns=(roster.stat().st_atime_ns, roster.stat().st_mtime_ns + 10**9))
    assert newcomer.get("/new").status == 200
    roster.write_text(text + "  - {id: T5, name: 钱某\n", encoding="utf-8")  # a typo while editing
    os.utime(roster, ns=(roster.stat().st_atime_ns, roster.stat().st_mtime_ns + 2 * 10**9))
    assert Client(app, proxy_headers("zhao")).get("/new").status == 200  # the last good roster stays in use


def test_every_response_carries_the_security_headers(app):
    client = Client(app, proxy_headers("zhao"))
    for path in ("/new", "/mine", "/healthz", "/nowhere"):
        reply = client.get(path)
        csp = reply.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert reply.headers.get("X-Content-Type-Options") == "nosniff"
        assert reply.headers.get("Referrer-Policy")
        assert reply.headers.get("Cache-Control") == "no-store", path
    record = client.post("/new", {**client.new_form(), **good_form()}).headers["Location"]
    assert client.get(record + ".pdf").headers.get("Cache-Control") == "no-store"
    assert "<script>" not in client.get("/new").text  # drafts live in site/draft.js: CSP allows no inline script


def test_health_says_whether_the_outbox_is_healthy_without_personal_data(app):
    client = Client(app, proxy_headers("zhao"))
    client.post("/new", {**client.new_form(), **good_form(target="国旗护卫队")})
    reply = Client(app).get("/healthz")  # no login needed
    assert reply.status == 200 and '"waiting": 1' in reply.text.replace('":', '": ').replace(":  ", ": ")
    assert "国旗护卫队" not in reply.text and "zhao" not in reply.text and "T1" not in reply.text


def test_login_makes_a_new_session_and_logout_forgets_it(app):
    client = Client(app, proxy_headers("zhao"))
    client.get("/new")
    first = client.cookie
    client.headers = proxy_headers("zhangwei")  # another person in this browser
    client.get("/new")
    assert client.cookie != first
    page = client.get("/logout")
    assert page.status == 200 and "已退出" in page.text and "data-draft-forget" in page.text


def test_a_draft_survives_a_reload_and_is_gone_after_the_submit(form_repo, make_app, live, browser):
    port = live(make_app(form_repo, start_worker=False))
    context = browser.new_context(extra_http_headers=proxy_headers("zhao"))
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{port}/new")
    long_text = "在图书馆与学生会成员座谈，了解学习和生活情况。" * 15
    page.fill("#f-place", "图书馆101")
    page.fill("#f-size", "25")
    page.fill("#f-target", "学生会")
    page.fill("#f-student_contact", "刘某")
    page.fill("#f-content", long_text)
    page.reload()  # the page comes back from the server empty
    assert page.input_value("#f-content") == long_text and page.input_value("#f-place") == "图书馆101"
    assert "草稿" in page.inner_text("#draft-notice")
    page.route("**/new", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    page.click(".record-form button[type=submit]")  # the network drops (or the SSO session expired) at submit
    page.wait_for_load_state()
    page.unroute("**/new")
    page.goto(f"http://127.0.0.1:{port}/new")  # back from a re-login: the form, with the text
    assert page.input_value("#f-content") == long_text and "上次提交没有送达" in page.inner_text("#draft-notice")
    page.click(".record-form button[type=submit]")
    page.wait_for_url(re.compile(r"/records/"))
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('liaison-draft:'))") == []
    page.goto(f"http://127.0.0.1:{port}/new")
    assert page.input_value("#f-content") == ""
    context.close()


def test_a_drafts_time_is_the_configured_zones_whatever_the_phones(form_repo, make_app, live, browser):
    """Saved at 23:10 UTC on a phone set to Los Angeles (15:10 there): the notice says 07:10, Beijing time, as
    every other time the form and the site show for that moment."""
    port = live(make_app(form_repo, start_worker=False))
    context = browser.new_context(extra_http_headers=proxy_headers("zhao"), timezone_id="America/Los_Angeles")
    page = context.new_page()
    page.clock.install(time=datetime.datetime(2025, 11, 11, 23, 10, tzinfo=datetime.UTC))
    page.goto(f"http://127.0.0.1:{port}/new")
    page.fill("#f-place", "图书馆101")
    page.reload()
    assert "（07:10）" in page.inner_text("#draft-notice"), page.inner_text("#draft-notice")
    context.close()
