"""The check cache is never wrong: after every kind of change, a cached ``check`` equals a cold one.

Each test runs ``check`` (``check_with_history``, what every command calls)
with the cache, changes something, and compares the next cached run with a
run without the cache (``LIAISON_CHECK_CACHE=off``): the whole CheckResult,
its problems, files and every record's data, lines and bytes; and, twice,
the run that asks for the problems only (``records=False``: ``check`` itself,
the audit), which may answer from the kept verdict. Counting the files parsed
and the entries decoded shows that the cache was really used where it may be.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    PROJECT,
    SCHEMA,
    built_copy,
    commit_all,
    fill_repo,
    git,
    record_data,
    replace_field,
    write_record,
)

import liaison.git.checkcache as checkcache
from liaison.core.checks import CheckResult
from liaison.core.project import open_project
from liaison.core.records import dump_record, parse_record
from liaison.git.closed import check_with_history

CACHE = Path(*checkcache.CACHE_FILE)


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The paths of the record files parsed (not taken from the cache), in the order parsed."""
    seen: list[str] = []

    def counting(path, *args, **kwargs):
        seen.append(path)
        return parse_record(path, *args, **kwargs)

    monkeypatch.setattr(checkcache, "parse_record", counting)
    return seen


def cold(root: Path, paths: list[str] | None = None) -> CheckResult:
    previous = os.environ.get(checkcache.SWITCH)
    os.environ[checkcache.SWITCH] = "off"
    try:
        return check_with_history(open_project(root), paths)
    finally:
        if previous is None:
            del os.environ[checkcache.SWITCH]
        else:
            os.environ[checkcache.SWITCH] = previous


def cached(root: Path, paths: list[str] | None = None) -> CheckResult:
    return check_with_history(open_project(root), paths)


def assert_same_as_cold(root: Path, paths: list[str] | None = None) -> CheckResult:
    warm = cached(root, paths)
    expected = cold(root, paths)
    assert warm.problems == expected.problems
    assert warm.files == expected.files
    assert [(r.id, r.path, r.data, r.lines, r.raw) for r in warm.records] == [
        (r.id, r.path, r.data, r.lines, r.raw) for r in expected.records
    ]
    assert warm == expected
    for _ in range(2):  # the first may keep the verdict, the second may answer from it
        only = check_with_history(open_project(root), paths, records=False)
        assert (only.problems, only.files) == (expected.problems, expected.files)
    return warm


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """The paths of the cache entries decoded (taken from the cache), in order."""
    seen: list[str] = []
    original = checkcache._decode

    def counting(row):
        seen.append(row[0])
        return original(row)

    monkeypatch.setattr(checkcache, "_decode", counting)
    return seen


def problems_only(root: Path) -> CheckResult:
    return check_with_history(open_project(root), records=False)


def test_problems_only_come_from_the_kept_verdict_while_nothing_changes(history, parses, decodes):
    expected = cold(history)
    first = problems_only(history)
    assert sorted(parses) == paths_of(history)  # a cold cache: every file parsed
    parses.clear()
    again = problems_only(history)
    assert (again.problems, again.files) == (first.problems, first.files) == (expected.problems, expected.files)
    assert parses == [] and decodes == [] and again.records == []  # no entry read: the verdict as it was kept
    assert problems_only(history).problems == expected.problems

    rel = paths_of(history)[0]
    edit(history, rel, "size", "size: 0")  # one file changes: the others come from their entries
    parses.clear()
    changed = problems_only(history)
    assert parses == [rel] and sorted(decodes) == paths_of(history)[1:]
    assert (changed.problems, changed.files) == (cold(history).problems, cold(history).files)
    decodes.clear()
    assert problems_only(history).problems == changed.problems and decodes == []


