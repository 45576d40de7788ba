"""``python build.py remind``: remind the leaders below the semester's minimum, and send 思政科 the list."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import command, data_option, exit_with, project_of, said, say, say_verdict
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
    help="邮件与群机器人的发送记录文件，重复运行同一轮时不会重复发送（默认为仓库中的 .cache/remind/ledger.json）。",
)
@data_option("短信与校园 APP 待办的数据目录，与表单服务相同，暂缓的短信由表单服务接着发送")
@click.pass_context
def remind(
    ctx: click.Context, semester: str, round_name: str | None, send: bool, ledger: Path | None, data: Path | None
) -> None:
    """提醒联系次数不足的领导干部（邮件、短信、校园 APP），并把名单汇总发给思政科。

    最少次数、提醒轮次和邮件在 config.yaml 的 reminders 中设置，短信与校园 APP 在 notify 中设置
    （见 docs/notify.md）；密码与密钥放在环境变量中。任一渠道失败不影响其他渠道，失败会逐条列出，
    退出码为 1；免打扰时段内的短信暂缓，下次运行（或表单服务）时发出。

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
        done = remind_round(project, semester, round_name, send, ledger, data)
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
        for held in report.held:
            say(f"暂缓：{held}")
        for failure in report.failures:
            say(f"失败：{failure}", err=True)
    exit_with(done.exit_code)
