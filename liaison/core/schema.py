"""The schemas in ``schema/``: fields, Chinese labels, and validation with Chinese messages.

``schema/record.yaml`` is the single list of a record's fields. Everything
that shows or checks a field (the checker here; the form, PDF, workbook and
site later) asks a :class:`Schema` for its fields, labels and order.
"""

from __future__ import annotations

import datetime
import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liaison.core import yamlio

# What no one types on purpose: control characters (tab and, in long text, newline
# aside) break PDFs, workbooks and terminals; bidi overrides and isolates make a
# reviewer read text in another order than it is stored (the "Trojan Source"
# trick); zero-width characters and U+FEFF hide differences in the diff.
# Tab stays: it comes with a table pasted from a document, on purpose.
# U+200D (zero-width joiner) stays between emoji, where it joins a family or a flag.
_UNWANTED = (
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    r"\u2060-\u2064\u2066-\u2069\u206a-\u206f\ufeff\ufff9-\ufffb]"
)
_CHARACTER_NAMES = {
    "\n": "换行",
    "\r": "回车",
    "\u00ad": "软连字符",
    "\u200b": "零宽空格",
    "\u200c": "零宽不连字",
    "\u200d": "零宽连字",
    "\u200e": "从左至右标记",
    "\u200f": "从右至左标记",
    "\u2060": "零宽不换行",
    "\ufeff": "字节顺序标记（BOM）",
    "\u2028": "行分隔符",
    "\u2029": "段分隔符",
}


@functools.cache
def _unwanted() -> re.Pattern:
    return re.compile(_UNWANTED)  # when first needed: a run whose records are all remembered validates none


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or ch in "\ufe0f\u2640\u2642\u2695\u2708\u2764" or "\u2600" <= ch <= "\u27bf"


def unwanted_character(text: str, multiline: bool) -> tuple[int, str] | None:
    """The first character in ``text`` that no one types on purpose: (its 1-based position, its name), or None.

    The one rule for the form and ``build.py check``: newline is allowed only
    in long text (``multiline``); a zero-width joiner only between emoji.
    """
    for match in _unwanted().finditer(text):
        ch, at = match.group(), match.start()
        if ch == "\n" and multiline:
            continue
        if ch == "\u200d" and 0 < at < len(text) - 1 and _is_emoji(text[at - 1]) and _is_emoji(text[at + 1]):
            continue
        if "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" or ch == "\u061c":
            name = "双向文字控制符"
        else:
            name = _CHARACTER_NAMES.get(ch, "控制字符")
        return at + 1, f"U+{ord(ch):04X} {name}"
    return None


_TYPE_NAMES = {
    "string": "文本",
    "integer": "整数",
    "date": "日期（年-月-日，如 2024-09-15）",
    "boolean": "true 或 false",
    "list": "列表",
    "dict": "映射（键: 值）",
}


@dataclass(frozen=True)
class Field:
    """One field of a schema, as people see it."""

    key: str
    label: str
    order: int
    type: str
    required: bool
    widget: str
    source: str
    hint: str
    internal: bool
    print: str  # cell, row or block: its place on the PDF form; '' when not printed
    whole: bool  # a name: printed whole on one line, never wrapped
    rules: dict
    aliases: tuple[str, ...] = ()  # other headers meaning this field, for importing spreadsheets

    @property
    def is_text(self) -> bool:
        return self.type == "string"


@dataclass(frozen=True)
class FieldError:
    """A validation failure: the path of the value (keys, list indexes) and a Chinese message."""

    path: tuple
    message: str


