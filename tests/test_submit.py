"""Submitting through the form (in-process; many clients at once over a real waitress server) against a real bare
remote: branches, commits, push options, nothing lost."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import git, good_form, proxy_headers, record_data, write_record
from processes import wait_until
from webclient import Client, HangingServer

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.records import dump_record
from liaison.core.schema import Schema
from liaison.submit.outbox import Entry


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


def files_at(repo: Path, names: list[str]) -> list[str]:
    """The text of each ``revision:path`` in ``names``, read by one git process (``cat-file --batch``), not one each."""
    done = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="".join(f"{n}\n" for n in names).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    out, texts = done.stdout, []
    for name in names:
        header, _, out = out.partition(b"\n")
        kind, size = header.split()[1:3] if len(header.split()) == 3 else (b"missing", b"0")
        assert kind == b"blob", f"{name}: {header.decode()}"
        texts.append(out[: int(size)].decode("utf-8"))
        out = out[int(size) + 1 :]  # the blob, then a newline
    return texts


def check_branch(remote: Path, branch: str, tmp_path: Path) -> list:
    """Clone the branch as a reviewer would and run build.py check on it."""
    clone = tmp_path / ("review-" + branch.replace("/", "-"))
    subprocess.run(["git", "clone", "-q", "--branch", branch, str(remote), str(clone)], check=True, timeout=60)
    return check_repository(open_project(clone)).problems


def test_a_submission_is_one_branch_with_one_checked_commit_and_the_push_options(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
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
        "merge_request.description=**记录摘要**\\n\\n    领导姓名：赵某\\n    联系时间：2024-10-08"
        "\\n    联系地点：图书馆101\\n    联系对象：国旗护卫队\\n    联系内容：座谈交流。",
        "merge_request.label=联系记录",
        "merge_request.label=待审核",
    ]
    assert f"refs/heads/{branch}" in log
    message = git(remote, "show", "-s", "--format=%B", branch)
    assert "Submission-Token: " in message and "Submitted-By: zhao" in message


def test_the_same_form_sent_twice_is_one_record(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    hidden = client.new_form()
    first = client.post("/new", {**hidden, **good_form()})
    second = client.post("/new", {**hidden, **good_form()})
    assert first.status == second.status == 303 and first.headers["Location"] == second.headers["Location"]
    assert app.config["LIAISON_SUBMITTER"].flush()
    assert len(record_branches(remote_of(form_repo, tmp_path))) == 1


def test_a_correction_is_a_new_commit_on_the_same_branch(form_repo, make_app, tmp_path):
    client, submitter, record_id, remote, branch = delivered_first_draft(form_repo, make_app, tmp_path)
    edit = client.get(f"/records/{record_id}/edit")
    assert edit.status == 200 and "第一稿" in edit.text
    fields = {**good_form(content="改过的第二稿"), "csrf_token": edit.field("csrf_token"), "token": edit.field("token")}
    reply = client.post(f"/records/{record_id}/edit", fields)
    assert reply.status == 303 and reply.headers["Location"].endswith(record_id)
    assert submitter.flush()
    assert git(remote, "rev-list", "--count", f"main..{branch}") == "2"
    assert "改过的第二稿" in git(remote, "show", f"{branch}:records/2024/{record_id}.yaml")
    assert check_branch(remote, branch, tmp_path) == []


def test_a_rejected_push_is_noticed_and_kept(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    remote = remote_of(form_repo, tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GitLab: 拒绝' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    client = Client(app, proxy_headers("zhao"))
    submit(client)
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush() is False
    assert "rejected" in submitter.last_error or "拒绝" in submitter.last_error
    assert len(submitter.pending()) == 1 and record_branches(remote) == []
    hook.unlink()
    assert submitter.flush() and len(record_branches(remote)) == 1


@pytest.mark.early
def test_fifty_submissions_from_ten_clients(form_repo, make_app, live, tmp_path):
    # Over sockets: ten connections at once reach waitress's request threads, as ten leaders' browsers do.
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
    contents = files_at(remote, [f"record/{record_id}:records/2024/{record_id}.yaml" for record_id in sent])
    for (record_id, text), content in zip(sent.items(), contents, strict=True):
        assert text in content and content.count("第") == 2, record_id  # nothing mixed up
    assert check_branch(remote, branches[0], tmp_path) == []


def test_with_the_remote_gone_submissions_are_kept_and_arrive_after_a_restart(
    form_repo, make_app, tmp_path, monkeypatch
):
    from liaison.submit import worker

    monkeypatch.setattr(worker, "FIRST_DELAY", 0.5)  # the retry after the failure comes sooner: the same path
    app = make_app(form_repo)
    remote = remote_of(form_repo, tmp_path)
    away = tmp_path / "unreachable.git"
    shutil.move(remote, away)
    client = Client(app, proxy_headers("zhao"))
    ids = [submit(client, content=f"离线第{n}次") for n in range(10)]
    submitter = app.config["LIAISON_SUBMITTER"]
    wait_until(lambda: submitter.last_error)  # the worker tried and failed: nothing was lost
    assert len(submitter.pending()) == 10
    mine = client.get("/mine")
    assert mine.text.count("正在同步") >= 10
    submitter.stop()  # the service is restarted while GitLab is still away

    shutil.move(away, remote)
    restarted = make_app(form_repo)
    wait_until(lambda: not restarted.config["LIAISON_SUBMITTER"].pending())
    assert sorted(record_branches(remote)) == sorted(f"record/{i}" for i in ids)


def test_my_records_show_merged_review_and_pending(form_repo, make_app):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    reviewed = submit(client, content="等待审核的")
    app.config["LIAISON_SUBMITTER"].flush()
    waiting = submit(client, content="还没同步的", date="2024-10-09")
    page = client.get("/mine")
    statuses = dict(re.findall(r'data-id="([^"]+)"[^>]*>.*?class="status-tag[^"]*">([^<]+)<', page.text, flags=re.S))
    assert statuses[reviewed] == "审核中" and statuses[waiting] == "已提交 · 正在同步"
    assert "已通过" in statuses.values()
    pdf = client.get(f"/records/{waiting}.pdf")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


def test_a_corrected_date_moves_the_record_on_its_branch(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
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
    submitter.refresh()  # look at GitLab again now
    mine = client.get("/mine").text
    assert moved in mine and first not in mine and "审核中" in mine
    assert client.get(f"/records/{moved}.pdf").status == 200


def edit_fields(client: Client, record_id: str, **fields) -> dict:
    edit = client.get(f"/records/{record_id}/edit")
    assert edit.status == 200, edit.status
    return {**good_form(**fields), "csrf_token": edit.field("csrf_token"), "token": edit.field("token")}


def reviewer_commit(remote: Path, branch: str, tmp_path: Path, note: str) -> str:
    """A reviewer's commit on the branch (GitLab's "apply suggestion"), pushed as a person would."""
    clone = tmp_path / "reviewer"
    subprocess.run(["git", "clone", "-q", "--branch", branch, str(remote), str(clone)], check=True, timeout=60)
    (clone / "REVIEW.md").write_text(note, encoding="utf-8")
    git(clone, "add", "REVIEW.md")
    git(clone, "commit", "-q", "-m", "审核意见")
    git(clone, "push", "-q", "origin", branch)
    return git(clone, "rev-parse", "HEAD")


def delivered_first_draft(form_repo, make_app, tmp_path):
    """A leader's record on its review branch: (client, submitter, record id, remote, branch)."""
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    record_id = submit(client, content="第一稿")
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush()
    return client, submitter, record_id, remote_of(form_repo, tmp_path), f"record/{record_id}"


