"""To-dos at every step, driven through the running form service (a real waitress server on loopback).

GitLab's webhook deliveries are posted as GitLab documents them
(doc/user/project/integrations/webhook_events.md: merge request, comment and
pipeline events, with X-Gitlab-Token, X-Gitlab-Event and X-Gitlab-Event-UUID).
The providers are stand-ins (tests/notify_standins.py), because 阿里云短信,
腾讯云短信, 企业微信 and 钉钉 cannot run here: local HTTP servers that recompute
each request's signature from the secret by the published algorithm and
check the requests as the providers document them; the SDKs themselves are
the real, official ones. The tests assert who received which template with
which parameters.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import CONFIG, PROJECT, PROXY_SECRET, commit_all, git, good_form, proxy_headers, seed_embedded_remote
from notify_standins import APP_SECRET, KEY_ID, KEY_SECRET, AliyunSms, DingTalk, Generic, TencentSms, WeCom
from ports import healthz, start_server
from processes import wait_until
from webclient import Client

from liaison.notify.todoledger import FAILED, HELD, SENT

HOOK_SECRET = "gitlab-webhook-secret-for-tests"
PROJECT_URL = "https://gitlab.example.edu.cn/xgc/records"
TEMPLATES = "{reminder: SMS_0001, approved: SMS_0002, returned: SMS_0003, pending: SMS_0004, exported: SMS_0005}"
ROSTER = """\
leaders:
  - {id: T1, name: 赵某, department: 学生工作处, position: 副处长, login: zhao, email: zhao@example.edu.cn, mobile: '13800000001', active: true}
  - {id: T2, name: 张伟, department: 学生工作处, position: 处长, login: zhangwei, mobile: '13800000002', notify: [app], active: true}
  - {id: T3, name: 张伟, department: 基础医学院, position: 党委书记, login: zhangwei2, mobile: '13800000003', active: true}
"""
USERS = {"zhao", "zhangwei", "zhangwei2", "wanglaoshi", "lilaoshi"}
DAYTIME = "2025-10-20T10:00:00+08:00"
RECORD = "2025-10-08-T1-3fa2c1"


def notify_section(sms, app, gather=0, office=2, quiet="22:00-08:00", limits="", app_extra="") -> str:
    people = [
        "    - {name: 王老师, login: wanglaoshi, mobile: '13800000009'}",
        "    - {name: 李老师, login: lilaoshi, mobile: '13800000008'}",
    ][:office]
    return f"""\
