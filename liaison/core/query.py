"""The requirement's two queries: one leader over a range (2.(1)), every leader over a range (2.(2))."""

from __future__ import annotations

from collections.abc import Iterable

from liaison.core.pinyin import matches_pinyin, typed_pinyin
from liaison.core.records import Record
from liaison.core.roster import Leader, Roster
from liaison.core.semesters import DateRange


class QueryError(ValueError):
    """A query that cannot be answered as asked; the message (Chinese) says what to do."""


def leaders_for_query(roster: Roster, name: str | None = None, leader_id: str | None = None) -> list[Leader] | None:
    """The leaders a query is about: None for everyone, else exactly one leader.

    ``name`` is a name, its full pinyin or its initials (赵敏, zhaomin, zm).
    A name (or pinyin) shared by two leaders is an error that lists both, so
    the person can pick one with ``--leader-id``; an unknown name lists close ones.
    """
    if leader_id:
        leader = roster.by_id.get(leader_id.strip())
        if leader is None:
            raise QueryError(f"名单中没有工号为“{leader_id}”的领导干部。")
        if name and leader.name != name.strip():
            raise QueryError(f"工号 {leader.id} 是 {leader.display}，不是“{name}”。")
        return [leader]
    if not name:
        return None
    matches = roster.named(name) or _by_pinyin(roster, name)
    if len(matches) == 1:
        return matches
    if len(matches) > 1:
        listed = "\n".join(f"  --leader-id {m.id}    {m.display}" for m in matches)
        called = "都叫" if matches[0].name == name.strip() else "的拼音都是"
        raise QueryError(
            f"名单中有 {len(matches)} 位领导干部{called}“{name}”，请用 --leader-id 指定其中一位：\n{listed}"
        )
    close = roster.close_names(name)
    if close:
        listed = "\n".join(f"  {m.display}" for m in close)
        raise QueryError(f"名单中没有叫“{name}”的领导干部。您要找的是不是：\n{listed}")
    raise QueryError(f"名单中没有叫“{name}”的领导干部，也没有相近的姓名。请核对姓名。")


def _by_pinyin(roster: Roster, name: str) -> list[Leader]:
    """Leaders whose name's full pinyin or initials is ``name`` (zm, zhaomin, Zhao Min)."""
    typed = typed_pinyin(name)
    if typed is None:
        return []
    return [leader for leader in roster.leaders if matches_pinyin(leader.name, typed)]


def records_in_range(records: Iterable[Record], date_range: DateRange) -> list[Record]:
    return [r for r in records if r.date in date_range]


def select_records(
    records: Iterable[Record],
    date_range: DateRange,
    leaders: list[Leader] | None = None,
    newest_first: bool = False,
) -> list[Record]:
    """Records in the range (of the given leaders, or of all), in time order.

    Ties on a date are broken by leader id and record id so the order is stable.
    """
    ids = None if leaders is None else {leader.id for leader in leaders}
    chosen = [r for r in records_in_range(records, date_range) if ids is None or r.leader_id in ids]
    chosen.sort(key=lambda r: (r.date, r.leader_id, r.id), reverse=newest_first)
    return chosen