def test_a_correction_after_a_reviewer_commit_keeps_it_and_is_not_forced(form_repo, make_app, tmp_path):
    client, submitter, record_id, remote, branch = delivered_first_draft(form_repo, make_app, tmp_path)
    fields = edit_fields(client, record_id, content="第二稿")  # the mirror has not seen the reviewer's commit
    reviewed = reviewer_commit(remote, branch, tmp_path, "请补充人数")
    git(remote, "config", "receive.denyNonFastForwards", "true")  # as a protected GitLab branch would
    assert client.post(f"/records/{record_id}/edit", fields).status == 303
    assert submitter.flush(), submitter.last_error
    head = git(remote, "rev-parse", branch)
    assert git(remote, "rev-parse", f"{head}^") == reviewed  # built on the remote's head: the review is kept
    assert "第二稿" in git(remote, "show", f"{branch}:records/2024/{record_id}.yaml")
    assert git(remote, "show", f"{branch}:REVIEW.md") == "请补充人数"


def test_a_refused_push_needs_attention_and_holds_back_no_one(form_repo, make_app, tmp_path, caplog):
    app = make_app(form_repo, start_worker=False)
    remote = remote_of(form_repo, tmp_path)
    zhao = Client(app, proxy_headers("zhao"))
    refused = submit(zhao, content="会被拒绝的")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\nwhile read old new ref; do case $ref in *{refused}*) echo 'GitLab: 分支受保护' >&2; exit 1;; esac; done\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    others = [
        submit(Client(zhao.target, proxy_headers(login)), content=f"{login}的") for login in ("zhangwei", "zhangwei2")
    ]
    submitter = app.config["LIAISON_SUBMITTER"]
    with caplog.at_level("INFO", logger="liaison.submit"):
        for _ in range(3):  # a bounded number of tries
            submitter.flush()
    assert sorted(record_branches(remote)) == sorted(f"record/{i}" for i in others)
    token = submitter.pending()[0].token
    state = submitter.entry_state(token)
    assert state.state == "needs-attention" and "分支受保护" in state.last_error and state.tries == 3
    attempts = [r.getMessage() for r in caplog.records if refused in r.getMessage()]
    assert len(attempts) == 3 and all(f"branch=record/{refused}" in a and "分支受保护" in a for a in attempts)
    mine = zhao.get("/mine").text
    assert "需要处理" in mine and "分支受保护" in mine and "不需要重新填写" in mine
    health = zhao.get("/healthz")
    assert health.status == 503 and '"needs_attention":1' in health.text.replace(" ", "") and "zhao" not in health.text


