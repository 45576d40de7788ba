"""The record form: a new record, a correction of one still open, or 申请更正 of an approved one; what a posted
form becomes."""

from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from liaison.core import dates
from liaison.git.closed import semesters_closed_now
from liaison.submit.gitlabtext import description
from liaison.submit.outbox import Entry, new_token, valid_token
from liaison.submit.worker import NotSaved, now_iso

from ..formfields import REASON, form_fields, initial_values, reason_field, reason_of, record_from_form, values_of
from .mine import CORRECTING, MERGED, MyRecord, own, parse, project, submitter

# 申请更正: an approved record, or one whose correction is open: every commit of that request carries
# the reason (and Reopen-Reason in a closed semester, which check asks of each commit of the request).
REQUESTED = (MERGED, CORRECTING)

RESUBMIT = "页面停留较久，安全校验已经更新。您填写的内容都还在，请核对后再按一次「提交」。"


REQUEST_LEAD = (
    "这条记录已经审核通过。更正会作为一个新的合并请求交给{office}审核，通过后替换现在的记录；"
    "审核期间现在的记录仍然有效，「我的记录」中显示为“更正审核中”。记录编号 {record_id}"
)


def form_page(values, errors, token, record_id=None, status=200, notice="", request_correction=False):
    """The form; ``request_correction``: 申请更正 of an approved record, with its 更正理由 box."""
    today = project().today()
    day_left = dates.seconds_to_midnight(project().config.timezone)
    fields = form_fields(project().schema, values, errors, today, day_left)
    words = {}
    if request_correction:
        fields.append(reason_field(values.get(REASON.key, ""), errors.get(REASON.key, ""), today))
        lead = REQUEST_LEAD.format(office=project().config.office, record_id=record_id)
        words = {"title": "申请更正", "lead": lead, "submit_label": "提交更正申请"}
    return render_template(
        "web/form.html",
        fields=fields,
        wrong=[field for field in fields if field.error],  # the list at the top, in the form's order
        token=token,
        record_id=record_id,
        leader=g.leader,
        notice=notice,
        **words,
    ), status


def new_record():
    if request.method == "GET":
        return form_page(initial_values(g.leader, project().today()), {}, new_token())
    return _submitted(None)


def edit_record(record_id):
    if request.method == "GET":
        mine = own(record_id)
        approved = mine.status in REQUESTED
        return form_page(values_of(mine.record.data), {}, new_token(), record_id, request_correction=approved)
    # A correction of an approved record (申请更正, or a page opened before its merge
    # request was merged) becomes a new merge request and needs a reason; one sent from
    # another tab after a date change finds the moved record.
    mine = own(record_id, follow_moves=True)
    return _submitted(mine.record.id, mine)


def not_saved_notice(reason: str) -> str:
    contact = current_app.config["LIAISON"].contact
    return (
        f"{reason}，这条记录没有保存。您填写的内容都在下面，请先不要关闭页面，稍后再按一次「提交」"
        f"（不会重复）；也可以先把内容复制保存。问题已记入日志，如一直不能提交，请联系{contact}。"
    )


def _typed_again(record_id, token, status=403, notice=RESUBMIT):
    """The form as it was posted, with a fresh CSRF token: an expired page, a full disk lose nothing typed."""
    values = {**initial_values(g.leader, project().today()), **request.form.to_dict()}
    for key in ("leader", "department"):
        values[key] = initial_values(g.leader, project().today())[key]
    approved = record_id is not None and own(record_id, follow_moves=True).status in REQUESTED
    token = token if valid_token(token) else new_token()
    return form_page(values, {}, token, record_id, status, notice, request_correction=approved)


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
    approved = mine is not None and mine.status in REQUESTED
    reason = ""
    if approved:
        reason, error = reason_of(request.form)
        values[REASON.key] = reason
        errors = {**errors, **({REASON.key: error} if error else {})}
    if errors:
        return form_page(values, errors, token, record_id, status=422, request_correction=approved)
    try:
        entry, _ = submitter().submit(_entry(token, record_id, new_id, text, mine, reason))
    except NotSaved as error:  # the same token later is still one record: nothing of this one was kept
        return _typed_again(record_id, token, 503, not_saved_notice(str(error)))
    session["just_submitted"] = entry.record_id
    session["just_corrected"] = record_id is not None
    session["submitted_token"] = token
    return redirect(url_for("show_record", record_id=entry.record_id), code=303)


def _entry(token: str, record_id: str | None, new_id: str, text: str, mine: MyRecord | None, reason: str = "") -> Entry:
    record = parse(new_id, text)
    leader = g.leader
    summary = _summary(record) + ([(REASON.label, reason)] if reason else [])
    title = f"{leader.name} {record.date.isoformat()} 联系{record['target']}" + ("（申请更正）" if reason else "")
    return Entry(
        token=token,
        kind="correction" if record_id else "new",
        record_id=new_id,
        leader_id=leader.id,
        author_name=leader.name,
        author_email=leader.email or f"{leader.login}@users.noreply",
        yaml=text,
        title=title,
        created=now_iso(),
        branch=mine.branch if mine else "",
        previous_path=mine.record.path if mine and new_id != mine.record.id else "",
        submitted_by=g.login,
        description=description(summary),
        reason=reason,
        reopen=bool(reason) and _reaches_closed(mine.record.date, record.date),
    )


def _reaches_closed(*days) -> bool:
    """Whether a correction touches a closed semester (by the record's date before or after):
    then check asks its commit for a Reopen-Reason (liaison/git/closed.py)."""
    calendar = project().config.calendar
    closed = semesters_closed_now(project())
    return any(calendar.semester_of(day) in closed for day in days)


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
