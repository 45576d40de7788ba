"""The leaders' pinyin readings kept between site builds: the same readings, or pypinyin is asked (issue 29)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from conftest import PROJECT, commit_all, record_data, tree_digest, write_record

from liaison.core import cachekit, pinyin

NAMES = ["赵敏", "曾国强", "阿依古丽·买买提", "单丽", "Anna Li"]


@pytest.fixture
def fresh(monkeypatch):
    """This process forgets every reading, as a new build process would."""

    def forget():
        pinyin._syllables.cache_clear()
        pinyin.pinyin_readings.cache_clear()
        pinyin.sort_reading.cache_clear()
        for name in ("_RECALLED", "_RECALLED_SORT"):
            monkeypatch.setattr(pinyin, name, {})
        for name in ("_FOUND", "_FOUND_SORT"):
            monkeypatch.setattr(pinyin, name, set())
        monkeypatch.setattr(pinyin, "_UNREAD", [])

    forget()
    yield forget
    forget()


def readings() -> list:
    return [(pinyin.pinyin_readings(name), pinyin.sort_reading(name)) for name in NAMES]


def without_pypinyin(monkeypatch):
    monkeypatch.setitem(sys.modules, "pypinyin", None)  # importing it now fails


def test_kept_readings_are_the_same_and_need_no_dictionary(tmp_path, fresh, monkeypatch):
    expected = readings()
    pinyin.keep(tmp_path)
    assert (tmp_path / pinyin.MEMO_FILE).is_file()
    fresh()
    pinyin.recall(tmp_path)
    with monkeypatch.context() as patch:
        without_pypinyin(patch)
        assert readings() == expected


@pytest.mark.parametrize(
    "damage",
    [
        lambda memo: {**memo, "stamp": "another code or pypinyin"},
        lambda memo: {**memo, "names": {"赵敏": [["zhao"], ["min"]], **{n: "x" for n in memo["names"] if n != "赵敏"}}},
        lambda memo: {**memo, "names": {"赵敏": [["\x1b[2J"], ["min"]]}},
        lambda memo: {**memo, "names": {"赵敏": [[]]}},
        lambda memo: [],
        lambda memo: {**memo, "names": {}, "sort": {name: ["\x00"] for name in memo["sort"]}},
    ],
)
def test_a_memo_of_another_code_or_shape_is_not_believed(tmp_path, fresh, damage):
    expected = readings()
    pinyin.keep(tmp_path)
    memo = json.loads(cachekit.unseal((tmp_path / pinyin.MEMO_FILE).read_bytes()))
    memo["names"] = {name: [["wrong"]] * 2 for name in memo["names"]}
    (tmp_path / pinyin.MEMO_FILE).write_bytes(cachekit.seal(json.dumps(damage(memo)).encode("utf-8")))
    fresh()
    pinyin.recall(tmp_path)
    got = readings()
    assert got[1:] == expected[1:]  # every name the damaged memo does not give validly is read by pypinyin
    assert got[0][0] in (expected[0][0], (("zhaomin", "zm"),))


def test_a_memo_with_a_flipped_bit_or_grown_huge_is_not_believed(tmp_path, fresh):
    """A flipped bit in a reading is still JSON (zhao → zhap): the memo's checksum refuses it; and a memo larger
    than any this code writes is never read whole."""
    expected = readings()
    pinyin.keep(tmp_path)
    memo = tmp_path / pinyin.MEMO_FILE
    sealed = memo.read_bytes()
    at = sealed.index(b'"zhao"') + 4
    memo.write_bytes(sealed[:at] + bytes([sealed[at] ^ 1]) + sealed[at + 1 :])
    fresh()
    pinyin.recall(tmp_path)
    assert readings() == expected
    memo.write_bytes(sealed[:-1] + b" " * (pinyin.MEMO_BYTES + 1) + sealed[-1:])
    with pytest.raises(ValueError):
        cachekit.read_memo(memo, pinyin.MEMO_BYTES)
    fresh()
    pinyin.recall(tmp_path)
    assert readings() == expected


def test_a_missing_or_broken_memo_is_only_slower(tmp_path, fresh):
    expected = readings()
    fresh()
    pinyin.recall(tmp_path)  # none there
    (tmp_path / pinyin.MEMO_FILE).write_bytes(b"\xff not json")
    pinyin.recall(tmp_path)
    assert readings() == expected


def test_a_command_keeps_the_readings_so_the_next_loads_no_dictionary(repo, run, fresh, monkeypatch, tmp_path):
    """export orders 表1 and 表2 by the leaders' pinyin: the first export keeps the readings in .cache, and the
    next makes the same files without pypinyin (the command line recalls and keeps them, for every command)."""
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(), suffix="aaaaaa")
    commit_all(repo)
    first = run(repo, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "first"))
    assert first.exit_code == 0, first.output
    assert (repo / ".cache" / pinyin.MEMO_FILE).is_file()
    fresh()
    with monkeypatch.context() as patch:
        without_pypinyin(patch)
        second = run(repo, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "second"))
    assert second.exit_code == 0, second.output
    assert tree_digest(tmp_path / "second") == tree_digest(tmp_path / "first")


def test_with_the_caches_switched_off_no_readings_are_kept(repo, run, fresh, monkeypatch, tmp_path):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(), suffix="aaaaaa")
    commit_all(repo)
    monkeypatch.setenv(cachekit.CHECK_SWITCH, "off")
    assert run(repo, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "out")).exit_code == 0
    assert not (repo / ".cache" / pinyin.MEMO_FILE).exists()


def test_verify_rebuilds_with_pypinyin_s_own_order_whatever_the_memo_says(repo, run, fresh, tmp_path):
    """A memo rewritten with a valid checksum (a cache is no authority) reorders what export makes, never what
    verify checks against: an honest export still passes."""
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(), suffix="aaaaaa")
    commit_all(repo)
    honest = run(repo, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "honest"))
    assert honest.exit_code == 0, honest.output
    memo = repo / ".cache" / pinyin.MEMO_FILE
    kept = json.loads(cachekit.unseal(memo.read_bytes()))
    assert kept["sort"]["张伟"] < kept["sort"]["赵某"]  # 学生工作处: 张伟 (T2) before 赵某 (T1) in 表1
    kept["sort"]["赵某"], kept["sort"]["张伟"] = kept["sort"]["张伟"], kept["sort"]["赵某"]
    memo.write_bytes(cachekit.seal(json.dumps(kept, ensure_ascii=False).encode("utf-8")))
    fresh()
    lied = run(repo, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "lied"))
    assert lied.exit_code == 0, lied.output
    assert tree_digest(tmp_path / "lied") != tree_digest(tmp_path / "honest")  # the memo was believed there
    fresh()
    (zipped,) = (tmp_path / "honest").glob("*.zip")
    checked = run(repo, "verify", str(zipped))
    assert checked.exit_code == 0, checked.output


def test_a_fifo_in_a_memo_s_place_is_refused_at_once(tmp_path):
    import os
    import threading

    os.mkfifo(tmp_path / pinyin.MEMO_FILE)
    outcome = []

    def read():
        try:
            cachekit.read_memo(tmp_path / pinyin.MEMO_FILE, pinyin.MEMO_BYTES)
        except OSError as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # the reader hangs on the FIFO: let it go, and fail
        with open(tmp_path / pinyin.MEMO_FILE, "wb"):
            pass
        pytest.fail("reading a memo that is a FIFO blocked")
    assert len(outcome) == 1
