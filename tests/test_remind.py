"""Reminders over a real SMTP server (aiosmtpd) and a real HTTP server, both on loopback."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import urllib.parse

import pytest
from conftest import CONFIG, record_data, write_record
from ports import free_port
from webclient import ServerThread

TOKEN = "webhook-token-for-tests"
ROSTER = """\
leaders:
  - {id: T1, name: 赵某, department: 学生工作处, position: 副处长, login: zhao, email: zhao@example.edu.cn, mobile: '13800000001', active: true}
  - {id: T2, name: 张伟, department: 学生工作处, position: 处长, login: zhangwei, email: zw1@example.edu.cn, mobile: '13800000002', active: true}
  - {id: T3, name: 张伟, department: 基础医学院, position: 党委书记, login: zhangwei2, email: zw2@example.edu.cn, mobile: '13800000003', active: true}
  - {id: T4, name: 阿依古丽·买买提, department: 护理学院, position: 党委副书记, login: ayi, email: ayi@example.edu.cn, active: false}
  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian, email: qian@example.edu.cn, mobile: '13800000005', active: true}
"""


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.controller = controller
    yield mailbox
    with contextlib.suppress(AssertionError, RuntimeError):  # a test may have stopped it already
        mailbox.controller.stop()


@pytest.fixture
def webhook():
    calls = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            calls.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    with ServerThread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)) as server:
        server.calls = calls
        yield server


@pytest.fixture
def reminding(repo, smtp, webhook, monkeypatch):
    (repo / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    (repo / "config.yaml").write_text(
        CONFIG
        + f"""\
reminders:
  minimum: 2
  minimum_by_position: {{党委书记: 1}}
  rounds:
    - {{name: 期中提醒, days_before_end: 80}}
    - {{name: 期末提醒, days_before_end: 21}}
  form_url: https://xg.example.edu.cn/lx
  sms: "{{{{ leader.name }}}}老师：本学期您已记录联系学生{{{{ count }}}}次（要求{{{{ minimum }}}}次），请及时填写 {{{{ form_url }}}}"
  email:
    host: 127.0.0.1
    port: {smtp.controller.port}
    security: none
    sender: liaison@example.edu.cn
    office: sizhengke@example.edu.cn
  webhook:
    url: http://127.0.0.1:{webhook.server_address[1]}/notify
    token_header: Authorization
    payload: '{{"mobile": {{{{ leader.mobile | tojson }}}}, "userId": {{{{ leader.login | tojson }}}}, "content": {{{{ sms | tojson }}}}}}'
