"""A corrected date changes a record's 编号; the old address still leads to the record as it is now (issue 30 item 6).

On the form (in-process): the old id's page, PDF and edit addresses answer
with a redirect to the record's, which says it was corrected. On the site:
the old id's page is a small page that opens the record now (in Chromium).
"""

from __future__ import annotations

import datetime
import shutil

import pytest
from conftest import PROJECT, commit_all, git, good_form, record_data, write_record
from inprocess import Elements, Leader
from test_site_incremental import build

from liaison.core.records import record_path


@pytest.fixture
def app(form_repo, make_app):
    return make_app(form_repo, start_worker=False)


def _submit(leader: Leader, **fields) -> str:
    reply = leader.post("/new", {**leader.hidden(), **good_form(**fields)})
    assert reply.status_code == 303, reply.text[:300]
    return reply.headers["Location"].rsplit("/", 1)[1]


def _moved(app) -> tuple[Leader, str, str]:
    leader = Leader(app)
    old = _submit(leader, date="2024-10-08")
    reply = leader.post(
        f"/records/{old}/edit", {**leader.hidden(f"/records/{old}/edit"), **good_form(date="2024-10-09")}
    )
    assert reply.status_code == 303
    new = reply.headers["Location"].rsplit("/", 1)[1]
    assert new != old and new.startswith("2024-10-09-") and new.split("-")[-1] == old.split("-")[-1]
    return leader, old, new


@pytest.mark.parametrize("tail", ["", ".pdf", "/edit"])
def test_an_old_address_of_a_record_whose_date_was_corrected_leads_to_it(app, tail):
    leader, old, new = _moved(app)
    reply = leader.get(f"/records/{old}{tail}")
    assert reply.status_code == 301
    assert reply.headers["Location"].endswith(f"/records/{new}{tail}?moved_from={old}")
    landed = leader.get(reply.headers["Location"])
    assert landed.status_code == 200
    if tail == "":
        notice = Elements(landed.text).select("p", **{"class": "notice moved", "role": "status"})
        assert notice and old in notice[0]["text"] and new in notice[0]["text"] and "已更正" in notice[0]["text"]
    if tail == ".pdf":
        assert landed.data[:5] == b"%PDF-"


def test_the_old_address_is_still_not_found_for_another_leader_and_a_stray_moved_from_says_nothing(app):
    _, old, new = _moved(app)
    other = Leader(app, "zhangwei")
    assert other.get(f"/records/{old}").status_code == 404
    owner = Leader(app)
    page = owner.get(f"/records/{new}?moved_from=2024-01-01-T1-ffffff").text  # another record's id
    assert "旧的记录编号" not in page


def test_the_sites_old_address_opens_the_record_as_it_is_now(repo, tmp_path, browser, serve):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    old_path = write_record(repo, record_data(date=datetime.date(2024, 9, 15)), suffix="abc123")
    commit_all(repo, "新增")
    new_id = "2024-09-16-T1-abc123"
    git(repo, "mv", old_path, record_path(new_id))
    text = (repo / record_path(new_id)).read_text(encoding="utf-8").replace("2024-09-15", "2024-09-16")
    (repo / record_path(new_id)).write_text(text, encoding="utf-8")
    commit_all(repo, "更正联系时间")
    out = tmp_path / "public"
    build(repo, out, tmp_path / "cache")
    old_id = "2024-09-15-T1-abc123"
    assert (out / "records" / f"{new_id}.html").exists() and (out / "records" / f"{old_id}.html").exists()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(serve(out) + f"records/{old_id}.html")
    page.wait_for_url(f"**/records/{new_id}.html")
    assert "2024年9月16日" in page.inner_text("h1")
    context.close()
    html = (out / "records" / f"{old_id}.html").read_text(encoding="utf-8")
    assert "已更正" in html and "2024年9月16日" in html and f'href="{new_id}.html"' in html
