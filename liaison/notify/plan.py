"""Reminders (一线规则): leaders below the semester's minimum, by e-mail and by the campus app's webhook.

The policy lives in ``config.yaml`` (``reminders:``): a minimum per semester,
overrides by position, the rounds (days before the semester ends), the SMS
text and the webhook payload as Jinja2 templates, the SMTP server. Secrets
come from the environment only: ``LIAISON_SMTP_PASSWORD``,
``LIAISON_WEBHOOK_TOKEN``.

``plan_round`` (here) decides, purely, who is reminded and with what text;
``liaison.notify.send.send_round`` sends it. Each channel is tried for each leader on its own, so
one failing channel never stops the others; every success is written to a
ledger (kept in the pipeline's cache) before the next send, so running the
same round again reaches only those not reached yet.

The config's templates produce plain text and JSON, not HTML, so they are
rendered with autoescaping off, in Jinja2's sandbox, and JSON values go
through ``tojson``; the rendered payload must parse as JSON before it is sent.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from jinja2.sandbox import SandboxedEnvironment

from liaison.core.config import Config, ReminderPolicy
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
    held: list[Leader] = field(default_factory=list)  # below the minimum, but a record of theirs fails check

    @property
    def key(self) -> str:
        return f"{self.semester.id}/{self.round}"


def minimum_for(leader: Leader, policy: ReminderPolicy) -> int:
    """The leader's minimum: the first position override whose word appears in the position, else the default."""
    for word, minimum in policy.minimum_by_position:
        if word in leader.position:
            return int(minimum)
    return policy.minimum


def current_round(policy: ReminderPolicy, semester: Semester, calendar: Calendar, today: datetime.date) -> str:
    """The latest round whose day (semester end minus its days) has come; '' if none has."""
    end = calendar.end(semester)
    started = [
        (end - datetime.timedelta(days=r.days_before_end), r.name)
        for r in policy.rounds
        if end - datetime.timedelta(days=r.days_before_end) <= today
    ]
    return max(started)[1] if started else ""


def render_text(template: str, **context) -> str:
    """A template of the office's (plain text or JSON) rendered in the sandbox, without autoescaping."""
    return _TEXT.from_string(template).render(**context).strip()


def plan_round(
    records: list[Record],
    roster: Roster,
    config: Config,
    semester: Semester,
    today: datetime.date,
    round_name: str | None = None,
    uncertain: set[str] = frozenset(),
) -> Plan:
    """Who is below the minimum in ``semester`` (active leaders only) and what each is sent.

    Leaders in ``uncertain`` (工号 with a record that fails check) may be
    undercounted: they are held back (``Plan.held``), not reminded.
    """
    policy = config.reminders
    if policy is None:
        raise ReminderConfigError("config.yaml 中没有 reminders 设置，无法提醒。请参照 README 填写。")
    calendar = config.calendar
    name = round_name if round_name is not None else current_round(policy, semester, calendar, today)
    in_semester = [r for r in records if calendar.semester_of(r.date) == semester]
    due: list[Due] = []
    held: list[Leader] = []
    for item in contact_counts(in_semester, roster):
        minimum = minimum_for(item.leader, policy)
        if not item.leader.active or item.count >= minimum:
            continue
        if item.leader.id in uncertain:
            held.append(item.leader)
        else:
            due.append(_due(item.leader, item.count, minimum, config, policy, semester, today))
    plan = Plan(semester, name, due, held=held)
    if due:
        plan.digest_subject = f"【{config.school}】{semester.title}联系学生次数不足名单（{len(due)} 人）"
        plan.digest_body = _digest(due, semester, today)
    return plan


def _due(
    leader: Leader,
    count: int,
    minimum: int,
    config: Config,
    policy: ReminderPolicy,
    semester: Semester,
    today: datetime.date,
) -> Due:
    """One leader's reminder: the SMS (checked against the length limit) and the e-mail."""
    context = {
        "leader": leader,
        "count": count,
        "minimum": minimum,
        "semester": semester.title,
        "form_url": policy.form_url,
        "school": config.school,
        "office": config.office,
    }
    sms = render_text(policy.sms, **context)
    if len(sms) >= SMS_LIMIT:
        raise ReminderConfigError(
            f"短信模板生成的内容有 {len(sms)} 字，须少于 {SMS_LIMIT} 字，请缩短 reminders.sms：{sms}"
        )
    body = [
        f"{leader.name}老师：您好！",
        "",
        f"按照学校领导干部联系学生工作的要求，{semester.title}每位领导干部至少联系学生 {minimum} 次。"
        f"截至 {today.isoformat()}，您已记录 {count} 次。",
        f"请在联系学生后及时填写记录：{policy.form_url}",
        "",
        f"{config.office}",
        "（本邮件由系统自动发送。如记录有误，请联系思政科。）",
    ]
    subject = f"【{config.school}】请及时填写领导干部联系学生记录（{semester.title}）"
    return Due(leader, count, minimum, sms, subject, "\n".join(body))


def _digest(due: list[Due], semester: Semester, today: datetime.date) -> str:
    """The office's list of leaders below the minimum, by department."""
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
    return "\n".join(lines).rstrip() + "\n"
