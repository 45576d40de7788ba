"""The site configuration (``config.yaml``): school, office, time zone, semester calendar, and typed sections.

``schema/config.yaml`` validates the file; the dataclasses here give each
section its types and its defaults, declared once (a key left out of
config.yaml takes the default written beside it here). Code reads
attributes, never ``.get()`` on raw dicts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liaison.core import dates
from liaison.core.semesters import Calendar, RangeError, parse_semester_id


@dataclass(frozen=True)
class GitLabApiSettings:
    """``web.gitlab_api``: where to read merge requests' states and comments (the read-only token is LIAISON_GITLAB_TOKEN)."""

    url: str
    project: str
    returned_label: str = "退回"
    every: int = 60  # seconds between background reads
    timeout: int = 10  # seconds per request


@dataclass(frozen=True)
class ServerLimits:
    """``web.limits``: what the form's HTTP port accepts from one client (docs/deploy.md); read at start.

    Slow clients cost a connection slot each and nothing else (no thread),
    so the slots are many and each must finish its request in time.
    """

    connections: int = 500  # open connections at once; the next wait in the listen queue
    request_timeout: int = 20  # seconds from a request's first byte to its last (headers and body)
    idle_timeout: int = 30  # seconds a kept-alive connection may sit silent between requests
    max_body_kb: int = 512  # a form post; a longer declared body gets 413 before one byte of it is read
    max_header_kb: int = 64  # the request line and headers together; longer ones get 431
    backlog: int = 1024  # connections the kernel queues while every slot is taken


@dataclass(frozen=True)
class WebSettings:
    """``web:``: the form behind the single sign-on proxy (secrets are environment variables, never here)."""

    user_header: str = "X-Remote-User"
    secret_header: str = "X-Liaison-Proxy-Secret"
    remote: str = ""  # empty: the embedded stand-in for GitLab, .liaison/remote.git
    target_branch: str = "main"
    labels: tuple[str, ...] = ()
    contact: str = ""  # empty: the office's name
    committer_email: str = "liaison@localhost"  # the form's commits; the principal in allowed_signers
    gitlab_api: GitLabApiSettings | None = None  # None: 我的记录 says what Git knows
    # Not in repr (the PDF cache is keyed by repr(config)): neither changes a PDF.
    limits: ServerLimits = field(default_factory=ServerLimits, repr=False)
    min_free_mb: int = field(default=100, repr=False)  # below this, free space in the data folder fails /healthz

    @classmethod
    def from_data(cls, data: dict | None) -> WebSettings:
        data = dict(data or {})
        if "limits" in data:
            data["limits"] = ServerLimits(**(data["limits"] or {}))
        if "labels" in data:
            data["labels"] = tuple(data["labels"] or ())
        if data.get("gitlab_api"):
            data["gitlab_api"] = GitLabApiSettings(**data["gitlab_api"])
        return cls(**data)


MERGE_METHODS = ("merge", "semi_linear", "ff")


@dataclass(frozen=True)
class GitSettings:
    """``git:``: how GitLab merges merge requests into main (docs/audit.md: what each lets the audit prove)."""

    merge_method: str = "merge"  # merge | semi_linear | ff, as set in GitLab's project settings

    @classmethod
    def from_data(cls, data: dict | None) -> GitSettings:
        return cls(**dict(data or {}))


@dataclass(frozen=True)
class EmailSettings:
    """``reminders.email``: the SMTP server (the password is LIAISON_SMTP_PASSWORD)."""

    host: str
    port: int
    sender: str
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    office: str = ""  # where the digest goes; empty: no digest


@dataclass(frozen=True)
class WebhookSettings:
    """``reminders.webhook``: the campus app's or SMS gateway's endpoint (the token is LIAISON_WEBHOOK_TOKEN).

    ``kind`` picks the format: ``generic`` posts ``payload`` (a template) per
    leader; ``wecom`` (企业微信群机器人) and ``dingtalk`` (钉钉自定义机器人) post
    the services' own message format (liaison.notify.robots).
    """

    url: str
    payload: str = ""
    token_header: str = "Authorization"
    kind: str = "generic"  # generic | wecom | dingtalk


