"""Reminders over a real SMTP server (aiosmtpd) and a real HTTP server, both on loopback."""

from __future__ import annotations

import contextlib
import datetime
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import socket
import threading

import pytest
from conftest import CONFIG, record_data, write_record

TOKEN = "webhook-token-for-tests"
ROSTER = """\
leaders:
  - {id: T1, name: 赵某, department: 学生工作处, position: 副处长, login: zhao, email: zhao@example.edu.cn, mobile: '13800000001', active: true}
  - {id: T2, name: 张伟, department: 学生工作处, position: 处长, login: zhangwei, email: zw1@example.edu.cn, mobile: '13800000002', active: true}
  - {id: T3, name: 张伟, department: 基础医学院, position: 党委书记, login: zhangwei2, email: zw2@example.edu.cn, mobile: '13800000003', active: true}
  - {id: T4, name: 阿依古丽·买买提, department: 护理学院, position: 党委副书记, login: ayi, email: ayi@example.edu.cn, active: false}
  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian, email: qian@example.edu.cn, mobile: '13800000005', active: true}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.calls = calls
    yield server
    server.shutdown()
    server.server_close()


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