@functools.cache
def _cerberus() -> tuple[type, type]:
    """cerberus' validator with the project's rules, and an error handler that keeps its errors as they are.

    Made the first time cerberus must decide: a record the compiled check
    passes, and a project remembered in ``.cache/``, never need it (importing
    cerberus is a tenth of a warm ``check``).
    """
    import cerberus
    from cerberus import errors as cerberus_errors

    class _Validator(cerberus.Validator):
        """cerberus with the project's custom rules.

        ``today`` is set by :meth:`Schema.validate` so that "not in the future"
        is decided by the caller's clock (China time), which tests can fix.
        """

        today: datetime.date | None = None

        def _validate_plain_text(self, constraint, field, value):
            """{'type': 'boolean'}"""
            if constraint and isinstance(value, str):
                rules = self.schema.get(field, {}) if self.schema else {}
                multiline = (rules.get("meta") or {}).get("widget") == "textarea"
                found = unwanted_character(value, multiline)
                if found:
                    self._error(field, hidden_character(*found))

        def _validate_not_blank(self, constraint, field, value):
            """{'type': 'boolean'}"""
            if constraint and isinstance(value, str) and value and not value.strip():
                self._error(field, "只有空格，等于没有填写，请填写实际内容。")

        def _validate_not_future(self, constraint, field, value):
            """{'type': 'boolean'}"""
            if constraint and self.today and isinstance(value, datetime.date) and value > self.today:
                self._error(field, in_future(value.isoformat(), self.today.isoformat()))

    class _KeepErrors(cerberus_errors.BaseErrorHandler):
        """Return cerberus's error objects as they are; :meth:`Schema._message` words them."""

        def __call__(self, errors):
            return list(errors)

    return _Validator, _KeepErrors


_FLAGS = (
    ("required", False),
    ("empty", True),
    ("nullable", False),
    ("plain_text", False),
    ("not_blank", False),
    ("not_future", False),
)


class _Passes:
    """Whether a document surely passes a flat schema: True only when cerberus would find nothing wrong.

    cerberus walks its whole machinery for every value (about a tenth of a
    millisecond a record, most of an uncached ``check``), though almost every
    record is valid. This is compiled once from the same rules and answers
    the common case; whenever it says False, cerberus decides and words the
    messages, so it may be unsure but never lenient. It is made only for a
    schema of top-level fields whose every rule it knows (else
    :meth:`compile` gives None and cerberus does all the work), and each
    check errs on the strict side of cerberus's: ``integer`` only an int
    that is no bool, ``date`` only a date that is no datetime, a ``regex``
    matching the whole value (cerberus lets a trailing newline through).
    """

    _KNOWN = frozenset(
        {"type", "required", "empty", "nullable", "maxlength", "regex", "min", "max", "meta"}
        | {"plain_text", "not_blank", "not_future"}
    )
    _TYPES = {"string": str, "integer": int, "date": datetime.date}

    def __init__(self, fields: dict[str, tuple]):
        self.fields = fields
        self.required = frozenset(key for key, field in fields.items() if field[1])

    @classmethod
    def compile(cls, rules: dict) -> _Passes | None:
        """The check for ``rules``; None when a rule or a value is not of the kinds it knows."""
        fields = {}
        for key, rule in rules.items():
            field = cls._field(rule) if isinstance(rule, dict) and cls._KNOWN.issuperset(rule) else None
            if field is None:
                return None
            fields[key] = field
        return cls(fields)

    @classmethod
    def _field(cls, rule: dict) -> tuple | None:
        kind = cls._TYPES.get(rule.get("type"))
        flags = [rule.get(name, default) for name, default in _FLAGS]
        maxlength, regex, low, high = (rule.get(name) for name in ("maxlength", "regex", "min", "max"))
        if (
            kind is None
            or not all(type(flag) is bool for flag in flags)
            or not (maxlength is None or type(maxlength) is int)
            or not (regex is None or type(regex) is str)
            or not all(bound is None or type(bound) is kind for bound in (low, high))
        ):
            return None  # cerberus says what is wrong with such a schema, or knows what it means
        required, empty, nullable, plain, not_blank, not_future = flags
        if nullable:
            return None
        return (
            kind,
            required,
            empty,
            maxlength,
            re.compile(regex).fullmatch if regex is not None else None,
            low,
            high,
            plain,
            (rule.get("meta") or {}).get("widget") == "textarea",
            not_blank,
            not_future and kind is datetime.date,
        )

    def __call__(self, data: dict, today: datetime.date | None) -> bool:
        fields = self.fields
        if not self.required.issubset(data):
            return False
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                return False
            kind, _, empty, maxlength, regex, low, high, plain, multiline, not_blank, not_future = field
            if type(value) is not kind:
                return False
            if kind is str:
                if not value:
                    if empty:
                        continue  # cerberus drops maxlength and regex for an allowed empty value
                    return False
                if not _text_passes(value, maxlength, regex, plain, multiline, not_blank):
                    return False
            elif not_future and today is not None and value > today:
                return False
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True


