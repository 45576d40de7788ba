"""申请更正: a leader corrects an approved record with a reason; it becomes a merge request against main
(with Reopen-Reason when its semester is closed) and shows on 我的记录 as 更正审核中 (issue 30 item 7).

The form in-process (Flask's test client), real git: the embedded stand-in
for GitLab is a bare repository, the commit read back from it.
"""

from __future__ import annotations

import pytest
from conftest import CONFIG, git, good_form
from inprocess import Elements, Leader

from liaison.core.project import open_project
from liaison.git.closed import check_with_history

APPROVED = "2024-09-01-T1-0000aa"  # form_repo's record on main


def _app(form_repo, make_app, extra: str = ""):
    (form_repo / "config.yaml").write_text(
        CONFIG + "web:\n  remote: ''\n  labels: [联系记录]\n" + extra, encoding="utf-8"
    )
    git(form_repo, "commit", "-qam", "配置")
    app = make_app(form_repo, start_worker=False)
    app.config["LIAISON_SUBMITTER"].refresh()  # the mirror knows main: the record is approved
    return app


def _mine(leader: Leader) -> dict[str, dict]:
    page = Elements(leader.get("/mine").text)
    items = {li["data-id"]: li for li in page.select("li") if li.get("data-id")}
    for ident, item in items.items():
        item["links"] = [a["text"] for a in page.found if a["tag"] == "a" and ident in a.get("href", "")]
    return items


def _request(leader: Leader, record_id: str, reason: str, **fields):
    hidden = leader.hidden(f"/records/{record_id}/edit")
    return leader.post(f"/records/{record_id}/edit", {**hidden, **good_form(**fields), "reason": reason})


def test_an_approved_record_offers_a_correction_request_that_needs_a_reason(form_repo, make_app):
    leader = Leader(_app(form_repo, make_app))
    item = _mine(leader)[APPROVED]
    assert item["data-status"] == "approved" and "申请更正" in item["links"] and "修改" not in item["links"]
    record = leader.get(f"/records/{APPROVED}").text
    assert "申请更正" in record and "请联系思政科" not in record
    edit = leader.get(f"/records/{APPROVED}/edit")
    assert edit.status_code == 200
    page = Elements(edit.text)
    assert "申请更正" in page.select("h1")[0]["text"] and page.by_id("f-reason")["tag"] == "textarea"
    refused = _request(leader, APPROVED, "   ", date="2024-09-01")
    assert refused.status_code == 422
    assert "更正理由：请填写更正理由。" in Elements(refused.text).by_id("error-summary")["text"]
    assert leader.client.application.config["LIAISON_SUBMITTER"].pending() == []


def test_a_correction_request_is_a_merge_request_against_main_and_shows_as_under_review(form_repo, make_app, tmp_path):
    app = _app(form_repo, make_app)
    leader = Leader(app)
    reply = _request(leader, APPROVED, "联系内容漏写了学生提出的问题。", date="2024-09-01", content="补充后的内容。")
    assert reply.status_code == 303 and reply.headers["Location"].endswith(APPROVED)
    assert "更正申请已提交" in leader.get(reply.headers["Location"]).text
    assert _mine(leader)[APPROVED]["data-status"] == "correcting"
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    remote = tmp_path / "data" / "remote.git"
    branch = f"record/{APPROVED}"
    assert git(remote, "rev-parse", f"{branch}^") == git(remote, "rev-parse", "main")
    assert "补充后的内容" in git(remote, "show", f"{branch}:records/2024/{APPROVED}.yaml")
    message = git(remote, "show", "-s", "--format=%B", branch)
    assert "更正理由：联系内容漏写了学生提出的问题。" in message and "Reopen-Reason" not in message
    log = (remote / "push-options.log").read_text(encoding="utf-8").split("--- push")[-1]
    assert "option merge_request.create" in log and "option merge_request.target=main" in log
    assert "（申请更正）" in log and "更正理由" in log
    submitter.refresh()
    mine = _mine(leader)
    assert list(mine).count(APPROVED) == 1 and mine[APPROVED]["data-status"] == "correcting"
    assert "更正审核中" in mine[APPROVED]["text"] and "修改" in mine[APPROVED]["links"]


def test_a_corrected_date_of_an_approved_record_in_a_closed_semester_carries_reopen_reason(
    form_repo, make_app, tmp_path
):
    app = _app(form_repo, make_app, "closed_semesters:\n  2024-2025-1: 2025-03-01\n")
    leader = Leader(app)
    reply = _request(leader, APPROVED, "日期记错了，应为 9 月 2 日。", date="2024-09-02")
    moved = reply.headers["Location"].rsplit("/", 1)[1]
    assert moved == "2024-09-02-T1-0000aa"
    mine = _mine(leader)
    assert APPROVED not in mine and mine[moved]["data-status"] == "correcting"
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    submitter.refresh()
    mine = _mine(leader)
    assert APPROVED not in mine and mine[moved]["data-status"] == "correcting"
    remote = tmp_path / "data" / "remote.git"
    branch = f"record/{moved}"
    message = git(remote, "show", "-s", "--format=%B", branch)
    assert "Reopen-Reason: 日期记错了，应为 9 月 2 日。" in message
    assert git(remote, "show", "--no-renames", "--name-status", "--format=", branch).splitlines() == [
        f"D\trecords/2024/{APPROVED}.yaml",
        f"A\trecords/2024/{moved}.yaml",
    ]
    # A second correction while the request is open goes onto it, with a reason and the trailer again.
    assert _request(leader, moved, "", date="2024-09-02", content="再补一句。").status_code == 422
    reply = _request(leader, moved, "再补充一句学生的原话。", date="2024-09-02", content="再补一句。")
    assert reply.status_code == 303 and submitter.flush()
    assert git(remote, "rev-list", "--count", f"main..{branch}") == "2"
    assert "Reopen-Reason: 再补充一句学生的原话。" in git(remote, "show", "-s", "--format=%B", branch)
    # The merge request's check: a change to a closed semester passes only with the trailer.
    clone = tmp_path / "review"
    git(tmp_path, "clone", "-q", "--branch", branch, str(remote), str(clone))
    result = check_with_history(open_project(clone), since="origin/main")
    assert result.problems == [], [p.message for p in result.problems]


@pytest.mark.parametrize("reason", ["原因" * 251, "有\u200b零宽字符"])
def test_a_reason_too_long_or_with_a_hidden_character_is_a_field_error(form_repo, make_app, reason):
    leader = Leader(_app(form_repo, make_app))
    reply = _request(leader, APPROVED, reason, date="2024-09-01")
    assert reply.status_code == 422 and Elements(reply.text).by_id("e-reason")
