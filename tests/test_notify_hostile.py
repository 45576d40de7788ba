"""To-dos attacked: flaky providers, dishonest deliveries, a second process, a killed one, a full disk.

The running form service against the stand-ins of tests/notify_standins.py
(as in tests/test_notify.py), each test one way a provider, a GitLab user or
the machine can misbehave, and what must still hold: nobody gets a message
twice or one meant for somebody else, nothing waits for ever, no secret or
mobile number reaches a log.
"""

# ruff: noqa: F811 - the fixtures come from test_notify by import; pytest passes them by name
from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import logging
import os
import threading
import time
import uuid

import pytest
from processes import wait_until
from test_notify import (  # noqa: F401 - fixtures are used by name
    FAILED,
    HELD,
    HOOK_SECRET,
    ROSTER,
    SENT,
    comment,
    merge_request,
    pipeline,
    providers,
    secrets,
    service,
)
from test_outbox_full_disk import fill, leftovers, small_disk  # noqa: F401

from liaison.notify.todoledger import event_name
from liaison.notify.worker import Notifier

LATER = "2025-10-20T10:02:01+08:00"  # past gather_seconds (120) after DAYTIME


def item_of(svc, channel: str, who: str = "") -> dict:
    """The one item of ``channel`` (to ``who``, when given) in the ledger, waiting or done."""
    ledger = svc.notifier.ledger
    [item] = [
        i for i in ledger.waiting() + ledger.finished() if i["channel"] == channel and (not who or i["who"] == who)
    ]
    return item


def settled(svc, channel: str) -> bool:
    """Whether the worker is done trying ``channel``'s item for now (it is not queued for now, nor being sent)."""
    items = [i for i in svc.notifier.ledger.waiting() + svc.notifier.ledger.finished() if i["channel"] == channel]
    now = svc.notifier.now()
    return bool(items) and all(
        i["state"] not in ("sending", "held") and not (i["state"] == "queued" and i["next_try"] <= now) for i in items
    )


# Providers that misbehave ----------------------------------------------------------------------------------


@pytest.mark.early
def test_an_sms_whose_answer_never_comes_is_never_sent_again_by_itself(service, providers, monkeypatch):
    aliyun = providers["aliyun"]
    aliyun.hang.set()  # 阿里云 takes the message, its answer never comes
    svc = service(office=1, limits="    timeout: 1\n")
    svc.hook("Pipeline Hook", pipeline())
    wait_until(aliyun.arrived.is_set)
    aliyun.hang.clear()  # well again: a second request would be a second message
    wait_until(lambda: settled(svc, "sms"))
    monkeypatch.setenv("LIAISON_NOW", "2025-10-20T12:00:00+08:00")  # past any backoff
    svc.settle()
    assert len(aliyun.delivered) == 1
    item = item_of(svc, "sms")
    assert item["state"] == FAILED and item["code"] == "uncertain" and "发送记录" in item["fix"]


@pytest.mark.early
def test_a_provider_answering_a_byte_at_a_time_is_cut_off_and_holds_back_no_one(service, providers):
    providers["wecom"].trickle.set()  # every read gets a byte within the timeout; the answer never ends
    svc = service(office=1, app_extra="    timeout: 1\n")
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["aliyun"].delivered)  # the SMS of the same to-do went all the same
    wait_until(lambda: settled(svc, "app"))
    app = item_of(svc, "app")
    # 企业微信 drops a repeated message itself: tried again later, not failed.
    assert app["state"] == "queued" and app["tries"] == 1 and app["next_try"] > svc.notifier.now()
    assert "没有在 1 秒内回答完" in app["last_error"]


def test_an_answer_the_worker_cannot_read_fails_that_item_alone(service, providers):
    providers["tencent"].raw = (200, b'{"Response": {"SendStatusSet": [{"Code": null}], "RequestId": "r"}}')
    svc = service(sms="tencent", office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: providers["wecom"].delivered)
    wait_until(lambda: settled(svc, "sms"))
    item = item_of(svc, "sms")
    assert item["state"] == FAILED and item["code"] == "uncertain"  # 腾讯云 said 200: it may have sent it
    assert svc.health()[0] == 503


