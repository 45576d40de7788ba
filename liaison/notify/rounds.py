"""A reminder round sent: by mail, webhook and group robots (liaison.notify.send), and as to-dos by SMS and app.

The to-dos of a round go through the same ledger and channels as every
other to-do (liaison.notify.worker): each leader below the minimum gets a
``reminder`` to-do, keyed by the round, so a round run again reaches only
those not reached yet; what waits (quiet hours, a number's limit, a
transient failure) is sent by the next run or by the form service's worker
when both use one data folder.
"""

from __future__ import annotations

from liaison.core.project import Project

from .ledger import Ledger
from .plan import Plan
from .send import Report, send_round
from .todoledger import FAILED, HELD, QUEUED, SENT
from .todos import leader_recipient, reminder_message
from .worker import Notifier

CHANNEL_WORDS = {"sms": "短信", "app": "校园 APP"}


def send_reminders(plan: Plan, project: Project, ledger: Ledger, notifier: Notifier | None) -> Report:
    """Send the round by every configured channel; one report of what was sent, skipped, held and failed."""
    report = send_round(plan, project.config, ledger)
    settings = project.config.notify
    if notifier is None or settings is None:
        return report
    chosen = []
    for due in plan.due:
        message = reminder_message(due.leader, due.count, due.minimum, plan.semester, plan.key, project.config)
        added, known = notifier.enqueue(message, [leader_recipient(due.leader, settings)])
        chosen += [item["id"] for item in added if item["state"] == QUEUED]
        chosen += [item["id"] for item in known if item["state"] in (QUEUED, HELD)]
        report.skipped += [f"{item['channel']}: {item['name']}" for item in known if item["state"] == SENT]
        report.failures += [_failure(item) for item in added + known if item["state"] == FAILED]
    for item in notifier.flush(chosen, force=True):
        label = f"{item['channel']}: {item['name']}"
        if item["state"] == SENT:
            report.sent.append(label)
        elif item["state"] == FAILED:
            report.failures.append(_failure(item))
        else:
            report.held.append(
                f"{CHANNEL_WORDS[item['channel']]}给{item['name']}：{item.get('held') or item.get('last_error') or '稍后重试'}"
            )
    return report


def _failure(item: dict) -> str:
    return f"{CHANNEL_WORDS[item['channel']]}发送给{item['name']}失败：{item['last_error']}。{item.get('fix', '')}（编号 {item['id']}）"
