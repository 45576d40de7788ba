"""Reminders (一线规则): leaders below the semester's minimum, by e-mail and by the campus app's webhook.

The policy lives in ``config.yaml`` (``reminders:``): a minimum per semester,
overrides by position, the rounds (days before the semester ends), the SMS
text and the webhook payload as Jinja2 templates, the SMTP server. Secrets
come from the environment only: ``LIAISON_SMTP_PASSWORD``,
``LIAISON_WEBHOOK_TOKEN``.

``plan_round`` decides, purely, who is reminded and with what text;
``send_round`` sends it. Each channel is tried for each leader on its own, so
one failing channel never stops the others; every success is written to a
ledger (kept in the pipeline's cache) before the next send, so running the
same round again reaches only those not reached yet.

The config's templates produce plain text and JSON, not HTML, so they are
rendered with autoescaping off, in Jinja2's sandbox, and JSON values go
through ``tojson``; the rendered payload must parse as JSON before it is sent.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from liaison.core.config import Config
from liaison.core.files import write_durably
from liaison.core.records import Record
from liaison.core.roster import Leader, Roster
from liaison.core.semesters import Calendar, Semester
from liaison.core.summary import contact_counts

SMS_LIMIT = 70
# Plain text and JSON, never HTML: autoescaping would turn "&" in a link into "&amp;".
# The sandbox keeps the office's templates from reaching Python; JSON goes through tojson.
_TEXT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class ReminderConfigError(ValueError):
    """The reminders section cannot be used as written; the message is Chinese."""


@dataclass(frozen=True)
class Due:
    leader: Leader
    count: int
    minimum: int
    sms: str
    email_subject: str
    email_body: str


@dataclass
class Plan:
    semester: Semester
    round: str  # the round's name, or '' when no round has started
    due: list[Due]
    digest_subject: str = ""
    digest_body: str = ""

    @property
    def key(self) -> str:
        return f"{self.semester.id}/{self.round}"


def minimum_for(leader: Leader, policy: dict) -> int:
    """The leader's minimum: the first position override whose word appears in the position, else the default."""
    for word, minimum in (policy.get("minimum_by_position") or {}).items():
        if word in leader.position:
            return int(minimum)
    return int(policy.get("minimum", 0))


def current_round(policy: dict, semester: Semester, calendar: Calendar, today: datetime.date) -> str:
    """The latest round whose day (semester end minus its days) has come; '' if none has."""
    end = calendar.end(semester)
    started = [
        (end - datetime.timedelta(days=int(r["days_before_end"])), r["name"])
        for r in policy.get("rounds") or []
        if end - datetime.timedelta(days=int(r["days_before_end"])) <= today
    ]
    return max(started)[1] if started else ""


def _render(template: str, **context) -> str:
    return _TEXT.from_string(template).render(**context).strip()