@pytest.mark.parametrize("damage", ["problems", "checksum", "type"])
def test_a_damaged_kept_verdict_is_discarded_never_believed(history, damage, caplog):
    problems_only(history)
    problems_only(history)
    change = {
        "problems": "problems = CAST(replace(CAST(problems AS TEXT), '0', '9') AS BLOB)",
        "checksum": "checksum = X'00000000'",
        "type": "problems = CAST(problems AS TEXT)",
    }[damage]
    with contextlib.closing(sqlite3.connect(history / CACHE)) as connection:
        assert connection.execute(f"UPDATE verdict SET {change}").rowcount == 1
        connection.commit()
    with caplog.at_level(logging.WARNING, logger="liaison.core.cachekit"):
        assert problems_only(history).problems == cold(history).problems
    assert "check.sqlite discarded" in caplog.text
    assert_same_as_cold(history)


def test_a_working_copy_made_executable_is_named_though_git_ignores_the_bit(history, parses):
    """With core.fileMode=false git calls an executable copy unchanged: the cache then looks at every file."""
    cached(history)
    git(history, "config", "core.fileMode", "false")
    rel = paths_of(history)[0]
    (history / rel).chmod(0o755)
    result = assert_same_as_cold(history)
    assert any(p.path == rel and "可执行" in p.message for p in result.problems)
    git(history, "config", "core.fileMode", "true")
    assert any(p.path == rel and "可执行" in p.message for p in assert_same_as_cold(history).problems)


@pytest.fixture
def history(tmp_path_factory, tmp_path) -> Path:
    """Three committed records of two leaders, one of them with a problem (size 0): a copy of the repository
    made once per run (``built_copy``)."""
    return built_copy(tmp_path_factory, "checkcache-history", build_history, tmp_path / "repo")


def build_history(repo: Path) -> None:
    fill_repo(repo)
    write_record(repo, record_data(), suffix="aaaaaa")
    write_record(repo, record_data(date=datetime.date(2024, 10, 1), target="学生会"), suffix="bbbbbb")
    write_record(repo, record_data(leader_id="T2", leader="张伟", size=0), suffix="cccccc")
    commit_all(repo)


def paths_of(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "records").glob("*/*.yaml"))


def edit(root: Path, rel: str, key: str, line: str) -> None:
    target = root / rel
    target.write_text(replace_field(target.read_text(encoding="utf-8"), key, line), encoding="utf-8")


def test_a_second_run_parses_nothing_and_equals_a_cold_run(history, parses):
    first = cached(history)
    assert sorted(parses) == paths_of(history)
    assert not first.ok  # the record with size 0
    parses.clear()
    assert_same_as_cold(history)
    assert parses == []
    assert (history / CACHE).is_file()
    assert (history / ".cache" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")
    assert git(history, "status", "--porcelain") == ""  # the cache is never offered to a commit


@pytest.mark.parametrize("committed", [False, True], ids=["uncommitted edit", "committed edit"])
def test_a_changed_record_is_read_again(history, parses, committed):
    cached(history)
    rel = paths_of(history)[0]
    edit(history, rel, "size", "size: 0")  # a new problem
    if committed:
        commit_all(history, "修改")
    parses.clear()
    result = assert_same_as_cold(history)
    assert parses == [rel]
    assert any(p.path == rel and p.field == "size" for p in result.problems)


def test_an_edit_of_the_same_size_with_the_old_mtime_is_seen(history, parses):
    cached(history)
    rel = paths_of(history)[0]
    target = history / rel
    before = target.stat()
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("size: 50", "size: 05"), encoding="utf-8")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    parses.clear()
    assert_same_as_cold(history)
    assert parses == [rel]


def test_an_untracked_record_is_hashed_and_then_remembered(history, parses):
    cached(history)
    rel = write_record(history, record_data(target="新的对象"), suffix="dddddd")
    parses.clear()
    assert_same_as_cold(history)
    assert parses == [rel]
    parses.clear()
    assert_same_as_cold(history)
    assert parses == []


