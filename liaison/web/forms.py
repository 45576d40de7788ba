"""The contact form, generated from the schema, and what a posted form becomes.

Pure functions: ``form_fields`` lays the schema out for the template;
``record_from_form`` turns posted text into a record's data and validates it
with exactly the rules ``build.py check`` applies (the record is written as
YAML and read back), so the form can never accept what CI would refuse.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from liaison.core import dates
from liaison.core.checks import roster_problems
from liaison.core.records import dump_record, new_record_id, parse_record, record_path
from liaison.core.roster import Leader, Roster
from liaison.core.schema import Schema

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


def record_from_form(  # noqa: PLR0912 - split pending (issue 19)
    form: dict[str, str],
    leader: Leader,
    roster: Roster,
    schema: Schema,
    today: datetime.date,
    record_id: str | None = None,
) -> tuple[str | None, str, dict[str, str], dict[str, str]]:
    """(record id, YAML text, the values as typed for redisplay, errors by field key).

    The leader's 工号, name and department always come from the roster,
    whatever the form says; ``record_id`` is the id of a record being
    corrected (its date, and so its id, may change).
    """
    values: dict[str, str] = {}
    data: dict[str, Any] = {"leader_id": leader.id, "leader": leader.name, "department": leader.department}
    errors: dict[str, str] = {}
    for field in schema.fields:
        if field.key in data:
            values[field.key] = str(data[field.key])
            continue
        raw = _clean(str(form.get(field.key, "")), field.widget == "textarea")
        values[field.key] = raw
        if field.type == "integer":
            if _INTEGER.fullmatch(raw):
                data[field.key] = int(raw)
            else:
                errors[field.key] = f"请填写阿拉伯数字。{field.hint}" if raw else f"请填写{field.label}。"
        elif field.type == "date":
            try:
                data[field.key] = dates.parse_date(raw)
            except ValueError:
                data[field.key] = None
            if data[field.key] is None:
                errors[field.key] = f"请选择{field.label}（年-月-日）。"
        else:
            data[field.key] = raw
    if errors:
        return None, "", values, errors
    if record_id is None:
        record_id = new_record_id(data["date"], leader.id)
    else:
        # A corrected date gives the record a new id (and path), keeping its random part.
        record_id = new_record_id(data["date"], leader.id, record_id.rsplit("-", 1)[1])
    text = dump_record(data, schema)
    record, problems = parse_record(record_path(record_id), text.encode("utf-8"), schema, today)
    if record is not None:
        problems = problems + roster_problems(record, roster, schema)
    for problem in problems:
        errors.setdefault(problem.field or "content", problem.message)
    return (None if errors else record_id), text, values, errors
