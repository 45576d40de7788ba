"""A record's page, its PDF, and 「我的记录」 with each semester's PDFs as one zip."""

from __future__ import annotations

import io
import time
from urllib.parse import quote

from flask import Response, abort, current_app, g, render_template, session

from liaison.core.filenames import record_pdf_paths, record_pdf_stem, safe_filename
from liaison.core.semesters import RangeError, parse_semester_id
from liaison.git.history.model import identity
from liaison.outputs.archive import write_stable_zip

from ..progress import by_semester, semester_progress
from .mine import PENDING, freshness, moved_from, my_records, own, project

RECENT_SECONDS = 3600  # a record submitted from this browser within the hour is listed first on 我的记录
RECENT_KEPT = 5


def show_record(record_id):
    mine = own(record_id)  # an old id (a to-do sent before a date correction) redirects to the record now
    just = session.pop("just_submitted", None) == record_id
    if just:
        _remember_recent(record_id)
    fields = [(f.label, mine.record.data.get(f.key, "")) for f in project().schema.fields if not f.internal]
    return render_template(
        "web/record.html",
        mine=mine,
        fields=fields,
        just_submitted=just,
        corrected=session.pop("just_corrected", False),
        draft_submitted=session.pop("submitted_token", ""),
        moved_from=moved_from(),
        **freshness(),
    )


def record_pdf(record_id):
    mine = own(record_id)
    data = current_app.config["LIAISON_PDF"].pdf(mine.record)
    name = record_pdf_stem(mine.record) + ".pdf"  # as in the semester's zip and the export
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=\"{record_id}.pdf\"; filename*=UTF-8''{quote(name)}"},
    )


def _remember_recent(record_id: str) -> None:
    """Note in the session that this browser just submitted ``record_id`` (its identity survives a moved date)."""
    recent = [pair for pair in session.get("recent", []) if pair[0] != identity(record_id)]
    session["recent"] = [[identity(record_id), time.time()], *recent][:RECENT_KEPT]


def _recent(items: list) -> list:
    """The items this browser submitted within the hour, the newest submission first."""
    by_identity = {identity(m.record.id): m for m in items}
    now = time.time()
    pairs = session.get("recent", [])
    return [by_identity[key] for key, when in pairs if now - when < RECENT_SECONDS and key in by_identity]


def mine():
    items = list(my_records(g.leader.id).values())
    config = project().config
    recent = _recent(items)
    return render_template(
        "web/mine.html",
        total=len(items),
        recent=recent,
        groups=by_semester(items, g.leader, config, lambda m: m.record, recent),
        leader=g.leader,
        pending=sum(m.status == PENDING for m in items),
        progress=semester_progress([m.record for m in items], g.leader, config, project().today()),
        **freshness(),
    )


def semester_zip(semester_id):
    """下载本学期全部 PDF: the leader's own records of one semester, as they are now, named as in the export."""
    try:
        semester = parse_semester_id(semester_id)
    except RangeError:
        abort(404)
    calendar = project().config.calendar
    start, end = calendar.start(semester), calendar.end(semester)
    records = [m.record for m in my_records(g.leader.id).values() if start <= m.record.date <= end]
    if not records:
        abort(404, description=f"{semester.title}还没有您的记录。")
    pdf = current_app.config["LIAISON_PDF"]
    paths = record_pdf_paths(records, project().roster)
    entries = [(paths[r.id], pdf.pdf(r)) for r in records]
    buffer = io.BytesIO()
    write_stable_zip(buffer, entries, project().config.now())
    name = safe_filename(f"{g.leader.name}-{semester.title}-联系记录PDF") + ".zip"
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename=\"{semester.id}.zip\"; filename*=UTF-8''{quote(name)}"},
    )


ROUTES = [
    ("/records/<record_id>", "show_record", show_record, ["GET"]),
    ("/records/<record_id>.pdf", "record_pdf", record_pdf, ["GET"]),
    ("/mine", "mine", mine, ["GET"]),
    ("/mine/<semester_id>.zip", "semester_zip", semester_zip, ["GET"]),
]