def _text_passes(value: str, maxlength: int | None, regex, plain: bool, multiline: bool, not_blank: bool) -> bool:
    """Whether non-empty text surely passes ``maxlength``, ``regex``, ``plain_text`` and ``not_blank``."""
    return (
        (maxlength is None or len(value) <= maxlength)
        and (regex is None or regex(value) is not None)
        and not (plain and unwanted_character(value, multiline) is not None)
        and not (not_blank and not value.strip())
    )


class Schema:
    """A cerberus schema file with ``meta`` labels, ready to validate plain data."""

    def __init__(self, rules: dict, path: Path | None = None):
        self.path = path
        self.rules = rules
        self.fields = _fields(rules)
        self._by_key = {f.key: f for f in self.fields}
        self._local = threading.local()
        self._passes = _Passes.compile(rules)

    # cerberus keeps the document and its errors on the validator object, so
    # each thread (the form serves requests on several) gets its own.
    def _validator(self):
        validator = getattr(self._local, "validator", None)
        if validator is None:
            validator_class, keep_errors = _cerberus()
            validator = self._local.validator = validator_class(
                self.rules, error_handler=keep_errors, allow_unknown=False
            )
        return validator

    def __getstate__(self) -> dict:  # for the PDF workers: the per-thread validators stay behind
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_passes")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._passes = _Passes.compile(self.rules)

    @classmethod
    def load(cls, path: Path) -> Schema:
        return cls.from_bytes(Path(path).read_bytes(), Path(path))

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | None = None) -> Schema:
        """The schema a file with these bytes holds (``path`` says where it came from)."""
        return cls(yamlio.to_python(yamlio.read_yaml_bytes(raw)), path)

    def field(self, key: str) -> Field | None:
        return self._by_key.get(key)

    def label(self, path: tuple) -> str:
        """The Chinese label of the value at ``path``, or '' when the schema has none."""
        meta = _meta_at(self.rules, path)
        return meta.get("label", "") if meta else ""

    # Validation -------------------------------------------------------------

    def validate(self, data: dict, today: datetime.date | None = None) -> list[FieldError]:
        """Every failure of ``data`` against the schema, in Chinese, never only the first."""
        if self._passes is not None and self._passes(data, today):
            return []  # the common case; anything else is cerberus's to decide and to word
        return self.validate_with_cerberus(data, today)

    def validate_with_cerberus(self, data: dict, today: datetime.date | None = None) -> list[FieldError]:
        """:meth:`validate` by cerberus alone, whatever the document (the fast check's reference)."""
        validator = self._validator()
        validator.today = today
        # normalize=False: we never want cerberus to change a document, and
        # skipping normalisation makes validation about six times faster.
        if validator.validate(data, normalize=False):
            return []
        return [FieldError(tuple(err.document_path), self._message(err)) for err in _leaves(validator.errors)]

    def _message(self, err) -> str:
        """cerberus' ``ValidationError`` in Chinese."""
        from cerberus import errors as cerberus_errors  # imported already: cerberus made ``err``

        meta = _meta_at(self.rules, tuple(err.document_path)) or {}
        hint = meta.get("hint", "")
        code = err.code
        if code == cerberus_errors.REQUIRED_FIELD.code:
            return _join("缺少这一项，请补上。", hint)
        if code == cerberus_errors.UNKNOWN_FIELD.code:
            known = "、".join(_known_keys(self.rules, tuple(err.document_path[:-1])))
            return f"不是可以填写的项目，请删除或检查拼写（可填写的项目：{known}）。"
        if code in (cerberus_errors.EMPTY_NOT_ALLOWED.code, cerberus_errors.NOT_NULLABLE.code):
            return _join("不能为空，请填写。", hint)
        if code == cerberus_errors.BAD_TYPE.code:
            wanted = _TYPE_NAMES.get(str(err.constraint), str(err.constraint))
            return _join(f"应为{wanted}，现在是“{_shorten(err.value)}”。", hint)
        if code == cerberus_errors.MAX_LENGTH.code:
            return too_long(len(err.value), err.constraint)
        if code == cerberus_errors.MIN_LENGTH.code:
            return f"太短了：至少 {err.constraint} 字。"
        if code == cerberus_errors.REGEX_MISMATCH.code:
            return _join(f"格式不对：“{_shorten(err.value)}”。", hint)
        if code == cerberus_errors.MIN_VALUE.code:
            return _join(too_small(_show(err.value), _show(err.constraint)), hint)
        if code == cerberus_errors.MAX_VALUE.code:
            return _join(too_large(_show(err.value), _show(err.constraint)), hint)
        if code == cerberus_errors.CUSTOM.code and err.info:
            return str(err.info[0])
        return f"不符合规则 {err.rule}（{err.constraint}）。"


