"""The site's HTML pages and downloads: each an ``Output`` (path, input key, how to make it), made only when new.

A page's key names everything its bytes depend on besides ``Pages.fingerprint``
(code, templates, assets, schema, config, roster): a record page its record's
bytes, its leader's label, its history and version; a leader page its whole
context; a download the records it holds and the version it is stamped with.
The front pages carry the build's version and are made every time.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from jinja2 import Environment

from liaison.core import dates
from liaison.core.filenames import leader_folders, record_pdf_paths
from liaison.core.project import Project
from liaison.core.records import Record
from liaison.core.roster import Leader
from liaison.core.schema import Schema
from liaison.core.semesters import ALL_DATES, Calendar, DateRange, Semester
from liaison.core.summary import contact_counts, leader_sort_key
from liaison.git.history.model import MOVED, Change, History, stem
from liaison.outputs.formats import as_csv
from liaison.outputs.pdf import display_value
from liaison.outputs.site.counts import SemesterCounts, overview_charts, semester_comparison
from liaison.outputs.site.search import _pinyin_hint, leader_label, search_data, semesters_of
from liaison.outputs.site.store import Output, input_key
from liaison.outputs.site.versions import Version, Versions
from liaison.outputs.templating import environment

ASSETS = ("site.css", "search.js", "zip.js")


def download_items(semesters: list[Semester], calendar: Calendar) -> list[dict]:
    """The 下载 page: every semester's workbook (表1、表2) and CSV export, newest first, then all records' CSV.

    All records come as CSV only: a workbook of every record would be the one
    download that grows with the whole collection and changes with every
    record, so every build would pay for it (2.5 s at 10,000 records); the
    office works by semester, and any other range is an export
    (``build.py export --from … --to …``).
    """
    items = [
        {
            "title": semester.title,
            "path": f"downloads/联系情况汇总表-{semester.title}.xlsx",
            "csv": f"downloads/联系记录-{semester.title}.csv",
            "range": DateRange(calendar.start(semester), calendar.end(semester), semester.title, semester),
        }
        for semester in semesters
    ]
    items.append({"title": "全部记录", "path": "", "csv": "downloads/联系记录-全部记录.csv", "range": ALL_DATES})
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

    「2025-11-12 10:30 赵敏 于 2025-11-12 07:10 通过表单提交 · 思政科 审核通过（合并请求 !12）」: the
    change's time (when it entered main, as ``history`` and the audit give it), and the submission's
    own when it reads otherwise; the commit id stays as a small link (to GitLab when the build knows
    the project's address, CI_PROJECT_URL) for auditors.

    A record page's key holds :func:`history_key` instead of these items: whatever is read here must
    follow from what that names.
    """
    project_url = _project_url()
    items = []
    for change in changes:
        commit = change.commit
        by_form = getattr(change, "by_form", None)
        if by_form is None:
            by_form = commit.committer_email == FORM_COMMITTER
        verb = VERBS.get(change.kind, change.kind)
        fields = "、".join(f.label for f in change.fields) if change.kind == "修改" else ""
        when, written = dates.shown(change.when, timezone), dates.shown(commit.author_time, timezone)
        at = f" 于 {written}" if written != when else ""
        items.append(
            {
                "when": when,
                "kind": change.kind,
                "author": commit.author_name,
                "did": f"{commit.author_name}{at} {'通过表单' if by_form else '直接'}{verb}"
                + (f"（{fields}）" if fields else ""),
                "how": _review_words(change),
                "commit": commit.sha[:8],
                "commit_url": f"{project_url}/-/commit/{commit.sha}" if project_url else "",
                "fields": fields,
            }
        )
    return items


def history_key(changes: list[Change], timezone: str) -> tuple:
    """What :func:`history_items` makes a record's history from, for its page's key, at a fraction of the cost
    of making it (10,000 records a build). Each change by its commit (which fixes the author, the times and
    the message), its kind and paths (with the commit, the versions before and after, so the fields that
    differ), the mainline commit that brought it in (its time, and the merge with who merged and the merge
    request) and whether the form signed it; then the zone the times are written in and the project's address.
    """
    changes_named = tuple((c.commit.sha, c.kind, c.old_path, c.new_path, c.entered, c.by_form) for c in changes)
    return (timezone, _project_url(), changes_named)