notify:
  quiet_hours: "{quiet}"
  form_url: https://form.example.edu.cn
  gather_seconds: {gather}
  office:
{chr(10).join(people)}
  sms:
    provider: {sms.name}
    endpoint: {sms.url}
    sign_name: 测试大学
    sdk_app_id: '1400000000'
    templates: {TEMPLATES}
{limits}  app:
    provider: {app.name}
    endpoint: {app.url}
    corp_id: ww0123456789abcdef
    app_key: dingstandinappkey
    agent_id: 1000002
{app_extra}"""


@pytest.fixture
def providers():
    made = {
        "aliyun": AliyunSms(),
        "tencent": TencentSms(),
        "wecom": WeCom(USERS),
        "dingtalk": DingTalk(USERS),
        "sms-gateway": Generic(KEY_SECRET),
        "app-gateway": Generic(APP_SECRET),
    }
    yield made
    # All six at once: each waits up to its 0.05 s look for the stop, and one after another that was 0.15 s a test.
    closing = [threading.Thread(target=standin.close, daemon=True) for standin in made.values()]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join(timeout=60)
    assert not [thread for thread in closing if thread.is_alive()], "a provider stand-in did not stop within 60 s"


@pytest.fixture
def secrets(monkeypatch):
    for name, value in {
        "LIAISON_SMS_KEY_ID": KEY_ID,
        "LIAISON_SMS_KEY_SECRET": KEY_SECRET,
        "LIAISON_APP_SECRET": APP_SECRET,
        "LIAISON_GITLAB_WEBHOOK_SECRET": HOOK_SECRET,
        "LIAISON_NOW": DAYTIME,
    }.items():
        monkeypatch.setenv(name, value)


class Service:
    """The running form as GitLab and a monitor see it: webhook deliveries and /healthz (and, in-process, its notifier)."""

    def __init__(self, port: int, app=None):
        self.app, self.port = app, port
        self.notifier = app.config["LIAISON_NOTIFIER"] if app is not None else None

    def hook(self, kind: str, payload: dict, delivery: str | None = None, token: str | None = HOOK_SECRET, body=None):
        headers = {
            "Content-Type": "application/json",
            "X-Gitlab-Event": kind,
            "X-Gitlab-Instance": "https://gitlab.example.edu.cn",
        }
        headers["X-Gitlab-Event-UUID"] = delivery or str(uuid.uuid4())
        if token is not None:
            headers["X-Gitlab-Token"] = token
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("POST", "/hooks/gitlab", body=body or json.dumps(payload).encode(), headers=headers)
        response = connection.getresponse()
        reply = response.status, response.read()
        connection.close()
        return reply

    def health(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        reply = response.status, json.loads(response.read())
        connection.close()
        return reply

    def idle(self) -> bool:
        """Nothing left for the worker now: no delivery due, nothing due or being sent."""
        now = self.notifier.now()
        ledger, gather = self.notifier.ledger, self.notifier.settings.gather_seconds
        # Under the ledger's lock, as the worker changes it: it queues a delivery's to-do, then takes the delivery
        # out of the inbox. Read between the two without it, the to-dos before and the inbox after, it looked idle
        # with nothing sent (a full run failed so, once).
        with ledger.lock():
            waiting, events = ledger.waiting(), ledger.events()
        busy = [
            i for i in waiting if i["state"] == "sending" or (i["state"] in ("queued", "held") and i["next_try"] <= now)
        ]
        return not busy and not [e for _, e in events if e["received"] + gather <= now]

    def settle(self) -> None:
        self.notifier.wake()
        wait_until(self.idle)


@pytest.fixture
def service(form_repo, make_app, live, providers, secrets, tmp_path):
    """service(sms=…, app=…, roster=…, gather=…) -> Service: the form with its notifier running against the stand-ins."""

    def start(sms="aliyun", app="wecom", roster=ROSTER, **options) -> Service:
        (form_repo / "roster.yaml").write_text(roster, encoding="utf-8")
        config = (form_repo / "config.yaml").read_text(encoding="utf-8").split("notify:")[0]
        (form_repo / "config.yaml").write_text(
            config + notify_section(providers[sms], providers[app], **options), encoding="utf-8"
        )
        made = make_app(form_repo, tmp_path / "data")
        return Service(live(made), made)

    return start


def merge_request(
    action,
    iid=1,
    record=RECORD,
    state=None,
    labels=(),
    previous=None,
    commit="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    target="学生会",
):
    """A Merge Request Hook payload in GitLab's documented shape (the fields the flow reads, and their neighbours)."""
    state = (
        state
        or {"open": "opened", "reopen": "opened", "update": "opened", "merge": "merged", "close": "closed"}[action]
    )
    label_objects = [
        {"id": 206 + n, "title": t, "color": "#ffffff", "type": "ProjectLabel"} for n, t in enumerate(labels)
    ]
    payload = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 1, "name": "联系记录表单", "username": "liaison-form"},
        "project": {
            "id": 7,
            "name": "records",
            "web_url": PROJECT_URL,
            "path_with_namespace": "xgc/records",
            "default_branch": "main",
        },
        "object_attributes": {
            "id": 99 + iid,
            "iid": iid,
            "target_branch": "main",
            "source_branch": f"record/{record}",
            "title": f"赵某 {record[:10]} 联系{target}",
            "state": state,
            "action": action,
            "url": f"{PROJECT_URL}/-/merge_requests/{iid}",
            "last_commit": {"id": commit, "message": "联系记录", "title": "联系记录"},
            "labels": label_objects,
        },
        "labels": label_objects,
        "changes": {},
    }
    if previous is not None:
        payload["changes"]["labels"] = {
            "previous": [{"id": 1, "title": t} for t in previous],
            "current": label_objects,
        }
    return payload


def comment(iid, text, record=RECORD):
    return {
        "object_kind": "note",
        "event_type": "note",
        "user": {"id": 2, "name": "王老师", "username": "wanglaoshi"},
        "project": {"id": 7, "web_url": PROJECT_URL},
        "object_attributes": {
            "id": 1244,
            "note": text,
            "noteable_type": "MergeRequest",
            "system": False,
            "action": "create",
        },
        "merge_request": {
            "id": 99 + iid,
            "iid": iid,
            "source_branch": f"record/{record}",
            "title": f"赵某 {record[:10]} 联系学生会",
            "state": "opened",
            "url": f"{PROJECT_URL}/-/merge_requests/{iid}",
            "last_commit": {"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"},
        },
    }


def pipeline(status="success", jobs=(("export", "success"),), semester="2025-2026-1", pipeline_id=31):
    return {
        "object_kind": "pipeline",
        "object_attributes": {
            "id": pipeline_id,
            "iid": 3,
            "ref": "main",
            "source": "web",
            "status": status,
            "variables": [{"key": "SEMESTER", "value": semester}],
            "url": f"{PROJECT_URL}/-/pipelines/{pipeline_id}",
        },
        "project": {"id": 7, "name": "records", "web_url": PROJECT_URL, "path_with_namespace": "xgc/records"},
        "builds": [
            {
                "id": 380 + n,
                "stage": "publish",
                "name": name,
                "status": job_status,
                "artifacts_file": {"filename": "artifacts.zip"},
            }
            for n, (name, job_status) in enumerate(jobs)
        ],
    }


