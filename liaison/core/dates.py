"""The clock, the time zone and the one date pattern.

Everything that asks "what time is it", "what day is it" or "what day was
this moment where the university is" asks here, with the configured zone
(``config.yaml``'s ``timezone``, Asia/Shanghai by default). Tests and a
re-run of a past day's checks fake the clock with ``LIAISON_TODAY=YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime
import os
import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
# The one way a person writes a date here: 年-月-日, month and day with one or two digits.
DATE_PATTERN = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


@cache
def zone(name: str = DEFAULT_ZONE) -> ZoneInfo:
    return ZoneInfo(name)


def now(tz: str = DEFAULT_ZONE) -> datetime.datetime:
    """This moment in the zone ``tz``, to the second."""
    return datetime.datetime.now(zone(tz)).replace(microsecond=0)


def today(tz: str = DEFAULT_ZONE) -> datetime.date:
    """Today where the university is: a record dated this morning in Beijing is not 'future'."""
    faked = os.environ.get("LIAISON_TODAY")
    if faked:
        return datetime.date.fromisoformat(faked)
    return now(tz).date()


def local(moment: datetime.datetime, tz: str = DEFAULT_ZONE) -> datetime.datetime:
    """``moment`` (timezone-aware) as the wall-clock time in ``tz``."""
    return moment.astimezone(zone(tz))


def start_of_day(day: datetime.date, tz: str = DEFAULT_ZONE) -> datetime.datetime:
    """00:00 of ``day`` in ``tz``."""
    return datetime.datetime.combine(day, datetime.time(), zone(tz))


# A date as people type it into a box: 2025-9-5, 2025/9/5, 2025.9.5, 2025年9月5日, full-width digits, spaces.
# site/form.js applies the same pattern in the page, so the box shows 2025-09-05 before it is sent.
TYPED_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def typed_date(text: str) -> str:
    """``text`` as ``YYYY-MM-DD`` when it is a date written one of the ways people type one, else as given (stripped).

    Only the writing is normalised: 2027-2-30 becomes 2027-02-30, which
    ``parse_date`` then says does not exist.
    """
    plain = unicodedata.normalize("NFKC", text).strip()
    match = TYPED_DATE.fullmatch(plain)
    if not match:
        return text.strip()
    return f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}"


def parse_date(text: str) -> datetime.date | None:
    """A date written 年-月-日 (``2024-09-15`` or ``2024-9-5``); None when the text is not one.

    Raises ValueError for a well-formed date that does not exist (2027-02-30),
    so callers can say which of the two is wrong.
    """
    match = DATE_PATTERN.fullmatch(text.strip())
    if not match:
        return None
    return datetime.date(int(match[1]), int(match[2]), int(match[3]))
