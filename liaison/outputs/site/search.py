"""What the search page loads: ``data/meta.js`` and one data script per semester and per leader."""

from __future__ import annotations

import datetime
import functools
import json
from collections import Counter, defaultdict
from typing import Any

from liaison.core.pinyin import pinyin_keys, pinyin_readings
from liaison.core.records import Record, plain_value
from liaison.core.roster import Leader, Roster
from liaison.core.schema import Schema
from liaison.core.semesters import Calendar, Semester
from liaison.core.summary import leader_sort_key
from liaison.outputs.site.store import Output, input_key


def _js_data(call: str, key: str, payload: Any) -> bytes:
    """A data script: ``LIAISON.<call>("key", {...});`` with compact JSON (JSON is valid JavaScript)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return f"LIAISON.{call}({json.dumps(key)},{body});\n".encode()


def _row(record: Record, schema: Schema) -> list:
    return [record.id, *(plain_value(record.data.get(f.key, "")) for f in schema.fields)]


def _pinyin_hint(name: str) -> str:
    """What a person may type for a name: full pinyin and initials, e.g. 'zhaomin zm'."""
    full, initials = pinyin_keys(name)
    return f"{full} {initials}"


def leader_label(leader: Leader, shared: bool) -> str:
    """The type-ahead's text: the name, with the department for namesakes (张伟（学生工作处）)."""
    return f"{leader.name}（{leader.department}）" if shared else leader.name


def semesters_of(records: list[Record], calendar: Calendar, today: datetime.date) -> list[Semester]:
    """Semesters with records, plus the current one, newest first."""
    found = {calendar.semester_of(r.date) for r in records} | {calendar.semester_of(today)}
    return sorted(found, reverse=True)


def _chunk(call_key: str, chunk: list[Record], schema: Schema) -> bytes:
    return _js_data("chunk", call_key, [_row(r, schema) for r in chunk])


def search_data(
    records: list[Record],
    roster: Roster,
    schema: Schema,
    calendar: Calendar,
    today: datetime.date,
    fingerprint: str = "",
    digests: dict[str, str] | None = None,
) -> list[Output]:
    """data/meta.js, data/semester-<id>.js, data/leader-<id>.js: what the search page loads.

    A semester's or leader's script is keyed by its records' paths and bytes
    (in order), so it is made again only when one of them changed.
    """
    digests = digests if digests is not None else {r.path: r.digest for r in records}
    by_semester: dict[Semester, list[Record]] = defaultdict(list)
    by_leader: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.date, r.leader_id, r.id)):
        by_semester[calendar.semester_of(record.date)].append(record)
        by_leader[record.leader_id].append(record)
    names = Counter(leader.name for leader in roster.leaders)
    leaders = sorted(roster.leaders, key=leader_sort_key(roster))
    meta = {
        "fields": [{"key": f.key, "label": f.label, "long": f.widget == "textarea"} for f in schema.fields],
        "leaders": [
            {
                "id": p.id,
                "name": p.name,
                "label": leader_label(p, names[p.name] > 1),
                "department": p.department,
                "position": p.position,
                "active": p.active,
                "count": len(by_leader.get(p.id, [])),
                # What the leader box accepts besides the name: any start of zhaomin or of zm (pinyin.py's rule).
                "pinyin": [list(reading) for reading in pinyin_readings(p.name)],
            }
            for p in leaders
        ],
        "semesters": [
            {
                "id": s.id,
                "title": s.title,
                "start": calendar.start(s).isoformat(),
                "end": calendar.end(s).isoformat(),
                "count": len(by_semester.get(s, [])),
            }
            for s in semesters_of(records, calendar, today)
        ],
        "current": calendar.semester_of(today).id,
    }
    files = [Output.of_bytes("data/meta.js", _js_data("meta", "meta", meta))]
    chunks = [(f"semester-{s.id}", f"semester:{s.id}", chunk) for s, chunk in by_semester.items()]
    chunks += [(f"leader-{i}", f"leader:{i}", chunk) for i, chunk in by_leader.items()]
    for name, call_key, chunk in chunks:
        path = f"data/{name}.js"
        key = input_key(fingerprint, "data", path, [(r.path, digests[r.path]) for r in chunk])
        files.append(Output(path, key, functools.partial(_chunk, call_key, chunk, schema)))
    return files
