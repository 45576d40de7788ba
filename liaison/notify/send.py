"""Sending a reminder round: e-mail over SMTP and the campus app's webhook, each send on its own.

Each channel is tried for each leader on its own, so one failing channel
never stops the others; every success is written to the ledger before the
next send, so running the same round again reaches only those not reached
yet. Secrets come from the environment only: ``LIAISON_SMTP_PASSWORD``,
``LIAISON_WEBHOOK_TOKEN``.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage

from liaison.core.config import Config, EmailSettings, WebhookSettings
from liaison.notify.ledger import Ledger
from liaison.notify.plan import Due, Plan, ReminderConfigError, render_text
from liaison.notify.robots import PRESET_NAMES, PRESETS, post_robot, robot_messages


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)  # "channel: who"
    skipped: list[str] = field(default_factory=list)  # already reached in this round
    failures: list[str] = field(default_factory=list)  # Chinese, one per failed send
    held: list[str] = field(default_factory=list)  # to-dos waiting (quiet hours, a limit, a retry): sent later

    @property
    def ok(self) -> bool:
        return not self.failures


# Characters that would end a mail header line (or hide in one): refused before anything is sent.
_HEADER_BREAKERS = frozenset(chr(c) for c in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029])
MAIL_TIMEOUT = 15


def _header_safe(what: str, text: str) -> str:
    if any(ch in _HEADER_BREAKERS for ch in text):
        raise ValueError(f"{what}“{text!r}”含有换行或控制字符，不能写进邮件头；请修改 roster.yaml 后重发。")
    return text


def _mail(settings: EmailSettings, to: str, to_name: str, subject: str, body: str, now: datetime.datetime) -> None:
    message = EmailMessage()
    message["Subject"] = _header_safe("邮件标题", subject)
    message["From"] = Address("联系学生记录系统", addr_spec=settings.sender)
    message["To"] = Address(_header_safe("收件人姓名", to_name), addr_spec=_header_safe("收件地址", to))
    # Without Date and Message-ID, mail servers and clients treat a message as suspect.
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body, charset="utf-8")
    security = settings.security
    if security == "ssl":
        server = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=MAIL_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=MAIL_TIMEOUT)
    with server:
        if security == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.user:
            server.login(settings.user, os.environ.get("LIAISON_SMTP_PASSWORD", ""))
        server.send_message(message)


def _post(settings: WebhookSettings, due: Due, context: dict) -> None:
    body_text = render_text(settings.payload, **context)
    try:
        json.loads(body_text)
    except json.JSONDecodeError as err:
        raise ReminderConfigError(  # noqa: B904 - the JSON error's text is in the message
            f"reminders.webhook.payload 生成的不是合法的 JSON（{err}），请用 tojson 过滤器输出值。"
        )
    body = body_text.encode("utf-8")
    token = os.environ.get("LIAISON_WEBHOOK_TOKEN", "")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["X-Liaison-Signature"] = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        header = settings.token_header or "Authorization"
        headers[header] = f"Bearer {token}" if header.lower() == "authorization" else token
    request = urllib.request.Request(settings.url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        if response.status >= 300:
            raise OSError(f"HTTP {response.status}")


_CHANNEL_NAMES = {"email": "邮件", "webhook": "消息接口", "digest": "汇总邮件", **PRESET_NAMES}
# What one failed send can raise: a refused or unreachable server, a malformed
# address or header (ValueError, UnicodeError), a template that does not work.
_SEND_ERRORS = (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError, ReminderConfigError)


class _Round:
    """One round's sends: each tried on its own, each success in the ledger before the next."""

    def __init__(self, plan: Plan, config: Config, ledger: Ledger):
        self.plan, self.config, self.ledger = plan, config, ledger
        self.report = Report()

    def attempt(self, channel: str, who: str, label: str, action) -> bool:
        if self.ledger.done(self.plan.key, who, channel):
            self.report.skipped.append(f"{channel}: {label}")
            return False
        try:
            action()
        except _SEND_ERRORS as err:
            self.report.failures.append(f"{_CHANNEL_NAMES[channel]}发送给{label}失败：{err}")
            return False
        self.ledger.mark(self.plan.key, who, channel)
        self.report.sent.append(f"{channel}: {label}")
        return True

    def leaders(self) -> None:
        policy = self.config.reminders
        mail, webhook = policy.email, policy.webhook
        for due in self.plan.due:
            leader = due.leader
            if mail and leader.email:
                self.attempt(
                    "email",
                    leader.id,
                    leader.name,
                    lambda due=due: _mail(
                        mail, due.leader.email, due.leader.name, due.email_subject, due.email_body, self.config.now()
                    ),
                )
            elif mail:
                self.report.failures.append(f"{leader.name}在名单中没有电子邮箱，无法发送邮件提醒。")
            if webhook and webhook.kind not in PRESETS:
                context = {
                    "leader": leader,
                    "count": due.count,
                    "minimum": due.minimum,
                    "semester": self.plan.semester.title,
                    "form_url": policy.form_url,
                    "sms": due.sms,
                }
                self.attempt("webhook", leader.id, leader.name, lambda due=due, c=context: _post(webhook, due, c))

    def robots(self) -> None:
        """A group robot gets the round as one message (split when long) naming those not yet reached."""
        webhook, plan = self.config.reminders.webhook, self.plan
        kind = webhook.kind
        waiting = [d for d in plan.due if not self.ledger.done(plan.key, d.leader.id, kind)]
        self.report.skipped.extend(f"{kind}: {d.leader.name}" for d in plan.due if d not in waiting)
        heading = f"【{self.config.school}】{plan.semester.title}联系学生提醒：以下领导干部的联系次数低于要求"
        footer = f"请及时填写记录：{self.config.reminders.form_url}".rstrip("：")
        for message in robot_messages(kind, heading, footer, waiting):
            names = "、".join(d.leader.name for d in message.due)
            stamp = int(self.config.now().timestamp() * 1000)
            who = "robot:" + ",".join(d.leader.id for d in message.due)
            if self.attempt(kind, who, names, lambda m=message, t=stamp: post_robot(kind, webhook.url, m, t)):
                for item in message.due:
                    self.ledger.mark(plan.key, item.leader.id, kind)

    def digest(self) -> None:
        mail = self.config.reminders.email
        if self.plan.due and mail and mail.office:
            self.attempt(
                "digest",
                "office",
                "思政科",
                lambda: _mail(
                    mail,
                    mail.office,
                    self.config.office,
                    self.plan.digest_subject,
                    self.plan.digest_body,
                    self.config.now(),
                ),
            )


def send_round(plan: Plan, config: Config, ledger: Ledger) -> Report:
    """Send every message of the plan that the ledger has not seen; report what happened.

    A failing recipient (a refused address, a control character that slipped
    past ``check``) fails only its own message; the round goes on and the
    report lists every failure.
    """
    sending = _Round(plan, config, ledger)
    sending.leaders()
    webhook = config.reminders.webhook
    if webhook and webhook.kind in PRESETS:
        sending.robots()
    sending.digest()
    return sending.report
