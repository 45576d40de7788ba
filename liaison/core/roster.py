"""The roster (``roster.yaml``): the leaders, looked up by id, login and name."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Leader:
    id: str
    name: str
    department: str
    position: str
    login: str
    email: str = ""
    mobile: str = ""
    active: bool = True
    notify: tuple[str, ...] | None = None  # how they get to-dos (sms, app); None: config.yaml's notify.channels

    @property
    def display(self) -> str:
        """Name with department and id, so two leaders with one name are told apart."""
        state = "" if self.active else "，已离任"
        return f"{self.name}（{self.department}，工号 {self.id}{state}）"


class Roster:
    def __init__(self, leaders: list[Leader]):
        self.leaders = leaders
        self.by_id = {leader.id: leader for leader in leaders}
        self.by_login = {leader.login: leader for leader in leaders}

    def named(self, name: str) -> list[Leader]:
        """Every leader with exactly this name (there may be two 张伟)."""
        wanted = name.strip()
        return [leader for leader in self.leaders if leader.name == wanted]

    def close_names(self, name: str, limit: int = 5) -> list[Leader]:
        """Leaders whose names look like ``name``: shared characters first, then similar spelling."""
        import difflib  # only the form and the query look for close names

        wanted = name.strip()
        names = sorted({leader.name for leader in self.leaders})
        partial = [n for n in names if wanted and (wanted in n or n in wanted)]
        similar = difflib.get_close_matches(wanted, names, n=limit, cutoff=0.3)
        picked = list(dict.fromkeys(partial + similar))[:limit]
        return [leader for n in picked for leader in self.named(n)]


def duplicate_problems(leaders: list[dict]) -> list[tuple[tuple, str]]:
    """(path, message) for ids and logins used twice: each must name one person."""
    problems = []
    for key, what in (("id", "工号"), ("login", "统一身份认证账号")):
        seen: dict[str, int] = {}
        for index, entry in enumerate(leaders):
            value = entry.get(key)
            if value in seen:
                problems.append(
                    (
                        ("leaders", index, key),
                        f"{what}“{value}”与第 {seen[value] + 1} 位领导重复，每个{what}只能对应一个人。",
                    )
                )
            else:
                seen[value] = index
    return problems


def _control_characters(text: str) -> list[str]:
    """Line breaks and other control or invisible format characters (Unicode Cc, Cf, Zl, Zp), as U+XXXX."""
    return [f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


def control_problems(leaders: list[dict]) -> list[tuple[tuple, str]]:
    """(path, message) for every roster value with a control character: in a mail header a line
    break ends the header and starts another (the next leader's mail could be forged), and
    invisible characters make two names look alike."""
    problems = []
    for index, entry in enumerate(leaders):
        for key, value in entry.items():
            found = _control_characters(value) if isinstance(value, str) else []
            if found:
                who = entry.get("name") if key != "name" else entry.get("id")
                problems.append(
                    (
                        ("leaders", index, key),
                        f"第 {index + 1} 位领导（{who}）的这一项含有换行或控制字符（{'、'.join(found)}），"
                        "请删除这些字符后重新保存。",
                    )
                )
    return problems


def roster_from_data(data: dict) -> Roster:
    fields = Leader.__dataclass_fields__
    leaders = []
    for entry in data["leaders"]:
        values = {k: v for k, v in entry.items() if k in fields}
        if values.get("notify") is not None:
            values["notify"] = tuple(values["notify"])
        leaders.append(Leader(**values))
    return Roster(leaders)
