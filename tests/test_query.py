"""``build.py query``: the requirement's queries return exactly what a person would find by hand."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re

import pytest
import yaml
from conftest import PROJECT, record_data, records_by_hand, write_record


def by_hand(leader_id=None, start=None, end=None):
    return records_by_hand(PROJECT, leader_id, start, end)


def demo_dates():
    return sorted(
        {yaml.safe_load(p.read_text(encoding="utf-8"))["date"] for p in (PROJECT / "records").glob("*/*.yaml")}
    )


def as_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def roster():
    return yaml.safe_load((PROJECT / "roster.yaml").read_text(encoding="utf-8"))["leaders"]


def test_one_leader_over_a_range_matches_a_search_by_hand(run):
    leader = next(entry for entry in roster() if entry["name"] == "赵敏")
    dates = demo_dates()
    start, end = dates[len(dates) // 4], dates[3 * len(dates) // 4]
    got = as_json(
        run(
            PROJECT,
            "query",
            "--leader",
            "赵敏",
            "--from",
            start.isoformat(),
            "--to",
            end.isoformat(),
            "--format",
            "json",
        )
    )
    expected = by_hand(leader["id"], start, end)
    assert got == expected and len(got) >= 2


def test_every_leader_over_a_range_matches_a_search_by_hand(run):
    dates = demo_dates()
    start, end = dates[5], dates[-5]
    got = as_json(run(PROJECT, "query", "--from", start.isoformat(), "--to", end.isoformat(), "--format", "json"))
    assert got == by_hand(None, start, end)
    assert [r["date"] for r in got] == sorted(r["date"] for r in got)


def test_newest_first_is_the_reverse(run):
    ascending = as_json(run(PROJECT, "query", "--format", "json"))
    descending = as_json(run(PROJECT, "query", "--order", "desc", "--format", "json"))
    assert descending == list(reversed(ascending)) and len(ascending) == len(by_hand())


def test_json_objects_carry_the_id_and_every_key_of_the_record(run):
    got = as_json(run(PROJECT, "query", "--format", "json"))
    keys = list(yaml.safe_load((PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8")))
    assert all(list(obj) == ["id", *keys] for obj in got)


def test_a_semester_query_uses_the_configured_calendar(run):
    config = yaml.safe_load((PROJECT / "config.yaml").read_text(encoding="utf-8"))
    spring_start = config["semester_starts"]["2025-2026-2"]
    got = as_json(run(PROJECT, "query", "--semester", "2025-2026-1", "--format", "json"))
    assert got == by_hand(None, datetime.date(2025, 8, 1), spring_start - datetime.timedelta(days=1))


def test_a_shared_name_lists_both_and_leader_id_picks_one(run):
    namesakes = [entry for entry in roster() if entry["name"] == "张伟"]
    assert len(namesakes) == 2
    result = run(PROJECT, "query", "--leader", "张伟")
    assert result.exit_code != 0
    for entry in namesakes:
        assert entry["id"] in result.output and entry["department"] in result.output
    chosen = namesakes[1]
    got = as_json(run(PROJECT, "query", "--leader", "张伟", "--leader-id", chosen["id"], "--format", "json"))
    assert got == by_hand(chosen["id"]) and got


def test_an_unknown_name_suggests_close_ones(run):
    result = run(PROJECT, "query", "--leader", "赵")
    assert result.exit_code != 0
    assert "没有叫“赵”" in result.output and "赵敏" in result.output


def test_table_shows_every_field_label_of_each_record(run):
    result = run(PROJECT, "query", "--leader", "阿依古丽·买买提", "--semester", "2025-2026-1")
    assert result.exit_code == 0
    labels = [
        entry["meta"]["label"]
        for entry in yaml.safe_load((PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8")).values()
    ]
    blocks = re.split(r"━━ \d+/\d+ ━━", result.output)[1:]
    assert len(blocks) >= 2
    for block in blocks:
        assert all(f"{label}：" in block for label in labels)


def test_csv_header_uses_labels_and_cells_never_start_a_formula(repo, run):
    write_record(repo, record_data(remarks='=HYPERLINK("http://x")', feedback="+1", place="@家"))
    result = run(repo, "query", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "记录编号" and "联系时间" in rows[0]
    values = rows[1]
    assert not any(value.startswith(("=", "+", "-", "@")) for value in values)
    assert '\'=HYPERLINK("http://x")' in values


def test_records_with_problems_are_left_out_with_a_warning(repo, run):
    write_record(repo, record_data(content="第一次"), suffix="111111")
    write_record(repo, record_data(content="第二次", leader="别人"), suffix="222222")
    result = run(repo, "query", "--format", "json")
    assert result.exit_code == 1  # a problem in the data fails every command; the output is still written
    assert [r["content"] for r in json.loads(result.stdout)] == ["第一次"]
    assert "1 个记录文件存在问题" in result.stderr


@pytest.mark.parametrize(
    "args, word",
    [
        (["--semester", "2025-2026-9"], "格式不对"),
        (["--from", "2025-02-01", "--to", "2025-01-01"], "对调"),
        (["--leader-id", "NOPE"], "没有工号"),
    ],
)
def test_bad_arguments_are_clear_errors(run, args, word):
    result = run(PROJECT, "query", *args)
    assert result.exit_code != 0 and word in result.output
