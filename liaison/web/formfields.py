"""The contact form, generated from the schema, and what a posted form becomes.

Pure functions: ``form_fields`` lays the schema out for the template;
``record_from_form`` turns posted text into a record's data and validates it
with exactly the rules ``build.py check`` applies (the record is written as
YAML and read back), so the form can never accept what CI would refuse.
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from typing import Any

from liaison.core import dates
from liaison.core.checks import roster_problems
from liaison.core.records import dump_record, new_record_id, parse_record, record_path
from liaison.core.roster import Leader, Roster
from liaison.core.schema import Field, Schema

_INTEGER = re.compile(r"[0-9]+")
INPUT_TYPES = {"text": "text", "date": "date", "number": "number"}


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    widget: str  # text, textarea, date, number
    input_type: str
    required: bool
    readonly: bool
    maxlength: int | None
    minimum: Any
    maximum: Any
    hint: str
    value: str
    error: str


def form_fields(
    schema: Schema, values: dict[str, str], errors: dict[str, str], today: datetime.date
) -> list[FormField]:
    """The form's fields in the schema's order; roster fields read-only except 职务."""
    out = []
    for field in schema.fields:
        if field.internal:
            continue
        rules = field.rules
        maximum = today.isoformat() if rules.get("not_future") else rules.get("max")
        minimum = rules.get("min")
        out.append(
            FormField(
                key=field.key,
                label=field.label,
                widget=field.widget,
                input_type=INPUT_TYPES.get(field.widget, "text"),
                required=field.required and not rules.get("empty", False),
                readonly=field.source == "roster",
                maxlength=rules.get("maxlength"),
                minimum=minimum.isoformat() if isinstance(minimum, datetime.date) else minimum,
                maximum=maximum,
                hint=field.hint,
                value=values.get(field.key, ""),
                error=errors.get(field.key, ""),
            )
        )
    return out


def initial_values(leader: Leader, today: datetime.date) -> dict[str, str]:
    """A new form: 领导姓名, 部门 and 职务 from the roster (自动带出), 联系时间 today."""
    return {
        "leader": leader.name,
        "department": leader.department,
        "position": leader.position,
        "date": today.isoformat(),
    }


def values_of(data: dict[str, Any]) -> dict[str, str]:
    """A record's data as form text (to edit it)."""
    return {k: v.isoformat() if isinstance(v, datetime.date) else str(v) for k, v in data.items()}


def _clean(text: str, multiline: bool) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip() if multiline else " ".join(text.split())


def _converted(field: Field, raw: str) -> tuple[Any, str]:
    """(value, error) for one typed field: a whole number, a date, or the text as typed.

    A value that cannot be converted gets a stand-in so the rest of the
    record is still checked: every error shows in one round.
    """
    if field.type == "integer":
        if _INTEGER.fullmatch(raw):
            return int(raw), ""
        return 1, (f"“{raw}”不是整数，请只填阿拉伯数字。" if raw else f"请填写{field.label}。")
    if field.type == "date":
        if not raw:
            return None, f"请选择{field.label}。"
        try:
            day = dates.parse_date(raw)
        except ValueError:
            return None, f"{raw} 不是真实存在的日期（{_impossible(raw)}），请核对{field.label}。"
        if day is None:
            return None, f"“{raw}”不是日期，请按 年-月-日 填写{field.label}，如 2024-09-15。"
        return day, ""
    return raw, ""


def _impossible(raw: str) -> str:
    """Why 2027-02-30 is not a date, in words: the month has fewer days, or there is no such month."""
    year, month, day = (int(part) for part in dates.DATE_PATTERN.fullmatch(raw.strip()).groups())
    if not 1 <= month <= 12:
        return f"没有 {month} 月"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    return f"{year} 年 {month} 月只有 {days} 天" if day > days or day < 1 else f"{month} 月没有 {day} 日"


def _without_hint(message: str, field: Field | None) -> str:
    """The schema's message names the field's hint for CI; the form shows the hint right below."""
    if field is not None and field.hint and message.endswith(field.hint):
        message = message[: -len(field.hint)].strip()
    if message == "不能为空，请填写。" and field is not None:
        return f"请填写{field.label}。"
    return message


def _typed_data(form: dict[str, str], leader: Leader, schema: Schema):
    """(data with stand-ins, the values as typed, conversion errors by field key)."""
    values: dict[str, str] = {}
    data: dict[str, Any] = {"leader_id": leader.id, "leader": leader.name, "department": leader.department}
    errors: dict[str, str] = {}
    for field in schema.fields:
        if field.key in data:
            values[field.key] = str(data[field.key])
            continue
        raw = _clean(str(form.get(field.key, "")), field.widget == "textarea")
        values[field.key] = raw
        data[field.key], error = _converted(field, raw)
        if error:
            errors[field.key] = error
    return data, values, errors


def record_from_form(
    form: dict[str, str],
    leader: Leader,
    roster: Roster,
    schema: Schema,
    today: datetime.date,
    record_id: str | None = None,
) -> tuple[str | None, str, dict[str, str], dict[str, str]]:
    """(record id, YAML text, the values as typed for redisplay, errors by field key).

    Every field is checked in one pass, so an empty form lists all its errors
    at once. The leader's 工号, name and department always come from the
    roster, whatever the form says; ``record_id`` is the id of a record being
    corrected (its date, and so its id, may change).
    """
    data, values, errors = _typed_data(form, leader, schema)
    day = data.get("date") or today  # a stand-in date only names the file that is checked
    suffix = record_id.rsplit("-", 1)[1] if record_id else None
    # A corrected date gives the record a new id (and path), keeping its random part.
    new_id = new_record_id(day, leader.id, suffix)
    checked = dict(data, date=day)
    text = dump_record(checked, schema)
    record, problems = parse_record(record_path(new_id), text.encode("utf-8"), schema, today)
    if record is not None:
        problems = problems + roster_problems(record, roster, schema)
    for problem in problems:
        key = problem.field or "content"
        errors.setdefault(key, _without_hint(problem.message, schema.field(key)))
    if errors:
        return None, "", values, errors
    return new_id, text, values, errors
