"""The clock, the time zone, the one date pattern and the one way a time is written.

Everything that asks "what time is it", "what day is it" or "what day was
this moment where the university is" asks here, with the configured zone
(``config.yaml``'s ``timezone``, Asia/Shanghai by default). Tests and a
re-run of a past day's checks fake the clock with ``LIAISON_TODAY=YYYY-MM-DD``;
the service's clock (quiet hours, rate limits, retries of the to-dos) with
``LIAISON_NOW`` (an ISO date-time; without a zone it is the configured zone's).

Every time a person reads (``history``, the audit log, the review page, the
site, 我的记录, mails and text messages) is written by :func:`shown`: the
same instant gives the same words everywhere, in the configured zone,
whatever offset git or GitLab stored it with. Programs get :func:`stamped`.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
# The one way a person writes a date here: 年-月-日, month and day with one or two digits.
DATE_PATTERN = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# How a time is written for people: 2025-11-12 07:10 (the audit adds seconds, to compare with git's own log).
TIME_FORMAT = "%Y-%m-%d %H:%M"
SECONDS_FORMAT = "%Y-%m-%d %H:%M:%S"
# The same in a spreadsheet cell that holds a real date-time (the zone's wall clock: Excel has no zones).
SPREADSHEET_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@cache
def zone(name: str = DEFAULT_ZONE) -> ZoneInfo:
    return ZoneInfo(name)


def now(tz: str = DEFAULT_ZONE) -> datetime.datetime:
    """This moment in the zone ``tz``, to the second (``LIAISON_NOW`` fakes it, read at every call)."""
    faked = os.environ.get("LIAISON_NOW")
    if faked:
        moment = datetime.datetime.fromisoformat(faked)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone(tz))
        return moment.astimezone(zone(tz)).replace(microsecond=0)
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


def seconds_to_midnight(tz: str = DEFAULT_ZONE) -> int:
    """Whole seconds from now until the next day begins in ``tz`` (at least 1)."""
    moment = now(tz)
    return max(1, math.ceil((start_of_day(moment.date() + datetime.timedelta(days=1), tz) - moment).total_seconds()))


# A date as people type it into a box: 2025-9-5, 2025/9/5, 2025.9.5 (2025。9。5 where a Chinese input method
# makes the period 。), 2025年9月5日, full-width digits, spaces.
# site/form.js applies the same pattern in the page, so the box shows 2025-09-05 before it is sent.
TYPED_DATE = re.compile(r"(\d{4})\s*[-/.。年]\s*(\d{1,2})\s*[-/.。月]\s*(\d{1,2})\s*日?")


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


def shown(moment: datetime.datetime, tz: str = DEFAULT_ZONE, seconds: bool = False) -> str:
    """``moment`` as every page, log, sheet and message writes it: ``2025-11-12 07:10``, the wall clock in ``tz``.

    A moment without a zone names no instant, so it is a bug (ValueError), never guessed.
    """
    wall = local(_aware(moment), tz)
    if wall.year < 1000:  # strftime writes such a year unpadded
        return wall.strftime(SECONDS_FORMAT if seconds else TIME_FORMAT)
    # The formats' text, by isoformat: an audit of 13,000 changes writes 26,000 times, strftime thrice slower.
    return wall.isoformat(" ", "seconds")[: 19 if seconds else 16]


def stamped(moment: datetime.datetime, tz: str = DEFAULT_ZONE) -> str:
    """``moment`` for programs (JSON): ISO 8601 with ``tz``'s offset, ``2025-11-12T07:10:00+08:00``."""
    return local(_aware(moment), tz).isoformat()


def parse_moment(text: str) -> datetime.datetime | None:
    """A time written ISO 8601 with its offset (git's ``%cI``, GitLab's ``2025-11-11T23:10:00.000Z``); None when
    the text is not one, or names no zone (then it names no instant)."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def zone_title(tz: str = DEFAULT_ZONE) -> str:
    """How a heading names the zone its times are in: 北京时间 for China's, else the zone's name."""
    return "北京时间" if tz in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC") else f"{tz} 时间"


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone: it names no instant")
    return moment
