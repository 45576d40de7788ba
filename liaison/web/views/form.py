"""The record form: a new record, or a correction of one still open; what a posted form becomes."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, session, url_for

from liaison.submit.outbox import Entry, new_token, valid_token
from liaison.submit.push import description
from liaison.submit.worker import now_iso

from ..formfields import form_fields, initial_values, record_from_form, values_of
from .mine import MyRecord, own, parse, project, submitter

RESUBMIT = "页面停留较久，安全校验已经更新。您填写的内容都还在，请核对后再按一次「提交」。"


def form_page(values, errors, token, record_id=None, status=200, notice=""):
    today = project().today()
    fields = form_fields(project().schema, values, errors, today)
    return render_template(
        "web/form.html",
        fields=fields,
        wrong=[field for field in fields if field.error],  # the list at the top, in the form's order
        token=token,
        record_id=record_id,
        leader=g.leader,
        notice=notice,
    ), status


def new_record():
    if request.method == "GET":
        return form_page(initial_values(g.leader, project().today()), {}, new_token())
    return _submitted(None)


def edit_record(record_id):
    if request.method == "GET":
        mine = own(record_id)
        if not mine.correctable:
            abort(403, description="这条记录已经合并，不能再在这里修改。如需更正，请联系思政科。")
        return form_page(values_of(mine.record.data), {}, new_token(), record_id)
    # A correction sent after its merge request was merged becomes a new merge
    # request; one sent from another tab after a date change finds the moved record.
    mine = own(record_id, follow_moves=True)
    return _submitted(mine.record.id, mine)


def _typed_again(record_id, token):
    """The form as it was posted, with a fresh CSRF token: an expired page loses nothing typed."""
    values = {**initial_values(g.leader, project().today()), **request.form.to_dict()}
    for key in ("leader", "department"):
        values[key] = initial_values(g.leader, project().today())[key]
    return form_page(values, {}, token if valid_token(token) else new_token(), record_id, 403, RESUBMIT)


def _submitted(record_id, mine: MyRecord | None = None):
    token = request.form.get("token", "")
    if g.get("csrf_failed"):
        return _typed_again(record_id, token)
    if not valid_token(token):  # never a glob pattern, a path or another leader's entry
        abort(400, description="表单已失效，请刷新页面后重新填写。")
    earlier = submitter().find_token(token)
    if earlier is not None:  # a double click or a retry: the record already exists
        if earlier.leader_id != g.leader.id:
            abort(400, description="表单已失效，请刷新页面后重新填写。")
        session["submitted_token"] = token
        return redirect(url_for("show_record", record_id=earlier.record_id), code=303)
    p = project()
    new_id, text, values, errors = record_from_form(request.form, g.leader, p.roster, p.schema, p.today(), record_id)
    if errors:
        return form_page(values, errors, token, record_id, status=422)
    entry, _ = submitter().submit(_entry(token, record_id, new_id, text, mine))
    session["just_submitted"] = entry.record_id
    session["just_corrected"] = record_id is not None
    session["submitted_token"] = token
    return redirect(url_for("show_record", record_id=entry.record_id), code=303)


def _entry(token: str, record_id: str | None, new_id: str, text: str, mine: MyRecord | None) -> Entry:
    record = parse(new_id, text)
    leader = g.leader
    return Entry(
        token=token,
        kind="correction" if record_id else "new",
        record_id=new_id,
        leader_id=leader.id,
        author_name=leader.name,
        author_email=leader.email or f"{leader.login}@users.noreply",
        yaml=text,
        title=f"{leader.name} {record.date.isoformat()} 联系{record['target']}",
        created=now_iso(),
        branch=mine.branch if mine else "",
        previous_path=mine.record.path if mine and new_id != mine.record.id else "",
        submitted_by=g.login,
        description=description(_summary(record)),
    )


SUMMARY = ("leader", "date", "place", "target", "content")  # what the merge request's description shows
SUMMARY_CONTENT = 100  # characters of the long text in it


def _summary(record) -> list[tuple[str, str]]:
    """(label, value) of the record's main fields, the long text cut to its first characters."""
    schema = project().schema
    pairs = []
    for key in SUMMARY:
        value = record.data.get(key, "")
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if len(value) > SUMMARY_CONTENT:
            value = value[:SUMMARY_CONTENT] + "……"
        pairs.append((schema.field(key).label, value))
    return pairs


ROUTES = [
    ("/new", "new_record", new_record, ["GET", "POST"]),
    ("/records/<record_id>/edit", "edit_record", edit_record, ["GET", "POST"]),
]
