"""One change, one time: every output shows the same instant, in the configured zone, written one way.

A leader's form submission is committed with UTC dates (as the form's commits
are), on a review branch, then merged by the office through a merge request.
The change is read back from each output a person sees — the review page,
``history`` (text and JSON, on the branch and on main), the audit log
(workbook, CSV, JSON) and the site's record page — and every one must show
the same wall-clock time in ``config.yaml``'s ``timezone``: the submission
(when the author made it) while the change is on the branch, and once merged
the time it entered main, with the submission's own time beside it. Two zones,
one of them on the other side of midnight, so a fixed +08:00 cannot pass.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import CONFIG, PROJECT, proxy_headers, record_data, write_record
from gitlab_standin import GitLabStandIn
from openpyxl import load_workbook
from processes import wait_until
from test_audit import run as git  # real git as a named person, at a given time
from test_review import parse
from test_submit import submit
from webclient import Client

from liaison.core import dates
from liaison.core.project import open_project
from liaison.outputs.site import build_site
from liaison.web.status import shown_time

SUBMITTED = "2025-11-11T23:10:00+00:00"  # the form commits in UTC: 07:10 the next morning in Beijing
MERGED = "2025-11-11T23:40:00+00:00"  # the office merges half an hour later
# What a person must read, per configured zone: worked out by hand, not by the code under test.
ZONES = {
    "Asia/Shanghai": {"submitted": "2025-11-12 07:10", "merged": "2025-11-12 07:40", "offset": "+08:00"},
    "Europe/London": {"submitted": "2025-11-11 23:10", "merged": "2025-11-11 23:40", "offset": "+00:00"},
}
RECORD = "2025-11-10-T1-aaaaaa"
LEADER = ("赵某", "zhao@example.edu.cn")
FORM = ("liaison 表单服务", "liaison@localhost")


def iso(shown: str, offset: str) -> str:
    return shown.replace(" ", "T") + ":00" + offset


@pytest.fixture(params=sorted(ZONES))
def submitted(request, repo):
    """A repository in the zone ``request.param`` with the leader's submission on ``record/…`` checked out."""
    zone = request.param
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    (repo / "config.yaml").write_text(CONFIG.replace("Asia/Shanghai", zone), encoding="utf-8")
    (repo / ".gitignore").write_text(".cache/\nreview/\npublic/\n", encoding="utf-8")
    write_record(repo, record_data(date=datetime.date(2025, 11, 1)), suffix="000000")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "初始", when="2025-11-01T09:00:00+08:00")
    git(repo, "checkout", "-q", "-b", f"record/{RECORD}")
    write_record(repo, record_data(date=datetime.date(2025, 11, 10)), suffix="aaaaaa")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"新增联系记录 {RECORD}", who=LEADER, committer=FORM, when=SUBMITTED)
    return repo, ZONES[zone]


def merge(root: Path) -> None:
    git(root, "checkout", "-q", "main")
    message = f"Merge branch 'record/{RECORD}' into 'main'\n\nSee merge request school/liaison!7"
    git(root, "merge", "-q", "--no-ff", "-m", message, f"record/{RECORD}", when=MERGED)


def audit_times(run, root: Path, *args: str) -> dict[str, tuple[str, str]]:
    """(时间, 提交自报时间) of the record's change in the audit's JSON, CSV and workbook."""
    found = {}
    listed = json.loads(run(root, "audit", "--format", "json", *args).stdout)
    found["audit json"] = next((r["时间"], r["提交自报时间"]) for r in listed if r["记录编号"] == RECORD)
    text = run(root, "audit", "--format", "csv", *args).stdout.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    found["audit csv"] = next((r["时间"], r["提交自报时间"]) for r in rows if r["记录编号"] == RECORD)
    out = root.parent / "audit.xlsx"
    assert run(root, "audit", "--out", str(out), *args).exit_code == 0
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[3]]
    for row in sheet.iter_rows(min_row=4):
        if row[header.index("记录编号")].value == RECORD:
            cell = row[header.index("时间")]
            assert cell.number_format == dates.SPREADSHEET_TIME_FORMAT and isinstance(cell.value, datetime.datetime)
            found["audit xlsx"] = (cell.value.strftime("%Y-%m-%d %H:%M:%S"), row[header.index("提交自报时间")].value)
    return found


