"""The project's memo (``.cache/project.json``): the same Project as reading the files, or not used (issue 29).

Every command starts with ``open_project``; a project without problems is
remembered by the bytes of its five files and the code that reads them, so
that a warm run neither parses nor validates them. Each test compares what
the memo gives with a fresh read of the same files.
"""

from __future__ import annotations

import datetime

import pytest
from conftest import CONFIG, ROSTER

from liaison.core import cachekit, project, yamlio
from liaison.core.project import MEMO_FILE, open_project


def fresh(root):
    """``open_project`` reading every file (no memo)."""
    memo = root / cachekit.CACHE_FOLDER / MEMO_FILE
    kept = memo.read_bytes() if memo.is_file() else None
    if kept is not None:
        memo.unlink()
    try:
        return open_project(root)
    finally:
        if kept is not None:
            memo.write_bytes(kept)


def same(a, b) -> bool:
    return (
        a.root == b.root
        and a.schema.rules == b.schema.rules
        and a.schema.fields == b.schema.fields
        and a.schema.path == b.schema.path
        and repr(a.config) == repr(b.config)
        and (a.roster.leaders if a.roster else None) == (b.roster.leaders if b.roster else None)
        and a.problems == b.problems
    )


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """How many YAML files were parsed."""
    seen: list[int] = []
    original = yamlio.read_yaml_bytes

    def counting(data, *args, **kwargs):
        seen.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(yamlio, "read_yaml_bytes", counting)
    return seen


def test_a_second_open_reads_no_file_and_gives_the_same_project(repo, reads):
    first = open_project(repo)
    assert len(reads) == 5 and first.ok and not first.problems
    assert (repo / cachekit.CACHE_FOLDER / MEMO_FILE).is_file()
    reads.clear()
    again = open_project(repo)
    assert reads == []
    assert same(again, first) and same(again, fresh(repo))
    assert again.config.today() == first.config.today()