def _project_url() -> str:
    """GitLab's address of the project in CI (CI_PROJECT_URL): the pages link each commit there."""
    return os.environ.get("CI_PROJECT_URL", "").rstrip("/")


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
    fingerprint: str = ""  # site_fingerprint: what every page depends on (common included)
    namesakes: Counter = field(default_factory=Counter)

    def render(self, template: str, path: str, context: dict) -> bytes:
        root = "../" * path.count("/")
        html = self.env.get_template(f"site/{template}").render(root=root, **self.common, **context)
        return html.encode("utf-8")

    def page(self, template: str, path: str, **context) -> Output:
        """A page made now (the front pages: they change with every build)."""
        return Output.of_bytes(path, self.render(template, path, context))

    def lazy(self, template: str, path: str, key: tuple, context: functools.partial) -> Output:
        """A page made only when ``key`` (with the template and the fingerprint) is new; ``context()`` gives it."""
        return Output(
            path,
            input_key(self.fingerprint, template, path, *key),
            lambda: self.render(template, path, context()),
        )

    def label(self, leader: Leader) -> str:
        return leader_label(leader, self.namesakes[leader.name] > 1)


def front_pages(pages: Pages, records: list[Record], project: Project, head: Version) -> list[Output]:
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
    site = {"source": head.source, "total_records": len(records)}  # the whole site's version: front pages only
    return [
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
            **site,
        ),
        pages.page(
            "leaders.html",
            "leaders.html",
            page_title="领导干部",
            nav="leaders",
            rows=rows,
            current_title=current.title,
            zero_count=zero_count,
            **site,
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
            **site,
        ),
    ]


def download_files(
    pages: Pages, records: list[Record], project: Project, versions: Versions, digests: dict[str, str]
) -> list[Output]:
    """下载: every semester's workbook and CSV, all records' CSV, and the page that lists them.

    A semester's workbook is stamped with that semester's own version, so it
    is made again only when one of its records (or the roster, config or
    schema) changed.
    """
    by_semester: dict[Semester, list[Record]] = defaultdict(list)
    for record in records:
        by_semester[pages.calendar.semester_of(record.date)].append(record)
    downloads = download_items(pages.semesters, pages.calendar)
    files = []
    for item in downloads:
        semester = item["range"].semester
        chosen = records if semester is None else by_semester.get(semester, [])
        held = [(r.path, digests[r.path]) for r in chosen]
        if item["path"]:
            version = versions.of_semester(semester)
            stamp = version.time
            files.append(
                Output(
                    item["path"],
                    input_key(pages.fingerprint, "workbook", item["path"], version.source, stamp.isoformat(), held),
                    functools.partial(
                        _workbook,
                        chosen,
                        project.roster,
                        project.schema,
                        project.config,
                        item["range"],
                        stamp,
                        version.source,
                    ),
                )
            )
        files.append(
            Output(
                item["csv"],
                input_key(pages.fingerprint, "csv", item["csv"], held),
                # the BOM lets Excel read it as UTF-8
                functools.partial(lambda chosen: as_csv(chosen, project.schema).encode("utf-8-sig"), chosen),
            )
        )
    files.append(
        pages.page(
            "downloads.html",
            "downloads.html",
            page_title="下载",
            nav="downloads",
            downloads=downloads,
            source=versions.head.source,
            total_records=len(records),
        )
    )
    return files


def _workbook(*args) -> bytes:
    """``build_workbook``, imported when a semester's workbook is made (openpyxl: a tenth of a second to load)."""
    from liaison.outputs.workbook import build_workbook

    return build_workbook(*args)


def leader_pages(pages: Pages, records: list[Record], project: Project) -> list[Output]:
    """leaders/<工号>.html: a leader's records by semester, and how their count compares with the others'."""
    calendar = pages.calendar
    counts = SemesterCounts.of(records, project.roster, calendar)
    by_leader: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.date, r.id)):
        by_leader[record.leader_id].append(record)
    # The names the export gives the PDFs (<folder>/<date>_<联系对象>.pdf): site/zip.js packs them so.
    folders = leader_folders(project.roster)
    files = []
    for leader in project.roster.leaders:
        groups = defaultdict(list)
        names = record_pdf_paths(by_leader.get(leader.id, []), project.roster, folders)
        for record in reversed(by_leader.get(leader.id, [])):
            groups[calendar.semester_of(record.date)].append(
                {
                    "id": record.id,
                    "date": record.date.isoformat(),
                    "target": record["target"],
                    "place": record["place"],
                    "size": record["size"],
                    "pdf_name": names[record.id],
                }
            )
        shown = sorted(set(pages.semesters) | set(groups), reverse=True)
        context = {
            "page_title": leader.name,
            "nav": "leaders",
            "leader": leader,
            "semester_rows": semester_comparison(leader, counts, shown),
            "groups": [
                {
                    "title": s.title,
                    "start": calendar.start(s).isoformat(),
                    "end": calendar.end(s).isoformat(),
                    "records": groups[s],
                }
                for s in sorted(groups, reverse=True)
            ],
            "folder": folders[leader.id],
        }
        path = f"leaders/{leader.id}.html"
        # The context is small (one leader's list): it is its own key.
        key = (dataclasses.asdict(leader), context)
        files.append(pages.lazy("leader.html", path, key, functools.partial(dict, context)))
    return files