# The steps of the flow ---------------------------------------------------------------------------------


def test_a_merge_tells_the_leader_by_sms_and_app_with_the_pdf_link(service, providers):
    svc = service()
    status, body = svc.hook("Merge Request Hook", merge_request("merge"))
    assert status == 200 and json.loads(body)["queued"] is True
    wait_until(lambda: providers["aliyun"].delivered and providers["wecom"].delivered)
    svc.settle()
    assert providers["aliyun"].delivered == [
        {
            "mobile": "13800000001",
            "sign": "测试大学",
            "template": "SMS_0002",
            "params": {"name": "赵某", "date": "10月8日", "target": "学生会"},
            "out_id": providers["aliyun"].delivered[0]["out_id"],
        }
    ]
    [card] = providers["wecom"].delivered
    assert card["userid"] == "zhao" and card["title"] == "联系记录已通过审核"
    assert card["url"] == f"https://form.example.edu.cn/records/{RECORD}.pdf"
    assert "10月8日联系学生会的记录已通过审核" in card["description"]


def test_submissions_reach_the_office_and_a_burst_is_one_digest(service, providers, monkeypatch):
    svc = service(gather=120)
    for iid in (1, 2, 3):
        status, _ = svc.hook(
            "Merge Request Hook", merge_request("open", iid=iid, record=f"2025-10-0{iid}-T1-00000{iid}")
        )
        assert status == 200
    svc.settle()
    assert providers["aliyun"].delivered == [] and providers["wecom"].delivered == []  # still gathering
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:02:01+08:00")
    svc.settle()
    sms = sorted((d["mobile"], d["template"], json.dumps(d["params"])) for d in providers["aliyun"].delivered)
    assert sms == [("13800000008", "SMS_0004", '{"count": "3"}'), ("13800000009", "SMS_0004", '{"count": "3"}')]
    cards = providers["wecom"].delivered
    assert sorted(c["userid"] for c in cards) == ["lilaoshi", "wanglaoshi"]
    assert all(c["title"] == "3 条联系记录待审核" and c["url"] == f"{PROJECT_URL}/-/merge_requests" for c in cards)
    assert "!1、!2、!3" in cards[0]["description"]


def test_a_single_submission_links_its_merge_request(service, providers):
    svc = service(office=1)
    svc.hook("Merge Request Hook", merge_request("open", iid=5))
    wait_until(lambda: providers["wecom"].delivered)
    [card] = providers["wecom"].delivered
    assert card["url"] == f"{PROJECT_URL}/-/merge_requests/5"
    assert card["description"] == "赵某提交的10月8日联系学生会的记录待审核（合并请求 !5）。"
    wait_until(lambda: providers["aliyun"].delivered)
    assert providers["aliyun"].delivered[0]["params"] == {"count": "1"}


def test_sent_back_by_label_carries_the_reviewers_comment_and_the_edit_link(service, providers):
    svc = service()
    svc.hook("Note Hook", comment(1, "请补充联系内容，写明学生提出的具体问题和您的答复。"))
    svc.hook("Merge Request Hook", merge_request("update", labels=["联系记录", "退回"], previous=["联系记录"]))
    wait_until(lambda: providers["aliyun"].delivered and providers["wecom"].delivered)
    [sms] = providers["aliyun"].delivered
    assert sms["template"] == "SMS_0003" and sms["mobile"] == "13800000001"
    assert sms["params"] == {
        "name": "赵某",
        "date": "10月8日",
        "target": "学生会",
        "reason": "请补充联系内容，写明学生提出的具体问题…",
    }
    [card] = providers["wecom"].delivered
    assert card["title"] == "联系记录需要修改" and card["url"] == f"https://form.example.edu.cn/records/{RECORD}/edit"
    assert "原因：请补充联系内容，写明学生提出的具体问题和您的答复。" in card["description"]  # the card has room


def test_a_comment_written_just_after_the_label_is_still_the_reason(service, providers, monkeypatch):
    svc = service(gather=120)
    svc.hook("Merge Request Hook", merge_request("update", labels=["退回"], previous=[]))
    svc.settle()
    assert providers["aliyun"].requests == []  # waiting for the reviewer's words
    svc.hook("Note Hook", comment(1, "日期填错了"))
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:02:01+08:00")
    svc.settle()
    assert [d["params"]["reason"] for d in providers["aliyun"].delivered] == ["日期填错了"]


