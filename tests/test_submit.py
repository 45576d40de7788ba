"""Submitting through the form against a real bare remote: branches, commits, push options, nothing lost."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from conftest import git, good_form, proxy_headers
from webclient import Client

from liaison.core.checks import check_repository
from liaison.core.project import open_project


def remote_of(root: Path, tmp_path: Path) -> Path:
    return tmp_path / "data" / "remote.git"


def record_branches(remote: Path) -> list[str]:
    refs = git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads/record/")
    return [r for r in refs.splitlines() if r]


def submit(client: Client, **fields) -> str:
    """Fill and send the form; returns the record id it redirects to."""
    hidden = client.new_form()
    reply = client.post("/new", {**hidden, **good_form(**fields)})
    assert reply.status == 303, reply.text[:500]
    return reply.headers["Location"].rsplit("/", 1)[1]


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def check_branch(remote: Path, branch: str, tmp_path: Path) -> list:
    """Clone the branch as a reviewer would and run build.py check on it."""
    clone = tmp_path / ("review-" + branch.replace("/", "-"))
    subprocess.run(["git", "clone", "-q", "--branch", branch, str(remote), str(clone)], check=True)
    return check_repository(open_project(clone)).problems


def test_a_submission_is_one_branch_with_one_checked_commit_and_the_push_options(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    record_id = submit(client, target="国旗护卫队", date="2024-10-08")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert len(submitter.pending()) == 1  # acknowledged before any git work
    assert submitter.flush()
    remote = remote_of(form_repo, tmp_path)
    branch = f"record/{record_id}"
    assert record_branches(remote) == [branch]
    main = git(remote, "rev-parse", "main")
    assert git(remote, "rev-list", f"main..{branch}").splitlines() == [git(remote, "rev-parse", branch)]
    assert git(remote, "rev-parse", f"{branch}^") == main
    assert git(remote, "show", "--name-status", "--format=", branch) == f"A\trecords/2024/{record_id}.yaml"
    who = git(remote, "show", "-s", "--format=%an|%ae|%cn|%ce", branch)
    assert who == "赵某|zhao@example.edu.cn|liaison 表单服务|liaison@localhost"
    assert check_branch(remote, branch, tmp_path) == []
    log = (remote / "push-options.log").read_text(encoding="utf-8").split("--- push")[-1]
    options = [line[len("option ") :] for line in log.splitlines() if line.startswith("option ")]
    assert options == [
        "merge_request.create",
        "merge_request.target=main",
        "merge_request.title=赵某 2024-10-08 联系国旗护卫队",
        "merge_request.remove_source_branch",
        "merge_request.label=联系记录",
        "merge_request.label=待审核",
    ]
    assert f"refs/heads/{branch}" in log


def test_the_same_form_sent_twice_is_one_record(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    hidden = client.new_form()
    first = client.post("/new", {**hidden, **good_form()})
    second = client.post("/new", {**hidden, **good_form()})
    assert first.status == second.status == 303 and first.headers["Location"] == second.headers["Location"]
    assert app.config["LIAISON_SUBMITTER"].flush()
    assert len(record_branches(remote_of(form_repo, tmp_path))) == 1


def test_a_correction_is_a_new_commit_on_the_same_branch(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    record_id = submit(client, content="第一稿")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    edit = client.get(f"/records/{record_id}/edit")
    assert edit.status == 200 and "第一稿" in edit.text
    fields = {**good_form(content="改过的第二稿"), "csrf_token": edit.field("csrf_token"), "token": edit.field("token")}
    reply = client.post(f"/records/{record_id}/edit", fields)
    assert reply.status == 303 and reply.headers["Location"].endswith(record_id)
    assert submitter.flush()
    remote = remote_of(form_repo, tmp_path)
    branch = f"record/{record_id}"
    assert git(remote, "rev-list", "--count", f"main..{branch}") == "2"
    assert "改过的第二稿" in git(remote, "show", f"{branch}:records/2024/{record_id}.yaml")
    assert check_branch(remote, branch, tmp_path) == []


def test_a_rejected_push_is_noticed_and_kept(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo, start_worker=False)
    remote = remote_of(form_repo, tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GitLab: 拒绝' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    client = Client(live(app), proxy_headers("zhao"))
    submit(client)
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush() is False
    assert "rejected" in submitter.last_error or "拒绝" in submitter.last_error
    assert len(submitter.pending()) == 1 and record_branches(remote) == []
    hook.unlink()
    assert submitter.flush() and len(record_branches(remote)) == 1


def test_fifty_submissions_from_ten_clients(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo)
    port = live(app)
    sent: dict[str, str] = {}
    failures = []
    logins = ["zhao", "zhangwei", "zhangwei2"]

    def worker(n: int) -> None:
        client = Client(port, proxy_headers(logins[n % 3]))
        for k in range(5):
            text = f"第{n}号客户端第{k}次联系"
            try:
                sent[submit(client, content=text, date=f"2024-10-{1 + k:02d}")] = text
            except AssertionError as err:
                failures.append(str(err))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(sent) == 50
    submitter = app.config["LIAISON_SUBMITTER"]
    wait_until(lambda: not submitter.pending())
    remote = remote_of(form_repo, tmp_path)
    branches = record_branches(remote)
    assert sorted(branches) == sorted(f"record/{i}" for i in sent)
    for record_id, text in sent.items():
        content = git(remote, "show", f"record/{record_id}:records/2024/{record_id}.yaml")
        assert text in content and content.count("第") == 2  # nothing mixed up
    assert check_branch(remote, branches[0], tmp_path) == []


def test_with_the_remote_gone_submissions_are_kept_and_arrive_after_a_restart(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo)
    remote = remote_of(form_repo, tmp_path)
    away = tmp_path / "unreachable.git"
    shutil.move(remote, away)
    client = Client(live(app), proxy_headers("zhao"))
    ids = [submit(client, content=f"离线第{n}次") for n in range(10)]
    submitter = app.config["LIAISON_SUBMITTER"]
    time.sleep(0.5)
    assert len(submitter.pending()) == 10 and submitter.last_error
    mine = client.get("/mine")
    assert mine.text.count("正在同步") >= 10
    submitter.stop()  # the service is restarted while GitLab is still away

    shutil.move(away, remote)
    restarted = make_app(form_repo)
    wait_until(lambda: not restarted.config["LIAISON_SUBMITTER"].pending())
    assert sorted(record_branches(remote)) == sorted(f"record/{i}" for i in ids)


def test_my_records_show_merged_review_and_pending(form_repo, make_app, live):
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    reviewed = submit(client, content="等待审核的")
    app.config["LIAISON_SUBMITTER"].flush()
    waiting = submit(client, content="还没同步的", date="2024-10-09")
    page = client.get("/mine")
    statuses = dict(re.findall(r'data-id="([^"]+)"[^>]*>.*?class="status-tag[^"]*">([^<]+)<', page.text, flags=re.S))
    assert statuses[reviewed] == "审核中" and statuses[waiting] == "已提交 · 正在同步"
    assert "已通过" in statuses.values()
    pdf = client.get(f"/records/{waiting}.pdf")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


def test_a_corrected_date_moves_the_record_on_its_branch(form_repo, make_app, live, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    first = submit(client, content="日期填错了", date="2024-10-08")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    edit = client.get(f"/records/{first}/edit")
    fields = {
        **good_form(content="日期已更正", date="2024-10-09"),
        "csrf_token": edit.field("csrf_token"),
        "token": edit.field("token"),
    }
    reply = client.post(f"/records/{first}/edit", fields)
    moved = reply.headers["Location"].rsplit("/", 1)[1]
    assert moved == "2024-10-09-" + first.split("-", 3)[3]  # same leader and random part, new date
    assert "正在同步" in client.get("/mine").text and first not in client.get("/mine").text
    assert submitter.flush(), submitter.last_error
    remote = remote_of(form_repo, tmp_path)
    branch = f"record/{first}"  # the merge request keeps its branch
    assert record_branches(remote) == [branch]
    files = git(remote, "ls-tree", "-r", "--name-only", branch, "records/2024/").splitlines()
    assert f"records/2024/{moved}.yaml" in files and f"records/2024/{first}.yaml" not in files
    assert check_branch(remote, branch, tmp_path) == []
    app.config["LIAISON_FETCHED"] = {"at": 0.0, "error": ""}  # look at GitLab again now
    mine = client.get("/mine").text
    assert moved in mine and first not in mine and "审核中" in mine
    assert client.get(f"/records/{moved}.pdf").status == 200
