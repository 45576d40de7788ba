"""One check per command, owned by the library: which records each output may use, what it names, its exit status.

The library functions are called in-process and their results read as data;
then every command is run once with check and the history counted, so no
command checks (or reads the history) twice.
"""

from __future__ import annotations

import collections
import datetime
import functools
import shutil
import sys
from pathlib import Path

import pytest
from conftest import CONFIG, PROJECT, built_copy, commit_all, fill_repo, record_data, write_record

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.query import QueryError
from liaison.core.records import new_record_id, record_path
from liaison.core.semesters import resolve_range
from liaison.git.history.read import read_history
from liaison.git.verdict import NotReady, check_report, verdict

D = datetime.date
SPRING = "2024-2025-2"  # open
AUTUMN = "2024-2025-1"  # closed in config.yaml before any commit: a change to it needs a Reopen-Reason
REMINDERS = """\
closed_semesters:
  2024-2025-1: 2025-02-20
reminders:
  minimum: 3
  rounds:
    - {name: 期末提醒, days_before_end: 4000}
"""


MIXED = {  # name: (the record's fields, its id's suffix)
    "good": ({"date": D(2025, 3, 10)}, "aaaaaa"),
    "other": ({"date": D(2025, 4, 1), "target": "学生会"}, "dddddd"),
    "bad": ({"leader_id": "T9", "date": D(2025, 3, 11)}, "bbbbbb"),
    "closed": ({"date": D(2024, 9, 15)}, "cccccc"),
}


@pytest.fixture
def mixed(tmp_path_factory, tmp_path):
    """A committed repository: two sound spring records, one whose leader is not on the roster (it fails
    check), and one of the closed autumn semester committed without a Reopen-Reason (sound, but a problem).
    Made once per run and copied (``built_copy``)."""
    repo = built_copy(tmp_path_factory, "verdict-mixed", build_mixed, tmp_path / "repo")
    paths = {
        name: record_path(new_record_id(fields["date"], fields.get("leader_id", "T1"), suffix))
        for name, (fields, suffix) in MIXED.items()
    }
    return repo, paths


def build_mixed(repo: Path) -> None:
    fill_repo(repo)
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    (repo / "config.yaml").write_text(CONFIG + REMINDERS, encoding="utf-8")
    for fields, suffix in MIXED.values():
        write_record(repo, record_data(**fields), suffix=suffix)
    commit_all(repo)


def stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def test_the_verdict_leaves_out_a_failing_record_and_keeps_a_reopened_one(mixed):
    repo, paths = mixed
    found = verdict(open_project(repo))
    assert sorted(r.path for r in found.records) == sorted([paths["good"], paths["other"], paths["closed"]])
    assert found.left_out == [paths["bad"]]
    assert [p.path for p in found.notes] == [paths["closed"]] and "Reopen-Reason" in found.notes[0].message
    assert found.failed == sorted([paths["bad"], paths["closed"]]) and found.exit_code == 1


def test_the_audit_asks_for_content_only(mixed):
    repo, paths = mixed
    found = verdict(open_project(repo), content_only=True)
    assert found.notes == [] and found.failed == [paths["bad"]]
    assert paths["closed"] in {r.path for r in found.records}


def test_a_clean_repository_passes(repo):
    write_record(repo, record_data())
    found = verdict(open_project(repo))
    assert found.ok and found.exit_code == 0 and found.left_out == found.notes == found.failed == []


