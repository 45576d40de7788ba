"""The fast paths of ``check`` give exactly what the full machinery gives (issue 29).

A record in the form's shape is read without libyaml's events (``yamlio.flat_mapping``)
and validated without cerberus (``schema._Passes``); anything else goes the long way,
which decides and words every problem. These tests hold each fast path to its reference
on the demo's records, on records made from any typed text, on fuzzed files and on the
bad records of the other tests: the same tree, the same verdict, the same problems.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, SCHEMA, record_data, replace_field
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_check import BROKEN
from test_records import typed_text
from test_yamlio import HOSTILE

from liaison.core import yamlio
from liaison.core.records import dump_record, new_record_id, parse_record, record_path
from liaison.outputs.auditlog import flat_json

TODAY = datetime.date(2026, 11, 24)
DEMO = sorted((PROJECT / "records").rglob("*.yaml"))


def events_tree(text: str, max_depth: int = yamlio.RECORD_MAX_DEPTH):
    """The tree libyaml's events give (the reader's long way), or the YamlError it raises."""
    builder = yamlio._TreeBuilder(max_depth)
    try:
        for event in yaml.parse(text, Loader=yamlio._pyyaml().loader):
            builder.add(event)
    except (yaml.YAMLError, yamlio.YamlError) as error:
        return type(error).__name__
    return builder.root


def same_tree(text: str) -> bool:
    """The fast reader gives the events' tree, or declines; it never gives another tree."""
    fast = yamlio.flat_mapping(text)
    return fast is None or fast == events_tree(text)


def parse_both_ways(path: str, raw: bytes, today=TODAY, monkeypatch=None):
    fast = parse_record(path, raw, SCHEMA, today)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamlio, "flat_mapping", lambda text: None)
        patch.setattr(SCHEMA, "_passes", None)
        slow = parse_record(path, raw, SCHEMA, today)
    return fast, slow


def path_of(data: dict) -> str:
    day = data.get("date") if isinstance(data.get("date"), datetime.date) else datetime.date(2024, 9, 15)
    return record_path(new_record_id(day, str(data.get("leader_id", "T1")), "abc123"))


@pytest.mark.parametrize("path", DEMO, ids=[p.name for p in DEMO])
def test_every_demo_record_reads_and_checks_the_same_both_ways(path):
    raw = path.read_bytes()
    rel = path.relative_to(PROJECT).as_posix()
    fast, slow = parse_both_ways(rel, raw)
    assert fast == slow
    assert same_tree(raw.decode("utf-8"))


def test_the_fast_paths_take_the_common_case():
    """Else the equality above would hold by never taking them."""
    text = dump_record(record_data(), SCHEMA)
    assert yamlio.flat_mapping(text) is not None
    taken = [p for p in DEMO if yamlio.flat_mapping(p.read_text(encoding="utf-8")) is not None]
    assert len(taken) >= len(DEMO) * 0.9
    assert SCHEMA._passes is not None and SCHEMA._passes(record_data(), TODAY)


BAD_TEXTS = [text for _, text, *_ in BROKEN] + [text for _, text, *_ in HOSTILE]
GOOD = dump_record(record_data(), SCHEMA)
# Small changes to a good file, each of which YAML or the schema reads differently from the form's shape.
EDITS = [
    ("size", "size: 50 # 人"),
    ("size", "size: 050"),
    ("size", "size: 0x32"),
    ("size", "size: 5_0"),
    ("size", "size: true"),
    ("size", "size: '50'"),
    ("size", "size: 0"),
    ("size", "size: 100001"),
    ("date", "date: 2024-09-15 "),
    ("date", "date: 1999-12-31"),
    ("date", "date: 2099-01-01"),
    ("date", "date: 2024-9-15"),
    ("date", "date: 2024-09-15T10:00:00"),
    ("place", "place: a:b"),
    ("place", "place: a: b"),
    ("place", "place: 图书馆 #101"),
    ("place", "place: 图书馆  101"),
    ("place", "place: ~"),
    ("place", "place: null"),
    ("place", "place: ''"),
    ("place", "place: '  '"),
    ("place", "place:    "),
    ("place", "place:"),
    ("place", "place: |-\n  "),
    ("place", "place: |-\n   图书馆"),
    ("place", "place: |-\n  图书馆\n   101"),
    ("place", "place: |-\n  图书馆\n \n  101"),
    ("place", "place: |-\n\n  图书馆"),
    ("place", "place: |\n  图书馆"),
    ("place", "place: >-\n  图书馆"),
    ("place", "place: |-\n  图书馆\n  101"),
    ("place", "place: 图书馆\n  101"),
    ("place", "place: \u3000图书馆\u3000"),
    ("place", "place: 图书馆\u200b"),
    ("place", "place: 图\u2028书馆"),
    ("place", "place: 图\x85书馆"),
    ("place", "place: 图\ufeff书馆"),
    ("place", "place: 图\t书馆"),
    ("place", "place: " + "长" * 201),
    ("leader_id", "leader_id: T1\n"),
    ("leader_id", "leader_id: T-1"),
    ("leader_id", "leader_id: 'T1\n'"),
    ("remarks", "remarks: |-\n  a\n\n\n"),
    ("remarks", "---\nremarks: ''"),
    ("remarks", "remarks: ''\n..."),
    ("remarks", "remarks: ''\n# 注释"),
    ("remarks", "remarks: ''\nplace: 重复"),
    ("remarks", "remarks: ''\nsignature: 赵某"),
    ("remarks", "remarks: ''\n- 列表"),
    ("content", "content: |-\n  第一段\n  key: value # 不是注释\n  ---\n    缩进"),
]