@pytest.mark.parametrize("committed", [False, True], ids=["deleted", "deleted and committed"])
def test_a_deleted_record_is_gone(history, parses, committed):
    cached(history)
    rel = paths_of(history)[0]
    (history / rel).unlink()
    if committed:
        commit_all(history, "删除")
    parses.clear()
    result = assert_same_as_cold(history)
    assert parses == []
    assert rel not in {r.path for r in result.records}


def test_a_changed_roster_entry_changes_the_verdict_without_reading_records(history, parses):
    cached(history)
    roster = history / "roster.yaml"
    roster.write_text(roster.read_text(encoding="utf-8").replace("name: 赵某,", "name: 赵某某,"), encoding="utf-8")
    parses.clear()
    result = assert_same_as_cold(history)
    assert parses == []
    assert any(p.field == "leader" and "赵某某" in p.message for p in result.problems)


def test_a_changed_schema_rule_empties_the_cache(history, parses):
    cached(history)
    schema = history / "schema" / "record.yaml"
    text = schema.read_text(encoding="utf-8")
    assert "min: 1" in text
    schema.write_text(text.replace("min: 1", "min: 60", 1), encoding="utf-8")
    parses.clear()
    result = assert_same_as_cold(history)
    assert sorted(parses) == paths_of(history)
    assert sum(p.field == "size" for p in result.problems) == 3


def test_a_record_dated_tomorrow_becomes_valid_tomorrow(history, parses, monkeypatch):
    today = datetime.date(2025, 3, 10)
    tomorrow = today + datetime.timedelta(days=1)
    monkeypatch.setenv("LIAISON_TODAY", today.isoformat())
    future = write_record(history, record_data(date=tomorrow), suffix="eeeeee")
    yesterday = write_record(history, record_data(date=today - datetime.timedelta(days=1)), suffix="ffffff")
    commit_all(history, "新记录")
    result = cached(history)
    assert [p.path for p in result.problems if p.field == "date"] == [future]
    assert_same_as_cold(history)

    monkeypatch.setenv("LIAISON_TODAY", tomorrow.isoformat())  # midnight has passed
    parses.clear()
    result = assert_same_as_cold(history)
    assert [p for p in result.problems if p.field == "date"] == []
    assert parses == [future]  # the record dated yesterday kept its verdict

    monkeypatch.setenv("LIAISON_TODAY", (today - datetime.timedelta(days=2)).isoformat())  # a re-run of a past day
    parses.clear()
    result = assert_same_as_cold(history)
    assert sorted(p.path for p in result.problems if p.field == "date") == sorted([future, yesterday])
    assert sorted(parses) == sorted([future, yesterday])


