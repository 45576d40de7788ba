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
import unicodedata
from dataclasses import dataclass
from typing import Any

from liaison.core import dates
from liaison.core.checks import roster_problems
from liaison.core.records import dump_record, new_record_id, parse_record, record_path
from liaison.core.roster import Leader, Roster
from liaison.core.schema import (
    Field,
    Schema,
    hidden_character,
    in_future,
    too_large,
    too_long,
    too_small,
    unwanted_character,
)

_INTEGER = re.compile(r"[0-9]+")
# Dates and numbers are text boxes: a date box of the browser turns a typed 2025/9/5 into 0595-02-02 and
# a number box sends "" for a typed 50人; the page's script and the server read what was typed instead.
INPUT_MODES = {"date": "text", "number": "numeric"}


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    widget: str  # text, textarea, date, number
    inputmode: str
    required: bool
    readonly: bool
    maxlength: int | None
    minimum: Any
    maximum: Any
    hint: str
    value: str
    error: str
    check: dict  # what site/form.js checks before sending, with the server's words (``client_check``)


def form_fields(
    schema: Schema, values: dict[str, str], errors: dict[str, str], today: datetime.date, day_left: int | None = None
) -> list[FormField]:
    """The form's fields in the schema's order; roster fields read-only except 职务 (``day_left``: seconds until
    tomorrow in the configured zone, see ``client_check``)."""
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
                inputmode=INPUT_MODES.get(field.widget, ""),
                required=field.required and not rules.get("empty", False),
                readonly=field.source == "roster",
                maxlength=rules.get("maxlength"),
                minimum=minimum.isoformat() if isinstance(minimum, datetime.date) else minimum,
                maximum=maximum,
                hint=field.hint,
                value=values.get(field.key, ""),
                error=errors.get(field.key, ""),
                check=client_check(field, today, day_left),
            )
        )
    return out


def client_check(field: Field, today: datetime.date, day_left: int | None = None) -> dict:
    """The rules site/form.js checks in the page, each with the message the server gives for it.

    The messages come from the functions the server words its own with,
    given placeholders ({value}, {length}, {year}, {month}, {day}, {days})
    that the script fills in: the list a person sees before sending is the
    list the server would give. Rules only the server knows (the roster,
    control characters) are left to it, and so is "not after today" once
    the page has been open ``day_left`` seconds: after midnight in the
    configured zone, the day the page was opened is no longer today.
    """
    rules = field.rules
    check: dict[str, Any] = {"label": field.label, "kind": field.widget}
    if field.required and not rules.get("empty", False):
        check["required"] = required_message(field)
    if rules.get("maxlength"):
        check["maxlength"] = [rules["maxlength"], too_long("{length}", rules["maxlength"])]
    if field.type == "integer":
        check["integer"] = not_integer("{value}")
        for rule, words in (("min", too_small), ("max", too_large)):
            if rules.get(rule) is not None:
                check[rule] = [rules[rule], words("{value}", rules[rule])]
    if field.type == "date":
        check["date"] = not_a_date("{value}", field)
        check["impossible"] = impossible_date("{value}", "{reason}", field)
        check["reasons"] = {
            "month": no_such_month("{month}"),
            "days": month_days("{year}", "{month}", "{days}"),
            "day": no_such_day("{month}", "{day}"),
        }
        if rules.get("min") is not None:
            low = rules["min"].isoformat()
            check["min"] = [low, _without_hint(too_small("{value}", low), field)]
        if rules.get("not_future"):
            check["max"] = [today.isoformat(), in_future("{value}", today.isoformat()), day_left]
    return check


def required_message(field: Field) -> str:
    return f"请填写{field.label}。"


def not_integer(raw: str) -> str:
    return f"“{raw}”不是整数，请只填阿拉伯数字。"


def not_a_date(raw: str, field: Field) -> str:
    return f"“{raw}”不是日期，请按 年-月-日 填写{field.label}，如 2024-09-15。"


def impossible_date(raw: str, reason: str, field: Field) -> str:
    return f"{raw} 不是真实存在的日期（{reason}），请核对{field.label}。"


def no_such_month(month: object) -> str:
    return f"没有 {month} 月"


def month_days(year: object, month: object, days: object) -> str:
    return f"{year} 年 {month} 月只有 {days} 天"


def no_such_day(month: object, day: object) -> str:
    return f"{month} 月没有 {day} 日"


# 申请更正: an approved record is corrected with a reason, which 思政科 reads in the merge request.
REASON = Field(
    key="reason",
    label="更正理由",
    order=1000,
    type="string",
    required=True,
    widget="textarea",
    source="user",
    hint="这条记录已经审核通过。请说明更正什么、为什么，如“联系日期记错了，应为 9 月 16 日”。思政科审核时会看到。",
    internal=False,
    print="",
    whole=False,
    rules={"maxlength": 500},
    aliases=(),
)


def reason_field(value: str, error: str, today: datetime.date) -> FormField:
    """The 更正理由 box of 申请更正, laid out and checked like the schema's fields."""
    return FormField(
        key=REASON.key,
        label=REASON.label,
        widget=REASON.widget,
        inputmode="",
        required=True,
        readonly=False,
        maxlength=REASON.rules["maxlength"],
        minimum=None,
        maximum=None,
        hint=REASON.hint,
        value=value,
        error=error,
        check=client_check(REASON, today),
    )


def reason_of(form: dict[str, str]) -> tuple[str, str]:
    """(the reason as typed, cleaned; its error or '') of a posted 申请更正."""
    reason = _clean(str(form.get(REASON.key, "")), multiline=True)
    if not reason:
        return reason, required_message(REASON)
    if len(reason) > REASON.rules["maxlength"]:
        return reason, too_long(len(reason), REASON.rules["maxlength"])
    found = unwanted_character(reason, multiline=True)
    return reason, hidden_character(*found) if found else ""


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
        digits = unicodedata.normalize("NFKC", raw)  # ５０ typed with a Chinese keyboard is 50
        if _INTEGER.fullmatch(digits):
            return int(digits), ""
        return 1, (not_integer(raw) if raw else required_message(field))
    if field.type == "date":
        if not raw:
            return None, required_message(field)
        try:
            day = dates.parse_date(raw)
        except ValueError:
            return None, impossible_date(raw, _impossible(raw), field)
        if day is None:
            return None, not_a_date(raw, field)
        return day, ""
    return raw, ""


def _impossible(raw: str) -> str:
    """Why 2027-02-30 is not a date, in words: the month has fewer days, or there is no such month."""
    year, month, day = (int(part) for part in dates.DATE_PATTERN.fullmatch(raw.strip()).groups())
    if not 1 <= month <= 12:
        return no_such_month(month)
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    return month_days(year, month, days) if day > days or day < 1 else no_such_day(month, day)


def _without_hint(message: str, field: Field | None) -> str:
    """The schema's message names the field's hint for CI; the form shows the hint right below."""
    if field is not None and field.hint and message.endswith(field.hint):
        message = message[: -len(field.hint)].strip()
    if message == "不能为空，请填写。" and field is not None:
        return required_message(field)
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
        if field.type == "date":
            raw = dates.typed_date(raw)
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
