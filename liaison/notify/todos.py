"""The to-dos: what each step of the flow tells whom, as an SMS template with parameters and an app card.

Pure: an event (liaison.notify.events) or a reminder round's leader, the
roster and the config in; :class:`Message` (what is said, with its identity
``key``) and its ledger items (one per person and channel) out.

| kind     | to       | SMS parameters, in this order       | app card links to          |
| -------- | -------- | ----------------------------------- | -------------------------- |
| reminder | leader   | name, count, minimum                | the form                   |
| approved | leader   | name, date, target                  | the record's PDF           |
| returned | leader   | name, date, target, reason          | the record's 修改 page      |
| pending  | 思政科    | count                               | the merge request(s)       |
| exported | 思政科    | semester                            | the export job's artifacts |

SMS in China go out only through approved templates: a to-do names its
template (config ``notify.sms.templates``) and the parameters, never free
text; each parameter is cut to :data:`PARAM_LIMIT` characters, under what the
providers allow for a variable. What people typed (a leader's 联系对象, from
the merge request's title, which anyone with access to GitLab can edit; a
reviewer's reason) goes out :func:`plain`: a template's variable would
otherwise carry a link or a number to call under the school's signature.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from liaison.core.config import Config, NotifySettings
from liaison.core.records import RECORD_ID
from liaison.core.roster import Leader
from liaison.core.semesters import RangeError, parse_semester_id

from .events import MERGED, Event

PARAM_LIMIT = 20  # characters of one SMS template parameter (阿里云 allows 35, 腾讯云 fewer for some accounts)
TITLE_BYTES = 128  # 企业微信 textcard title
DESCRIPTION_BYTES = 500  # 企业微信 textcard description: 512 bytes


@dataclass(frozen=True)
class Recipient:
    """One person a to-do goes to: a leader of the roster or one of 思政科's people."""

    who: str  # the leader's 工号, or office:<login or name>
    name: str
    login: str
    mobile: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    """What one to-do says, on every channel; ``key`` is its identity (one state of one record, one round…)."""

    kind: str
    key: str
    params: tuple[tuple[str, str], ...]  # the SMS template's parameters, in order
    title: str
    description: str
    url: str


# What an app would read as markup in a card (企业微信's <div class=…>, 钉钉's markdown), made plain: a
# leader's 联系对象 or a reviewer's comment shows as typed, never as a link or a style.
_INERT = str.maketrans("<>[]()*_#`!|\\", "＜＞［］（）＊＿＃｀！｜＼")


# A link: a scheme or www., a host name ending in letters (t.cn/x) or an IPv4 address, with the rest of its
# printable ASCII. Not \b: Chinese letters are word characters, so 点击evil.cn has no boundary before the e.
_LINK = re.compile(
    r"(?i)(?<![a-z0-9+.-])(?:[a-z][a-z0-9+.-]*://|www\.)[\x21-\x7e]*"
    r"|(?<![a-z0-9-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?![a-z0-9-])(?::[0-9]+)?(?:/[\x21-\x7e]*)?"
    r"|(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9])(?::[0-9]+)?(?:/[\x21-\x7e]*)?"
)
# A number to call or add: a mobile or a landline (with +86, spaces or dashes), 400/800, or any 7 digits in a row.
_NUMBER = re.compile(
    r"(?<![0-9])(?:(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}|0[0-9]{2,3}[ -]?[0-9]{7,8}"
    r"|[48]00[ -]?[0-9]{3}[ -]?[0-9]{4}|[0-9]{7,})(?![0-9])"
)
_SIGNATURE = str.maketrans("【】〖〗", "［］［］")  # an SMS's signature is 【…】: typed text never looks like one


def plain(text: str) -> str:
    """What a person typed, fit for a message the school sends: no link, no number to call, no 【signature】."""
    return _NUMBER.sub("（号码）", _LINK.sub("（链接）", text)).translate(_SIGNATURE)


def inert(text: str) -> str:
    """``text`` (typed by a person) with the characters of HTML and markdown replaced by their full-width forms."""
    return text.translate(_INERT)


def cut(text: str, limit: int = PARAM_LIMIT) -> str:
    """``text`` on one line, at most ``limit`` characters (the last one an ellipsis when cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cut_bytes(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` bytes of UTF-8, cut at a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _day(record_id: str) -> str:
    """The contact's date from the record id, as 10月8日."""
    match = RECORD_ID.fullmatch(record_id)
    return f"{int(match[2])}月{int(match[3])}日" if match else ""


def _form(settings: NotifySettings, path: str) -> str:
    base = settings.form_url.rstrip("/")
    return f"{base}{path}" if base else ""


def _semester_title(text: str) -> str:
    try:
        return parse_semester_id(text).title
    except RangeError:
        return text


def _message(kind: str, key: str, params: dict, title: str, description: str, url: str) -> Message:
    return Message(
        kind,
        key,
        tuple((name, cut(value)) for name, value in params.items()),
        cut_bytes(title, TITLE_BYTES),
        cut_bytes(description, DESCRIPTION_BYTES),
        url,
    )