def test_a_rewritten_history_changes_blobs_under_the_same_paths(history, tmp_path, parses):
    remote = tmp_path / "remote.git"
    git(history, "clone", "-q", "--bare", str(history), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert_same_as_cold(clone)

    # Upstream amends the commit (same paths, other contents) and force-pushes.
    for rel in paths_of(history)[:2]:
        edit(history, rel, "place", "place: 行政楼201")
    git(history, "commit", "-q", "-a", "--amend", "-m", "记录（改写）")
    git(history, "push", "-q", "--force", str(remote), "main")
    git(clone, "fetch", "-q", "origin")
    git(clone, "reset", "-q", "--hard", "origin/main")

    parses.clear()
    result = assert_same_as_cold(clone)
    assert sorted(parses) == paths_of(history)[:2]
    assert {r.data["place"] for r in result.records} == {"行政楼201", "图书馆101"}

    git(clone, "rebase", "-q", "--exec", "true", "--root")  # a rebase that rewrites every commit
    assert_same_as_cold(clone)


def test_assume_unchanged_does_not_hide_an_edit(history, parses):
    cached(history)
    rel = paths_of(history)[0]
    git(history, "update-index", "--assume-unchanged", rel)
    edit(history, rel, "place", "place: 行政楼")
    parses.clear()
    assert_same_as_cold(history)
    assert parses == [rel]


@pytest.mark.parametrize("weakened", ["fsmonitor", "minimal stat"])
def test_git_settings_that_weaken_its_own_test_do_not_hide_an_edit(history, parses, tmp_path, weakened):
    """A file system monitor hook that says nothing changed (a stale or broken watcher), or core.checkStat=minimal
    with an edit of the same size and mtime: git status then calls an edited file unchanged, check must not."""
    cached(history)
    rel = paths_of(history)[0]
    target = history / rel
    an_hour_ago = target.stat().st_mtime_ns - 3600 * 10**9  # older than the index: git's racy test passes it
    os.utime(target, ns=(an_hour_ago, an_hour_ago))
    if weakened == "fsmonitor":
        hook = tmp_path / "quiet-monitor"
        hook.write_text("#!/bin/sh\nprintf '%s\\0' \"$(date +%s%N)\"\n", encoding="utf-8")
        hook.chmod(0o755)
        git(history, "config", "core.fsmonitor", str(hook))
        git(history, "config", "core.fsmonitorHookVersion", "2")
    else:
        git(history, "config", "core.checkStat", "minimal")
        git(history, "config", "core.trustctime", "false")
    for _ in range(2):  # the index refreshed: the file's stat kept, then each file marked as the monitor's
        git(history, "status", "--porcelain")
    edited = history / "edited.yaml"  # saved as an editor does, a new file renamed over the old: a new inode
    edited.write_text(target.read_text(encoding="utf-8").replace("size: 50", "size: 05"), encoding="utf-8")
    os.utime(edited, ns=(an_hour_ago, an_hour_ago))
    edited.replace(target)
    assert git(history, "status", "--porcelain") == ""  # git itself misses the edit
    parses.clear()
    assert_same_as_cold(history)
    assert parses == [rel]


def test_a_checkout_converting_line_ends_gives_the_files_bytes(history):
    cached(history)  # remembers each blob's LF bytes
    (history / ".gitattributes").write_text("records/** text eol=crlf\n", encoding="utf-8")
    commit_all(history, "换行")
    for rel in paths_of(history):
        (history / rel).unlink()
    git(history, "checkout", "--", "records")  # the same blobs, checked out with CRLF
    assert b"\r\n" in (history / paths_of(history)[0]).read_bytes()
    assert_same_as_cold(history)


def test_checking_some_files_equals_a_cold_run(history, parses):
    rel = paths_of(history)[1]
    cached(history)
    parses.clear()
    assert_same_as_cold(history, [rel])
    assert parses == []


def test_outside_git_every_file_is_hashed_and_remembered(repo, parses):
    write_record(repo, record_data(), suffix="aaaaaa")
    cached(repo)
    parses.clear()
    assert_same_as_cold(repo)
    assert parses == []


ODD_VALUES = [
    ("timestamps, numbers, lists", "extra: {a: 2020-01-01 10:00:00+08:00, b: [1.5, true, null, 2020-01-02]}", True),
    ("a key JSON cannot mark", 'extra: {"\\0": 1}', False),
    ("a lone surrogate", 'remarks: "\\ud800"', True),
]


@pytest.mark.parametrize("case, line, kept", ODD_VALUES, ids=[v[0] for v in ODD_VALUES])
def test_values_come_back_exactly_or_are_read_every_time(repo, parses, case, line, kept):
    text = replace_field(dump_record(record_data(), SCHEMA), "remarks", "remarks: ''") + line + "\n"
    if line.startswith("remarks"):
        text = replace_field(dump_record(record_data(), SCHEMA), "remarks", line)
    rel = write_record(repo, text=text)
    cached(repo)
    parses.clear()
    cached(repo)
    assert parses == ([] if kept else [rel])
    assert_same_as_cold(repo)


def first_record_text(history: Path) -> bytes:
    return (history / paths_of(history)[0]).read_bytes()


CORRUPTIONS = {
    "truncated": lambda data, history: data[: len(data) // 2],
    "empty": lambda data, history: b"",
    "not a database": lambda data, history: b"hello " * 1000,
    "header overwritten": lambda data, history: b"\0" * 100 + data[100:],
    # Bytes inside a stored value: SQLite cannot tell; each entry's checksum must.
    "a value altered": lambda data, history: data.replace("国旗护卫队".encode(), "国旗护卫团".encode()),
    "raw bytes altered": lambda data, history: data.replace(b"size: 50", b"size: 60"),
}


@pytest.mark.parametrize("how", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_a_corrupted_cache_file_is_discarded_never_believed(history, how, caplog):
    cached(history)
    database = history / CACHE
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, where we damage it
    data = database.read_bytes()
    damaged = CORRUPTIONS[how](data, history)
    assert damaged != data
    database.write_bytes(damaged)
    with caplog.at_level(logging.WARNING, logger="liaison.core.cachekit"):
        assert_same_as_cold(history)
    # An empty file is an empty database: nothing to discard.
    assert how == "empty" or "check.sqlite discarded" in caplog.text
    assert_same_as_cold(history)  # and the next run builds a sound cache again


@pytest.mark.parametrize("column", ["parsed", "raw", "checksum", "path"])
def test_a_value_of_the_wrong_type_is_damage_never_a_crash(history, column, caplog):
    """One flipped bit of a row header makes SQLite read a blob as text (or a text as a number)."""
    cached(history)
    cast = "CAST(path AS BLOB)" if column == "path" else f"CAST({column} AS TEXT)"
    with contextlib.closing(sqlite3.connect(history / CACHE)) as connection:
        connection.execute(f"UPDATE entries SET {column} = {cast} WHERE rowid = (SELECT min(rowid) FROM entries)")
        connection.commit()
    with caplog.at_level(logging.WARNING, logger="liaison.core.cachekit"):
        assert_same_as_cold(history)
    assert "check.sqlite discarded" in caplog.text
    assert_same_as_cold(history)


def test_a_cache_of_another_version_is_emptied(history, parses, monkeypatch):
    cached(history)
    monkeypatch.setattr(checkcache, "CACHE_VERSION", checkcache.CACHE_VERSION + 1)
    parses.clear()
    assert_same_as_cold(history)
    assert sorted(parses) == paths_of(history)
    monkeypatch.undo()
    with contextlib.closing(sqlite3.connect(history / CACHE)) as connection:
        connection.execute("UPDATE meta SET value = 'another' WHERE key = 'salt'")
        connection.commit()
    parses.clear()
    assert_same_as_cold(history)


def test_an_unwritable_cache_folder_means_running_uncached(history, caplog):
    (history / ".cache").write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="liaison.core.cachekit"):
        assert_same_as_cold(history)
    assert "unusable" in caplog.text
    assert (history / ".cache").is_file()


def stored_keys(root: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(root / CACHE)) as connection:
        return connection.execute("SELECT path, blob FROM entries ORDER BY 1, 2").fetchall()


KILLED_WRITER = """
import sys
from pathlib import Path

import liaison.git.checkcache as checkcache
from liaison.core.project import open_project
from liaison.git.closed import check_with_history

original = checkcache.write_entries


def halfway(connection, rows):
    original(connection, rows[: len(rows) // 2])
    print("writing", flush=True)
    sys.stdin.read()  # killed here, inside the transaction


checkcache.write_entries = halfway
check_with_history(open_project(Path(sys.argv[1])))
"""


def test_a_run_killed_while_writing_leaves_a_cache_that_is_right(history, parses):
    cached(history)
    before = stored_keys(history)
    for rel in paths_of(history):
        edit(history, rel, "place", "place: 体育馆")
    for suffix in ("111111", "222222"):
        write_record(history, record_data(target=f"对象{suffix}"), suffix=suffix)

    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(history)],
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert writer.stdout.readline() == b"writing\n"  # mid-write: half the new entries inserted
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=60)
    writer.stdin.close()
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL

    assert stored_keys(history) == before  # the killed transaction left nothing
    parses.clear()
    assert_same_as_cold(history)
    assert sorted(parses) == paths_of(history)