def record_page(
    pages: Pages, record: Record, schema: Schema, leader_display: str, version: str, changes: list[Change]
) -> dict:
    """The context of records/<id>.html: the record's fields and, when the history was read, its changes."""
    history = history_items(changes, pages.timezone) if changes else []
    date_text = display_value(schema.field("date"), record.date)
    return {
        "page_title": f"{record.leader} {record.date.isoformat()}",
        "nav": "search",
        "record_id": record.id,
        "record_path": record.path,
        "leader_id": record.leader_id,
        "leader_display": leader_display,
        "date_text": date_text,
        "heading": f"{record.leader} · {date_text} · {record['target']}",
        "fields": record_fields(record, schema),
        "history": history,
        "record_version": version,
    }


def record_pages(
    pages: Pages,
    records: list[Record],
    project: Project,
    versions: Versions,
    history: History | None,
    digests: dict[str, str],
) -> list[Output]:
    """records/<id>.html, each keyed by its record's bytes, its leader's label, its history and its version."""
    by_id = {leader.id: leader for leader in project.roster.leaders}
    files = []
    for record in records:
        changes = versions.changes_of(record.id) if history else []
        version = versions.record_text(record.path, changes, history) if history else versions.head.source
        leader = by_id.get(record.leader_id)
        label = pages.label(leader) if leader else record.leader
        context = functools.partial(record_page, pages, record, project.schema, label, version, changes)
        key = (record.path, digests[record.path], label, version, history_key(changes, pages.timezone))
        files.append(pages.lazy("record.html", f"records/{record.id}.html", key, context))
    return files


def former_ids(changes: list[Change]) -> list[str]:
    """The ids a record had before corrections of its date moved it, oldest first."""
    return list(dict.fromkeys(stem(c.old_path) for c in changes if c.kind == MOVED and c.old_path))


def moved_ids(records: list[Record], versions: Versions, history: History | None) -> dict[str, str]:
    """Every former id of a record that is no record's id now -> the record's id now."""
    if history is None:
        return {}
    current = {r.id for r in records}
    return {
        old: record.id for record in records for old in former_ids(versions.changes_of(record.id)) if old not in current
    }


def moved_pages(pages: Pages, records: list[Record], schema: Schema, moved: dict[str, str]) -> list[Output]:
    """records/<former id>.html for each id a record had: a page that opens the record as it is now.

    A corrected date changes the record's id (the date is part of it), and a
    link or a PDF made before carries the old one. A static site cannot
    answer with a redirect, so the old address holds a small page that says
    so and goes on to the record (meta refresh, and a link). An old id that
    is some record's id now is that record's page (``moved_ids`` leaves it out).
    """
    by_id = {r.id: r for r in records}
    files = []
    for old, new in sorted(moved.items()):
        record = by_id[new]
        context = {
            "page_title": f"记录编号 {old} 已更正",
            "nav": "search",
            "old_id": old,
            "record_id": new,
            "heading": f"{record.leader} · {display_value(schema.field('date'), record.date)} · {record['target']}",
        }
        files.append(pages.page("moved.html", f"records/{old}.html", **context))
    return files


def site_outputs(
    project: Project,
    records: list[Record],
    versions: Versions,
    today: datetime.date,
    history: History | None = None,
    fingerprint: str = "",
) -> list[Output]:
    """Every file of the site but the PDFs, each with its key; none is made yet but the front pages.

    ``history`` (read once for all records) adds each record's changes to its page.
    """
    schema, roster, config = project.schema, project.roster, project.config
    calendar = versions.calendar  # one Calendar for the whole build: it remembers each date's semester
    pages = Pages(
        env=environment(project.root / "templates"),
        common={
            "site_title": f"{config.school}领导干部结对联系学生记录",
            "office": config.office,
            "labels": {f.key: f.label for f in schema.fields},
        },
        calendar=calendar,
        today=today,
        semesters=semesters_of(records, calendar, today),
        leaders=sorted(roster.leaders, key=leader_sort_key(roster)),
        timezone=config.timezone,
        fingerprint=fingerprint,
        namesakes=Counter(leader.name for leader in roster.leaders),
    )
    digests = {record.path: record.digest for record in records}
    files = front_pages(pages, records, project, versions.head)
    files += download_files(pages, records, project, versions, digests)
    files += leader_pages(pages, records, project)
    files += record_pages(pages, records, project, versions, history, digests)
    files += moved_pages(pages, records, schema, moved_ids(records, versions, history))
    files += search_data(records, roster, schema, calendar, today, fingerprint, digests)
    for asset in ASSETS:
        files.append(Output.of_bytes(f"assets/{asset}", (project.root / "site" / asset).read_bytes()))
    return files