def leader_message(event: Event, leader: Leader, config: Config, reason: str = "") -> Message:
    """The leader's to-do for a merged or sent-back merge request."""
    settings = config.notify
    day, target = _day(event.record_id), plain(event.target)
    what = f"您{day}联系{inert(target)}的记录" if target else f"您{day}的联系记录"
    common = {"name": leader.name, "date": day, "target": target or "学生"}
    if event.kind == MERGED:
        return _message(
            "approved",
            f"approved/{event.record_id}/{event.version}",
            common,
            "联系记录已通过审核",
            f"{leader.name}老师：{what}已通过审核，PDF 记录表已生成，请下载留存。",
            _form(settings, f"/records/{event.record_id}.pdf") or event.url,
        )
    said = plain(reason) or "请查看审核意见"
    return _message(
        "returned",
        f"returned/{event.record_id}/{event.version}",
        {**common, "reason": said},
        "联系记录需要修改",
        f"{leader.name}老师：{what}被退回，需要修改。原因：{inert(said)}",
        _form(settings, f"/records/{event.record_id}/edit") or event.url,
    )


def pending_message(opened: list[Event], names: dict[str, str]) -> Message:
    """思政科's to-do for merge requests waiting for review: one, or a digest of several (``names``: 工号 -> name)."""
    first = opened[0]
    key = "pending/" + ",".join(sorted(f"{e.merge_request}:{e.version}" for e in opened))
    if len(opened) == 1:
        who = f"{names[first.leader_id]}提交的" if first.leader_id in names else ""
        what = f"{_day(first.record_id)}联系{inert(plain(first.target))}的记录" if first.target else "一条联系记录"
        return _message(
            "pending",
            key,
            {"count": "1"},
            "有联系记录待审核",
            f"{who}{what}待审核（合并请求 !{first.merge_request}）。",
            first.url,
        )
    numbers = "、".join(f"!{e.merge_request}" for e in sorted(opened, key=lambda e: e.merge_request))
    return _message(
        "pending",
        _digest_key(key),
        {"count": str(len(opened))},
        f"{len(opened)} 条联系记录待审核",
        f"新提交了 {len(opened)} 条联系记录，待审核：合并请求 {numbers}。",
        first.list_url or first.url,
    )


def _digest_key(key: str) -> str:
    """A digest's key stays short whatever the number of merge requests in it."""
    return "pending/digest-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def exported_message(event: Event) -> Message:
    """思政科's to-do for a finished export job."""
    span = _semester_title(event.semester) if event.semester else "本次"
    return _message(
        "exported",
        f"exported/{event.version}",
        {"semester": span},
        "联系记录导出已完成",
        f"{span}的联系记录导出已完成：每位领导干部的 PDF 记录表和联系情况汇总表，请下载。",
        event.url,
    )


def reminder_message(leader: Leader, count: int, minimum: int, semester, round_key: str, config: Config) -> Message:
    """A reminder round's to-do for one leader below the minimum."""
    form = (config.reminders.form_url if config.reminders else "") or _form(config.notify, "/new")
    return _message(
        "reminder",
        f"reminder/{round_key}/{leader.id}",
        {"name": leader.name, "count": str(count), "minimum": str(minimum)},
        "请及时填写联系学生记录",
        f"{leader.name}老师：{semester.title}您已记录联系学生 {count} 次，要求 {minimum} 次。请在联系学生后及时填写记录。",
        form,
    )


def leader_recipient(leader: Leader, settings: NotifySettings) -> Recipient:
    channels = leader.notify if leader.notify is not None else settings.channels
    return Recipient(leader.id, leader.name, leader.login, leader.mobile, tuple(channels))


def office_recipients(settings: NotifySettings) -> list[Recipient]:
    return [
        Recipient(f"office:{p.login or p.name}", p.name, p.login, p.mobile, settings.channels) for p in settings.office
    ]


def item_id(key: str, channel: str, who: str) -> str:
    """The ledger's name for one to-do to one person by one channel: the same state reported twice is one item."""
    return hashlib.sha256(f"{key}\n{channel}\n{who}".encode()).hexdigest()[:24]


def items_for(message: Message, recipients: list[Recipient], settings: NotifySettings) -> list[dict]:
    """The ledger items of ``message``: one per recipient and channel they take that is configured.

    A person who takes SMS but has no mobile number (or the app but no
    login) gets an item that is failed at once, saying what to fix.
    """
    found = []
    for person in recipients:
        for channel in person.channels:
            if (channel == "sms" and settings.sms is None) or (channel == "app" and settings.app is None):
                continue
            address = person.mobile if channel == "sms" else person.login
            item = {
                "id": item_id(message.key, channel, person.who),
                "key": message.key,
                "kind": message.kind,
                "channel": channel,
                "who": person.who,
                "name": person.name,
                "login": person.login,
                "mobile": person.mobile,
                "params": [list(pair) for pair in message.params],
                "title": message.title,
                "description": message.description,
                "url": message.url,
            }
            if not address:
                missing = "手机号（mobile）" if channel == "sms" else "统一身份认证账号（login）"
                item["problem"] = (
                    f"{person.name}没有{missing}，无法发送。请在 roster.yaml 或 config.yaml 的 notify.office 中补上后重试。"
                )
            found.append(item)
    return found