def test_one_change_shows_one_time_in_every_output(submitted, run, tmp_path):
    root, expected = submitted
    at, merged_at = expected["submitted"], expected["merged"]

    # On the branch: not merged, so the change's time is its submission's, everywhere.
    run(root, "review", "--base", "main", "--cache", str(tmp_path / "pdf"))
    page = parse(root / "review" / "index.html")
    item = next(n for n in page.all("section", class_="item") if n.attrs["data-record"] == RECORD)
    on_branch = {"review page": item.all("span", class_="when")[0].text()}
    text = run(root, "history", RECORD).stdout
    on_branch["history"] = text.splitlines()[1].split(" · ")[0].split(". ", 1)[1]
    assert "尚未合并到主分支" in text and "直接提交到主分支" not in text
    shown = json.loads(run(root, "history", RECORD, "--format", "json").stdout)[0]
    assert shown["when"] == iso(at, expected["offset"]) and shown["on_main"] is False
    on_branch |= {name: when[:16] for name, (when, _) in audit_times(run, root).items()}
    assert on_branch == dict.fromkeys(on_branch, at), on_branch

    # On main: the time it entered main (the merge), the submission's own time beside it.
    merge(root)
    text = run(root, "history", RECORD).stdout
    headline = text.splitlines()[1]
    merged = {"history": headline.split(" · ")[0].split(". ", 1)[1]}
    assert f"王老师 于 {merged_at} 合并" in text and f"提交自报时间 {at}" in text, text
    shown = json.loads(run(root, "history", RECORD, "--format", "json").stdout)[0]
    assert shown["when"] == shown["merged_at"] == iso(merged_at, expected["offset"])
    assert shown["authored_at"] == iso(at, expected["offset"]) and shown["on_main"] is True
    written = {}
    for name, (when, authored) in audit_times(run, root).items():
        merged[name], written[name] = when, authored
    build_site(open_project(root), tmp_path / "public", tmp_path / "pdf", site_cache=tmp_path / "store")
    line = parse(tmp_path / "public" / "records" / f"{RECORD}.html").all("ol", class_="history")[0].all("li")[0]
    merged["site"] = line.all("span", class_="when")[0].text()
    assert f"赵某 于 {at} " in line.text(), line.text()  # the submission, beside the time it entered main
    assert {name: when[:16] for name, when in merged.items()} == dict.fromkeys(merged, merged_at), merged
    assert all(when.endswith(":00") for name, when in merged.items() if name.startswith("audit")), merged
    assert written == dict.fromkeys(written, f"{at}:00"), written

    # The audit's ranges are days in the same zone: the merge's day is the configured zone's.
    day = merged_at[:10]
    before = (datetime.date.fromisoformat(day) - datetime.timedelta(days=1)).isoformat()
    by_day = json.loads(run(root, "audit", "--by-merge-date", "--from", day, "--to", day, "--format", "json").stdout)
    assert [r["记录编号"] for r in by_day] == [RECORD]
    by_day = json.loads(run(root, "audit", "--by-merge-date", "--to", before, "--format", "json").stdout)
    assert RECORD not in [r["记录编号"] for r in by_day]


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_the_one_way_of_writing_a_time(zone):
    moment = datetime.datetime.fromisoformat(SUBMITTED)
    assert dates.shown(moment, zone) == ZONES[zone]["submitted"]
    assert dates.shown(moment, zone, seconds=True) == ZONES[zone]["submitted"] + ":00"
    assert dates.stamped(moment, zone) == iso(ZONES[zone]["submitted"], ZONES[zone]["offset"])
    # GitLab's API writes UTC with milliseconds and a Z; the page writes it as everything else.
    assert shown_time("2025-11-11T23:10:00.000Z", zone) == ZONES[zone]["submitted"]
    assert shown_time("不是时间", zone) == "不是时间"
    with pytest.raises(ValueError):
        dates.shown(datetime.datetime(2025, 11, 11, 23, 10), zone)  # no zone: no instant, never guessed


@pytest.fixture
def gitlab():
    standin = GitLabStandIn("xgc/records", "read-only-token")
    yield standin
    standin.close()


def test_the_reviewer_s_comment_on_the_form_is_in_the_configured_zone(form_repo, make_app, live, gitlab, monkeypatch):
    monkeypatch.setenv("LIAISON_GITLAB_TOKEN", "read-only-token")
    (form_repo / "config.yaml").write_text(
        CONFIG + "web:\n  remote: ''\n  gitlab_api: {url: '" + gitlab.url + "', project: xgc/records, every: 10}\n",
        encoding="utf-8",
    )
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    record_id = submit(client, content="座谈。", date="2024-10-08")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    branch = next(b for rid, (_, b) in submitter.branch_records("T1").items() if rid == record_id)
    gitlab.add(12, branch, labels=["退回"], notes=[("szk", "思政科 李老师", "请补充。", False)])
    gitlab.notes[12][0]["created_at"] = "2025-11-11T23:10:00.000Z"  # as GitLab gives it: UTC
    client.get("/mine")  # starts the background reader; the page does not wait for it
    cache = app.config["LIAISON_REVIEWS"]
    wait_until(lambda: branch in cache.reviews)
    page = client.get(f"/records/{record_id}").text
    cache.stop()
    assert "2025-11-12 07:10" in page and "23:10" not in page