def test_the_reason_counts_when_the_label_and_its_comment_are_planned_in_one_pass(service, providers, monkeypatch):
    """The worker may first look at the inbox after the label's wait has run out, the comment beside it: the
    comment is kept before the return is told, whatever order they wait in (this raced before)."""
    svc = service(gather=120)
    svc.notifier.stop()  # nothing planned between the two deliveries: one pass sees both
    svc.hook("Merge Request Hook", merge_request("update", labels=["退回"], previous=[]))
    svc.hook("Note Hook", comment(1, "日期填错了"))
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:02:01+08:00")
    svc.notifier.plan()
    [sms] = [i for i in svc.notifier.ledger.waiting() if i["channel"] == "sms"]
    assert dict(sms["params"])["reason"] == "日期填错了"


def test_closed_unmerged_is_sent_back_and_a_label_change_that_is_not_a_return_is_nothing(service, providers):
    svc = service()
    svc.hook("Merge Request Hook", merge_request("update", labels=["联系记录", "加急"], previous=["联系记录"]))
    svc.hook("Merge Request Hook", merge_request("close", iid=2, record="2025-10-09-T3-abcdef"))
    wait_until(lambda: providers["aliyun"].delivered)
    svc.settle()
    assert [(d["mobile"], d["template"]) for d in providers["aliyun"].delivered] == [("13800000003", "SMS_0003")]
    assert providers["aliyun"].delivered[0]["params"]["reason"] == "请查看审核意见"


def test_the_export_pipeline_tells_the_office_through_tencent_and_dingtalk(service, providers):
    svc = service(sms="tencent", app="dingtalk", office=1)
    svc.hook("Pipeline Hook", pipeline(status="running"))
    svc.hook("Pipeline Hook", pipeline(jobs=(("build", "success"),), pipeline_id=30))
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["tencent"].delivered and providers["dingtalk"].delivered)
    svc.settle()
    assert providers["tencent"].delivered == [
        {
            "mobile": "+8613800000009",
            "app": "1400000000",
            "sign": "测试大学",
            "template": "SMS_0005",
            "params": ["2025-2026学年第一学期"],
        }
    ]
    [card] = providers["dingtalk"].delivered
    assert card["userid"] == "wanglaoshi" and card["title"] == "联系记录导出已完成"
    assert card["single_url"] == f"{PROJECT_URL}/-/jobs/380/artifacts/browse"


def test_what_a_leader_or_reviewer_typed_is_shown_as_text_not_markup(service, providers):
    svc = service(app="dingtalk")
    svc.hook("Note Hook", comment(1, "见 [说明](http://evil.example) <b>"))
    svc.hook("Merge Request Hook", merge_request("close", target="学生会](http://evil.example)"))
    wait_until(lambda: providers["dingtalk"].delivered)
    markdown = providers["dingtalk"].delivered[0]["markdown"]
    assert "](" not in markdown and "<b>" not in markdown
    assert "见 ［说明］（（链接） ＜b＞" in markdown  # and no link to follow (liaison.notify.todos.plain)


def test_a_leader_who_takes_only_the_app_gets_no_sms(service, providers):
    svc = service()
    svc.hook("Merge Request Hook", merge_request("merge", record="2025-10-08-T2-aaaaaa"))
    wait_until(lambda: providers["wecom"].delivered)
    svc.settle()
    assert providers["aliyun"].delivered == [] and providers["wecom"].delivered[0]["userid"] == "zhangwei"


# Replayed and forged deliveries ----------------------------------------------------------------------


def test_a_replayed_delivery_and_the_same_state_reported_twice_send_nothing_new(service, providers, monkeypatch):
    svc = service()
    delivery = str(uuid.uuid4())
    assert json.loads(svc.hook("Merge Request Hook", merge_request("merge"), delivery)[1])["queued"] is True
    again = json.loads(svc.hook("Merge Request Hook", merge_request("merge"), delivery)[1])
    assert again == {"ok": True, "queued": False, "replayed": True}
    svc.hook("Merge Request Hook", merge_request("merge"))  # a new UUID, the same record in the same state
    wait_until(lambda: providers["aliyun"].delivered)
    svc.settle()
    assert len(providers["aliyun"].delivered) == 1 and len(providers["wecom"].delivered) == 1
    svc.hook("Merge Request Hook", merge_request("merge", commit="0" * 39 + "1"))  # a later version merged: new
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:01:00+08:00")  # past the number's limit of one a minute
    svc.notifier.wake()
    wait_until(lambda: len(providers["aliyun"].delivered) == 2)


@pytest.mark.parametrize(
    "token", [None, "", "gitlab-webhook-secret-for-test", HOOK_SECRET + "x", HOOK_SECRET[:-1] + "é"]
)
def test_a_forged_or_missing_token_is_401_and_keeps_nothing(service, providers, token):
    svc = service()
    status, body = svc.hook("Merge Request Hook", merge_request("merge"), token=token)
    assert status == 401 and json.loads(body)["ok"] is False
    assert svc.notifier.ledger.events() == [] and list(svc.notifier.ledger.seen.iterdir()) == []
    svc.settle()
    assert providers["aliyun"].requests == [] and providers["wecom"].requests == []


