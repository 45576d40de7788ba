"""A record's changes in words and as JSON: what ``history`` prints, from the git layer's data.

A change's time is ``Change.when`` (when it entered main; for a change not
merged yet, when its author made it), written by ``liaison.core.dates``
in the configured zone, as the audit, the review page and the site write it.
"""

from __future__ import annotations

from pathlib import Path

from liaison.core import dates
from liaison.core.records import irregular_message, plain_value
from liaison.core.schema import Schema
from liaison.git.history.model import ADDED, DELETED, MOVED, Change
from liaison.git.history.read import record_history
from liaison.git.repo import require_whole_history

NOT_MERGED = "尚未合并到主分支"


def whole_record_history(root: Path, schema: Schema, record: str, main: str) -> list[Change]:
    """``history``: every change to ``record`` (an id or a path), oldest first; ShallowClone in a shallow clone."""
    require_whole_history(root, "记录的历史")
    return record_history(root, schema, record, main=main)


def change_json(change: Change, timezone: str = dates.DEFAULT_ZONE) -> dict:
    """A change as JSON-ready data (``history --format json``); times are ISO 8601 in ``timezone``."""
    commit, merge = change.commit, change.merge
    return {
        "when": dates.stamped(change.when, timezone),
        "kind": change.kind,
        "record_id": change.record_id,
        "old_path": change.old_path,
        "new_path": change.new_path,
        "author": commit.author_name,
        "author_email": commit.author_email,
        "authored_at": dates.stamped(commit.author_time, timezone),
        "committer": commit.committer_name,
        "committer_email": commit.committer_email,
        "committed_at": dates.stamped(commit.committer_time, timezone),
        "commit": commit.sha,
        "message": commit.message,
        "merge_request": merge.reference if merge else None,
        "merged_by": merge.merged_by if merge else None,
        "merged_at": dates.stamped(merge.merged_at, timezone) if merge else None,
        "on_main": change.merged,
        "direct_to_main": change.merged and change.on_mainline and change.merge is None,
        "made_in_merge": change.in_merge,
        "entered_mainline": change.entered or None,
        "mainline_position": change.position,
        "signature": change.signature.status if change.signature else "N",
        "signed_by_form": change.by_form,
        "signer": change.signature.signer if change.by_form else None,
        "submitted_by": change.submitted_by or None,
        "not_a_plain_file": change.irregular or None,  # git's mode: 120000 a link, 160000 a submodule, 100755
        "fields": [
            {"key": f.key, "label": f.label, "old": plain_value(f.old), "new": plain_value(f.new)}
            for f in change.fields
        ],
    }


def how_it_entered(change: Change, timezone: str = dates.DEFAULT_ZONE) -> str:
    """How the change reached main, in words: a merge request, a local merge, a direct push, a merge's own edit,
    or not yet (a branch's commit that main does not have)."""
    merge = change.merge
    if not change.merged:
        return f"{NOT_MERGED}（主分支上还没有这个提交）"
    if merge is None:
        return "直接提交到主分支，未经合并请求" if change.on_mainline else NOT_MERGED
    merged = f"{merge.merged_by} 于 {dates.shown(merge.merged_at, timezone)} 合并"
    if not merge.is_request:
        how = f"本地合并后推送到主分支（合并提交 {merge.sha[:12]}，{merged}），未经合并请求"
    else:
        how = f"合并请求 {merge.reference}，{merged}"
    return f"在合并提交中直接修改（{how}）" if change.in_merge else how


def written_at(change: Change, timezone: str = dates.DEFAULT_ZONE) -> str:
    """The time the commit's author wrote on it, when it reads otherwise than the change's own time ('' if not)."""
    written = dates.shown(change.commit.author_time, timezone)
    return "" if written == dates.shown(change.when, timezone) else written


def change_text(number: int, change: Change, timezone: str = dates.DEFAULT_ZONE) -> list[str]:
    """A change as lines for the terminal (``history --format table``)."""
    commit = change.commit
    how = how_it_entered(change, timezone)
    written = written_at(change, timezone)
    lines = [
        f"━━ {number}. {dates.shown(change.when, timezone)} · {change.kind} · {change.path}",
        f"   作者：{commit.author_name} <{commit.author_email}>　提交者：{commit.committer_name} <{commit.committer_email}>",
        f"   {how}" + (f"；提交自报时间 {written}" if written else ""),
        *(
            [
                f"   由表单提交（签名有效：{change.signature.signer}）"
                + (f"，登录名 {change.submitted_by}" if change.submitted_by else "")
            ]
            if change.by_form
            else []
        ),
        f"   提交 {commit.sha[:12]}：{commit.subject}",
    ]
    if change.irregular:
        lines.append(f"   注意：{change.path} 在 Git 中不是普通文件。{irregular_message(change.irregular)}")
    if change.kind == MOVED:
        lines.append(f"   文件：{change.old_path} → {change.new_path}")
    if change.kind in (ADDED, DELETED):  # the whole record, once
        data = change.new_data if change.kind == ADDED else change.old_data
        return lines + [
            f"   {item.label}：{plain_value(item.new if change.kind == ADDED else item.old)}"
            for item in change.fields
            if (data.get(item.key, "") != "")
        ]
    for item in change.fields:
        old = plain_value(item.old) if item.old != "" else "（空）"
        new = plain_value(item.new) if item.new != "" else "（空）"
        if "\n" in f"{old}{new}" or len(f"{old}{new}") > 60:
            lines.append(f"   {item.label}：")
            lines.extend(f"     - {part}" for part in str(old).split("\n"))
            lines.extend(f"     + {part}" for part in str(new).split("\n"))
        else:
            lines.append(f"   {item.label}：{old} → {new}")
    return lines