CHANGES = {
    "roster.yaml": lambda text: text.replace("name: 赵某,", "name: 赵某某,"),
    "config.yaml": lambda text: text + "closed_semesters:\n  2024-2025-1: 2025-02-20\n",
    "schema/record.yaml": lambda text: text.replace("min: 1", "min: 2", 1),
    "schema/roster.yaml": lambda text: text + "\n",
    "schema/config.yaml": lambda text: text + "\n",
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_to_any_of_the_five_files_is_read(repo, reads, name):
    open_project(repo)
    path = repo / name
    path.write_text(CHANGES[name](path.read_text(encoding="utf-8")), encoding="utf-8")
    reads.clear()
    changed = open_project(repo)
    assert len(reads) == 5
    assert same(changed, fresh(repo))
    reads.clear()
    assert same(open_project(repo), changed) and reads == []  # remembered again
    if name == "config.yaml":
        assert changed.config.closed_semesters == {"2024-2025-1": datetime.date(2025, 2, 20)}


def test_a_project_with_a_problem_is_never_remembered(repo, reads):
    open_project(repo)
    memo = repo / cachekit.CACHE_FOLDER / MEMO_FILE
    kept = memo.read_bytes()
    (repo / "roster.yaml").write_text(
        ROSTER + "  - {id: T1, name: 重复, department: 处, position: 员, login: x, active: true}\n", encoding="utf-8"
    )
    for _ in range(2):
        reads.clear()
        broken = open_project(repo)
        assert len(reads) == 5 and broken.roster is None
        assert any("重复" in p.message for p in broken.problems)
    assert memo.read_bytes() == kept


def test_other_code_or_other_libraries_read_the_files(repo, reads, monkeypatch):
    open_project(repo)
    library_stamp = cachekit.library_stamp
    monkeypatch.setattr(cachekit, "library_stamp", lambda *names: "another PyYAML")
    reads.clear()
    again = open_project(repo)
    assert len(reads) == 5 and same(again, fresh(repo))
    monkeypatch.setattr(cachekit, "library_stamp", library_stamp)
    monkeypatch.setattr(cachekit, "code_stamp", lambda *modules, memo=None: "other code")
    reads.clear()
    open_project(repo)
    assert len(reads) == 5


@pytest.mark.parametrize(
    "kept",
    [
        b"not json",
        b"",
        b'{"key": "KEY", "values": []}',
        b'{"key": "KEY", "values": [{}, {}, {}]}',  # config and roster data of no use
        b'{"key": "KEY", "values": [{}, {"school": 1}, {"leaders": [{"id": "T1"}]}]}',
        b'{"key": "KEY", "values": [{}, {"school": "x", "office": "y"}, {"leaders": "all"}]}',
        b'{"key": "KEY", "values": "x"}',
        b"[1, 2, 3]",
        b"[" * 100_000,  # a RecursionError ended every command
    ],
    ids=lambda kept: repr(kept[:40]),
)
def test_a_memo_of_the_wrong_shape_is_not_believed(repo, reads, kept):
    first = open_project(repo)
    memo = repo / cachekit.CACHE_FOLDER / MEMO_FILE
    key = cachekit.loads(cachekit.unseal(memo.read_bytes()))["key"]
    memo.write_bytes(cachekit.seal(kept.replace(b"KEY", key.encode())))
    reads.clear()
    assert same(open_project(repo), first)
    assert len(reads) == 5


def flip_a_bit(path, after: bytes, offset: int = 0) -> None:
    """One bit of ``path`` flipped, ``offset`` bytes after ``after``: the JSON still reads, with another value."""
    data = bytearray(path.read_bytes())
    data[data.index(after) + len(after) + offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_memo_with_a_flipped_bit_is_not_believed(repo, reads):
    """A bit flipped in a leader's name (disk damage) read as valid JSON: check named every record of that
    leader as not matching the roster."""
    first = open_project(repo)
    memo = repo / cachekit.CACHE_FOLDER / MEMO_FILE
    flip_a_bit(memo, b'"name":"', 2)
    reads.clear()
    assert same(open_project(repo), first)
    assert len(reads) == 5


def test_an_oversized_memo_is_not_read(repo, reads, monkeypatch):
    open_project(repo)
    memo = repo / cachekit.CACHE_FOLDER / MEMO_FILE
    memo.write_bytes(memo.read_bytes() + b" " * (project._MEMO_BYTES + 1))
    monkeypatch.setattr(cachekit, "loads", lambda data: pytest.fail("an oversized memo was read"))
    reads.clear()
    open_project(repo)
    assert len(reads) == 5


def test_an_oversized_roster_is_refused_as_before_and_read_no_further(repo):
    (repo / "roster.yaml").write_text(ROSTER + "#" * (yamlio.MAX_FILE_BYTES + 10) + "\n", encoding="utf-8")
    found = open_project(repo)
    assert found.roster is None and any("文件过大" in p.message for p in found.problems)
    assert not (repo / cachekit.CACHE_FOLDER / MEMO_FILE).exists()


def test_a_cache_folder_that_cannot_be_written_changes_nothing(repo, reads):
    (repo / cachekit.CACHE_FOLDER).write_text("not a folder", encoding="utf-8")
    for _ in range(2):
        reads.clear()
        found = open_project(repo)
        assert len(reads) == 5 and same(found, fresh(repo))
    cachekit.take_notices()


def test_the_config_the_memo_gives_is_the_config_read(repo):
    (repo / "config.yaml").write_text(CONFIG + "semester_starts:\n  2024-2025-1: 2024-08-26\n", encoding="utf-8")
    first = open_project(repo)
    again = open_project(repo)
    assert repr(again.config) == repr(first.config) == repr(fresh(repo).config)
    assert again.config.calendar.semester_of(datetime.date(2024, 8, 27)).id == "2024-2025-1"
    assert first.config.calendar.semester_of(datetime.date(2024, 8, 25)).id == "2023-2024-2"


def test_the_check_cache_switch_turns_the_memo_off_too(repo, reads, monkeypatch):
    open_project(repo)
    monkeypatch.setenv("LIAISON_CHECK_CACHE", "off")
    for _ in range(2):
        reads.clear()
        found = open_project(repo)
        assert len(reads) == 5 and same(found, fresh(repo))