def test_without_a_configured_secret_every_delivery_is_refused(service, providers, monkeypatch):
    svc = service()
    monkeypatch.delenv("LIAISON_GITLAB_WEBHOOK_SECRET")
    assert svc.hook("Merge Request Hook", merge_request("merge"), token="")[0] == 401
    assert svc.hook("Merge Request Hook", merge_request("merge"), token="anything")[0] == 401


def test_an_oversized_or_broken_body_is_refused_and_keeps_nothing(service):
    svc = service()
    assert svc.hook("Merge Request Hook", {}, body=b"{" + b" " * (600 * 1024) + b"}")[0] == 413
    assert svc.hook("Merge Request Hook", {}, body=b"{not json")[0] == 400
    assert svc.notifier.ledger.events() == []


# Quiet hours, limits, refusals, retries ----------------------------------------------------------------


def test_sms_wait_for_the_end_of_the_quiet_hours_and_app_messages_do_not(service, providers, monkeypatch):
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T23:15:00+08:00")
    svc = service()
    svc.hook("Merge Request Hook", merge_request("merge"))
    wait_until(lambda: providers["wecom"].delivered)
    svc.settle()
    assert providers["aliyun"].requests == []
    [held] = [i for i in svc.notifier.ledger.waiting() if i["channel"] == "sms"]
    assert held["state"] == HELD and "免打扰时段，08:00 后发送" in held["held"]
    status, health = svc.health()
    assert status == 200 and health["todos_held"] == 1
    monkeypatch.setenv("LIAISON_NOW", "2025-10-21T07:59:00+08:00")
    svc.settle()
    assert providers["aliyun"].requests == []
    monkeypatch.setenv("LIAISON_NOW", "2025-10-21T08:00:00+08:00")
    svc.settle()
    assert [d["template"] for d in providers["aliyun"].delivered] == ["SMS_0002"]


def test_a_numbers_limit_holds_the_next_sms_instead_of_dropping_it(service, providers, monkeypatch):
    svc = service(limits="    limits: {per_minute: 1, per_hour: 5, per_day: 10}\n")
    svc.hook("Merge Request Hook", merge_request("merge"))
    wait_until(lambda: providers["aliyun"].delivered)
    svc.hook("Merge Request Hook", merge_request("close", iid=2, record="2025-10-09-T1-bbbbbb"))
    svc.settle()
    assert len(providers["aliyun"].delivered) == 1
    held = [i for i in svc.notifier.ledger.waiting() if i["state"] == HELD]
    assert len(held) == 1 and "每分钟最多 1 条" in held[0]["held"]
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:01:00+08:00")
    svc.settle()
    assert [d["template"] for d in providers["aliyun"].delivered] == ["SMS_0002", "SMS_0003"]


def test_a_provider_refusing_one_number_fails_it_alone_with_what_to_fix(service, providers, run, form_repo, tmp_path):
    providers["aliyun"].refuse["13800000009"] = "isv.BUSINESS_LIMIT_CONTROL"
    svc = service()
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["aliyun"].delivered and len(providers["wecom"].delivered) == 2)
    svc.settle()
    assert [d["mobile"] for d in providers["aliyun"].delivered] == ["13800000008"]
    [failed] = [i for i in svc.notifier.ledger.waiting() if i["state"] == FAILED]
    assert failed["code"] == "isv.BUSINESS_LIMIT_CONTROL" and "流控" in failed["fix"]
    status, health = svc.health()
    assert status == 503 and health["todos_failed"] == 1 and "13800000009" not in json.dumps(health)
    listed = run(form_repo, "notify", "--data", str(tmp_path / "data"))
    assert listed.exit_code == 1
    assert f"{failed['id']}" in listed.output and "导出已完成  短信  王老师  失败" in listed.output
    assert "处理：短信平台对这个号码的发送频率有上限（流控）" in listed.output
    rows = json.loads(run(form_repo, "notify", "--data", str(tmp_path / "data"), "--format", "json").output)
    assert {(r["to"], r["channel"], r["state"]) for r in rows} == {
        ("王老师", "sms", "failed"),
        ("李老师", "sms", "sent"),
        ("王老师", "app", "sent"),
        ("李老师", "app", "sent"),
    }
    providers["aliyun"].refuse.clear()
    retried = run(form_repo, "notify", "--data", str(tmp_path / "data"), "--retry", failed["id"])
    assert retried.exit_code == 0 and "已发送" in retried.output, retried.output
    assert [d["mobile"] for d in providers["aliyun"].delivered] == ["13800000008", "13800000009"]
    assert svc.health()[0] == 200


