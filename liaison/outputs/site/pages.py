"""The site's HTML pages and downloads: path under public/ -> bytes, computed before anything is written."""

from __future__ import annotations

import datetime
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from jinja2 import Environment

from liaison.core import dates
from liaison.core.project import Project
from liaison.core.records import Record
from liaison.core.roster import Leader
from liaison.core.schema import Schema
from liaison.core.semesters import ALL_DATES, Calendar, DateRange, Semester
from liaison.core.summary import contact_counts, leader_sort_key
from liaison.git.history import Change, History
from liaison.outputs.formats import as_csv
from liaison.outputs.pdf import display_value
from liaison.outputs.site.charts import SemesterCounts, overview_charts, semester_comparison
from liaison.outputs.site.search import _pinyin_hint, leader_label, search_data, semesters_of
from liaison.outputs.templating import environment
from liaison.outputs.workbook import build_workbook

ASSETS = ("site.css", "search.js")


def download_items(semesters: list[Semester], calendar: Calendar) -> list[dict]:
    """The 下载 page: every semester's workbook (表1、表2) and CSV export, newest first, then all records."""
    items = [
        {
            "title": semester.title,
            "path": f"downloads/联系情况汇总表-{semester.title}.xlsx",
            "csv": f"downloads/联系记录-{semester.title}.csv",
            "range": DateRange(calendar.start(semester), calendar.end(semester), semester.title, semester),
        }
        for semester in semesters
    ]
    items.append(
        {
            "title": "全部记录",
            "path": "downloads/联系情况汇总表-全部记录.xlsx",
            "csv": "downloads/联系记录-全部记录.csv",
            "range": ALL_DATES,
        }
    )
    return items


def record_fields(record: Record, schema: Schema) -> list[dict]:
    return [
        {
            "key": f.key,
            "label": f.label,
            "long": f.widget == "textarea",
            "value": display_value(f, record.data.get(f.key, "")),
        }
        for f in schema.fields
    ]


FORM_COMMITTER = "liaison@localhost"  # the form service commits as this address (liaison/submit/outbox.py)
VERBS = {"新增": "提交", "修改": "修改", "删除": "删除", "移动": "改了日期"}


def history_items(changes: list[Change], timezone: str = dates.DEFAULT_ZONE) -> list[dict]:
    """A record's changes for its page, oldest first, said in words.

    「赵敏 通过表单提交 · 思政科 审核通过（合并请求 !12）」; the commit id stays
    as a small link (to GitLab when the build knows the project's address,
    CI_PROJECT_URL) for auditors.
    """
    project_url = os.environ.get("CI_PROJECT_URL", "").rstrip("/")
    items = []
    for change in changes:
        commit = change.commit
        by_form = getattr(change, "by_form", None)
        if by_form is None:
            by_form = commit.committer_email == FORM_COMMITTER
        verb = VERBS.get(change.kind, change.kind)
        fields = "、".join(f.label for f in change.fields) if change.kind == "修改" else ""
        items.append(
            {
                "when": dates.local(commit.committer_time, timezone).strftime("%Y-%m-%d %H:%M"),
                "kind": change.kind,
                "author": commit.author_name,
                "did": f"{commit.author_name} {'通过表单' if by_form else '直接'}{verb}"
                + (f"（{fields}）" if fields else ""),
                "how": _review_words(change),
                "commit": commit.sha[:8],
                "commit_url": f"{project_url}/-/commit/{commit.sha}" if project_url else "",
                "fields": fields,
            }
        )
    return items


def _review_words(change: Change) -> str:
    merge = change.merge
    if merge:
        number = merge.reference.rsplit("!", 1)[1] if "!" in merge.reference else ""
        request = f"（合并请求 !{number}）" if number else ""
        return f"{merge.merged_by} 审核通过{request}"
    return "未经合并请求，直接写入" if change.on_mainline else "等待审核"


@dataclass
class Pages:
    """What every page is rendered with: the templates, the words on every page, and the site's calendar."""

    env: Environment
    common: dict
    calendar: Calendar
    today: datetime.date
    semesters: list[Semester]
    leaders: list[Leader]  # in the roster's order (leader_sort_key)
    timezone: str
    namesakes: Counter = field(default_factory=Counter)

    def page(self, template: str, path: str, **context) -> tuple[str, bytes]:
        root = "../" * path.count("/")
        html = self.env.get_template(f"site/{template}").render(root=root, **self.common, **context)
        return path, html.encode("utf-8")

    def label(self, leader: Leader) -> str:
        return leader_label(leader, self.namesakes[leader.name] > 1)


