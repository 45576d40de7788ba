"""config.yaml's closures over the history, remembered by the commit: always what git says (issue 29)."""

from __future__ import annotations

import datetime

import pytest
from conftest import CONFIG, built_copy, commit_all, fill_repo, git

from liaison.core import cachekit
from liaison.git import closed
from liaison.git.repo import Repo


@pytest.fixture
def history(tmp_path_factory, tmp_path):
    """A repository with one commit: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "closures-memo-history", build_history, tmp_path / "repo")


def build_history(repo) -> None:
    fill_repo(repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "开始")


def set_closed(root, lines: str) -> None:
    (root / "config.yaml").write_text(CONFIG + lines, encoding="utf-8")
    commit_all(root, "config")


def answer(root):
    return closed.remembered_closures(Repo(root))


def test_each_commit_gets_git_s_answer_and_a_second_run_the_same(history):
    assert answer(history) == {}
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    assert answer(history) == {"2024-2025-1": datetime.date(2025, 2, 20)}  # a new commit: read again
    set_closed(history, "")  # the line removed: the closure stays, as it did on main
    expected = closed.config_closures_in_history(Repo(history))
    assert expected == {"2024-2025-1": datetime.date(2025, 2, 20)}
    assert answer(history) == expected
    assert answer(history) == expected  # from the memo
    assert (history / cachekit.CACHE_FOLDER / closed.MEMO_FILE).is_file()


@pytest.mark.parametrize(
    "kept",
    [
        b'{"key": "KEY", "closed": {"2024-2025-1": "2025-02-20"}}',  # a date as text
        b'{"key": "KEY", "closed": {"x": {"\\u0000": "d", "v": "2025-02-20"}}}',  # not a semester
        b'{"key": "KEY", "closed": []}',
        b"not json",
    ],
)
def test_a_memo_of_the_wrong_shape_is_not_believed(history, kept):
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    answer(history)
    memo = history / cachekit.CACHE_FOLDER / closed.MEMO_FILE
    key = cachekit.loads(cachekit.unseal(memo.read_bytes()))["key"]
    memo.write_bytes(cachekit.seal(kept.replace(b"KEY", key.encode())))
    assert answer(history) == {"2024-2025-1": datetime.date(2025, 2, 20)}


def test_a_memo_with_a_flipped_bit_is_not_believed(history):
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    answer(history)
    memo = history / cachekit.CACHE_FOLDER / closed.MEMO_FILE
    data = bytearray(memo.read_bytes())
    data[data.index(b"2025-02-20") + 9] ^= 0x01  # 2025-02-21: still a day, a day late (disk damage)
    memo.write_bytes(bytes(data))
    assert answer(history) == {"2024-2025-1": datetime.date(2025, 2, 20)}


def test_a_memo_of_another_commit_is_not_used(history):
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    answer(history)
    memo = history / cachekit.CACHE_FOLDER / closed.MEMO_FILE
    stale = memo.read_bytes()
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n  2024-2025-2: 2025-08-01\n")
    memo.write_bytes(stale)
    assert answer(history) == {"2024-2025-1": datetime.date(2025, 2, 20), "2024-2025-2": datetime.date(2025, 8, 1)}


def test_a_read_only_cache_folder_means_asking_git(history):
    (history / cachekit.CACHE_FOLDER).write_text("not a folder", encoding="utf-8")
    set_closed(history, "closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    assert answer(history) == {"2024-2025-1": datetime.date(2025, 2, 20)}
    cachekit.take_notices()
