"""Zip files that are the same bytes every time: fixed entry times, sorted entries, UTF-8 names.

Used for the export's zip and for the workbook (an .xlsx is a zip whose
writer would stamp the clock into every entry).
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

# Already-compressed formats are stored; deflating them again costs time for nothing.
_STORED_SUFFIXES = (".pdf", ".xlsx", ".zip", ".png", ".jpg")


def _zip_time(stamp: datetime.datetime) -> tuple[int, int, int, int, int, int]:
    """Zip's entry time: wall-clock fields with no zone, so callers pass the configured zone's time
    (``config.local``); Windows Explorer shows them as written."""
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


class _StampedZip(zipfile.ZipFile):
    """A zip whose every entry is dated ``stamp``, whatever the writer (openpyxl) asks for."""

    def __init__(self, target, stamp: datetime.datetime):
        super().__init__(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.when = _zip_time(stamp)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        info = zipfile.ZipInfo(name, date_time=self.when)
        info.compress_type = zipfile.ZIP_DEFLATED
        super().writestr(info, data, compresslevel=6)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes())


def stamped_zip(target: BinaryIO, stamp: datetime.datetime) -> zipfile.ZipFile:
    """An open zip for openpyxl's ExcelWriter: entries in the writer's order ([Content_Types].xml
    first, which some readers need), each dated ``stamp`` (wall-clock time, as zip has no zone)."""
    return _StampedZip(target, stamp)
