"""The static searchable site (``public/``): search, leaders, records, overview, downloads.

Everything is computed first (``site_files`` returns path -> bytes), then
written in one pass, so the output is deterministic and testable without a
browser. Links are relative, so the site works from ``file://``, from a
sub-path on GitLab Pages and from ``python -m http.server`` alike.

The browser gets the records as JavaScript data files (``data/*.js``): one
per semester and one per leader, loaded only as a search needs them, so the
first search on a 10,000-record site reads one semester, not everything.
Script files rather than JSON because ``fetch`` is refused on ``file://``.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liaison.core import dates
from liaison.core.pinyin import pinyin_keys
from liaison.core.project import Project
from liaison.core.records import Record, plain_value
from liaison.core.roster import Leader, Roster
from liaison.core.schema import Schema
from liaison.core.semesters import ALL_DATES, Calendar, DateRange, Semester
from liaison.core.summary import contact_counts, leader_sort_key
from liaison.git.closed import check_with_history
from liaison.git.history import Change, History, read_history
from liaison.git.repo import head_commit
from liaison.outputs.charts import horizontal_bars, vertical_bars
from liaison.outputs.formats import as_csv
from liaison.outputs.pdf import OutputDirError, build_pdfs, display_value
from liaison.outputs.templating import environment
from liaison.outputs.workbook import build_workbook

SITE_MARKER = ".liaison-site"
ASSETS = ("site.css", "search.js")


@dataclass
class SiteBuild:
    out_dir: Path
    files: int
    records: int
    pdfs_rendered: int
    problems: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    process_problems: list = field(default_factory=list)  # how a record was changed: it is still on the site


def _js_data(call: str, key: str, payload: Any) -> bytes:
    """A data script: ``LIAISON.<call>("key", {...});`` with compact JSON (JSON is valid JavaScript)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return f"LIAISON.{call}({json.dumps(key)},{body});\n".encode()


def _row(record: Record, schema: Schema) -> list:
    return [record.id, *(plain_value(record.data.get(f.key, "")) for f in schema.fields)]


def _pinyin_hint(name: str) -> str:
    """What a person may type for a name: full pinyin and initials, e.g. 'zhaomin zm'."""
    full, initials = pinyin_keys(name)
    return f"{full} {initials}"


def leader_label(leader: Leader, shared: bool) -> str:
    """The type-ahead's text: the name, with the department for namesakes (张伟（学生工作处）)."""
    return f"{leader.name}（{leader.department}）" if shared else leader.name


def semesters_of(records: list[Record], calendar: Calendar, today: datetime.date) -> list[Semester]:
    """Semesters with records, plus the current one, newest first."""
    found = {calendar.semester_of(r.date) for r in records} | {calendar.semester_of(today)}
    return sorted(found, reverse=True)


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


def search_data(
    records: list[Record], roster: Roster, schema: Schema, calendar: Calendar, today: datetime.date
) -> dict[str, bytes]:
    """data/meta.js, data/semester-<id>.js, data/leader-<id>.js: what the search page loads."""
    by_semester: dict[Semester, list[Record]] = defaultdict(list)
    by_leader: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.date, r.leader_id, r.id)):
        by_semester[calendar.semester_of(record.date)].append(record)
        by_leader[record.leader_id].append(record)
    names = Counter(leader.name for leader in roster.leaders)
    leaders = sorted(roster.leaders, key=leader_sort_key(roster))
    meta = {
        "fields": [{"key": f.key, "label": f.label, "long": f.widget == "textarea"} for f in schema.fields],
        "leaders": [
            {
                "id": p.id,
                "name": p.name,
                "label": leader_label(p, names[p.name] > 1),
                "department": p.department,
                "position": p.position,
                "active": p.active,
                "count": len(by_leader.get(p.id, [])),
                "pinyin": list(pinyin_keys(p.name)),  # what the leader box accepts besides the name: zhaomin, zm
            }
            for p in leaders
        ],
        "semesters": [
            {
                "id": s.id,
                "title": s.title,
                "start": calendar.start(s).isoformat(),
                "end": calendar.end(s).isoformat(),
                "count": len(by_semester.get(s, [])),
            }
            for s in semesters_of(records, calendar, today)
        ],
        "current": calendar.semester_of(today).id,
    }
    files = {"data/meta.js": _js_data("meta", "meta", meta)}
    for semester, chunk in by_semester.items():
        files[f"data/semester-{semester.id}.js"] = _js_data(
            "chunk", f"semester:{semester.id}", [_row(r, schema) for r in chunk]
        )
    for leader_id, chunk in by_leader.items():
        files[f"data/leader-{leader_id}.js"] = _js_data(
            "chunk", f"leader:{leader_id}", [_row(r, schema) for r in chunk]
        )
    return files


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