""",
        encoding="utf-8",
    )
    for n, (leader_id, name, department, position) in enumerate(
        [
            ("T1", "赵某", "学生工作处", "副处长"),
            ("T1", "赵某", "学生工作处", "副处长"),
            ("T2", "张伟", "学生工作处", "处长"),
            ("T5", "钱某", "团委", "书记"),
            ("T5", "钱某", "团委", "书记"),
        ]
    ):
        write_record(
            repo,
            record_data(
                leader_id=leader_id,
                leader=name,
                department=department,
                position=position,
                date=datetime.date(2025, 10, 1 + n),
                content=f"第{n}次",
            ),
            suffix=f"{n:06x}",
        )
    write_record(repo, record_data(date=datetime.date(2025, 3, 1), content="上学期的"), suffix="0000ff")
    monkeypatch.setenv("LIAISON_TODAY", "2025-12-01")  # 期中提醒 (2025-11-12) has come, 期末提醒 not yet
    monkeypatch.setenv("LIAISON_WEBHOOK_TOKEN", TOKEN)
    return repo


def test_dry_run_lists_who_and_what_and_sends_nothing(reminding, run, smtp, webhook):
    done = run(reminding, "remind")
    assert done.exit_code == 0, done.output
    assert "2025-2026学年第一学期 · 期中提醒 · 2 位领导干部低于要求（试运行" in done.output
    assert "张伟（学生工作处，工号 T2）：已联系 1 次，要求 2 次" in done.output
    assert "张伟（基础医学院，工号 T3）：已联系 0 次，要求 1 次" in done.output  # 党委书记 override
    assert "赵某（" not in done.output and "钱某（" not in done.output and "阿依古丽" not in done.output
    sms = [line.split("：", 1)[1] for line in done.output.splitlines() if line.strip().startswith("短信")]
    assert len(sms) == 2 and all(len(text) < 70 and "https://xg.example.edu.cn/lx" in text for text in sms)
    assert smtp.messages == [] and webhook.calls == []


def test_send_reaches_the_right_leaders_by_mail_and_webhook_and_the_office(reminding, run, smtp, webhook):
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 0, done.output
    by_rcpt = {tuple(rcpt): message for rcpt, message in smtp.messages}
    assert set(by_rcpt) == {("zw1@example.edu.cn",), ("zw2@example.edu.cn",), ("sizhengke@example.edu.cn",)}
    first = by_rcpt[("zw1@example.edu.cn",)]
    assert first["Subject"] == "【测试大学】请及时填写领导干部联系学生记录（2025-2026学年第一学期）"
    assert first["To"].addresses[0].display_name == "张伟"
    body = first.get_content()
    assert "您已记录 1 次" in body and "至少联系学生 2 次" in body and "https://xg.example.edu.cn/lx" in body
    digest = by_rcpt[("sizhengke@example.edu.cn",)].get_content()
    assert (
        "学生工作处（1 人）" in digest
        and "基础医学院（1 人）" in digest
        and "张伟（党委书记）：已联系 0 次，要求 1 次" in digest
    )

    payloads = sorted((json.loads(body) for _, body in webhook.calls), key=lambda p: p["mobile"])
    assert payloads == [
        {
            "mobile": "13800000002",
            "userId": "zhangwei",
            "content": "张伟老师：本学期您已记录联系学生1次（要求2次），请及时填写 https://xg.example.edu.cn/lx",
        },
        {
            "mobile": "13800000003",
            "userId": "zhangwei2",
            "content": "张伟老师：本学期您已记录联系学生0次（要求1次），请及时填写 https://xg.example.edu.cn/lx",
        },
    ]
    for headers, body in webhook.calls:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        expected = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Liaison-Signature"], expected)
        assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_a_second_run_of_the_round_sends_nothing(reminding, run, smtp, webhook):
    assert run(reminding, "remind", "--send").exit_code == 0
    mails, calls = len(smtp.messages), len(webhook.calls)
    again = run(reminding, "remind", "--send")
    assert again.exit_code == 0 and "已发送 0 条，本轮此前已发送而跳过 5 条" in again.output
    assert (len(smtp.messages), len(webhook.calls)) == (mails, calls)


def test_with_smtp_down_the_webhook_still_goes_out_and_the_exit_code_says_so(reminding, run, smtp, webhook):
    smtp.controller.stop()
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 1
    assert len(webhook.calls) == 2
    assert "邮件发送给张伟失败" in done.output and "汇总邮件发送给思政科失败" in done.output
    # Once the mail server is back, the retry sends only what is missing.
    from aiosmtpd.controller import Controller

    smtp.controller = Controller(smtp, hostname="127.0.0.1", port=smtp.controller.port)
    smtp.controller.start()
    retry = run(reminding, "remind", "--send")
    assert retry.exit_code == 0 and len(webhook.calls) == 2 and len(smtp.messages) == 3


def test_an_sms_template_that_is_too_long_is_a_clear_error(reminding, run):
    config = (reminding / "config.yaml").read_text(encoding="utf-8")
    (reminding / "config.yaml").write_text(
        config.replace("请及时填写", "请您务必在本周之内登录学校门户系统及时填写"), encoding="utf-8"
    )
    done = run(reminding, "remind")
    assert done.exit_code != 0 and "须少于 70 字" in done.output


def test_before_the_first_round_nothing_is_sent(reminding, run, monkeypatch, webhook):
    monkeypatch.setenv("LIAISON_TODAY", "2025-09-15")
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 0 and "提醒轮次还没有开始" in done.output and webhook.calls == []


def test_a_leader_with_a_broken_record_is_held_back_and_the_round_fails(reminding, run, smtp, webhook):
    # 张伟 (T2) wrote a second record with a typo: counted, he would have 2 and need no reminder.
    write_record(
        reminding,
        record_data(leader_id="T2", leader="张伟", date=datetime.date(2025, 10, 20), size="五十", content="第二次"),
        suffix="00abcd",
    )
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 1
    assert "暂不提醒 张伟（学生工作处，工号 T2）" in done.output
    assert {tuple(rcpt) for rcpt, _ in smtp.messages} == {("zw2@example.edu.cn",), ("sizhengke@example.edu.cn",)}
    assert [json.loads(body)["userId"] for _, body in webhook.calls] == ["zhangwei2"]


# Headers, control characters and failing recipients --------------------------------------------


def test_every_mail_has_a_date_and_a_message_id(reminding, run, smtp):
    assert run(reminding, "remind", "--send").exit_code == 0
    assert len(smtp.messages) == 3
    ids = set()
    for _, message in smtp.messages:
        assert message["Date"].datetime.utcoffset() == datetime.timedelta(hours=8)  # the configured zone
        assert re.fullmatch(r"<[^<>@\s]+@example\.edu\.cn>", message["Message-ID"])
        ids.add(message["Message-ID"])
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        # The address pattern already refuses this one; check names the entry either way.
        ("zw1@example.edu.cn", '"zw1@example.edu.cn\\r\\nBcc: evil@example.com"', "leaders.1.email"),
        ("name: 钱某", 'name: "钱\\r\\n某"', "第 5 位领导（T5）的这一项含有换行或控制字符（U+000D、U+000A）"),
        ("position: 书记", 'position: "书记\\u2028"', "第 5 位领导（钱某）的这一项含有换行或控制字符（U+2028）"),
        ("department: 团委", 'department: "团\\t委"', "第 5 位领导（钱某）的这一项含有换行或控制字符（U+0009）"),
    ],
)
def test_control_characters_in_the_roster_fail_check_naming_the_entry(reminding, run, old, new, named):
    roster = (reminding / "roster.yaml").read_text(encoding="utf-8")
    assert old in roster
    (reminding / "roster.yaml").write_text(roster.replace(old, new, 1), encoding="utf-8")
    done = run(reminding, "check")
    assert done.exit_code == 1
    assert named in done.output and "roster.yaml" in done.output


def _forced_round(root, **changes):
    """A round planned from a roster whose T2 entry was changed after check (as if check were skipped)."""
    from liaison.core.checks import check_repository
    from liaison.core.project import open_project
    from liaison.core.roster import Roster
    from liaison.notify.plan import plan_round

    project = open_project(root)
    leaders = [dataclasses.replace(x, **changes) if x.id == "T2" else x for x in project.roster.leaders]
    config = project.config
    semester = config.calendar.semester_of(datetime.date(2025, 12, 1))
    records = check_repository(project).clean_records()
    return plan_round(records, Roster(leaders), config, semester, datetime.date(2025, 12, 1)), config


@pytest.mark.parametrize(
    "changes",
    [{"email": "zw1@example.edu.cn\r\nBcc: evil@example.com"}, {"name": "张\r\n伟"}, {"email": "不是地址"}],
)
def test_a_bad_roster_entry_forced_into_a_round_fails_only_its_own_mail(reminding, smtp, tmp_path, changes):
    from liaison.notify.ledger import Ledger
    from liaison.notify.send import send_round

    plan, config = _forced_round(reminding, **changes)
    report = send_round(plan, config, Ledger(tmp_path / "ledger.json"))
    assert len(report.failures) == 1 and report.failures[0].startswith("邮件发送给")
    rcpts = sorted(tuple(r) for r, _ in smtp.messages)
    assert rcpts == [("sizhengke@example.edu.cn",), ("zw2@example.edu.cn",)]
    assert all("evil" not in str(m) for _, m in smtp.messages)
    assert not report.ok


def test_a_recipient_the_server_refuses_fails_alone_and_the_round_exits_1(reminding, run, smtp):
    async def refuse_zw1(server, session, envelope, address, rcpt_options):
        if address == "zw1@example.edu.cn":
            return "550 5.1.1 没有这个邮箱"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handle_RCPT = refuse_zw1
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 1 and "邮件发送给张伟失败" in done.output
    assert sorted(tuple(r) for r, _ in smtp.messages) == [("sizhengke@example.edu.cn",), ("zw2@example.edu.cn",)]


# 企业微信 and 钉钉 group robots -------------------------------------------------------------------

DINGTALK_SECRET = "SEC0123456789abcdef-test-secret"


@pytest.fixture
def robot():
    """A loopback stand-in for the robot services: records each call, answers what ``reply`` says."""
    calls = []
    reply = {"body": {"errcode": 0, "errmsg": "ok"}}

    class Robot(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            path, _, query = self.path.partition("?")
            calls.append({"path": path, "query": query, "headers": dict(self.headers), "body": body})
            answer = json.dumps(reply["body"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    with ServerThread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Robot)) as server:
        server.calls, server.reply = calls, reply
        yield server


def use_robot(root, robot, kind: str, path: str) -> None:
    config = (root / "config.yaml").read_text(encoding="utf-8")
    start = config.index("  webhook:")
    config = (
        config[:start] + f"  webhook:\n    kind: {kind}\n    url: http://127.0.0.1:{robot.server_address[1]}{path}\n"
    )
    (root / "config.yaml").write_text(config, encoding="utf-8")


def test_wecom_group_robot_gets_its_documented_text_message(reminding, run, robot, monkeypatch):
    use_robot(reminding, robot, "wecom", "/cgi-bin/webhook/send")
    monkeypatch.setenv("LIAISON_WEBHOOK_TOKEN", "wecom-key-123")
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 0, done.output
    assert len(robot.calls) == 1
    call = robot.calls[0]
    assert call["path"] == "/cgi-bin/webhook/send"
    assert urllib.parse.parse_qs(call["query"]) == {"key": ["wecom-key-123"]}
    assert call["headers"]["Content-Type"].startswith("application/json")
    message = json.loads(call["body"].decode("utf-8"))
    assert set(message) == {"msgtype", "text"} and message["msgtype"] == "text"
    assert set(message["text"]) == {"content", "mentioned_mobile_list"}
    content = message["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert "张伟老师（学生工作处）：已记录 1 次，要求 2 次" in content and "https://xg.example.edu.cn/lx" in content
    assert sorted(message["text"]["mentioned_mobile_list"]) == ["13800000002", "13800000003"]
    again = run(reminding, "remind", "--send")  # the ledger: nobody twice
    assert again.exit_code == 0 and len(robot.calls) == 1


def _dingtalk_signature_ok(query: dict) -> bool:
    """The check 钉钉 documents: timestamp in ms within an hour, sign = base64(HMAC-SHA256(secret, ts\\nsecret))."""
    timestamp = int(query["timestamp"][0])
    if abs(timestamp - time.time() * 1000) > 3600 * 1000:
        return False
    expected = base64.b64encode(
        hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(query["sign"][0], expected)


def test_dingtalk_robot_gets_a_signed_text_message_with_mentions(reminding, run, robot, monkeypatch):
    use_robot(reminding, robot, "dingtalk", "/robot/send")
    monkeypatch.setenv("LIAISON_WEBHOOK_TOKEN", "ding-access-token")
    monkeypatch.setenv("LIAISON_DINGTALK_SECRET", DINGTALK_SECRET)
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 0, done.output
    assert len(robot.calls) == 1
    call = robot.calls[0]
    assert call["path"] == "/robot/send"
    raw_sign = call["query"].split("sign=")[1].split("&")[0]
    assert raw_sign and not set("+/=") & set(raw_sign)  # base64 URL-encoded, as documented
    query = urllib.parse.parse_qs(call["query"])
    assert query["access_token"] == ["ding-access-token"] and _dingtalk_signature_ok(query)
    message = json.loads(call["body"].decode("utf-8"))
    assert message["msgtype"] == "text" and set(message) == {"msgtype", "text", "at"}
    assert sorted(message["at"]["atMobiles"]) == ["13800000002", "13800000003"]
    assert message["at"]["isAtAll"] is False
    content = message["text"]["content"]
    assert "@13800000002" in content and "@13800000003" in content  # 钉钉 shows a mention only with @mobile


def test_a_robot_refusal_is_a_failure_with_its_reason(reminding, run, robot, monkeypatch):
    use_robot(reminding, robot, "dingtalk", "/robot/send")
    monkeypatch.setenv("LIAISON_WEBHOOK_TOKEN", "ding-access-token")
    robot.reply["body"] = {"errcode": 310000, "errmsg": "sign not match"}
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 1 and "钉钉群机器人拒绝了消息：errcode 310000" in done.output
    robot.reply["body"] = {"errcode": 0, "errmsg": "ok"}
    assert run(reminding, "remind", "--send").exit_code == 0  # the retry reaches them
    assert len(robot.calls) == 2


def test_long_rounds_are_split_under_the_robots_limit():
    from liaison.core.roster import Leader
    from liaison.notify.plan import Due
    from liaison.notify.robots import CONTENT_LIMIT, robot_messages

    due = [
        Due(Leader(f"T{n}", f"领导{n}", "某学院" * 5, "副院长", f"l{n}", mobile=f"138{n:08d}"), 0, 2, "", "", "")
        for n in range(120)
    ]
    messages = robot_messages("wecom", "【测试大学】提醒", "请及时填写", due)
    assert len(messages) > 1
    assert all(len(m.content.encode("utf-8")) <= CONTENT_LIMIT for m in messages)
    assert [d for m in messages for d in m.due] == due


def test_a_robot_without_its_token_fails_clearly(reminding, run, robot, monkeypatch):
    use_robot(reminding, robot, "wecom", "/cgi-bin/webhook/send")
    monkeypatch.delenv("LIAISON_WEBHOOK_TOKEN")
    done = run(reminding, "remind", "--send")
    assert done.exit_code == 1 and "LIAISON_WEBHOOK_TOKEN" in done.output and robot.calls == []


def test_a_robot_that_never_answers_times_out_and_the_round_goes_on(reminding, run, monkeypatch, smtp):
    from liaison.notify import robots

    release = threading.Event()

    class Silent(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            release.wait(30)  # holds the connection open until the test is over

        def log_message(self, *args):
            pass

    serving = ServerThread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Silent))
    server = serving.server
    try:
        use_robot(reminding, server, "wecom", "/cgi-bin/webhook/send")
        monkeypatch.setattr(robots, "TIMEOUT", 0.5)
        done = run(reminding, "remind", "--send")
        assert done.exit_code == 1 and "企业微信群机器人发送给" in done.output and "timed out" in done.output
        assert len(smtp.messages) == 3  # the mails went out regardless
    finally:
        release.set()
        serving.close()
