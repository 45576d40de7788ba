"""A record's page, its PDF, and 「我的记录」."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, g, render_template, session

from ..progress import semester_progress
from .mine import PENDING, freshness, moved_from, my_records, own, project


def show_record(record_id):
    mine = own(record_id)
    just = session.pop("just_submitted", None) == record_id
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
    name = f"{mine.record.date.isoformat()}_{mine.record['target']}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=\"{record_id}.pdf\"; filename*=UTF-8''{quote(name)}"},
    )


def mine():
    records = sorted(my_records(g.leader.id).values(), key=lambda m: (m.record.date, m.record.id), reverse=True)
    return render_template(
        "web/mine.html",
        records=records,
        leader=g.leader,
        pending=sum(m.status == PENDING for m in records),
        progress=semester_progress([m.record for m in records], g.leader, project().config, project().today()),
        **freshness(),
    )


ROUTES = [
    ("/records/<record_id>", "show_record", show_record, ["GET"]),
    ("/records/<record_id>.pdf", "record_pdf", record_pdf, ["GET"]),
    ("/mine", "mine", mine, ["GET"]),
]