def overview_charts(records: list[Record], roster: Roster, calendar: Calendar, today: datetime.date) -> list:
    """Contacts per month (last 24), per department and per leader this semester."""
    per_month = Counter(f"{r.date.year}-{r.date.month:02d}" for r in records)
    months = []
    year, month = today.year, today.month
    for _ in range(24):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    month_items = [(m[2:].replace("-", "/"), per_month[m]) for m in months]
    current = calendar.semester_of(today)
    this_term = [r for r in records if calendar.semester_of(r.date) == current]
    counts = contact_counts(this_term, roster)
    per_department: Counter = Counter()
    for item in counts:
        per_department[item.leader.department] += item.count
    departments = list(dict.fromkeys(item.leader.department for item in counts))
    names = Counter(item.leader.name for item in counts)
    return [
        vertical_bars("近 24 个月每月联系次数", month_items),
        horizontal_bars(f"{current.title} 各部门联系次数", [(d, per_department[d]) for d in departments]),
        horizontal_bars(
            f"{current.title} 每位领导干部联系次数",
            [(leader_label(i.leader, names[i.leader.name] > 1), i.count) for i in counts],
            highlight_zero=True,
        ),
    ]


def semester_comparison(
    leader: Leader, records: list[Record], roster: Roster, calendar: Calendar, semesters: list[Semester]
) -> list[dict]:
    """Per semester: this leader's count, the active leaders' mean and the most anyone had."""
    counts: dict[Semester, Counter] = defaultdict(Counter)
    for record in records:
        counts[calendar.semester_of(record.date)][record.leader_id] += 1
    active = [person.id for person in roster.leaders if person.active]
    rows = []
    for semester in semesters:
        per_leader = counts[semester]
        mean = statistics.mean(per_leader[i] for i in active) if active else 0
        rows.append(
            {
                "title": semester.title,
                "count": per_leader[leader.id],
                "mean": f"{mean:.1f}",
                "most": max(per_leader.values(), default=0),
            }
        )
    return rows


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
    calendar = config.calendar
    env = environment(project.root / "templates")
    semesters = semesters_of(records, calendar, today)
    current = calendar.semester_of(today)
    names = Counter(leader.name for leader in roster.leaders)
    by_id = {leader.id: leader for leader in roster.leaders}
    labels = {f.key: f.label for f in schema.fields}
    common = {
        "site_title": f"{config.school}领导干部结对联系学生记录",
        "office": config.office,
        "source": source,
        "total_records": len(records),
        "labels": labels,
    }

    def page(template: str, path: str, **context) -> tuple[str, bytes]:
        root = "../" * path.count("/")
        html = env.get_template(f"site/{template}").render(root=root, **common, **context)
        return path, html.encode("utf-8")

    files: dict[str, bytes] = {}
    leaders_sorted = sorted(roster.leaders, key=leader_sort_key(roster))
    files.update(
        [
            page(
                "search.html",
                "index.html",
                page_title="查询",
                nav="search",
                leaders=[
                    {
                        "label": leader_label(person, names[person.name] > 1),
                        "hint": f"{person.department} {_pinyin_hint(person.name)}",
                    }
                    for person in leaders_sorted
                ],
                departments=list(dict.fromkeys(person.department for person in leaders_sorted)),
                semesters=[
                    {"title": s.title, "start": calendar.start(s).isoformat(), "end": calendar.end(s).isoformat()}
                    for s in semesters
                ],
            )
        ]
    )
    this_term = [r for r in records if calendar.semester_of(r.date) == current]
    current_counts = {c.leader.id: c.count for c in contact_counts(this_term, roster)}
    totals = Counter(r.leader_id for r in records)
    rows = [
        {"leader": person, "current": current_counts.get(person.id, 0), "total": totals[person.id]}
        for person in leaders_sorted
        if person.active or totals[person.id]
    ]
    active_rows = [row for row in rows if row["leader"].active]
    files.update(
        [
            page(
                "leaders.html",
                "leaders.html",
                page_title="领导干部",
                nav="leaders",
                rows=rows,
                current_title=current.title,
                zero_count=sum(1 for row in active_rows if row["current"] == 0),
            )
        ]
    )
    files.update(
        [
            page(
                "overview.html",
                "overview.html",
                page_title="概览",
                nav="overview",
                charts=overview_charts(records, roster, calendar, today),
                current_title=current.title,
                current_records=len(this_term),
                active_leaders=len(active_rows),
                zero_count=sum(1 for row in active_rows if row["current"] == 0),
            )
        ]
    )

    downloads = download_items(semesters, calendar)
    for item in downloads:
        chosen = [r for r in records if r.date in item["range"]]
        files[item["path"]] = build_workbook(chosen, roster, schema, config, item["range"], stamp, source)
        files[item["csv"]] = as_csv(chosen, schema).encode("utf-8-sig")  # the BOM lets Excel read it as UTF-8
    files.update(
        [
            page(
                "downloads.html",
                "downloads.html",
                page_title="下载",
                nav="downloads",
                downloads=downloads,
            )
        ]
    )

    by_leader: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.date, r.id)):
        by_leader[record.leader_id].append(record)
    for leader in roster.leaders:
        mine = by_leader.get(leader.id, [])
        groups = defaultdict(list)
        for record in reversed(mine):
            groups[calendar.semester_of(record.date)].append(
                {
                    "id": record.id,
                    "date": record.date.isoformat(),
                    "target": record["target"],
                    "place": record["place"],
                    "size": record["size"],
                }
            )
        shown = sorted(set(semesters) | set(groups), reverse=True)
        files.update(
            [
                page(
                    "leader.html",
                    f"leaders/{leader.id}.html",
                    page_title=leader.name,
                    nav="leaders",
                    leader=leader,
                    semester_rows=semester_comparison(leader, records, roster, calendar, shown),
                    groups=[{"title": s.title, "records": groups[s]} for s in sorted(groups, reverse=True)],
                )
            ]
        )
    for record in records:
        leader = by_id.get(record.leader_id)
        display = leader_label(leader, names[leader.name] > 1) if leader else record.leader
        files.update(
            [
                page(
                    "record.html",
                    f"records/{record.id}.html",
                    page_title=f"{record.leader} {record.date.isoformat()}",
                    nav="search",
                    record_id=record.id,
                    record_path=record.path,
                    leader_id=record.leader_id,
                    leader_display=display,
                    date_text=display_value(schema.field("date"), record.date),
                    heading=f"{record.leader} · {display_value(schema.field('date'), record.date)} · {record['target']}",
                    fields=record_fields(record, schema),
                    history=history_items(history.of(record.id), project.config.timezone) if history else [],
                )
            ]
        )
    files.update(search_data(records, roster, schema, calendar, today))
    for asset in ASSETS:
        files[f"assets/{asset}"] = (project.root / "site" / asset).read_bytes()
    return files


