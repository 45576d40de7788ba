"""``python build.py remind``: remind the leaders below the semester's minimum, and send 思政科 the list."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, exit_with, project_of, said, say, say_verdict
from liaison.core.semesters import RangeError


@command()
@click.option(
    "--semester",
    default="current",
    show_default=True,
    metavar="学期",
    help="哪个学期：如 2025-2026-1，或 current（本学期）、previous（上学期）。",
)
@click.option("--round", "round_name", metavar="轮次", help="按哪一轮提醒（默认为日期已到的最近一轮）。")
@click.option("--send", is_flag=True, help="真正发送；不加则只列出将要发送的内容（试运行）。")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    help="发送记录文件，重复运行同一轮时不会重复发送（默认为仓库中的 .cache/remind/ledger.json）。",
)
@click.pass_context
def remind(ctx: click.Context, semester: str, round_name: str | None, send: bool, ledger: Path | None) -> None:
    """提醒联系次数不足的领导干部（邮件与校园 APP/短信接口），并把名单汇总发给思政科。

    最少次数、提醒轮次、短信模板和发送渠道在 config.yaml 的 reminders 中设置；邮件密码与接口令牌
    放在环境变量 LIAISON_SMTP_PASSWORD、LIAISON_WEBHOOK_TOKEN 中。任一渠道失败不影响其他渠道，
    失败会逐条列出，退出码为 1。

    \b
    示例：
      python build.py remind                      # 试运行：看看本学期会提醒谁、发什么
      python build.py remind --send
      python build.py remind --semester 2025-2026-2 --round 期末提醒 --send
    """
    from liaison.notify.plan import ReminderConfigError
    from liaison.notify.remind import remind as remind_round

    project = project_of(ctx)
    with said(RangeError, ReminderConfigError):
        done = remind_round(project, semester, round_name, send, ledger)
    say_verdict(done.verdict, "提醒统计")
    plan = done.plan
    if not plan.round:
        say(f"{plan.semester.title}：提醒轮次还没有开始（见 config.yaml 的 reminders.rounds），本次不发送。")
        return
    mode = "发送" if send else "试运行，未发送；加 --send 发送"
    say(f"{plan.semester.title} · {plan.round} · {len(plan.due)} 位领导干部低于要求（{mode}）")
    for due in plan.due:
        say(f"━━ {due.leader.display}：已联系 {due.count} 次，要求 {due.minimum} 次")
        say(f"  短信/消息（{len(due.sms)} 字）：{due.sms}")
        say(f"  邮件：{due.email_subject}")
    if plan.due:
        say(f"思政科汇总：{plan.digest_subject}")
    for leader in plan.held:
        say(f"暂不提醒 {leader.display}：其记录文件有问题，联系次数可能少算。请先修改（见上）。", err=True)
    report = done.report
    if report is not None:
        say(
            f"已发送 {len(report.sent)} 条，本轮此前已发送而跳过 {len(report.skipped)} 条，"
            f"失败 {len(report.failures)} 条。"
        )
        for failure in report.failures:
            say(f"失败：{failure}", err=True)
    exit_with(done.exit_code)
