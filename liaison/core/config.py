"""The site configuration (``config.yaml``): school, office, time zone, semester calendar."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liaison.core import dates
from liaison.core.semesters import Calendar, RangeError, parse_semester_id


@dataclass(frozen=True)
class Config:
    school: str
    office: str
    timezone: str = "Asia/Shanghai"
    semester_starts: dict[str, datetime.date] = field(default_factory=dict)
    web: dict = field(default_factory=dict)
    closed_semesters: dict[str, datetime.date] = field(default_factory=dict)
    reminders: dict = field(default_factory=dict)

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.semester_starts)

    def today(self) -> datetime.date:
        """Today in the configured zone (``liaison.core.dates.today``)."""
        return dates.today(self.timezone)

    def now(self) -> datetime.datetime:
        """This moment in the configured zone."""
        return dates.now(self.timezone)

    def local(self, moment: datetime.datetime) -> datetime.datetime:
        """A timezone-aware moment as the configured zone's wall-clock time."""
        return dates.local(moment, self.timezone)


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
    closed = data.get("closed_semesters") or {}
    for key in closed:
        try:
            parse_semester_id(str(key))
        except RangeError as err:
            problems.append((("closed_semesters", key), str(err)))
    if problems:
        return None, problems
    config = Config(
        school=data["school"],
        office=data["office"],
        timezone=data["timezone"],
        semester_starts=dict(starts),
        web=dict(data.get("web") or {}),
        closed_semesters=dict(closed),
        reminders=dict(data.get("reminders") or {}),
    )
    return config, []