def build_site(project: Project, out_dir: Path, cache_dir: Path, jobs: int | None = None) -> SiteBuild:
    """Check, then write the whole site to ``out_dir`` (replacing an earlier build), PDFs from the cache."""
    history = read_history(project.root, project.schema)  # once, for the check and every record page
    result = check_with_history(project, history=history)
    records = result.clean_records()
    commit = head_commit(project.root)
    if commit:
        # The commit, not the clock, dates everything: the same commit builds the same site on any day.
        stamp, source = commit.time, f"版本 {commit.short}" + ("（含未提交的修改）" if commit.dirty else "")
        today = project.config.local(commit.time).date()
    else:
        stamp, source = project.config.now(), "本机文件（尚未提交）"
        today = project.today()
    files = site_files(project, records, source, stamp, today, history)

    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
            raise OutputDirError(f"{out_dir} 已有其他文件。为免误删，请指定一个新的或空的目录（--out）。")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / SITE_MARKER).write_text("由 liaison 生成的站点目录，每次构建会整体替换。\n", encoding="utf-8")
    for path, data in sorted(files.items()):
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    pdfs = build_pdfs(
        project.root,
        project.schema,
        project.config,
        project.roster,
        records,
        out_dir,
        cache_dir,
        jobs,
        mirror=False,
        layout={r.id: f"records/{r.id}.pdf" for r in records},
    )
    return SiteBuild(
        out_dir,
        len(files) + len(records),
        len(records),
        pdfs.rendered,
        result.problems,
        pdfs.warnings,
        result.process_problems,
    )
