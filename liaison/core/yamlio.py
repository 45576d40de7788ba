"""Strict, safe YAML reading and writing.

Records are written by people and by the web form, read by CI and kept for
years, so the reader accepts only plain data: one document, mappings,
sequences and scalars. Anchors, aliases, explicit tags, duplicate keys,
non-UTF-8 bytes and oversized files are errors that name the line.

The reader builds a small node tree from PyYAML's event stream (the libyaml
parser when available) instead of letting PyYAML construct objects, for two
reasons: PyYAML's constructor silently keeps the last of duplicate keys and
expands aliases, and the record loader must see the scalar *as written*, so
that ``no``, ``0123`` or ``2020-06-20`` in a text field stay text.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

MAX_FILE_BYTES = 256 * 1024


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
            f"文件过大（{len(data) // 1024} KB，上限 {MAX_FILE_BYTES // 1024} KB）。"
            "请检查是否误粘贴了大段内容或二进制数据。"
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


def parse_yaml(text: str) -> Node:  # noqa: C901, PLR0915 - split pending (issue 19)
    """Parse one YAML document into a node tree, refusing anything but plain data."""
    events = _events(text)
    stack: list[Any] = []  # open Mapping/Sequence nodes, plus pending keys
    root: Node | None = None
    documents = 0

    def attach(node: Node, line: int) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent, Sequence):
            parent.items.append(node)
            return
        # Mapping: alternate key, value; a pending key is kept as a tuple.
        mapping, pending = parent
        if pending is None:
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
            stack[-1] = (mapping, key)
        else:
            mapping.items[pending] = node
            stack[-1] = (mapping, None)

    for event in events:
        line = event.start_mark.line + 1
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlError("一个文件只能包含一个 YAML 文档，请删除“---”分隔的其他部分。", line)
            continue
        if isinstance(event, yaml.AliasEvent):
            raise YamlError(f"不允许使用别名（*{event.anchor}）。请把内容直接写出来。", line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlError(f"不允许使用锚点（&{anchor}）。请删除它。", line)
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise YamlError(f"不允许使用标签 {tag}。请删除它，直接写值。", line)
        if isinstance(event, yaml.ScalarEvent):
            attach(Scalar(event.value, bool(event.implicit[0]) and not event.style, line), line)
        elif isinstance(event, yaml.MappingStartEvent):
            node = Mapping({}, line)
            attach(node, line)
            stack.append((node, None))
        elif isinstance(event, yaml.SequenceStartEvent):
            node = Sequence([], line)
            attach(node, line)
            stack.append(node)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
    if root is None:
        raise YamlError("文件是空的。", 1)
    return root


def _events(text: str):
    try:
        # Materialise so that syntax errors surface here, with their line.
        return list(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        detail = err.problem or err.context or ""
        raise YamlError(
            f"YAML 格式错误（{detail}）。请检查这一行及上一行的缩进、冒号和引号是否成对。",
            mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise YamlError(f"YAML 格式错误（{err}）。") from None


def read_yaml_bytes(data: bytes) -> Node:
    """Decode and parse; raises YamlError naming the line."""
    return parse_yaml(decode_yaml_bytes(data))


_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


def scalar_to_python(node: Scalar) -> Any:
    """A scalar with YAML's usual (safe) implicit typing: for the roster and config."""
    if not node.plain:
        return node.value
    tag = _resolver.resolve(yaml.ScalarNode, node.value, (True, False))
    construct = _constructor.yaml_constructors[tag]
    return construct(_constructor, yaml.ScalarNode(tag, node.value))


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


class _RecordDumper(_Dumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text as a literal block reads like the form; the emitter
    # falls back to a quoted style by itself when a block cannot hold the text.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RecordDumper.add_representer(str, _represent_str)
_RecordDumper.add_representer(datetime.date, _RecordDumper.represent_date)


def dump_mapping(data: dict[str, Any]) -> str:
    """YAML for a flat mapping, keys in the given order, no anchors, UTF-8 text kept readable."""
    return yaml.dump(
        data,
        Dumper=_RecordDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
    )