@pytest.fixture
def counted(monkeypatch):
    """How often check (``check_repository``) and the history (``read_history``) run, wherever they are called."""
    counts = collections.Counter()
    for name, original in (("check", check_repository), ("history", read_history)):

        @functools.wraps(original)
        def counting(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        for module in [m for n, m in list(sys.modules.items()) if n.startswith("liaison") and m]:
            for attribute, value in list(vars(module).items()):
                if value is original:
                    monkeypatch.setattr(module, attribute, counting)
    return counts


def test_a_broken_roster_stops_before_any_check(mixed, counted):
    repo, _ = mixed
    (repo / "roster.yaml").write_text("leaders: [\n", encoding="utf-8")
    with pytest.raises(NotReady) as refused:
        verdict(open_project(repo))
    assert [p.path for p in refused.value.problems] == ["roster.yaml"] and "roster.yaml" in str(refused.value)
    assert counted["check"] == 0


def test_the_query_finds_the_leader_first_and_lists_checked_records(mixed, counted):
    from liaison.outputs.listing import query_records

    repo, paths = mixed
    project = open_project(repo)
    spring = resolve_range(project.config.calendar, SPRING, today=project.today())
    with pytest.raises(QueryError):
        query_records(project, spring, name="没有这个人")
    assert counted["check"] == 0  # a mistyped name costs no check
    listing = query_records(project, spring, name="赵某", newest_first=True)
    assert [r.path for r in listing.records] == [paths["other"], paths["good"]]
    assert [leader.id for leader in listing.leaders] == ["T1"] and listing.verdict.left_out == [paths["bad"]]
    assert counted["check"] == 1


def test_the_export_is_refused_whole_with_the_verdict_that_refused_it(mixed, tmp_path):
    from liaison.outputs.export import ExportRefused, export

    repo, paths = mixed
    project = open_project(repo)
    spring = resolve_range(project.config.calendar, SPRING, today=project.today())
    with pytest.raises(ExportRefused) as refused:
        export(project, spring, tmp_path / "out", tmp_path / "cache")
    assert refused.value.verdict.left_out == [paths["bad"]] and not (tmp_path / "out").exists()
    everything = resolve_range(project.config.calendar, None, today=project.today())
    with pytest.raises(ExportRefused) as unbounded:
        export(project, everything, tmp_path / "out", tmp_path / "cache")
    assert unbounded.value.verdict is None and "--semester" in str(unbounded.value)


def test_the_pdf_folder_and_the_site_say_what_they_left_out(mixed, tmp_path):
    from liaison.outputs.pdf.folder import pdf_folder
    from liaison.outputs.site import build_site

    repo, paths = mixed
    project = open_project(repo)
    spring = resolve_range(project.config.calendar, SPRING, today=project.today())
    done = pdf_folder(project, spring, tmp_path / "pdf", tmp_path / "cache", jobs=1, shard=(1, 1), prune=True)
    assert sorted(r.path for r in done.records) == sorted([paths["good"], paths["other"]])
    assert set(done.build.paths) == {stem(paths["good"]), stem(paths["other"])} and done.pruned == 0
    assert done.verdict.exit_code == 1
    site = build_site(project, tmp_path / "public", tmp_path / "cache", jobs=1, site_cache=tmp_path / "store")
    assert site.records == 3 and site.verdict.left_out == [paths["bad"]] and site.verdict.exit_code == 1
    assert (tmp_path / "public" / "records" / f"{stem(paths['closed'])}.pdf").is_file()


def test_the_audit_and_the_reminders_return_data(mixed):
    from liaison.notify.remind import remind
    from liaison.outputs.auditlog import audit

    repo, paths = mixed
    project = open_project(repo)
    autumn = resolve_range(project.config.calendar, None, "2000-01-01", "2100-01-01", project.today())
    log = audit(project, autumn, "json")
    assert len(log.rows) == 4 and log.flagged >= 1 and log.verdict.failed == [paths["bad"]]
    assert log.data.startswith(b"[")
    reminding = remind(project, SPRING)
    assert reminding.plan.round == "期末提醒" and reminding.report is None  # a dry run sends nothing
    assert [d.leader.id for d in reminding.plan.due] == ["T2", "T3"]  # T1, with a failing record, is held
    assert [leader.id for leader in reminding.plan.held] == ["T1"] and reminding.exit_code == 1


def test_the_check_report_puts_the_changed_files_first(mixed):
    from liaison.git.repo import CommitNotFound

    repo, paths = mixed
    new_bad = write_record(repo, record_data(leader_id="T8", date=D(2025, 5, 1)), suffix="ffffff")  # not committed
    report = check_report(open_project(repo), None, since="HEAD")
    assert report.changed == [new_bad] and report.changed_with_problems == [new_bad]
    assert {p.path for p in report.first} == {new_bad} and paths["bad"] in {p.path for p in report.rest}
    assert report.files[0] == new_bad and not report.ok
    with pytest.raises(CommitNotFound):
        check_report(open_project(repo), None, since="no-such-commit")


def test_outbox_answers_are_data(repo, tmp_path):
    from liaison.submit.admin import Listed, outbox_command

    (tmp_path / "data" / "outbox").mkdir(parents=True)
    commit_all(repo)
    answer = outbox_command(open_project(repo), tmp_path / "data")
    assert isinstance(answer, Listed) and answer.rows == [] and answer.ok
    with pytest.raises(ValueError, match="没有表单服务的待同步记录"):
        outbox_command(open_project(repo), tmp_path / "nowhere")


def test_where_the_form_never_ran_outbox_and_notify_list_nothing(repo, run):
    """The README's ``python build.py outbox`` and ``notify``, pasted after ``make run`` alone (no .liaison/)."""
    commit_all(repo)
    for command, said in (("outbox", "没有待同步的记录"), ("notify", "还没有待办")):
        listed = run(repo, command)
        assert listed.exit_code == 0 and said in listed.output, listed.output
        assert run(repo, command, "--format", "json").output.strip() == "[]"
        named = run(repo, command, "--data", str(repo / "nowhere"))  # a folder named by hand must exist
        assert named.exit_code == 1 and "请用 --data" in named.output
    assert run(repo, "notify", "--retry", "0123").exit_code == 1
    assert not (repo / ".liaison").exists()


@pytest.mark.parametrize(
    "args, checks",
    [
        (["check"], 1),
        (["query", "--semester", SPRING], 1),
        (["pdf", "--semester", SPRING, "--out", "{tmp}/pdf", "--cache", "{tmp}/cache", "--jobs", "1"], 1),
        (["export", "--semester", SPRING, "--out", "{tmp}/export", "--cache", "{tmp}/cache"], 1),
        (["build", "--out", "{tmp}/public", "--cache", "{tmp}/cache", "--jobs", "1"], 1),
        (["audit", "--semester", AUTUMN, "--format", "json"], 1),
        (["remind", "--semester", SPRING], 1),
        (["review", "--base", "HEAD~1", "--out", "{tmp}/review", "--cache", "{tmp}/cache", "--jobs", "1"], 1),
        (["history", "{record}"], 0),
        (["import", "{sample}", "--dry-run"], 0),  # reads the records through the check cache, checks each row
    ],
    ids=lambda value: value[0] if isinstance(value, list) else None,
)
def test_no_command_checks_or_reads_the_history_twice(mixed, counted, run, tmp_path, args, checks):
    repo, paths = mixed
    write_record(repo, record_data(date=D(2025, 5, 6), target="研究生会"), suffix="eeeeee")
    commit_all(repo, "再一条")  # for review: a branch with one new record
    sample = PROJECT / "docs" / "import-sample.xlsx"
    done = run(repo, *(a.format(tmp=tmp_path, record=stem(paths["good"]), sample=sample) for a in args))
    assert done.exception is None or isinstance(done.exception, SystemExit), done.output
    assert counted["check"] == checks, done.output
    assert counted["history"] <= 1, done.output