def _fields(rules: dict) -> list[Field]:
    """Top-level fields in display order."""
    out = []
    for key, field_rules in rules.items():
        meta = field_rules.get("meta", {})
        out.append(
            Field(
                key=key,
                label=meta.get("label", key),
                order=meta.get("order", 1000),
                type=field_rules.get("type", "string"),
                required=bool(field_rules.get("required", False)),
                widget=meta.get("widget", "text"),
                source=meta.get("source", "user"),
                hint=meta.get("hint", ""),
                internal=bool(meta.get("internal", False)),
                print=meta.get("print", ""),
                whole=bool(meta.get("whole", False)),
                rules=field_rules,
                aliases=tuple(str(alias) for alias in meta.get("aliases", ())),
            )
        )
    return sorted(out, key=lambda f: (f.order, f.key))


def _leaves(errors: list) -> list:
    """Flatten cerberus's grouped errors (e.g. from list items) to the failing leaves."""
    out = []
    for err in errors:
        if err.is_group_error:
            out.extend(_leaves(list(err.child_errors)))
        else:
            out.append(err)
    return out


def _meta_at(rules: dict, path: tuple) -> dict | None:
    """The ``meta`` of the schema rule that governs ``path`` (list indexes skip into ``schema``)."""
    current: Any = {"schema": rules, "type": "dict"}
    for step in path:
        if isinstance(step, int):
            current = current.get("schema", {})
            continue
        children = current.get("schema", {}) if isinstance(current, dict) else {}
        if step not in children:
            return None
        current = children[step]
    return current.get("meta") if isinstance(current, dict) else None


def _known_keys(rules: dict, parent: tuple) -> list[str]:
    current: Any = {"schema": rules}
    for step in parent:
        current = current.get("schema", {})
        if not isinstance(step, int):
            current = current.get(step, {})
    return list(current.get("schema", {}).keys())


# The words of the rules a browser checks too: the web form passes placeholders ("{value}") to send
# them to its script (liaison/web/formfields.py), so the page and the server say the same thing.
def too_long(length: object, limit: object) -> str:
    return f"太长了：{length} 字，最多 {limit} 字，请精简。"


def too_small(value: object, limit: object) -> str:
    return f"{value} 太小，不能小于 {limit}，请核对。"


def too_large(value: object, limit: object) -> str:
    return f"{value} 太大，不能大于 {limit}，请核对。"


def hidden_character(position: int, name: str) -> str:
    return f"第 {position} 个字符是看不见的特殊字符（{name}），可能是从其他软件复制带来的，请删除后重新输入。"


def in_future(value: object, today: object) -> str:
    return f"{value} 晚于今天（{today}），不能填写将来的日期，请核对。"


def _join(message: str, hint: str) -> str:
    return f"{message}{hint}" if hint else message


def _shorten(value: Any, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)
