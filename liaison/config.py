"""The site configuration (``config.yaml``): school, office, time zone, semester calendar."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .semesters import Calendar


@dataclass(frozen=True)
class Config:
    school: str
    office: str
    timezone: str = "Asia/Shanghai"
    semester_starts: dict[str, datetime.date] = field(default_factory=dict)
    web: dict = field(default_factory=dict)

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.semester_starts)

    def today(self) -> datetime.date:
        """Today where the university is: a record dated this morning in Beijing is not 'future'."""
        return datetime.datetime.now(ZoneInfo(self.timezone)).date()


def config_from_data(data: dict) -> tuple[Config | None, list[tuple[tuple, str]]]:
    """A Config from already schema-valid data, plus (path, message) for what the schema cannot see."""
    problems: list[tuple[tuple, str]] = []
    try:
        ZoneInfo(data["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append((("timezone",), f"未知的时区“{data['timezone']}”，一般应写 Asia/Shanghai。"))
    starts = data.get("semester_starts") or {}
    for key, message in Calendar.problems(starts):
        problems.append((("semester_starts", key), message))
    if problems:
        return None, problems
    return Config(data["school"], data["office"], data["timezone"], dict(starts), dict(data.get("web") or {})), []
