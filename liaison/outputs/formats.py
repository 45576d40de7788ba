"""Records as JSON, CSV and plain text: the ``query`` command's outputs.

Columns and labels come from the schema, in its order; nothing here lists fields.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from liaison.core.records import Record, plain_value
from liaison.core.schema import Schema

ID_LABEL = "记录编号"
# A cell starting with one of these is run as a formula by spreadsheet programs; one starting with the
# apostrophe gets it too, so that the mark is never ambiguous when the file is imported again.
_MARKED_START = ("=", "+", "-", "@", "\t", "\r", "\n", "'")


def spreadsheet_safe(text: str) -> str:
    """Text that a spreadsheet shows instead of running: a leading apostrophe (OWASP's advice).

    ``liaison.core.importplan.cell_text`` takes exactly one off again, so a CSV export imports unchanged.
    """
    return "'" + text if text.startswith(_MARKED_START) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV (``\\r\\n`` line ends), every text cell through :func:`spreadsheet_safe`: the one CSV writer,
    so no file the project writes has a cell LibreOffice or Excel would run (a file named ``=HYPERLINK(…)``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([spreadsheet_safe(v) if isinstance(v, str) else v for v in row] for row in rows)
    return out.getvalue()


def record_objects(records: list[Record], schema: Schema) -> list[dict[str, Any]]:
    """One JSON-ready object per record: ``id`` and every key of the schema, dates as ISO text."""
    return [{"id": r.id, **{f.key: plain_value(r.data.get(f.key)) for f in schema.fields}} for r in records]


def as_json(records: list[Record], schema: Schema) -> str:
    return json.dumps(record_objects(records, schema), ensure_ascii=False, indent=2) + "\n"


def as_csv(records: list[Record], schema: Schema) -> str:
    """CSV with the Chinese labels as header; text is made formula-safe for spreadsheet programs."""
    header = [ID_LABEL, *(f.label for f in schema.fields)]
    return csv_text([header, *(obj.values() for obj in record_objects(records, schema))])


def file_bytes(text: str, fmt: str) -> bytes:
    """What a file of ``fmt`` holds: UTF-8, and a CSV starts with the BOM (Excel on Windows
    reads UTF-8 CSV only with it; without, every Chinese character is mojibake)."""
    return (("\ufeff" if fmt == "csv" else "") + text).encode("utf-8")


def as_text(records: list[Record], schema: Schema, heading: str) -> str:
    """Every field of every record, one block a record, for reading in a terminal."""
    lines = [heading, ""]
    total = len(records)
    for number, record in enumerate(records, 1):
        lines.append(f"━━ {number}/{total} ━━ {record.date.isoformat()} · {record.leader} · {ID_LABEL} {record.id}")
        for field in schema.fields:
            value = plain_value(record.data.get(field.key, ""))
            text = str(value) if value != "" else "（无）"
            if "\n" in text:
                lines.append(f"  {field.label}：")
                lines.extend("      " + part for part in text.split("\n"))
            else:
                lines.append(f"  {field.label}：{text}")
        lines.append("")
    return "\n".join(lines)


def as_brief(records: list[Record], heading: str, how_to_see_all: str) -> str:
    """One short line a record (date, leader, 联系对象, 联系地点), then how to see every field."""
    lines = [heading, ""]
    for record in records:
        target = _short(str(record.data.get("target", "")), 16)
        place = _short(str(record.data.get("place", "")), 14)
        lines.append(f"  {record.date.isoformat()}  {record.leader}  {target}  {place}")
    lines += ["", how_to_see_all]
    return "\n".join(lines) + "\n"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
