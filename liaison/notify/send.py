"""Sending a reminder round: e-mail over SMTP and the campus app's webhook, each send on its own.

Each channel is tried for each leader on its own, so one failing channel
never stops the others; every success is written to the ledger before the
next send, so running the same round again reaches only those not reached
yet. Secrets come from the environment only: ``LIAISON_SMTP_PASSWORD``,
``LIAISON_WEBHOOK_TOKEN``.
"""

from __future__ import annotations

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


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)  # "channel: who"
    skipped: list[str] = field(default_factory=list)  # already reached in this round
    failures: list[str] = field(default_factory=list)  # Chinese, one per failed send

    @property
    def ok(self) -> bool:
        return not self.failures


def _mail(settings: EmailSettings, to: str, to_name: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address("联系学生记录系统", addr_spec=settings.sender)
    message["To"] = Address(to_name, addr_spec=to)
    message.set_content(body, charset="utf-8")
    security = settings.security
    if security == "ssl":
        server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=15, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=15)
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


def send_round(plan: Plan, config: Config, ledger: Ledger) -> Report:
    """Send every message of the plan that the ledger has not seen; report what happened."""
    policy = config.reminders
    report = Report()
    email, webhook = policy.email, policy.webhook

    def attempt(channel: str, who: str, label: str, action) -> None:
        if ledger.done(plan.key, who, channel):
            report.skipped.append(f"{channel}: {label}")
            return
        try:
            action()
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ReminderConfigError) as err:
            name = {"email": "邮件", "webhook": "消息接口", "digest": "汇总邮件"}[channel]
            report.failures.append(f"{name}发送给{label}失败：{err}")
            return
        ledger.mark(plan.key, who, channel)
        report.sent.append(f"{channel}: {label}")

    for due in plan.due:
        leader = due.leader
        context = {
            "leader": leader,
            "count": due.count,
            "minimum": due.minimum,
            "semester": plan.semester.title,
            "form_url": policy.form_url,
            "sms": due.sms,
        }
        if email and leader.email:
            attempt(
                "email",
                leader.id,
                leader.name,
                lambda due=due: _mail(email, due.leader.email, due.leader.name, due.email_subject, due.email_body),
            )
        elif email:
            report.failures.append(f"{leader.name}在名单中没有电子邮箱，无法发送邮件提醒。")
        if webhook:
            attempt("webhook", leader.id, leader.name, lambda due=due, context=context: _post(webhook, due, context))
    if plan.due and email and email.office:
        attempt(
            "digest",
            "office",
            "思政科",
            lambda: _mail(email, email.office, config.office, plan.digest_subject, plan.digest_body),
        )
    return report
