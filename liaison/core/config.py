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

RETURNED_LABEL = "退回"  # the merge request label that sends a record back (web.gitlab_api.returned_label)


@dataclass(frozen=True)
class GitLabApiSettings:
    """``web.gitlab_api``: where to read merge requests' states and comments (the read-only token is LIAISON_GITLAB_TOKEN)."""

    url: str
    project: str
    returned_label: str = RETURNED_LABEL
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


TODO_KINDS = ("reminder", "approved", "returned", "pending", "exported")  # the to-dos, in the flow's order
CHANNELS = ("sms", "app")


@dataclass(frozen=True)
class OfficePerson:
    """One of 思政科's people in ``notify.office``: who is told of submissions waiting and of exports."""

    name: str
    login: str = ""  # the campus app's userid (the single-sign-on name, as for leaders)
    mobile: str = ""


@dataclass(frozen=True)
class SmsLimits:
    """How many SMS one number may get (the provider's 流控, which refuses the rest): more are held, not dropped."""

    per_minute: int = 1
    per_hour: int = 5
    per_day: int = 10


@dataclass(frozen=True)
class SmsSettings:
    """``notify.sms``: the SMS provider (keys are LIAISON_SMS_KEY_ID and LIAISON_SMS_KEY_SECRET) and its templates."""

    provider: str = "aliyun"  # aliyun | tencent | generic
    endpoint: str = ""  # a base URL instead of the provider's (private cloud; the generic gateway's URL)
    sign_name: str = ""  # the approved 短信签名
    templates: dict[str, str] = field(default_factory=dict)  # to-do kind -> approved template code
    region: str = ""  # aliyun: cn-hangzhou; tencent: ap-guangzhou
    sdk_app_id: str = ""  # tencent: the SmsSdkAppId of the 短信应用
    limits: SmsLimits = field(default_factory=SmsLimits)
    timeout: int = 10  # seconds per call

    @classmethod
    def from_data(cls, data: dict) -> SmsSettings:
        data = dict(data)
        data["templates"] = dict(data.get("templates") or {})
        data["limits"] = SmsLimits(**(data.get("limits") or {}))
        data["sdk_app_id"] = str(data.get("sdk_app_id", ""))
        return cls(**data)


@dataclass(frozen=True)
class AppSettings:
    """``notify.app``: the campus app (the secret is LIAISON_APP_SECRET); messages go to the roster's login as userid."""

    provider: str = "wecom"  # wecom | dingtalk | generic
    endpoint: str = ""  # a base URL instead of the provider's (private deployment; the generic app's URL)
    corp_id: str = ""  # wecom
    app_key: str = ""  # dingtalk
    agent_id: int = 0
    timeout: int = 10  # seconds per call


@dataclass(frozen=True)
class NotifySettings:
    """``notify:``: the to-dos of every step, to the one person they concern, by SMS and the campus app."""

    channels: tuple[str, ...] = CHANNELS  # a roster entry's own ``notify:`` list wins
    quiet_hours: str = "22:00-08:00"  # SMS held until the window ends ('' for none); app messages go at once
    office: tuple[OfficePerson, ...] = ()
    form_url: str = ""  # the form's public address, for the links in messages (https://form.example.edu.cn)
    gather_seconds: int = 120  # submissions this close together reach 思政科 as one digest
    sms: SmsSettings | None = None
    app: AppSettings | None = None

    @classmethod
    def from_data(cls, data: dict | None) -> NotifySettings | None:
        if data is None:
            return None
        data = dict(data)
        if "channels" in data:
            data["channels"] = tuple(data["channels"] or ())
        data["office"] = tuple(OfficePerson(**person) for person in data.get("office") or ())
        if data.get("sms"):
            data["sms"] = SmsSettings.from_data(data["sms"])
        if data.get("app"):
            data["app"] = AppSettings(**data["app"])
        return cls(**data)

    def quiet_window(self) -> tuple[datetime.time, datetime.time] | None:
        """(start, end) of the quiet hours as wall-clock times, or None when there are none."""
        return parse_quiet_hours(self.quiet_hours)


def parse_quiet_hours(text: str) -> tuple[datetime.time, datetime.time] | None:
    """``"22:00-08:00"`` as (22:00, 08:00); None for ''; ValueError for anything else."""
    if not text.strip():
        return None
    start, _, end = text.partition("-")
    return datetime.time.fromisoformat(start.strip()), datetime.time.fromisoformat(end.strip())


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
    notify: NotifySettings | None = field(default=None, repr=False)  # None: no to-dos are sent

    @property
    def returned_label(self) -> str:
        """The label that sends a merge request back (``web.gitlab_api.returned_label``, else 退回)."""
        api = self.web.gitlab_api
        return api.returned_label if api is not None else RETURNED_LABEL

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

    def shown(self, moment: datetime.datetime, seconds: bool = False) -> str:
        """``moment`` as people read it, in the configured zone (``liaison.core.dates.shown``)."""
        return dates.shown(moment, self.timezone, seconds)


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
    problems.extend(_notify_problems(data.get("notify")))
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
        notify=NotifySettings.from_data(data.get("notify")),
    )
    return config, []


def _notify_problems(notify: dict | None) -> list[tuple[tuple, str]]:
    """What the schema cannot see in ``notify:``: the quiet hours' form, templates for every to-do, the keys."""
    if not notify:
        return []
    problems = []
    try:
        parse_quiet_hours(str(notify.get("quiet_hours", "")))
    except ValueError:
        problems.append(
            (("notify", "quiet_hours"), f"免打扰时段“{notify.get('quiet_hours')}”应写成 22:00-08:00 的形式。")
        )
    sms = notify.get("sms") or {}
    if sms:
        missing = [kind for kind in TODO_KINDS if not (sms.get("templates") or {}).get(kind)]
        if missing and sms.get("provider", "aliyun") != "generic":
            problems.append(
                (
                    ("notify", "sms", "templates"),
                    f"短信模板缺少 {'、'.join(missing)}：每种待办须填写在短信平台审核通过的模板编号（见 docs/notify.md）。",
                )
            )
        if sms.get("provider") == "tencent" and not sms.get("sdk_app_id"):
            problems.append((("notify", "sms", "sdk_app_id"), "腾讯云短信须填写 sdk_app_id（短信应用的 SdkAppId）。"))
    app = notify.get("app") or {}
    if app.get("provider", "wecom") == "wecom" and app and not app.get("corp_id"):
        problems.append(
            (("notify", "app", "corp_id"), "企业微信须填写 corp_id（企业 ID）和 agent_id（应用的 AgentId）。")
        )
    if app.get("provider") == "dingtalk" and not app.get("app_key"):
        problems.append(
            (("notify", "app", "app_key"), "钉钉须填写 app_key（应用的 AppKey）和 agent_id（应用的 AgentId）。")
        )
    for key in ("sms", "app"):
        section = notify.get(key) or {}
        if section.get("provider") == "generic" and not section.get("endpoint"):
            problems.append(
                ((("notify", key, "endpoint")), "学校自己的接口（provider: generic）须填写 endpoint 接口地址。")
            )
    return problems
