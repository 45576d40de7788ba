"""我的记录 with many records: by semester, newest first, each with its count and the minimum; what was just
submitted first; a semester's PDFs as one zip named like the export (issue 30 item 8). In-process."""

from __future__ import annotations

import io
import zipfile

import pytest
from conftest import CONFIG, git, good_form
from inprocess import Elements, Leader


@pytest.fixture
def app(form_repo, make_app, monkeypatch):
    monkeypatch.setenv("LIAISON_TODAY", "2025-10-20")
    (form_repo / "config.yaml").write_text(CONFIG + "web:\n  remote: ''\nreminders:\n  minimum: 2\n", encoding="utf-8")
    git(form_repo, "commit", "-qam", "配置")
    app = make_app(form_repo, start_worker=False)
    app.config["LIAISON_SUBMITTER"].refresh()  # the mirror knows main's approved record (2024-09-01)
    return app


def _submit(leader: Leader, **fields) -> str:
    reply = leader.post("/new", {**leader.hidden(), **good_form(**fields)})
    assert reply.status_code == 303, reply.text[:300]
    leader.get(reply.headers["Location"])  # the page after a submit, as a browser follows it
    return reply.headers["Location"].rsplit("/", 1)[1]


def _sections(leader: Leader) -> list[dict]:
    page = Elements(leader.get("/mine").text)
    out = []
    for section in page.select("section"):
        start = page.found.index(section)
        inner = [e for e in page.found[start + 1 :] if e is not section]
        end = next((n for n, e in enumerate(inner) if e["tag"] == "section"), len(inner))
        inner = inner[:end]
        out.append(
            {
                "semester": section.get("data-semester", "recent"),
                "title": next(e["text"] for e in inner if e["tag"] == "h2"),
                "text": section["text"],
                "ids": [e["data-id"] for e in inner if e["tag"] == "li" and e.get("data-id")],
                "zip": next((e["href"] for e in inner if e["tag"] == "a" and "zip" in e.get("class", "")), ""),
            }
        )
    return out


def test_records_are_grouped_by_semester_newest_first_with_count_and_minimum(app):
    leader = Leader(app)
    ids = [_submit(leader, date=day) for day in ("2025-03-10", "2024-10-08", "2025-10-09", "2025-09-20")]
    leader.client.delete_cookie("session")  # another visit: nothing counts as just submitted
    sections = _sections(leader)
    assert [s["semester"] for s in sections] == ["2025-2026-1", "2024-2025-2", "2024-2025-1"]
    assert sections[0]["ids"] == [ids[2], ids[3]]  # newest contact first
    assert "2 条，要求至少 2 次" in sections[0]["text"] and "1 条，要求至少 2 次" in sections[1]["text"]
    assert sections[0]["zip"].endswith("/mine/2025-2026-1.zip")
    # form_repo's approved record (2024-09-01) is in 2024-2025-1 with the one just sent
    assert len(sections[2]["ids"]) == 2


def test_a_record_just_submitted_comes_first_whatever_its_date(app):
    leader = Leader(app)
    _submit(leader, date="2025-10-09")
    old = _submit(leader, date="2024-10-08", target="校史馆讲解队")
    sections = _sections(leader)
    assert sections[0]["semester"] == "recent" and sections[0]["ids"][0] == old
    assert all(old not in s["ids"] for s in sections[1:])
    autumn = next(s for s in sections if s["semester"] == "2024-2025-1")
    assert "2 条" in autumn["text"]  # counted in its semester though listed above


def test_a_semester_zip_holds_the_leaders_own_pdfs_named_by_date_and_contact(app):
    leader = Leader(app)
    _submit(leader, date="2025-10-09", target="国旗护卫队/礼仪队")
    _submit(leader, date="2025-09-20", target="学生会")
    other = Leader(app, "zhangwei")
    _submit(other, date="2025-10-01", target="他人的记录")
    reply = leader.get("/mine/2025-2026-1.zip")
    assert reply.status_code == 200 and reply.mimetype == "application/zip"
    assert "attachment" in reply.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    names = sorted(archive.namelist())
    assert names == ["赵某/2025-09-20_学生会.pdf", "赵某/2025-10-09_国旗护卫队／礼仪队.pdf"]
    assert all(archive.read(name)[:5] == b"%PDF-" for name in names)
    assert leader.get("/mine/2023-2024-1.zip").status_code == 404  # no record there
    assert leader.get("/mine/..%2Fsecret.zip").status_code == 404
    assert other.get("/mine/2025-2026-1.zip").status_code == 200
    assert zipfile.ZipFile(io.BytesIO(other.get("/mine/2025-2026-1.zip").data)).namelist()[0].startswith("张伟")


@pytest.mark.parametrize(
    "target",
    [
        "国旗护卫队/礼仪队",
        "../../etc: CON? *",
        "CON",
        "学生会 🎉👨‍👩‍👧",
        "2023级临床医学" + "一二三四五六七八九十" * 19,
    ],
)
def test_a_record_pdf_downloads_under_the_name_it_has_in_the_semester_zip(app, target):
    """The PDF of one record (即填即导) and the same PDF in the semester's zip and the export: one name."""
    from urllib.parse import unquote

    leader = Leader(app)
    record = _submit(leader, date="2025-10-09", target=target)
    single = leader.get(f"/records/{record}.pdf")
    assert single.status_code == 200 and single.data[:5] == b"%PDF-"
    named = unquote(single.headers["Content-Disposition"].split("filename*=UTF-8''", 1)[1])
    [entry] = zipfile.ZipFile(io.BytesIO(leader.get("/mine/2025-2026-1.zip").data)).namelist()
    assert named == entry.split("/", 1)[1]
    assert len(named.encode("utf-8")) <= 255 and "/" not in named and named.endswith(".pdf")