def plan_round(
    records: list[Record],
    roster: Roster,
    config: Config,
    semester: Semester,
    today: datetime.date,
    round_name: str | None = None,
) -> Plan:
    """Who is below the minimum in ``semester`` (active leaders only) and what each is sent."""
    policy = config.reminders
    if not policy:
        raise ReminderConfigError("config.yaml 中没有 reminders 设置，无法提醒。请参照 README 填写。")
    calendar = config.calendar
    name = round_name if round_name is not None else current_round(policy, semester, calendar, today)
    in_semester = [r for r in records if calendar.semester_of(r.date) == semester]
    due = []
    for item in contact_counts(in_semester, roster):
        leader, minimum = item.leader, minimum_for(item.leader, policy)
        if not leader.active or item.count >= minimum:
            continue
        context = {
            "leader": leader,
            "count": item.count,
            "minimum": minimum,
            "semester": semester.title,
            "form_url": policy.get("form_url", ""),
            "school": config.school,
            "office": config.office,
        }
        sms = _render(
            policy.get("sms")
            or "{{ leader.name }}您好：{{ semester }}已记录联系学生{{ count }}次，要求{{ minimum }}次。{{ form_url }}",
            **context,
        )
        if len(sms) >= SMS_LIMIT:
            raise ReminderConfigError(
                f"短信模板生成的内容有 {len(sms)} 字，须少于 {SMS_LIMIT} 字，请缩短 reminders.sms：{sms}"
            )
        due.append(
            Due(
                leader,
                item.count,
                minimum,
                sms,
                f"【{config.school}】请及时填写领导干部联系学生记录（{semester.title}）",
                "\n".join(
                    [
                        f"{leader.name}老师：您好！",
                        "",
                        f"按照学校领导干部联系学生工作的要求，{semester.title}每位领导干部至少联系学生 {minimum} 次。"
                        f"截至 {today.isoformat()}，您已记录 {item.count} 次。",
                        f"请在联系学生后及时填写记录：{policy.get('form_url', '')}",
                        "",
                        f"{config.office}",
                        "（本邮件由系统自动发送。如记录有误，请联系思政科。）",
                    ]
                ),
            )
        )
    plan = Plan(semester, name, due)
    if due:
        by_department: dict[str, list[Due]] = defaultdict(list)
        for item in due:
            by_department[item.leader.department].append(item)
        lines = [f"{semester.title}，截至 {today.isoformat()}，以下 {len(due)} 位领导干部的联系次数低于要求：", ""]
        for department, items in by_department.items():
            lines.append(f"{department}（{len(items)} 人）")
            lines.extend(
                f"  {d.leader.name}（{d.leader.position}）：已联系 {d.count} 次，要求 {d.minimum} 次" for d in items
            )
            lines.append("")
        plan.digest_subject = f"【{config.school}】{semester.title}联系学生次数不足名单（{len(due)} 人）"
        plan.digest_body = "\n".join(lines).rstrip() + "\n"
    return plan


# Sending -----------------------------------------------------------------------


class Ledger:
    """Who has been reached in which round by which channel: a JSON file, written after every send."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def done(self, round_key: str, who: str, channel: str) -> bool:
        return channel in self.data.get(round_key, {}).get(who, {})

    def mark(self, round_key: str, who: str, channel: str) -> None:
        when = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
        self.data.setdefault(round_key, {}).setdefault(who, {})[channel] = when
        write_durably(self.path, json.dumps(self.data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)  # "channel: who"
    skipped: list[str] = field(default_factory=list)  # already reached in this round
    failures: list[str] = field(default_factory=list)  # Chinese, one per failed send

    @property
    def ok(self) -> bool:
        return not self.failures


def _mail(settings: dict, to: str, to_name: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address("联系学生记录系统", addr_spec=settings["sender"])
    message["To"] = Address(to_name, addr_spec=to)
    message.set_content(body, charset="utf-8")
    security = settings.get("security", "starttls")
    if security == "ssl":
        server = smtplib.SMTP_SSL(
            settings["host"], int(settings["port"]), timeout=15, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(settings["host"], int(settings["port"]), timeout=15)
    with server:
        if security == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.get("user"):
            server.login(settings["user"], os.environ.get("LIAISON_SMTP_PASSWORD", ""))
        server.send_message(message)


def _post(settings: dict, due: Due, context: dict) -> None:
    body_text = _render(settings["payload"], **context)
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
        header = settings.get("token_header") or "Authorization"
        headers[header] = f"Bearer {token}" if header.lower() == "authorization" else token
    request = urllib.request.Request(settings["url"], data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        if response.status >= 300:
            raise OSError(f"HTTP {response.status}")


def send_round(plan: Plan, config: Config, ledger: Ledger) -> Report:
    """Send every message of the plan that the ledger has not seen; report what happened."""
    policy = config.reminders
    report = Report()
    email, webhook = policy.get("email"), policy.get("webhook")

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
            "form_url": policy.get("form_url", ""),
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
    if plan.due and email and email.get("office"):
        attempt(
            "digest",
            "office",
            "思政科",
            lambda: _mail(email, email["office"], config.office, plan.digest_subject, plan.digest_body),
        )
    return report