def test_a_wrong_key_is_refused_by_the_signature_check(service, providers, monkeypatch):
    monkeypatch.setenv("LIAISON_SMS_KEY_SECRET", "not-the-secret")
    svc = service(office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: any(i["state"] == FAILED for i in svc.notifier.ledger.waiting()))
    [failed] = [i for i in svc.notifier.ledger.waiting() if i["state"] == FAILED]
    assert failed["code"] == "SignatureDoesNotMatch" and "LIAISON_SMS_KEY_SECRET" in failed["fix"]
    assert providers["aliyun"].delivered == [] and len(providers["wecom"].delivered) == 1


def test_a_busy_provider_is_retried_with_backoff(service, providers, monkeypatch):
    providers["aliyun"].failing = 1
    svc = service(office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["aliyun"].requests)
    svc.settle()
    [waiting] = [i for i in svc.notifier.ledger.waiting() if i["channel"] == "sms"]
    assert waiting["state"] == "queued" and waiting["tries"] == 1 and waiting["next_try"] > svc.notifier.now()
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T10:01:01+08:00")
    svc.settle()
    assert [d["template"] for d in providers["aliyun"].delivered] == ["SMS_0005"]


def test_a_provider_that_never_answers_delays_no_webhook(service, providers):
    providers["wecom"].hang.set()
    svc = service(office=1)
    assert svc.hook("Pipeline Hook", pipeline())[0] == 200
    wait_until(providers["wecom"].arrived.is_set)  # the worker is now waiting on 企业微信 (up to its timeout)
    status, body = svc.hook("Merge Request Hook", merge_request("merge"))  # answered meanwhile
    assert status == 200 and json.loads(body)["queued"] is True
    assert svc.health()[0] == 200
    providers["wecom"].release.set()


def test_a_damaged_file_in_the_ledger_holds_back_no_one(service, providers):
    svc = service(office=1)
    notify = svc.notifier.ledger
    (notify.todo / ("0" * 24 + ".json")).write_text(
        '{"id": "000000000000000000000000", "channel": "sms"}', encoding="utf-8"
    )
    (notify.todo / ("1" * 24 + ".json")).write_text("{not json", encoding="utf-8")
    (notify.inbox / "broken.json").write_text(
        '{"event": {"kind": "merged", "merge_request": "x", "bogus": 1}, "received": 0}', encoding="utf-8"
    )
    (notify.inbox / "empty.json").write_text('{"event": {}, "received": "soon"}', encoding="utf-8")
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["aliyun"].delivered and providers["wecom"].delivered)
    assert svc.health()[0] == 200


# A restart, and kill -9 ------------------------------------------------------------------------------------


def serve(root: Path, data: Path, now: str) -> subprocess.Popen:
    """``python build.py serve`` on a free port (``process.port``), once it answers /healthz; its output in
    serve.log beside ``data``."""
    env = {
        **os.environ,
        "LIAISON_PROXY_SECRET": PROXY_SECRET,
        "LIAISON_NOW": now,
        "PYTHONUNBUFFERED": "1",
    }

    def command(port: int) -> list[str]:
        serve = [sys.executable, str(PROJECT / "build.py"), "--root", str(root), "serve"]
        return [*serve, "--port", str(port), "--data", str(data)]

    process, port = start_server(command, data.parent / "serve.log", env, lambda port: healthz(port) > 0)
    process.port = port
    return process


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def ledger_items(data: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for folder in ("todo", "done")
        for p in sorted((data / "notify" / folder).glob("*.json"))
    ]


@pytest.fixture
def process_service(form_repo, providers, secrets, tmp_path, tmp_path_factory):
    """start(now) -> process: ``python build.py serve`` as its own process, on a port of its own (``.port``,
    another after a restart)."""
    started = []

    def start(now: str, sms="aliyun", app="wecom"):
        (form_repo / "roster.yaml").write_text(ROSTER, encoding="utf-8")
        config = (form_repo / "config.yaml").read_text(encoding="utf-8").split("notify:")[0]
        (form_repo / "config.yaml").write_text(
            config + notify_section(providers[sms], providers[app], office=1), encoding="utf-8"
        )
        seed_embedded_remote(tmp_path_factory, form_repo, tmp_path / "data")
        process = serve(form_repo, tmp_path / "data", now)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill(process)


def post_hook(port: int, kind: str, payload: dict) -> int:
    return Service(port).hook(kind, payload)[0]


def test_kill_9_between_queue_and_send_neither_loses_nor_double_sends(process_service, providers, tmp_path):
    start = process_service
    process = start("2025-10-20T23:30:00+08:00")  # quiet hours: the SMS waits in the ledger
    assert post_hook(process.port, "Merge Request Hook", merge_request("merge")) == 200
    wait_until(lambda: providers["wecom"].delivered)
    wait_until(lambda: any(i["channel"] == "sms" and i["state"] == HELD for i in ledger_items(tmp_path / "data")))
    kill(process)
    process = start("2025-10-21T08:05:00+08:00")  # restarted after the quiet hours
    wait_until(lambda: providers["aliyun"].delivered)
    # Both items recorded as sent: the worker is done with them, so a second send would have happened by now.
    wait_until(lambda: {i["state"] for i in ledger_items(tmp_path / "data")} == {SENT})
    assert [d["template"] for d in providers["aliyun"].delivered] == ["SMS_0002"]
    assert (
        len(providers["wecom"].delivered) == 1 and providers["wecom"].requests.count("POST /cgi-bin/message/send") == 1
    )
    assert {i["channel"]: i["state"] for i in ledger_items(tmp_path / "data")} == {"sms": SENT, "app": SENT}


