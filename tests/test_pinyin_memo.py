"""The leaders' pinyin readings kept between site builds: the same readings, or pypinyin is asked (issue 29)."""

from __future__ import annotations

import json
import sys

import pytest

from liaison.core import pinyin

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
    memo = json.loads((tmp_path / pinyin.MEMO_FILE).read_text(encoding="utf-8"))
    memo["names"] = {name: [["wrong"]] * 2 for name in memo["names"]}
    (tmp_path / pinyin.MEMO_FILE).write_text(json.dumps(damage(memo)), encoding="utf-8")
    fresh()
    pinyin.recall(tmp_path)
    got = readings()
    assert got[1:] == expected[1:]  # every name the damaged memo does not give validly is read by pypinyin
    assert got[0][0] in (expected[0][0], (("zhaomin", "zm"),))


def test_a_missing_or_broken_memo_is_only_slower(tmp_path, fresh):
    expected = readings()
    fresh()
    pinyin.recall(tmp_path)  # none there
    (tmp_path / pinyin.MEMO_FILE).write_bytes(b"\xff not json")
    pinyin.recall(tmp_path)
    assert readings() == expected