def test_an_access_token_that_runs_out_mid_run_is_renewed_and_the_message_sent_once(service, providers):
    wecom = providers["wecom"]
    svc = service(office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: wecom.delivered)
    wecom.expire_tokens()  # the cached token runs out between two sends (errcode 42001)
    svc.hook("Merge Request Hook", merge_request("merge"))
    wait_until(lambda: len(wecom.delivered) == 2)
    svc.settle()
    assert wecom.requests.count("GET /cgi-bin/gettoken") == 2
    assert wecom.requests.count("POST /cgi-bin/message/send") == 3  # refused once, then sent with the new token
    assert item_of(svc, "app", "T1")["state"] == SENT


def test_a_gateway_redirect_never_takes_the_key_elsewhere(service, providers):
    elsewhere = providers["app-gateway"]
    providers["sms-gateway"].redirect = f"{elsewhere.url}/collect"
    svc = service(sms="sms-gateway", office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: settled(svc, "sms"))
    assert elsewhere.requests == []
    item = item_of(svc, "sms")
    assert item["state"] == FAILED and "HTTP 302" in item["last_error"]


def test_a_providers_network_error_never_puts_the_mobile_or_the_message_in_the_ledger_or_log(
    service, providers, caplog
):
    providers["aliyun"].close()  # nothing listens there now: the SDK's error names the whole request URL
    caplog.set_level(logging.INFO, logger="liaison")
    svc = service(office=1)
    svc.hook("Pipeline Hook", pipeline())
    wait_until(lambda: settled(svc, "sms"))
    item = item_of(svc, "sms")
    assert item["state"] == "queued" and item["code"] == "network"  # not sent: tried again later
    for text in (item["last_error"], caplog.text):
        assert "13800000009" not in text and "PhoneNumbers" not in text and "TemplateParam" not in text
    assert item_of(svc, "app")["state"] == SENT


# Dishonest or odd deliveries --------------------------------------------------------------------------------


def fork(payload: dict) -> dict:
    payload["object_attributes"].update(source_project_id=99, target_project_id=7)
    return payload


def elsewhere(payload: dict) -> dict:
    payload["object_attributes"]["target_branch"] = "review"
    return payload


@pytest.mark.parametrize("how", [fork, elsewhere], ids=["from-a-fork", "into-another-branch"])
@pytest.mark.parametrize("action", ["merge", "close"])
def test_a_merge_request_the_form_did_not_open_tells_the_leader_it_names_nothing(service, providers, how, action):
    svc = service()
    assert svc.hook("Merge Request Hook", how(merge_request(action)))[0] == 200
    svc.settle()
    assert svc.notifier.ledger.events() == []  # taken, and turned into nothing
    assert providers["aliyun"].requests == [] and providers["wecom"].requests == []


@pytest.mark.parametrize(
    "author", ["zhao", "zhangwei2", "a-student"], ids=["the-leader", "another-leader", "a-stranger"]
)
def test_only_the_office_gives_the_reason_of_a_sending_back(service, providers, author):
    svc = service()
    said = comment(1, "点击 http://evil.example 重新填写")
    said["user"] = {"id": 9, "name": "某人", "username": author}
    svc.hook("Note Hook", said)
    svc.hook("Merge Request Hook", merge_request("update", labels=["退回"], previous=[]))
    wait_until(lambda: providers["aliyun"].delivered and providers["wecom"].delivered)
    assert providers["aliyun"].delivered[0]["params"]["reason"] == "请查看审核意见"
    assert "evil" not in providers["wecom"].delivered[0]["description"]


def sent_back_then_merged(svc):
    svc.hook("Merge Request Hook", merge_request("update", labels=["退回"], previous=[]))
    svc.hook("Merge Request Hook", merge_request("merge"))


