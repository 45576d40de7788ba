"""A leader's records, each once, in its most recent state: outbox, review branch or main.

Read from the outbox and the git mirror as the background worker last
fetched it: no request waits on the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from flask import abort, current_app, g, redirect, request, url_for

from liaison.core.project import Project
from liaison.core.records import RECORD_ID, Record, parse_record, record_path
from liaison.git.history.model import identity
from liaison.submit.outbox import ATTENTION
from liaison.submit.worker import Submitter, local_time

PENDING, REVIEW, MERGED, NEEDS_ATTENTION = "待同步", "待审核", "已合并", "待人工处理"
CORRECTING = "更正审核中"  # an approved record with a correction (申请更正) waiting or under review


@dataclass(frozen=True)
class MyRecord:
    record: Record
    status: str
    branch: str = ""  # the record/* branch under review, or '' once merged
    note: str = ""  # for a record that needs attention: what happened and what the office will do

    @property
    def correctable(self) -> bool:
        return self.status in (PENDING, REVIEW, NEEDS_ATTENTION, CORRECTING)


def project() -> Project:
    return current_app.config["LIAISON_PROJECT"]


def submitter() -> Submitter:
    return current_app.config["LIAISON_SUBMITTER"]


def parse(record_id: str, text: str) -> Record | None:
    record, _ = parse_record(record_path(record_id), text.encode("utf-8"), project().schema, None)
    return record


def attention_note(error: str) -> str:
    """What a leader reads about a record the remote refused (Chinese; git's words kept short)."""
    reason = " ".join(error.split())[:120]
    office = project().config.office
    return f"这条记录已妥善保存，但提交到审核系统时被拒绝（{reason}）。{office}会处理并与您联系，您不需要重新填写。"


def my_records(leader_id: str) -> dict[str, MyRecord]:
    """The user's records, each once, in its most recent state: outbox, review branch or main."""
    found: dict[str, MyRecord] = {}
    for record_id, text in submitter().merged_records(leader_id).items():
        if (record := parse(record_id, text)) is not None:
            found[record_id] = MyRecord(record, MERGED)
    # A correction of an approved record (申请更正) replaces it in the list, under its own id
    # (a corrected date moves it), until its merge request is merged.
    approved = {identity(record_id): record_id for record_id in found}

    def replaces(record_id: str) -> bool:
        old = approved.get(identity(record_id))
        if old is not None:
            found.pop(old, None)
        return old is not None

    for record_id, (text, branch) in submitter().branch_records(leader_id).items():
        if (record := parse(record_id, text)) is not None:
            found[record_id] = MyRecord(record, CORRECTING if replaces(record_id) else REVIEW, branch)
    for entry in submitter().pending():  # oldest first: a later correction replaces what it corrects
        if entry.leader_id != leader_id or (record := parse(entry.record_id, entry.yaml)) is None:
            continue
        if entry.previous_path:
            found.pop(PurePosixPath(entry.previous_path).stem, None)
        correcting = replaces(entry.record_id)
        state = submitter().entry_state(entry.token)
        if state is not None and state.state == ATTENTION:
            found[entry.record_id] = MyRecord(
                record, NEEDS_ATTENTION, entry.branch_name, attention_note(state.last_error)
            )
        else:
            found[entry.record_id] = MyRecord(record, CORRECTING if correcting else PENDING, entry.branch_name)
    return found


def own(record_id: str, follow_moves: bool = False) -> MyRecord:
    """The user's record, or 404 — also for another leader's record, so its existence is not revealed.

    A corrected date changes a record's id, but it keeps its identity (工号 and
    random part): an old address (a bookmark, a link in a message, the 编号 on
    a PDF downloaded before) answers with a redirect to the same page of the
    record as it is now, which says it was corrected (``moved_from``).
    ``follow_moves``: a correction sent from another tab after a date change
    names the old id; it is taken as the record's, without a redirect.
    """
    match = RECORD_ID.fullmatch(record_id)
    if not match or match[4] != g.leader.id:
        abort(404)
    records = my_records(g.leader.id)
    mine = records.get(record_id)
    if mine is None:
        moved = [r for r in records.values() if same_identity(r.record.id, record_id)]
        if len(moved) != 1:
            abort(404)
        if not follow_moves:
            abort(redirect(url_for(request.endpoint, record_id=moved[0].record.id, moved_from=record_id), code=301))
        mine = moved[0]
    return mine


def same_identity(record_id: str, other: str) -> bool:
    """Whether two ids name one record: the same 工号 and random part, whatever the date (the history's rule)."""
    return identity(record_id) == identity(other)


def moved_from() -> str:
    """The old id the page was opened with (``?moved_from=``), when it is an earlier id of this record."""
    old = request.args.get("moved_from", "")
    current = request.view_args.get("record_id", "") if request.view_args else ""
    if RECORD_ID.fullmatch(old) and old != current and same_identity(old, current):
        return old
    return ""


def freshness() -> dict:
    """For the pages: 「状态更新于 2025-11-12 14:05」 and whether the last fetch failed."""
    state = submitter().freshness
    config = project().config
    when = config.shown(local_time(state.fetched, config)) if state.fetched else ""
    return {"updated_at": when, "stale": bool(state.error)}
