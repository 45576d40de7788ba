"""A YAML syntax error as a person can act on it: the line that is really wrong and the likely cause, in Chinese.

PyYAML reports where the parser gave up, in English: an unclosed quote on
line 6 is "found unexpected end of stream" at the last line, and
``place：图书馆`` (a full-width colon, easy to type with a Chinese input
method) is "could not find expected ':'" one line later. The parser's marks
and a look at the text find the line where the mistake was made.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml

PREFIX = "YAML 格式错误："
FULL_WIDTH_COLON = "这一行用了中文（全角）冒号“：”。键和值之间要用英文冒号加一个空格，如 place: 图书馆。"
UNCLOSED_QUOTE = "引号没有配对，这一行的值以引号开头却没有对应的结束引号。请补上结束引号，或去掉开头的引号。"
TAB_INDENT = "这一行用 Tab 键缩进了。YAML 只能用空格缩进，请把 Tab 换成空格（通常是两个空格）。"
MISSING_COLON = "这一行缺少冒号。每一行应写成“键: 值”（英文冒号后加一个空格）。"
EXTRA_COLON = '这一行的值里含有“冒号加空格”，会被当作新的键。请给整个值加上引号，如 place: "会议室: 101"。'
INDENT = "这一行的缩进和上下文不一致。同一层的键要左对齐，用空格缩进。"
BRACKET = "方括号或花括号没有配对。请补上结束的括号，或给整个值加上引号。"
ESCAPE = "双引号里的反斜杠“\\”被当作转义符。请改用单引号，或把反斜杠写成两个“\\\\”。"
RESERVED = "这一行的值以 @、` 等特殊字符开头。请给整个值加上引号。"
GENERAL = "请检查这一行及上一行的缩进、冒号和引号是否成对。"

_KEY_WITH_FULL_WIDTH_COLON = re.compile(r"^\s*(- +)?[^\s:#\"'][^:#]*?\s*：")


def syntax_error(text: str, err: yaml.MarkedYAMLError) -> tuple[str, int | None]:
    """(message, 1-based line) for a YAML syntax error in ``text``."""
    lines = text.split("\n")
    problem = err.problem or ""
    context = err.context or ""
    at = err.problem_mark.line if err.problem_mark else None
    since = err.context_mark.line if err.context_mark else at
    for check in (_full_width_colon, _quote, _tab):
        found = check(lines, problem, context, since, at)
        if found is not None:
            return PREFIX + found[0], found[1] + 1
    cause = _cause(problem, context)
    if cause is EXTRA_COLON and at is not None and _indent_changed(lines, at):
        cause = INDENT
    line = since if cause in (BRACKET, ESCAPE, MISSING_COLON) else at
    return PREFIX + cause, (line + 1 if line is not None else None)


def _full_width_colon(lines, problem, context, since, at):
    """A key followed by a full-width colon, at or before where the parser stopped."""
    end = at if at is not None else len(lines) - 1
    start = since if since is not None else 0
    for index in range(min(start, end), end + 1):
        line = lines[index] if index < len(lines) else ""
        if _KEY_WITH_FULL_WIDTH_COLON.match(line) and ": " not in line and not line.rstrip().endswith(":"):
            return FULL_WIDTH_COLON, index
    return None


def _quote(lines, problem, context, since, at):
    if "quoted scalar" in context and "escape" not in problem and since is not None:
        return UNCLOSED_QUOTE, since
    end = at if at is not None else len(lines) - 1
    for index in range(min(end + 1, len(lines))):
        if _opens_quote_without_closing(lines[index]):
            return UNCLOSED_QUOTE, index
    return None


def _opens_quote_without_closing(line: str) -> bool:
    _, colon, value = line.partition(": ")
    value = value.strip() if colon else line.strip().removeprefix("- ").strip()
    if value[:1] == '"':
        return len(re.findall(r'(?<!\\)"', value)) % 2 == 1
    if value[:1] == "'":
        return value.count("'") % 2 == 1
    return False


def _tab(lines, problem, context, since, at):
    if "tab" not in problem and "cannot start any token" not in problem:
        return None
    for index in (at, since):
        if index is not None and index < len(lines) and "\t" in _leading_space(lines[index]):
            return TAB_INDENT, index
    return None


def _leading_space(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _cause(problem: str, context: str) -> str:
    if "mapping values are not allowed" in problem:
        return EXTRA_COLON
    if "could not find expected ':'" in problem:
        return MISSING_COLON
    if "flow sequence" in context or "flow mapping" in context:
        return BRACKET
    if "escape" in problem:
        return ESCAPE
    if "cannot start any token" in problem:
        return RESERVED
    if "expected <block end>" in problem or "did not find expected key" in problem or "block" in context:
        return INDENT
    return GENERAL


def _indent_changed(lines: list[str], at: int) -> bool:
    """Whether line ``at`` is indented differently from the line before it (not a value with a colon)."""
    if at == 0 or at >= len(lines):
        return False

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    previous = next((lines[i] for i in range(at - 1, -1, -1) if lines[i].strip()), "")
    return indent(lines[at]) > indent(previous) and not previous.rstrip().endswith(":")