def label_on_and_off(svc):
    svc.hook("Merge Request Hook", merge_request("update", labels=["退回"], previous=[]))
    svc.hook("Merge Request Hook", merge_request("update", labels=[], previous=["退回"]))


def closed_then_reopened(svc):
    svc.hook("Merge Request Hook", merge_request("close"))
    svc.hook("Merge Request Hook", merge_request("reopen"))


def opened_then_merged(svc):
    svc.hook("Merge Request Hook", merge_request("open"))
    svc.hook("Merge Request Hook", merge_request("merge"))


def merged_before_opened(svc):  # GitLab's deliveries out of order
    svc.hook("Merge Request Hook", merge_request("merge"))
    svc.settle()
    svc.hook("Merge Request Hook", merge_request("open"))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (sent_back_then_merged, [("13800000001", "SMS_0002")]),
        (label_on_and_off, []),
        (closed_then_reopened, [("13800000009", "SMS_0004")]),
        (opened_then_merged, [("13800000001", "SMS_0002")]),
        (merged_before_opened, [("13800000001", "SMS_0002")]),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_each_person_hears_of_the_state_the_merge_request_ends_in(service, providers, monkeypatch, steps, expected):
    svc = service(gather=120, office=1, limits="    limits: {per_minute: 5, per_hour: 10, per_day: 20}\n")
    steps(svc)
    svc.settle()
    monkeypatch.setenv("LIAISON_NOW", LATER)  # every gathering over
    svc.settle()
    assert [(d["mobile"], d["template"]) for d in providers["aliyun"].delivered] == expected


def test_the_same_submission_reported_twice_is_one_in_the_digest(service, providers, monkeypatch):
    svc = service(gather=120, office=1)
    svc.hook("Merge Request Hook", merge_request("open", iid=1))
    svc.hook("Merge Request Hook", merge_request("open", iid=1))  # the same again, under a new UUID
    svc.hook("Merge Request Hook", merge_request("open", iid=2, record="2025-10-09-T3-abcdef"))
    svc.settle()
    monkeypatch.setenv("LIAISON_NOW", LATER)
    svc.settle()
    assert [d["params"] for d in providers["aliyun"].delivered] == [{"count": "2"}]
    assert "合并请求 !1、!2。" in providers["wecom"].delivered[0]["description"]


def test_an_inactive_leader_is_told_nothing(service, providers):
    svc = service(roster=ROSTER.replace("mobile: '13800000001', active: true", "mobile: '13800000001', active: false"))
    svc.hook("Merge Request Hook", merge_request("merge"))
    svc.settle()
    assert providers["aliyun"].requests == [] and providers["wecom"].requests == []


@pytest.mark.parametrize(
    "payload",
    [
        {**pipeline(), "builds": 5},
        {**pipeline(), "object_attributes": {**pipeline()["object_attributes"], "variables": 5}},
        {**merge_request("merge"), "object_attributes": {**merge_request("merge")["object_attributes"], "iid": "1"}},
        {**merge_request("update"), "changes": {"labels": 5}, "labels": {"title": "退回"}},
        {**comment(1, "x"), "user": "wanglaoshi"},
    ],
    ids=["builds", "variables", "iid", "labels", "user"],
)
def test_a_payload_with_odd_types_is_answered_not_a_server_error(service, payload):
    svc = service()
    kind = {"pipeline": "Pipeline Hook", "merge_request": "Merge Request Hook", "note": "Note Hook"}
    status, _ = svc.hook(kind[payload["object_kind"]], payload)
    assert status == 200


def test_a_number_of_thousands_of_digits_is_a_bad_request_not_a_server_error(service):
    svc = service()
    body = b'{"object_kind": "pipeline", "object_attributes": {"id": ' + b"1" * 5000 + b"}}"
    assert svc.hook("Pipeline Hook", {}, body=body)[0] == 400


