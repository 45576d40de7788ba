"""The pages of the web form: new record, correction, record page with its PDF, 「我的记录」, dev login."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from flask import Flask, Response, abort, current_app, g, redirect, render_template, request, session, url_for

from liaison.core.project import Project
from liaison.core.records import RECORD_ID, Record, parse_record, record_path
from liaison.git.repo import GitError
from liaison.submit.outbox import Entry, Submitter, new_token, now_iso

from .forms import form_fields, initial_values, record_from_form, values_of
from .progress import semester_progress

PENDING, REVIEW, MERGED = "待同步", "待审核", "已合并"
FETCH_EVERY = 10.0  # seconds: how stale the view of GitLab may be


@dataclass(frozen=True)
class MyRecord:
    record: Record
    status: str
    branch: str = ""  # the record/* branch under review, or '' once merged

    @property
    def correctable(self) -> bool:
        return self.status in (PENDING, REVIEW)


def _project() -> Project:
    return current_app.config["LIAISON_PROJECT"]


def _submitter() -> Submitter:
    return current_app.config["LIAISON_SUBMITTER"]


def _refresh() -> None:
    """Fetch from the remote now and then; a failed fetch leaves the last known state (and says so)."""
    state = current_app.config.setdefault("LIAISON_FETCHED", {"at": 0.0, "error": ""})
    if time.monotonic() - state["at"] < FETCH_EVERY:
        return
    try:
        _submitter().fetch()
        state["error"] = ""
    except (GitError, OSError) as err:
        state["error"] = str(err)
    state["at"] = time.monotonic()


def _parse(record_id: str, text: str) -> Record | None:
    project = _project()
    record, _ = parse_record(record_path(record_id), text.encode("utf-8"), project.schema, None)
    return record


def my_records(leader_id: str) -> dict[str, MyRecord]:
    """The user's records, each once, in its most recent state: outbox, review branch or main."""
    _refresh()
    submitter = _submitter()
    found: dict[str, MyRecord] = {}
    for record_id, text in submitter.merged_records(leader_id).items():
        record = _parse(record_id, text)
        if record is not None:
            found[record_id] = MyRecord(record, MERGED)
    for record_id, (text, branch) in submitter.branch_records(leader_id).items():
        record = _parse(record_id, text)
        if record is not None:
            found[record_id] = MyRecord(record, REVIEW, branch)
    for entry in submitter.pending():  # oldest first: a later correction replaces what it corrects
        if entry.leader_id == leader_id:
            record = _parse(entry.record_id, entry.yaml)
            if record is not None:
                if entry.previous_path:
                    found.pop(PurePosixPath(entry.previous_path).stem, None)
                found[entry.record_id] = MyRecord(record, PENDING, entry.branch_name)
    return found


def _own(record_id: str) -> MyRecord:
    """The user's record, or 404 — also for another leader's record, so its existence is not revealed."""
    match = RECORD_ID.fullmatch(record_id)
    if not match or match[4] != g.leader.id:
        abort(404)
    mine = my_records(g.leader.id).get(record_id)
    if mine is None:
        abort(404)
    return mine


def _form_page(values, errors, token, record_id=None, status=200):
    project = _project()
    today = project.today()
    return render_template(
        "web/form.html",
        fields=form_fields(project.schema, values, errors, today),
        token=token,
        record_id=record_id,
        leader=g.leader,
        error_count=len(errors),
    ), status


def register(app: Flask) -> None:  # noqa: C901 - split pending (issue 19)
    @app.get("/healthz")
    def health():
        return {"ok": True, "pending": len(_submitter().pending())}

    @app.get("/")
    def home():
        return redirect(url_for("new_record"))

    @app.route("/new", methods=["GET", "POST"])
    def new_record():
        return _submit_form(None)

    @app.route("/records/<record_id>/edit", methods=["GET", "POST"])
    def edit_record(record_id):
        mine = _own(record_id)
        if not mine.correctable:
            abort(403, description="这条记录已经合并，不能再在这里修改。如需更正，请联系思政科。")
        if request.method == "GET":
            return _form_page(values_of(mine.record.data), {}, new_token(), record_id)
        return _submit_form(record_id, mine)

    def _submit_form(record_id, mine=None):
        project = _project()
        if request.method == "GET":
            return _form_page(initial_values(g.leader, project.today()), {}, new_token())
        token = request.form.get("token", "")
        earlier = _submitter().find_token(token) if token else None
        if earlier is not None:  # a double click or a retry: the record already exists
            return redirect(url_for("show_record", record_id=earlier.record_id), code=303)
        new_id, text, values, errors = record_from_form(
            request.form, g.leader, project.roster, project.schema, project.today(), record_id
        )
        if errors:
            return _form_page(values, errors, token, record_id, status=422)
        record = _parse(new_id, text)
        entry = Entry(
            token=token,
            kind="correction" if record_id else "new",
            record_id=new_id,
            leader_id=g.leader.id,
            author_name=g.leader.name,
            author_email=g.leader.email or f"{g.leader.login}@users.noreply",
            yaml=text,
            title=f"{g.leader.name} {record.date.isoformat()} 联系{record['target']}",
            created=now_iso(),
            branch=mine.branch if mine else "",
            previous_path=mine.record.path if mine and new_id != record_id else "",
        )
        try:
            entry, _ = _submitter().submit(entry)
        except ValueError:
            abort(400, description="表单已失效，请刷新页面后重新填写。")
        session["just_submitted"] = entry.record_id
        session["just_corrected"] = record_id is not None
        return redirect(url_for("show_record", record_id=entry.record_id), code=303)

    @app.get("/records/<record_id>")
    def show_record(record_id):
        mine = _own(record_id)
        project = _project()
        just = session.pop("just_submitted", None) == record_id
        fields = [(f.label, mine.record.data.get(f.key, "")) for f in project.schema.fields if not f.internal]
        corrected = session.pop("just_corrected", False)
        return render_template("web/record.html", mine=mine, fields=fields, just_submitted=just, corrected=corrected)

    @app.get("/records/<record_id>.pdf")
    def record_pdf(record_id):
        mine = _own(record_id)
        data = current_app.config["LIAISON_PDF"].pdf(mine.record)
        name = f"{mine.record.date.isoformat()}_{mine.record['target']}.pdf"
        return Response(
            data,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f"attachment; filename=\"{record_id}.pdf\"; filename*=UTF-8''{quote(name)}",
                "Cache-Control": "private, no-store",
            },
        )

    @app.get("/mine")
    def mine():
        records = sorted(my_records(g.leader.id).values(), key=lambda m: (m.record.date, m.record.id), reverse=True)
        state = current_app.config.get("LIAISON_FETCHED", {})
        return render_template(
            "web/mine.html",
            records=records,
            leader=g.leader,
            stale=bool(state.get("error")),
            pending=sum(m.status == PENDING for m in records),
            progress=semester_progress([m.record for m in records], g.leader, _project().config, _project().today()),
        )

    @app.route("/dev-login", methods=["GET", "POST"])
    def dev_login():
        if not current_app.config["LIAISON"].dev_login:
            abort(404)
        roster = _project().roster
        if request.method == "POST":
            login = request.form.get("login", "")
            if login not in roster.by_login:
                abort(400)
            session.clear()
            session["dev_login"] = login
            return redirect(url_for("new_record"), code=303)
        return render_template("web/dev_login.html", leaders=roster.leaders)