@pytest.mark.parametrize(("provider", "channel"), [("aliyun", "sms"), ("wecom", "app")])
def test_kill_9_after_the_provider_took_a_message_never_makes_the_person_get_it_twice(
    process_service, providers, tmp_path, provider, channel
):
    start = process_service
    providers[provider].hang.set()  # the provider takes the message; its answer never comes
    process = start(DAYTIME)
    assert post_hook(process.port, "Merge Request Hook", merge_request("merge")) == 200
    wait_until(providers[provider].arrived.is_set)
    [cut_short] = [i for i in ledger_items(tmp_path / "data") if i["state"] == "sending"]
    assert cut_short["channel"] == channel
    kill(process)
    providers[provider].hang.clear()
    providers[provider].release.set()
    process = start(DAYTIME)
    wait_until(lambda: {i["state"] for i in ledger_items(tmp_path / "data")} <= {SENT, FAILED})
    states = {i["channel"]: i for i in ledger_items(tmp_path / "data")}
    if channel == "sms":  # 阿里云 keeps no memory of a repeat: the item is uncertain and never sent again by itself
        assert states["sms"]["state"] == FAILED and states["sms"]["code"] == "uncertain"
        assert "发送记录" in states["sms"]["fix"]
        assert providers["aliyun"].requests.count("POST /") == 1
    else:  # 企业微信's duplicate check drops the repeat: sent again, received once
        assert states["app"]["state"] == SENT
        assert providers["wecom"].requests.count("POST /cgi-bin/message/send") == 2
    assert len(providers["aliyun"].delivered) == 1 and len(providers["wecom"].delivered) == 1


# End to end on the demo ------------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path, providers):
    """The shipped demo (roster, config, records), with notify set up against the stand-ins, committed."""
    import shutil

    root = tmp_path / "demo"
    root.mkdir()
    for name in ("schema", "templates", "site", "records"):
        shutil.copytree(PROJECT / name, root / name)
    for name in ("roster.yaml", "config.yaml"):
        shutil.copy(PROJECT / name, root / name)
    config = (root / "config.yaml").read_text(encoding="utf-8")
    (root / "config.yaml").write_text(
        config + notify_section(providers["aliyun"], providers["wecom"], office=1), encoding="utf-8"
    )
    commit_all(root, "演示数据")
    return root


def test_end_to_end_on_the_demo_a_submission_its_merge_and_the_leaders_message(
    demo, make_app, live, providers, secrets, monkeypatch, tmp_path
):
    monkeypatch.setenv("LIAISON_NOW", "2025-12-01T10:00:00+08:00")
    monkeypatch.setenv("LIAISON_TODAY", "2025-12-01")
    app = make_app(demo, tmp_path / "data")
    port = live(app)
    svc = Service(port, app)
    leader = app.config["LIAISON_PROJECT"].roster.by_login["zhaomin"]
    providers["wecom"].users.add(leader.login)  # the school's 企业微信 knows its leaders by their login
    client = Client(port, proxy_headers(leader.login))
    hidden = client.new_form()
    reply = client.post(
        "/new", {**hidden, **good_form(position=leader.position, date="2025-11-28", target="学生会干部")}
    )
    assert reply.status == 303, reply.text[:300]
    record_id = reply.headers["Location"].rsplit("/", 1)[1]
    remote = tmp_path / "data" / "remote.git"
    wait_until(lambda: f"record/{record_id}" in git(remote, "branch", "--list", "record/*"))
    head = git(remote, "rev-parse", f"record/{record_id}")
    # GitLab opens the merge request and tells the service; 思政科 is told.
    opened = merge_request("open", iid=12, record=record_id, commit=head, target="学生会干部")
    opened["object_attributes"]["title"] = f"{leader.name} 2025-11-28 联系学生会干部"
    assert svc.hook("Merge Request Hook", opened)[0] == 200
    wait_until(lambda: providers["aliyun"].delivered)
    assert providers["aliyun"].delivered[0]["template"] == "SMS_0004"
    # 思政科 merges it (here: the merge in the stand-in remote) and GitLab tells the service.
    work = tmp_path / "merge"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "merge", "-q", "--no-ff", "-m", f"Merge branch 'record/{record_id}'", f"origin/record/{record_id}")
    git(work, "push", "-q", "origin", "main")
    merged = {**opened, "object_attributes": {**opened["object_attributes"], "action": "merge", "state": "merged"}}
    assert svc.hook("Merge Request Hook", merged)[0] == 200
    wait_until(lambda: len(providers["aliyun"].delivered) == 2 and len(providers["wecom"].delivered) == 2)
    sms = providers["aliyun"].delivered[1]
    assert sms == {
        **sms,
        "mobile": leader.mobile,
        "template": "SMS_0002",
        "params": {"name": leader.name, "date": "11月28日", "target": "学生会干部"},
    }
    card = providers["wecom"].delivered[1]
    assert card["userid"] == leader.login and card["url"] == f"https://form.example.edu.cn/records/{record_id}.pdf"
    # The link in the message is the leader's PDF on the form service.
    pdf = client.get(f"/records/{record_id}.pdf")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