def test_a_short_secret_is_no_secret(service, monkeypatch):
    svc = service()
    monkeypatch.setenv("LIAISON_GITLAB_WEBHOOK_SECRET", "abc123")
    assert svc.hook("Merge Request Hook", merge_request("merge"), token="abc123")[0] == 401
    assert svc.notifier.ledger.events() == []


def raw_hook(port: int, headers: list[tuple[str, str]], path: str = "/hooks/gitlab") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps(merge_request("merge")).encode()
    connection.putrequest("POST", path)
    for name, value in [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers]:
        connection.putheader(name, value)
    connection.endheaders(body)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ([("X-Gitlab-Token", HOOK_SECRET), ("X-Gitlab-Token", "forged")], "/hooks/gitlab"),
        ([("X-Gitlab-Token", "forged"), ("X-Gitlab-Token", HOOK_SECRET)], "/hooks/gitlab"),
        ([], f"/hooks/gitlab?token={HOOK_SECRET}"),
        ([("X-Gitlab-Token", HOOK_SECRET.upper())], "/hooks/gitlab"),
    ],
    ids=["twice-right-first", "twice-right-second", "in-the-query", "upper-case"],
)
def test_a_token_doubled_in_the_query_or_in_other_case_is_not_taken(service, headers, path):
    svc = service()
    assert raw_hook(svc.port, [("X-Gitlab-Event", "Merge Request Hook"), *headers], path) == 401
    assert svc.notifier.ledger.events() == []


# A second process, a crash, a full disk, a long life ------------------------------------------------------


