"""Zip files that are the same bytes every time: fixed entry times, sorted entries, UTF-8 names.

Used for the export's zip and to normalise the workbook (an .xlsx is a zip
whose writer stamps the clock into every entry).
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

# Already-compressed formats are stored; deflating them again costs time for nothing.
_STORED_SUFFIXES = (".pdf", ".xlsx", ".zip", ".png", ".jpg")


def _zip_time(stamp: datetime.datetime) -> tuple[int, int, int, int, int, int]:
    stamp = max(stamp, datetime.datetime(1980, 1, 1, tzinfo=stamp.tzinfo))  # zip's epoch
    return (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second - stamp.second % 2)


def write_stable_zip(
    target: Path | BinaryIO, entries: Iterable[tuple[str, bytes | Path]], stamp: datetime.datetime
) -> None:
    """Write ``entries`` (archive name, bytes or a file) sorted by name, all dated ``stamp``.

    Non-ASCII names get zip's UTF-8 flag (Python sets it), which Windows
    Explorer and macOS Finder honour, so 张伟（学生工作处）/… opens as written.
    """
    when = _zip_time(stamp)
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=when)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, so the permission bits above mean what they say
            stored = name.lower().endswith(_STORED_SUFFIXES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            data = content.read_bytes() if isinstance(content, Path) else content
            archive.writestr(info, data, compresslevel=None if stored else 6)


_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def normalize_office_file(data: bytes, stamp: datetime.datetime) -> bytes:
    """An .xlsx with the clock taken out: entry times and the document's created/modified set to ``stamp``."""
    iso = stamp.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    import io

    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = _CORE_DATES.sub(lambda m: m.group(1) + iso + m.group(3), content)
            entries.append((info.filename, content))
    out = io.BytesIO()
    # Keep the writer's entry order: [Content_Types].xml must come first for some readers.
    when = _zip_time(stamp)
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=6)
    return out.getvalue()