def test_a_correction_of_a_record_merged_meanwhile_is_a_new_merge_request_on_main(form_repo, make_app, tmp_path):
    client, submitter, record_id, remote, branch = delivered_first_draft(form_repo, make_app, tmp_path)
    fields = edit_fields(client, record_id, content="合并后的更正")
    git(remote, "update-ref", "refs/heads/main", git(remote, "rev-parse", branch))  # merged (fast-forward)
    git(remote, "update-ref", "-d", f"refs/heads/{branch}")  # and the source branch removed
    assert client.post(f"/records/{record_id}/edit", fields).status == 303
    assert submitter.flush(), submitter.last_error
    assert git(remote, "rev-parse", f"{branch}^") == git(remote, "rev-parse", "main")
    assert "合并后的更正" in git(remote, "show", f"{branch}:records/2024/{record_id}.yaml")
    assert git(remote, "diff", "--name-status", "main", branch) == f"M\trecords/2024/{record_id}.yaml"


def test_a_resubmitted_form_after_delivery_is_still_one_record(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    hidden = client.new_form()
    first = client.post("/new", {**hidden, **good_form()})
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush() and submitter.pending() == []  # delivered: the entry is in sent/
    again = client.post("/new", {**hidden, **good_form()})
    assert again.status == 303 and again.headers["Location"] == first.headers["Location"]
    assert submitter.pending() == [] and len(record_branches(remote_of(form_repo, tmp_path))) == 1


@pytest.mark.parametrize("token", ["*", "?*", "[a-f]*", "..", "../sent/x", "a" * 32 + "x", "A" * 32, "a" * 31])
def test_a_token_that_is_a_pattern_is_refused_and_shows_no_one_elses_record(form_repo, make_app, token):
    app = make_app(form_repo, start_worker=False)
    other = Client(app, proxy_headers("zhangwei"))
    theirs = submit(other)
    app.config["LIAISON_SUBMITTER"].flush()
    client = Client(app, proxy_headers("zhao"))
    reply = client.post("/new", {**client.new_form(), **good_form(), "token": token})
    assert reply.status in (400, 404)
    assert theirs not in reply.text and theirs not in reply.headers.get("Location", "")
    assert app.config["LIAISON_SUBMITTER"].find_token(token) is None


def test_tab_ext_b_and_emoji_are_written_as_themselves_in_literal_blocks(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    content = "第一段\t表格列\n𪚥字与表情😀👨\u200d👩\u200d👧"
    record_id = submit(client, content=content, target="𪚥社团😀")
    assert app.config["LIAISON_SUBMITTER"].flush()
    text = git(remote_of(form_repo, tmp_path), "show", f"record/{record_id}:records/2024/{record_id}.yaml")
    assert "content: |-\n  第一段\t表格列\n  𪚥字与表情😀👨\u200d👩\u200d👧" in text
    assert "target: |-\n  𪚥社团😀" in text and "\\U" not in text and '"' not in text


@pytest.mark.parametrize("bad", ["\u202e", "\u2066", "\u200b", "\ufeff", "\x07"])
def test_what_no_one_types_on_purpose_is_a_field_error(form_repo, make_app, bad):
    client = Client(make_app(form_repo, start_worker=False), proxy_headers("zhao"))
    reply = client.post("/new", {**client.new_form(), **good_form(content=f"正常文字{bad}反转")})
    assert reply.status == 422 and f"U+{ord(bad):04X}" in reply.text and "第 5 个字符" in reply.text


@pytest.mark.early
def test_a_hanging_remote_freezes_no_page_and_records_arrive_once_it_recovers(
    form_repo, make_app, tmp_path, monkeypatch
):
    from liaison.submit import push

    monkeypatch.setattr(push, "NETWORK_TIMEOUT", 3.0)
    monkeypatch.setattr(push, "LOW_SPEED_TIME", 2)
    hanging = HangingServer()
    try:
        make_app(form_repo, start_worker=False)  # makes the embedded remote, to recover to later
        monkeypatch.setenv("LIAISON_REMOTE", f"http://127.0.0.1:{hanging.port}/records.git")
        app = make_app(form_repo, tmp_path / "hung")
        client = Client(app, proxy_headers("zhao"))
        ids = [submit(client, content=f"远程无响应时第{n}次") for n in range(3)]
        wait_until(lambda: hanging.held)  # the worker is now stuck on the remote
        for path in ["/mine", f"/records/{ids[0]}", "/new", "/healthz"]:
            started = time.monotonic()
            reply = client.get(path)
            assert reply.status in (200, 503) and time.monotonic() - started < 2.0, path
        app.config["LIAISON_SUBMITTER"].stop()
    finally:
        hanging.close()
    monkeypatch.setenv("LIAISON_REMOTE", str(remote_of(form_repo, tmp_path)))
    recovered = make_app(form_repo, tmp_path / "hung")
    wait_until(lambda: not recovered.config["LIAISON_SUBMITTER"].pending())
    assert sorted(record_branches(remote_of(form_repo, tmp_path))) == sorted(f"record/{i}" for i in ids)


def test_a_second_tab_corrects_a_record_whose_date_the_first_tab_changed(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    record_id = submit(client, content="原稿", date="2024-10-08")
    first_tab = edit_fields(client, record_id, content="改了日期", date="2024-10-09")
    second_tab = edit_fields(client, record_id, content="第二个标签页写的长文字")
    first = client.post(f"/records/{record_id}/edit", first_tab)
    second = client.post(f"/records/{record_id}/edit", second_tab)
    assert first.status == 303 and second.status == 303
    back = second.headers["Location"].rsplit("/", 1)[1]  # the second tab's date: the original one
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.flush(), submitter.last_error
    files = git(remote_of(form_repo, tmp_path), "ls-tree", "-r", "--name-only", f"record/{record_id}", "records/")
    assert files.splitlines().count(f"records/2024/{back}.yaml") == 1 and "2024-10-09" not in files
    text = git(remote_of(form_repo, tmp_path), "show", f"record/{record_id}:records/2024/{back}.yaml")
    assert "第二个标签页写的长文字" in text


def test_signed_commits_verify_against_allowed_signers(form_repo, make_app, tmp_path, monkeypatch):
    key = tmp_path / "signing" / "id_ed25519"
    key.parent.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "liaison", "-f", str(key)], check=True, timeout=60
    )
    monkeypatch.setenv("LIAISON_SIGNING_KEY", str(key))
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    record_id = submit(client)
    assert app.config["LIAISON_SUBMITTER"].flush(), app.config["LIAISON_SUBMITTER"].last_error
    public = (tmp_path / "signing" / "id_ed25519.pub").read_text(encoding="utf-8").split()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'liaison@localhost namespaces="git" {public[0]} {public[1]}\n', encoding="utf-8")
    remote = remote_of(form_repo, tmp_path)
    verify = ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", f"record/{record_id}"]
    assert subprocess.run(verify, cwd=remote, capture_output=True, timeout=60).returncode == 0
    other = tmp_path / "signing" / "other"  # a key the administrator never listed
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=60)
    stranger = (tmp_path / "signing" / "other.pub").read_text(encoding="utf-8").split()
    allowed.write_text(f'liaison@localhost namespaces="git" {stranger[0]} {stranger[1]}\n', encoding="utf-8")
    assert subprocess.run(verify, cwd=remote, capture_output=True, timeout=60).returncode != 0