def probing_lock(ledger, blocked: threading.Event):
    """The ledger's lock, which first says (``blocked``) when someone else holds it."""

    @contextlib.contextmanager
    def lock():
        with open(ledger.folder / "send.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                blocked.set()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return lock


def test_two_services_on_one_data_folder_never_send_one_to_do_twice(service, providers, monkeypatch):
    svc = service(office=1)
    first = svc.notifier
    first.stop()  # driven by hand below, as two processes would run
    second = Notifier(first.ledger.folder, first.project)
    assert svc.hook("Pipeline Hook", pipeline())[0] == 200
    looked, go_on, first_blocked, first_done = (threading.Event() for _ in range(4))
    known = second.ledger.known

    def slow_known(item_id):  # the second process looks, then is descheduled for a while
        answer = known(item_id)
        looked.set()
        go_on.wait(30)
        return answer

    second.ledger.known = slow_known
    first.ledger.lock = probing_lock(first.ledger, first_blocked)
    planner = threading.Thread(target=lambda: (second.plan(), second.flush()))
    planner.start()
    wait_until(looked.is_set)
    racer = threading.Thread(target=lambda: (first.plan(), first.flush(), first_done.set()))
    racer.start()
    wait_until(lambda: first_done.is_set() or first_blocked.is_set())
    go_on.set()
    planner.join(30)
    racer.join(30)
    monkeypatch.setenv("LIAISON_NOW", LATER)  # past the number's limit, which may hold a second copy for a minute
    first.flush()
    second.flush()
    assert len(providers["aliyun"].delivered) == 1 and len(providers["wecom"].delivered) == 1
    assert not os.listdir(first.ledger.todo)  # every item once, in done/


def test_a_crash_between_sent_and_done_still_counts_for_the_numbers_limit(service, providers):
    svc = service(limits="    limits: {per_minute: 1, per_hour: 5, per_day: 10}\n")
    svc.hook("Merge Request Hook", merge_request("merge"))
    wait_until(lambda: settled(svc, "sms") and providers["aliyun"].delivered)
    ledger = svc.notifier.ledger
    sent = item_of(svc, "sms")
    # The worker writes the final state, then moves the file into done/: on a busy machine the test can look in
    # between (seen once in a full run under load).
    wait_until((ledger.done / f"{sent['id']}.json").exists)
    # kill -9 after the final state was written and before the rename into done/:
    os.replace(ledger.done / f"{sent['id']}.json", ledger.todo / f"{sent['id']}.json")
    Notifier(ledger.folder, svc.notifier.project)  # the restart
    assert not (ledger.todo / f"{sent['id']}.json").exists()
    svc.hook("Merge Request Hook", merge_request("close", iid=2, record="2025-10-09-T1-bbbbbb"))
    svc.settle()
    assert len(providers["aliyun"].delivered) == 1
    assert [i["kind"] for i in ledger.waiting() if i["state"] == HELD] == ["returned"]


@pytest.mark.timeout(120)
def test_a_full_disk_answers_503_keeps_nothing_half_and_takes_gitlabs_redelivery(small_disk, service, providers):
    svc = service(office=1)
    filler = fill(small_disk)
    delivery = str(uuid.uuid4())
    status, body = svc.hook("Pipeline Hook", pipeline(), delivery)
    assert status == 503 and "磁盘已满" in json.loads(body)["error"]
    assert leftovers(small_disk) == [] and svc.notifier.ledger.events() == []
    filler.unlink()  # the administrator frees space; GitLab's "resend" carries the same UUID
    status, body = svc.hook("Pipeline Hook", pipeline(), delivery)
    assert status == 200 and json.loads(body)["queued"] is True
    wait_until(lambda: providers["aliyun"].delivered and providers["wecom"].delivered)


def test_delivery_markers_and_cut_writes_are_pruned_and_a_late_replay_sends_nothing(service, providers):
    svc = service(office=1, limits="    limits: {per_minute: 5, per_hour: 10, per_day: 20}\n")
    old, recent = str(uuid.uuid4()), str(uuid.uuid4())
    svc.hook("Pipeline Hook", pipeline(), old)
    svc.hook("Pipeline Hook", pipeline(semester="2025-2026-2", pipeline_id=32), recent)
    wait_until(lambda: len(providers["aliyun"].delivered) == 2 and len(providers["wecom"].delivered) == 2)
    svc.settle()
    ledger = svc.notifier.ledger
    month_ago = time.time() - 31 * 86400
    os.utime(ledger.seen / event_name(old), (month_ago, month_ago))
    cut_short, writing = ledger.todo / ".tmp-cut-short", ledger.todo / ".tmp-being-written"  # kill -9 mid-write
    for part in (cut_short, writing):
        part.write_bytes(b'{"id": ')
    os.utime(cut_short, (month_ago, month_ago))
    Notifier(ledger.folder, svc.notifier.project).plan()  # a restart prunes at once, then hourly
    assert not (ledger.seen / event_name(old)).exists() and (ledger.seen / event_name(recent)).exists()
    assert not cut_short.exists() and writing.exists()
    assert json.loads(svc.hook("Pipeline Hook", pipeline(), old)[1])["queued"] is True  # taken again…
    svc.settle()
    assert len(providers["aliyun"].delivered) == 2 and len(providers["wecom"].delivered) == 2  # …and sends nothing


# What people type, in a message from the school ------------------------------------------------------------


def test_links_numbers_and_signature_brackets_typed_by_people_never_reach_a_message(service, providers):
    svc = service(app="dingtalk")
    svc.hook("Note Hook", comment(1, "【教务处】请访问 www.evil.cn/a 或致电 139 1234 5678 修改"))
    typed = merge_request("close", target="学生会 详见 https://t.cn/xyz")
    svc.hook("Merge Request Hook", typed)
    wait_until(lambda: providers["aliyun"].delivered and providers["dingtalk"].delivered)
    params = providers["aliyun"].delivered[0]["params"]
    card = providers["dingtalk"].delivered[0]["markdown"]
    for text in (params["target"], params["reason"], card):
        for bad in ("http", "t.cn", "www", "evil.cn", "1234", "【"):
            assert bad not in text, (bad, text)
    assert params["reason"].startswith("［教务处］请访问")