def front_pages(pages: Pages, records: list[Record], project: Project) -> dict[str, bytes]:
    """查询 (index.html), 领导干部 and 概览: the pages every change of any record touches."""
    roster, calendar = project.roster, pages.calendar
    current = calendar.semester_of(pages.today)
    this_term = [r for r in records if calendar.semester_of(r.date) == current]
    current_counts = {c.leader.id: c.count for c in contact_counts(this_term, roster)}
    totals = Counter(r.leader_id for r in records)
    rows = [
        {"leader": person, "current": current_counts.get(person.id, 0), "total": totals[person.id]}
        for person in pages.leaders
        if person.active or totals[person.id]
    ]
    active_rows = [row for row in rows if row["leader"].active]
    zero_count = sum(1 for row in active_rows if row["current"] == 0)
    return dict(
        [
            pages.page(
                "search.html",
                "index.html",
                page_title="查询",
                nav="search",
                leaders=[
                    {"label": pages.label(person), "hint": f"{person.department} {_pinyin_hint(person.name)}"}
                    for person in pages.leaders
                ],
                departments=list(dict.fromkeys(person.department for person in pages.leaders)),
                semesters=[
                    {"title": s.title, "start": calendar.start(s).isoformat(), "end": calendar.end(s).isoformat()}
                    for s in pages.semesters
                ],
            ),
            pages.page(
                "leaders.html",
                "leaders.html",
                page_title="领导干部",
                nav="leaders",
                rows=rows,
                current_title=current.title,
                zero_count=zero_count,
            ),
            pages.page(
                "overview.html",
                "overview.html",
                page_title="概览",
                nav="overview",
                charts=overview_charts(records, roster, calendar, pages.today),
                current_title=current.title,
                current_records=len(this_term),
                active_leaders=len(active_rows),
                zero_count=zero_count,
            ),
        ]
    )


def download_files(
    pages: Pages, records: list[Record], project: Project, stamp: datetime.datetime, source: str
) -> dict[str, bytes]:
    """下载: every semester's workbook and CSV, all records', and the page that lists them."""
    files: dict[str, bytes] = {}
    downloads = download_items(pages.semesters, pages.calendar)
    for item in downloads:
        chosen = [r for r in records if r.date in item["range"]]
        files[item["path"]] = build_workbook(
            chosen, project.roster, project.schema, project.config, item["range"], stamp, source
        )
        files[item["csv"]] = as_csv(chosen, project.schema).encode("utf-8-sig")  # the BOM lets Excel read it as UTF-8
    files.update(
        [pages.page("downloads.html", "downloads.html", page_title="下载", nav="downloads", downloads=downloads)]
    )
    return files


def leader_pages(pages: Pages, records: list[Record], project: Project) -> dict[str, bytes]:
    """leaders/<工号>.html: a leader's records by semester, and how their count compares with the others'."""
    calendar = pages.calendar
    counts = SemesterCounts.of(records, project.roster, calendar)
    by_leader: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.date, r.id)):
        by_leader[record.leader_id].append(record)
    files = {}
    for leader in project.roster.leaders:
        groups = defaultdict(list)
        for record in reversed(by_leader.get(leader.id, [])):
            groups[calendar.semester_of(record.date)].append(
                {
                    "id": record.id,
                    "date": record.date.isoformat(),
                    "target": record["target"],
                    "place": record["place"],
                    "size": record["size"],
                }
            )
        shown = sorted(set(pages.semesters) | set(groups), reverse=True)
        path, html = pages.page(
            "leader.html",
            f"leaders/{leader.id}.html",
            page_title=leader.name,
            nav="leaders",
            leader=leader,
            semester_rows=semester_comparison(leader, counts, shown),
            groups=[{"title": s.title, "records": groups[s]} for s in sorted(groups, reverse=True)],
        )
        files[path] = html
    return files


def record_page(
    pages: Pages, record: Record, schema: Schema, leader: Leader | None, changes: list[Change]
) -> tuple[str, bytes]:
    """records/<id>.html: the record's fields and, when the history was read, its changes."""
    date_text = display_value(schema.field("date"), record.date)
    return pages.page(
        "record.html",
        f"records/{record.id}.html",
        page_title=f"{record.leader} {record.date.isoformat()}",
        nav="search",
        record_id=record.id,
        record_path=record.path,
        leader_id=record.leader_id,
        leader_display=pages.label(leader) if leader else record.leader,
        date_text=date_text,
        heading=f"{record.leader} · {date_text} · {record['target']}",
        fields=record_fields(record, schema),
        history=history_items(changes, pages.timezone) if changes else [],
    )


def site_files(
    project: Project,
    records: list[Record],
    source: str,
    stamp: datetime.datetime,
    today: datetime.date,
    history: History | None = None,
) -> dict[str, bytes]:
    """Every file of the site but the PDFs: path under public/ -> bytes.

    ``history`` (read once for all records) adds each record's changes to its page.
    """
    schema, roster, config = project.schema, project.roster, project.config
    pages = Pages(
        env=environment(project.root / "templates"),
        common={
            "site_title": f"{config.school}领导干部结对联系学生记录",
            "office": config.office,
            "source": source,
            "total_records": len(records),
            "labels": {f.key: f.label for f in schema.fields},
        },
        calendar=config.calendar,
        today=today,
        semesters=semesters_of(records, config.calendar, today),
        leaders=sorted(roster.leaders, key=leader_sort_key(roster)),
        timezone=config.timezone,
        namesakes=Counter(leader.name for leader in roster.leaders),
    )
    files = front_pages(pages, records, project)
    files.update(download_files(pages, records, project, stamp, source))
    files.update(leader_pages(pages, records, project))
    by_id = {leader.id: leader for leader in roster.leaders}
    for record in records:
        changes = history.of(record.id) if history else []
        path, html = record_page(pages, record, schema, by_id.get(record.leader_id), changes)
        files[path] = html
    files.update(search_data(records, roster, schema, config.calendar, today))
    for asset in ASSETS:
        files[f"assets/{asset}"] = (project.root / "site" / asset).read_bytes()
    return files