@dataclass(frozen=True)
class ReminderRound:
    name: str
    days_before_end: int


DEFAULT_SMS = "{{ leader.name }}您好：{{ semester }}已记录联系学生{{ count }}次，要求{{ minimum }}次。{{ form_url }}"


@dataclass(frozen=True)
class ReminderPolicy:
    """``reminders:``: the minimum per semester (一线规则), overrides by position, rounds and channels."""

    minimum: int = 0
    minimum_by_position: tuple[tuple[str, int], ...] = ()  # in the order written: the first match wins
    rounds: tuple[ReminderRound, ...] = ()
    form_url: str = ""
    sms: str = DEFAULT_SMS
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None

    @classmethod
    def from_data(cls, data: dict | None) -> ReminderPolicy | None:
        if not data:
            return None
        data = dict(data)
        data["minimum_by_position"] = tuple((data.get("minimum_by_position") or {}).items())
        data["rounds"] = tuple(ReminderRound(**r) for r in data.get("rounds") or ())
        if data.get("email"):
            data["email"] = EmailSettings(**data["email"])
        if data.get("webhook"):
            data["webhook"] = WebhookSettings(**data["webhook"])
        if not data.get("sms"):
            data.pop("sms", None)
        return cls(**data)


DEFAULT_SIZE_BY_PLACE = (
    ("宿舍", 12),
    ("寝室", 12),
    ("办公室", 20),
    ("会议室", 80),
    ("教室", 200),
    ("报告厅", 800),
    ("礼堂", 1500),
)


@dataclass(frozen=True)
class ReviewSettings:
    """``review:``: 审核提示, soft hints for 思政科 on the merge request's review page; never a failed pipeline.

    A limit of 0 turns its hint off.
    """

    late_days: int = 60  # 联系时间 more than this many days before the record was submitted
    min_content_chars: int = 30  # 联系内容 shorter than this (spaces not counted)
    max_size: int = 500  # 人员规模 above this, where no keyword of size_by_place is in the place
    size_by_place: tuple[tuple[str, int], ...] = DEFAULT_SIZE_BY_PLACE  # 联系地点 keyword -> most; first match wins

    @classmethod
    def from_data(cls, data: dict | None) -> ReviewSettings:
        data = dict(data or {})
        if "size_by_place" in data:
            data["size_by_place"] = tuple((data["size_by_place"] or {}).items())
        return cls(**data)

    def size_limit(self, place: str) -> tuple[str, int]:
        """The keyword of ``place`` that sets its limit ('' for the general one) and that limit."""
        for keyword, most in self.size_by_place:
            if keyword in place:
                return keyword, most
        return "", self.max_size


@dataclass(frozen=True)
class Config:
    school: str
    office: str
    timezone: str = "Asia/Shanghai"
    semester_starts: dict[str, datetime.date] = field(default_factory=dict)
    web: WebSettings = field(default_factory=WebSettings)
    closed_semesters: dict[str, datetime.date] = field(default_factory=dict)
    reminders: ReminderPolicy | None = None
    git: GitSettings = field(default_factory=GitSettings)
    # Not in repr: the PDF cache is keyed by repr(config), and the hints never change a PDF.
    review: ReviewSettings = field(default_factory=ReviewSettings, repr=False)

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
    webhook = (data.get("reminders") or {}).get("webhook") or {}
    if webhook and webhook.get("kind", "generic") == "generic" and not webhook.get("payload"):
        problems.append(
            (
                ("reminders", "webhook", "payload"),
                "自定义消息接口（kind: generic）须填写 payload 请求体模板；"
                "企业微信或钉钉群机器人请写 kind: wecom 或 kind: dingtalk。",
            )
        )
    if problems:
        return None, problems
    config = Config(
        school=data["school"],
        office=data["office"],
        timezone=data["timezone"],
        semester_starts=dict(starts),
        web=WebSettings.from_data(data.get("web")),
        closed_semesters=dict(closed),
        reminders=ReminderPolicy.from_data(data.get("reminders")),
        git=GitSettings.from_data(data.get("git")),
        review=ReviewSettings.from_data(data.get("review")),
    )
    return config, []
