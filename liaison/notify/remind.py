"""``remind``: one reminder round for a semester, planned from the checked records and sent when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from liaison.core.project import Project
from liaison.core.records import leaders_of
from liaison.core.semesters import resolve_range
from liaison.git.verdict import Verdict, require_ready, verdict
from liaison.notify.ledger import Ledger, default_ledger_path
from liaison.notify.plan import Plan, plan_round
from liaison.notify.rounds import send_reminders
from liaison.notify.send import Report
from liaison.notify.worker import open_notifier


@dataclass
class Reminding:
    plan: Plan  # who is below the minimum and what each is sent ('' round: none has started)
    verdict: Verdict
    report: Report | None = None  # what was sent (None: a dry run, or nobody to remind)

    @property
    def exit_code(self) -> int:
        """0 when no round has started (nothing to do), else 1 if a record fails check or a send failed."""
        if not self.plan.round:
            return 0
        return 0 if self.verdict.ok and (self.report is None or self.report.ok) else 1


def remind(
    project: Project,
    semester: str,
    round_name: str | None = None,
    send: bool = False,
    ledger: Path | None = None,
    data: Path | None = None,
) -> Reminding:
    """Plan the round of ``semester`` (an id, ``current`` or ``previous``) and, with ``send``, send it.

    A leader with a record that fails check may be undercounted, so is held
    back, never reminded. Raises RangeError for a semester that cannot be
    read and ReminderConfigError for a reminders section that cannot be used.
    ``data``: where the to-dos' ledger lives (短信 and the campus app; default ``.liaison/``, the form service's).
    """
    require_ready(project)
    today = project.today()
    chosen = resolve_range(project.config.calendar, semester, today=today).semester
    found = verdict(project)
    plan = plan_round(
        found.records, project.roster, project.config, chosen, today, round_name, leaders_of(found.failed)
    )
    if not (send and plan.round and plan.due):
        return Reminding(plan, found)
    notifier = open_notifier(data or project.data_dir, lambda: project) if project.config.notify else None
    report = send_reminders(plan, project, Ledger(ledger or default_ledger_path(project.root)), notifier)
    return Reminding(plan, found, report)