# Reminder rounds by the same channels and ledger ------------------------------------------------------------


def test_a_reminder_round_sends_sms_templates_and_app_cards_through_the_ledger(
    repo, run, providers, secrets, monkeypatch, tmp_path
):
    from conftest import record_data, write_record

    (repo / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    reminders = "reminders:\n  minimum: 2\n  rounds:\n    - {name: 期末提醒, days_before_end: 80}\n  form_url: https://xg.example.edu.cn/lx\n"
    (repo / "config.yaml").write_text(
        CONFIG + reminders + notify_section(providers["aliyun"], providers["wecom"]), encoding="utf-8"
    )
    write_record(repo, record_data(date=datetime.date(2025, 10, 1)), suffix="000001")
    monkeypatch.setenv("LIAISON_TODAY", "2025-12-01")
    data = tmp_path / "remind-data"
    done = run(repo, "remind", "--send", "--data", str(data))
    assert done.exit_code == 0, done.output
    sms = sorted(
        (d["mobile"], d["template"], json.dumps(d["params"], ensure_ascii=False)) for d in providers["aliyun"].delivered
    )
    assert sms == [
        ("13800000001", "SMS_0001", '{"name": "赵某", "count": "1", "minimum": "2"}'),
        ("13800000003", "SMS_0001", '{"name": "张伟", "count": "0", "minimum": "2"}'),
    ]  # 张伟 (T2) takes only the app
    cards = sorted((c["userid"], c["url"]) for c in providers["wecom"].delivered)
    assert cards == [(u, "https://xg.example.edu.cn/lx") for u in ("zhangwei", "zhangwei2", "zhao")]
    again = run(repo, "remind", "--send", "--data", str(data))
    assert again.exit_code == 0 and "已发送 0 条，本轮此前已发送而跳过 5 条" in again.output
    assert len(providers["aliyun"].delivered) == 2 and len(providers["wecom"].delivered) == 3
    listed = json.loads(run(repo, "notify", "--data", str(data), "--format", "json").output)
    assert len(listed) == 5 and {r["kind"] for r in listed} == {"reminder"}


def test_a_round_at_night_holds_the_sms_and_says_so(repo, run, providers, secrets, monkeypatch, tmp_path):
    (repo / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    reminders = "reminders:\n  minimum: 1\n  rounds:\n    - {name: 期末提醒, days_before_end: 80}\n"
    (repo / "config.yaml").write_text(
        CONFIG + reminders + notify_section(providers["aliyun"], providers["wecom"]), encoding="utf-8"
    )
    monkeypatch.setenv("LIAISON_TODAY", "2025-12-01")
    monkeypatch.setenv("LIAISON_NOW", "2025-12-01T22:30:00+08:00")
    done = run(repo, "remind", "--send", "--data", str(tmp_path / "d"))
    assert done.exit_code == 0, done.output
    assert done.output.count("暂缓：短信给") == 2 and "免打扰时段，08:00 后发送" in done.output
    assert providers["aliyun"].delivered == [] and len(providers["wecom"].delivered) == 3


# Configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "word"),
    [
        ("notify:\n  quiet_hours: 夜里\n", "22:00-08:00"),
        ("notify:\n  sms: {provider: aliyun, sign_name: X, templates: {reminder: SMS_1}}\n", "短信模板缺少 approved"),
        ("notify:\n  sms: {provider: tencent, templates: " + TEMPLATES + "}\n", "sdk_app_id"),
        ("notify:\n  app: {provider: wecom, agent_id: 1}\n", "corp_id"),
        ("notify:\n  app: {provider: generic}\n", "endpoint"),
        ("notify:\n  sms: {provider: qcloud}\n", "provider"),
    ],
)
def test_check_names_what_is_wrong_in_the_notify_section(repo, run, section, word):
    (repo / "config.yaml").write_text(CONFIG + section, encoding="utf-8")
    done = run(repo, "check")
    assert done.exit_code == 1 and "config.yaml" in done.output and word in done.output, done.output
