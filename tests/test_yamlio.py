"""The strict YAML reader refuses everything but plain data, and the writer round-trips any text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.core import yamlio

_RECORD_WITH_UNCLOSED_QUOTE = (
    "leader_id: T1\nleader: 赵敏\ndepartment: 学工处\nposition: 处长\ndate: 2024-09-15\n"
    'place: "图书馆\nsize: 3\ntarget: 班级\nstudent_contact: 李\ncontent: |\n  第一段\n  第二段\n'
    "feedback: 无\nremarks: 无\n"
)

HOSTILE = [
    # (case, text, expected line, a word the message must contain)
    ("duplicate key", "a: 1\nb: 2\na: 3\n", 3, "重复"),
    ("anchor", "a: &x 1\nb: 2\n", 1, "锚点"),
    ("alias", "a: 1\nb: *x\n", 2, "别名"),
    ("anchor on a mapping", "a: &m\n  x: 1\nb: 2\n", 1, "锚点"),
    ("python tag", "a: 1\nb: !!python/object:os.system ls\n", 2, "标签"),
    ("custom tag", "a: !foo bar\n", 1, "标签"),
    ("standard tag", "a: !!str 12\n", 1, "标签"),
    ("two documents", "a: 1\n---\nb: 2\n", 2, "一个 YAML 文档"),
    ("syntax error", "a: 1\nb: [unclosed\nc: 3\n", 2, "括号"),
    ("bad indentation", "a:\n  b: 1\n c: 2\n", 3, "格式错误"),
    # Mistakes people make by hand: the line where the mistake is, and its likely cause.
    ("unclosed quote, reported at the end by the parser", _RECORD_WITH_UNCLOSED_QUOTE, 6, "引号没有配对"),
    (
        "unclosed quote closed by a later quote",
        'a: 1\nplace: "图书馆\nsize: 3\ncontent: "abc"\nx: 1\n',
        2,
        "引号没有配对",
    ),
    ("unclosed single quote", "a: 'abc\nb: 2\n", 1, "引号没有配对"),
    ("full-width colon", "leader_id: T1\nplace：图书馆\nsize: 3\n", 2, "全角"),
    ("full-width colon on the last line", "leader_id: T1\nplace：图书馆\n", 2, "全角"),
    ("tab indentation", "a:\n  b: 1\n\tc: 2\n", 3, "Tab"),
    ("tab before a nested key", "a:\n\tb: 1\n", 2, "Tab"),
    ("key without colon", "a: 1\nb\nc: 2\n", 2, "缺少冒号"),
    ("colon and space inside a value", "place: 会议室: 101\n", 1, "加上引号"),
    ("backslash in double quotes", 'a: "c:\\d"\n', 1, "反斜杠"),
    ("empty file", "", 1, "空"),
    ("only a comment", "# nothing\n", 1, "空"),
]


@pytest.mark.parametrize("case, text, line, word", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_yaml_is_an_error_naming_the_line(case, text, line, word):
    with pytest.raises(yamlio.YamlError) as info:
        yamlio.read_yaml_bytes(text.encode("utf-8"))
    assert info.value.line == line
    assert word in info.value.message
    parser_english = re.compile(r"\b(found|expected|while|scanning|parsing|could not|stream|token|allowed)\b")
    assert not parser_english.search(info.value.message), "the parser's English must not reach the user"


def test_non_utf8_bytes_name_the_line():
    data = "a: 1\nb: 2\nc: 联系内容\n".encode("gbk")
    with pytest.raises(yamlio.YamlError) as info:
        yamlio.read_yaml_bytes(data)
    assert info.value.line == 3
    assert "UTF-8" in info.value.message


def test_a_utf8_byte_order_mark_is_accepted():
    node = yamlio.read_yaml_bytes("\ufeffa: 联系\n".encode("utf-8"))
    assert node.items["a"].value == "联系"


def test_oversized_file_is_refused_before_parsing():
    data = b"a: " + b"x" * (yamlio.MAX_FILE_BYTES + 1)
    with pytest.raises(yamlio.YamlError) as info:
        yamlio.read_yaml_bytes(data)
    assert "过大" in info.value.message


def test_scalars_keep_their_written_text_and_line():
    node = yamlio.read_yaml_bytes(b"a: no\nb: '0123'\nc: 1:30\nd: 1e3\ne: null\nf: 2020-06-20\ng:\n")
    values = {k: (v.value, v.plain, v.line) for k, v in node.items.items()}
    assert values == {
        "a": ("no", True, 1),
        "b": ("0123", False, 2),
        "c": ("1:30", True, 3),
        "d": ("1e3", True, 4),
        "e": ("null", True, 5),
        "f": ("2020-06-20", True, 6),
        "g": ("", True, 7),
    }


def test_to_python_types_plain_scalars_like_safe_load():
    import yaml

    text = "a: no\nb: '0123'\nc: 12\nd: 2020-06-20\ne: [1, x]\nf: {g: true}\n"
    assert yamlio.to_python(yamlio.read_yaml_bytes(text.encode())) == yaml.safe_load(text)


def test_line_of_follows_keys_and_indexes():
    node = yamlio.read_yaml_bytes(b"leaders:\n  - id: a\n    name: b\n  - id: c\n    name: d\n")
    assert yamlio.line_of(node, ("leaders", 1, "name")) == 5
    assert yamlio.line_of(node, ("leaders", 1, "missing")) == 4


EXAMPLES = [
    "𠀾",
    "阿依古丽·买买提",
    "= 1+1",
    "-1",
    "- item",
    "@admin",
    "'quoted'",
    '"double"',
    "a: b",
    "#hash",
    "trailing  ",
    "  leading",
    "line\nbreaks\n",
    "\n\nblank first",
    "no",
    "0123",
    "1:30",
    "1e3",
    "null",
    "~",
    "2020-06-20",
    "",
    "|",
    ">",
    "!tag",
    "&anchor",
    "*alias",
    "%",
    "`",
    "\t tab",
    "a\r\nb",
    "\u3000全角空格",
]


def _roundtrip(value: str) -> str:
    text = yamlio.dump_mapping({"remarks": value})
    assert "&" not in text.split(":", 1)[0]
    return yamlio.read_yaml_bytes(text.encode("utf-8")).items["remarks"].value


@pytest.mark.parametrize("value", EXAMPLES)
def test_writer_round_trips_awkward_text(value):
    assert _roundtrip(value) == value


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_writer_round_trips_any_text(value):
    assert _roundtrip(value) == value


def test_writer_never_emits_anchors_for_repeated_values():
    shared = "同一段文字"
    text = yamlio.dump_mapping({"a": shared, "b": shared, "c": [shared, shared]})
    assert "&" not in text and "*" not in text
    yamlio.read_yaml_bytes(text.encode())  # and it reads back under the strict rules
