"""Strict, safe YAML reading and writing.

Records are written by people and by the web form, read by CI and kept for
years, so the reader accepts only plain data: one document, mappings,
sequences and scalars. Anchors, aliases, explicit tags, duplicate keys,
non-UTF-8 bytes, oversized files and nesting deeper than a file of its kind
can hold are errors that name the line.

The reader builds a small node tree from PyYAML's event stream (the libyaml
parser when available) instead of letting PyYAML construct objects, for two
reasons: PyYAML's constructor silently keeps the last of duplicate keys and
expands aliases, and the record loader must see the scalar *as written*, so
that ``no``, ``0123`` or ``2020-06-20`` in a text field stay text.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liaison.core.yamlsyntax import syntax_error

if TYPE_CHECKING:
    import yaml

MAX_FILE_BYTES = 256 * 1024
# Mappings and sequences inside one another: config.yaml's schema, the deepest file read here, has 8.
# A record has 2 at most (its mapping, and a list a cerberus rule refuses). Deeper input is refused
# while the events come, before anything recurses over it: 2,000 `[` would end in a RecursionError,
# and 100,000 unclosed ones keep libyaml busy for half a minute if it is asked for the whole list.
MAX_DEPTH = 10
RECORD_MAX_DEPTH = 2


class YamlError(Exception):
    """Input that is not acceptable YAML; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Scalar:
    value: str
    plain: bool  # written without quotes or block style: subject to implicit typing
    line: int


@dataclass(slots=True)
class Sequence:
    items: list[Node]
    line: int


@dataclass(slots=True)
class Mapping:
    items: dict[str, Node]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


Node = Scalar | Sequence | Mapping


def decode_yaml_bytes(data: bytes) -> str:
    """Bytes to text: size limit, UTF-8 only (a leading BOM is allowed)."""
    if len(data) > MAX_FILE_BYTES:
        raise YamlError(
            f"文件过大（超过 {MAX_FILE_BYTES // 1024} KB 的上限）。请检查是否误粘贴了大段内容或二进制数据。"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise YamlError(
            "文件不是 UTF-8 编码（可能是用 GBK 等编码保存的）。请用 UTF-8 编码重新保存该文件。",
            line,
        ) from None


def parse_yaml(text: str, max_depth: int = MAX_DEPTH) -> Node:
    """Parse one YAML document into a node tree, refusing anything but plain data nested at most ``max_depth`` deep."""
    flat = flat_mapping(text) if max_depth >= 1 else None
    if flat is not None:
        return flat
    yaml = _pyyaml().yaml
    builder = _TreeBuilder(max_depth)
    try:
        # Event by event: a refusal (depth, an alias) stops the parser where it is, and a syntax
        # error still surfaces here with its line.
        for event in yaml.parse(text, Loader=_pyyaml().loader):
            builder.add(event)
    except yaml.MarkedYAMLError as err:
        message, line = syntax_error(text, err)
        raise YamlError(message, line) from None
    except yaml.YAMLError:
        raise YamlError("YAML 格式错误：文件无法解析，请检查缩进、冒号和引号。") from None
    if builder.root is None:
        raise YamlError("文件是空的。", 1)
    return builder.root


# The common case read without libyaml: a record as the form writes it (``dump_record``), one
# ``key: value`` a line, each value plain, ``''`` or a literal block (``|-``) indented by two spaces.
# Turning libyaml's events into nodes costs more than the whole check of such a file otherwise.
# Anything else, however slightly different, gives None and goes to the event reader, which
# decides and words every error; both give the same tree (tests/test_fastpaths.py). No anchor,
# alias or tag can be written in this shape (it holds no ``&``, ``*`` or ``!`` outside text),
# nothing nests, and a character libyaml reads differently (a line break other than ``\n``, a
# control character, a tab, a BOM, a non-character) sends the whole file to the event reader.
@functools.cache
def _flat_patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """Compiled the first time a file is read (their character ranges take milliseconds to compile, and a
    run whose records are all remembered reads none)."""
    return (
        re.compile(r"[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"),
        re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (.+)"),
        # A plain scalar that starts with a letter, a digit or a non-ASCII character (no indicator) and holds
        # no ":" or "#" (so no ": " or " #"), ending where its line does, not in a space.
        re.compile(r"[0-9A-Za-z\xa0-\U0010ffff](?:[^ :#]| +[^ :#])*"),
    )


def flat_mapping(text: str) -> Mapping | None:
    """The tree of ``text`` when it is a flat mapping in the form's shape, else None (then ask libyaml)."""
    not_flat, flat_entry, flat_plain = _flat_patterns()
    if not text.endswith("\n") or not_flat.search(text):
        return None
    lines = text.split("\n")
    lines.pop()  # after the final newline
    items: dict[str, Node] = {}
    key_lines: dict[str, int] = {}
    count, at = len(lines), 0
    while at < count:
        entry = flat_entry.fullmatch(lines[at])
        if entry is None:
            return None
        key, value = entry.groups()
        if key in items:
            return None  # the event reader names the duplicate
        number = at + 1
        at += 1
        if value == "|-":
            scalar, at = _flat_block(lines, at, number)
            if scalar is None:
                return None
            items[key] = scalar
        elif value == "''":
            items[key] = Scalar("", False, number)
        elif flat_plain.fullmatch(value):
            items[key] = Scalar(value, True, number)
        else:
            return None
        key_lines[key] = number
    if not items:
        return None
    return Mapping(items, 1, key_lines)


def _flat_block(lines: list[str], at: int, number: int) -> tuple[Scalar | None, int]:
    """The literal block (``|-``) whose lines start at ``at``, and the index after it; None when unsure."""
    block = []
    while at < len(lines) and (not lines[at] or lines[at].startswith("  ")):
        content = lines[at][2:]
        if lines[at] and (not content or content.isspace()):
            return None, at  # a line of spaces only: its meaning in a block depends on more than this
        block.append(content)
        at += 1
    if not block or not block[0] or block[0][0] == " ":
        return None, at  # empty, or its indentation is not the two spaces this assumes
    while not block[-1]:
        block.pop()  # strip chomping: trailing empty lines are not part of the text
    return Scalar("\n".join(block), False, number), at


class _TreeBuilder:
    """Turns PyYAML's events into Scalar/Sequence/Mapping nodes, refusing what is not plain data."""

    def __init__(self, max_depth: int = MAX_DEPTH) -> None:
        self.stack: list[Any] = []  # open Sequence nodes, and (Mapping, pending key) pairs
        self.root: Node | None = None
        self.documents = 0
        self.max_depth = max_depth

    def add(self, event: yaml.Event) -> None:
        yaml = _pyyaml().yaml
        line = event.start_mark.line + 1
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlError("一个文件只能包含一个 YAML 文档，请删除“---”分隔的其他部分。", line)
            return
        _refuse_non_data(event, line)
        if isinstance(event, yaml.ScalarEvent):
            self.attach(Scalar(event.value, bool(event.implicit[0]) and not event.style, line), line)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)) and len(self.stack) >= self.max_depth:
            raise YamlError(
                f"列表或映射嵌套超过 {self.max_depth} 层（方括号“[”、花括号“{{”或缩进一层套一层）。"
                "这类文件用不到这么多层，请检查是否误粘贴了大量括号，删除多余的部分。",
                line,
            )
        elif isinstance(event, yaml.MappingStartEvent):
            node = Mapping({}, line)
            self.attach(node, line)
            self.stack.append((node, None))
        elif isinstance(event, yaml.SequenceStartEvent):
            node = Sequence([], line)
            self.attach(node, line)
            self.stack.append(node)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.stack.pop()

    def attach(self, node: Node, line: int) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        if isinstance(parent, Sequence):
            parent.items.append(node)
            return
        # Mapping: alternate key, value; a pending key is kept in the pair.
        mapping, pending = parent
        if pending is not None:
            mapping.items[pending] = node
            self.stack[-1] = (mapping, None)
            return
        if not isinstance(node, Scalar):
            raise YamlError("键必须是简单的文本，不能是列表或映射。", line)
        key = node.value
        if key in mapping.key_lines:
            first = mapping.key_lines[key]
            raise YamlError(
                f"键“{key}”重复出现（第一次在第 {first} 行）。每个键只能写一次，请删除多余的一处。",
                line,
            )
        mapping.key_lines[key] = line
        self.stack[-1] = (mapping, key)