def test_the_outbox_command_lists_retries_exports_and_imports_once(form_repo, make_app, tmp_path, run):
    app = make_app(form_repo, start_worker=False)
    remote = remote_of(form_repo, tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GitLab: 暂停' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    record_id = submit(Client(app, proxy_headers("zhao")))
    submitter = app.config["LIAISON_SUBMITTER"]
    submitter.flush()
    data = str(tmp_path / "data")
    listed = run(form_repo, "outbox", "--data", data, "--format", "json")
    rows = json.loads(listed.output)
    assert listed.exit_code == 0 and [r["record_id"] for r in rows] == [record_id]
    assert rows[0]["state"] == "deferred" and "暂停" in rows[0]["last_error"] and rows[0]["age_seconds"] >= 0
    exported = tmp_path / "outbox.json"
    assert run(form_repo, "outbox", "--data", data, "--export", str(exported)).exit_code == 0
    moved = tmp_path / "new-machine"
    (moved / "outbox").mkdir(parents=True)
    for _ in range(2):  # importing twice makes one entry
        assert run(form_repo, "outbox", "--data", str(moved), "--import", str(exported)).exit_code == 0
    assert len(list((moved / "outbox").glob("*.json"))) == 1
    hook.unlink()
    retried = run(form_repo, "outbox", "--data", data, "--retry", rows[0]["token"])
    assert retried.exit_code == 0 and "已送达" in retried.output
    assert record_branches(remote) == [f"record/{record_id}"]


def test_the_merge_request_description_is_one_safe_line(form_repo, make_app, tmp_path):
    app = make_app(form_repo, start_worker=False)
    client = Client(app, proxy_headers("zhao"))
    content = "第一行 @all 看\\n这里\n第二行 ![x](http://evil/) " + "长" * 200
    submit(client, content=content)
    assert app.config["LIAISON_SUBMITTER"].flush()
    log = (remote_of(form_repo, tmp_path) / "push-options.log").read_text(encoding="utf-8")
    option = next(line for line in log.splitlines() if line.startswith("option merge_request.description="))
    text = option.split("联系内容：", 1)[1]
    # Inside an indented code block, where GitLab acts on nothing (tests/test_gitlab_text.py): shown as typed.
    assert "第一行 @all 看＼n这里\\n      第二行 ![x](http://evil/)" in text and "\n" not in option
    assert text.endswith("长……") and text.count("长") < 100


@pytest.mark.parametrize(
    "field, text, word",
    [
        ("content", "看似正常\u202e反转的文字", "U+202E"),
        ("target", "学生\u200b会", "U+200B"),
        ("target", "学生\n会", "U+000A"),  # a newline only in long text
    ],
)
def test_check_applies_the_same_character_rule(repo, run, field, text, word):
    schema = Schema.load(repo / "schema" / "record.yaml")
    write_record(repo, text=dump_record(record_data(**{field: text}), schema))
    result = run(repo, "check")
    assert result.exit_code == 1 and word in result.output and f"({field})" in result.output


def test_emoji_tabs_and_newlines_in_long_text_pass_check(repo, run):
    schema = Schema.load(repo / "schema" / "record.yaml")
    content = "第一段\t表格\n第二段 👨\u200d👩\u200d👧 𪚥"
    write_record(repo, text=dump_record(record_data(content=content, target="学生会😀"), schema))
    assert run(repo, "check").exit_code == 0


def test_an_outbox_of_the_first_layout_is_still_delivered_and_known(form_repo, make_app, tmp_path):
    token = "ab" * 16
    yaml_text = (form_repo / "records").rglob("*.yaml").__next__().read_text(encoding="utf-8")
    entry = Entry(
        token,
        "new",
        "2024-09-01-T1-0000bb",
        "T1",
        "赵某",
        "zhao@example.edu.cn",
        yaml_text,
        "赵某 旧格式",
        "2024-10-08T00:00:00+00:00",
    )
    old = tmp_path / "data" / "outbox" / f"{1_700_000_000_000_000_000:020d}-{token}.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps(entry.__dict__, ensure_ascii=False), encoding="utf-8")
    app = make_app(form_repo, start_worker=False)
    submitter = app.config["LIAISON_SUBMITTER"]
    assert submitter.find_token(token) is not None and not old.exists()
    assert submitter.flush(), submitter.last_error
    assert record_branches(remote_of(form_repo, tmp_path)) == ["record/2024-09-01-T1-0000bb"]
    assert submitter.find_token(token).record_id == "2024-09-01-T1-0000bb"