@pytest.mark.parametrize("text", BAD_TEXTS + [replace_field(GOOD, key, line) for key, line in EDITS])
def test_every_bad_record_reads_and_checks_the_same_both_ways(text):
    for path in (path_of(record_data()), "records/2024/x.yaml"):
        fast, slow = parse_both_ways(path, text.encode("utf-8"))
        assert fast == slow
    assert same_tree(text)


one_line = typed_text.map(lambda s: s.replace("\n", " "))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200_000),
    st.dates(datetime.date(1990, 1, 1), datetime.date(2030, 12, 31)),
    typed_text,
    st.sampled_from(["", " ", "T1", "T1\n", "T-1", "赵某", "\u200b", "a\u200db", "\U0001f468\u200d\U0001f469"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replaced=st.dictionaries(st.sampled_from([f.key for f in SCHEMA.fields] + ["signature"]), VALUES, max_size=4),
    dropped=st.sets(st.sampled_from([f.key for f in SCHEMA.fields]), max_size=2),
    today=st.sampled_from([None, datetime.date(2024, 9, 14), TODAY]),
)
def test_the_fast_validator_never_passes_what_cerberus_refuses(replaced, dropped, today):
    data = {k: v for k, v in record_data(**replaced).items() if k not in dropped}
    expected = SCHEMA.validate_with_cerberus(data, today)
    assert SCHEMA.validate(data, today) == expected
    if SCHEMA._passes(data, today):
        assert expected == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=one_line,
    target=one_line,
    content=typed_text,
    feedback=typed_text,
    remarks=typed_text,
    size=st.integers(-3, 100_003),
    day=st.dates(datetime.date(1999, 12, 30), datetime.date(2026, 11, 26)),
)
def test_records_of_any_typed_text_read_and_check_the_same_both_ways(
    place, target, content, feedback, remarks, size, day
):
    data = record_data(place=place, target=target, content=content, feedback=feedback, remarks=remarks, size=size)
    data["date"] = day
    text = dump_record(data, SCHEMA)
    fast, slow = parse_both_ways(path_of(data), text.encode("utf-8"))
    assert fast == slow
    assert same_tree(text)


# Lines of the form's shape and near it: keys, values and block lines, put together at random.
LINE = st.one_of(
    st.sampled_from(["place", "size", "date", "remarks", "a", "_x", "place ", "1a"]).flatmap(
        lambda key: st.sampled_from([": ", ":", ":  ", " : "]).flatmap(
            lambda colon: st.one_of(
                st.sampled_from(["|-", "|", "|+", "|2-", ">-", "''", "'a'", '""', "~", "50", "2024-09-15"]),
                st.text(alphabet="图a1 :#-'\"|>!&*%@`,[]{}\t\u3000\u2028\x85\ufeff", max_size=6),
            ).map(lambda value, key=key, colon=colon: f"{key}{colon}{value}")
        )
    ),
    st.text(alphabet="  图a:#-\t'", max_size=6).map(lambda rest: "  " + rest),
    st.sampled_from(["", " ", "   ", "---", "...", "# c", "- a", "\t"]),
)


# 1500 is what this needs: a file wholly in the form's shape, where the fast reader could go wrong, is rare among
# these; a reader that let any character start a plain value was caught under 6 of 6 seeds at 1500, 4 of 6 at 300.
@pytest.mark.early
@settings(max_examples=1500, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=8), st.booleans())
def test_fuzzed_files_near_the_forms_shape_give_the_same_tree_or_go_the_long_way(lines, final_newline):
    text = "\n".join(lines) + ("\n" if final_newline else "")
    assert same_tree(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_after_a_good_record_gives_the_same_tree_or_goes_the_long_way(tail):
    assert same_tree(GOOD + tail)
    assert same_tree(GOOD.replace("place: ", "place: " + tail.replace("\n", " "), 1))


def test_an_alias_or_a_deep_list_still_goes_the_long_way():
    """The hostile-input limits stay where the fast reader declines: it never sees a nesting or an alias."""
    for text in ("a: *x\n", "a: [[[1]]]\n", "a:\n  - - - 1\n", "a: &x 1\n", "a: !!str 1\n"):
        assert yamlio.flat_mapping(text) is None
    with pytest.raises(yamlio.YamlError, match="嵌套"):
        yamlio.read_yaml_bytes(b"a: [[[1]]]\n", yamlio.RECORD_MAX_DEPTH)


def test_the_demo_check_of_the_command_line_is_unchanged(run):
    result = run(Path(PROJECT), "check")
    assert result.exit_code == 0, result.output


# 60, not 300: the writer has four ways (no row, an empty row, a row it leaves to json, rows it joins), each taken
# within the first examples; a writer broken in the empty-row check or in the join between rows failed here within
# 20 examples under each of 20 seeds (the other tests' counts were measured too, and need theirs).
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.text(max_size=8),
            st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans(), st.floats()),
            max_size=5,
        ),
        max_size=4,
    )
)
def test_the_audit_s_json_writer_gives_json_s_own_text(rows):
    assert flat_json(rows) == json.dumps(rows, ensure_ascii=False, indent=2)