def _refuse_non_data(event: yaml.Event, line: int) -> None:
    if isinstance(event, _pyyaml().yaml.AliasEvent):
        raise YamlError(f"不允许使用别名（*{event.anchor}）。请把内容直接写出来。", line)
    anchor = getattr(event, "anchor", None)
    if anchor is not None:
        raise YamlError(f"不允许使用锚点（&{anchor}）。请删除它。", line)
    tag = getattr(event, "tag", None)
    if tag is not None:
        raise YamlError(f"不允许使用标签 {tag}。请删除它，直接写值。", line)


def read_yaml_bytes(data: bytes, max_depth: int = MAX_DEPTH) -> Node:
    """Decode and parse; raises YamlError naming the line."""
    return parse_yaml(decode_yaml_bytes(data), max_depth)


class _PyYaml:
    """PyYAML and what this module makes of it, once: imported only when something needs it (libyaml's events,
    YAML's implicit types, writing YAML). A record in the form's shape is read without it, and a run whose
    records and project are all remembered in ``.cache/`` never loads it."""

    def __init__(self) -> None:
        import yaml

        self.yaml = yaml
        self.loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.dumper = _record_dumper(yaml)


_pyyaml = functools.cache(_PyYaml)


def scalar_to_python(node: Scalar) -> Any:
    """A scalar with YAML's usual (safe) implicit typing: for the roster and config."""
    if not node.plain:
        return node.value
    found = _pyyaml()
    tag = found.resolver.resolve(found.yaml.ScalarNode, node.value, (True, False))
    construct = found.constructor.yaml_constructors[tag]
    return construct(found.constructor, found.yaml.ScalarNode(tag, node.value))


def to_python(node: Node) -> Any:
    """The node tree as plain Python data with safe implicit typing."""
    if isinstance(node, Scalar):
        return scalar_to_python(node)
    if isinstance(node, Sequence):
        return [to_python(item) for item in node.items]
    return {key: to_python(value) for key, value in node.items.items()}


def line_of(node: Node, path: tuple) -> int:
    """The line of the value at ``path`` (keys and list indexes), or of its nearest parent."""
    line = node.line
    for step in path:
        if isinstance(node, Mapping) and step in node.items:
            line = node.key_lines.get(step, line)
            node = node.items[step]
        elif isinstance(node, Sequence) and isinstance(step, int) and 0 <= step < len(node.items):
            node = node.items[step]
            line = node.line
        else:
            break
    return line


def _record_dumper(yaml) -> type:
    class _RecordDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    _RecordDumper.add_representer(str, _represent_str)
    _RecordDumper.add_representer(datetime.date, _RecordDumper.represent_date)
    return _RecordDumper


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text as a literal block reads like the form; the emitter
    # falls back to a quoted style by itself when a block cannot hold the text.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def dump_mapping(data: dict[str, Any]) -> str:
    """YAML for a flat mapping, keys in the given order, no anchors, UTF-8 text kept readable."""
    found = _pyyaml()
    return found.yaml.dump(
        data,
        Dumper=found.dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
    )
