"""``POST /hooks/gitlab``: GitLab's project webhook (merge requests, pipelines, comments) becomes to-dos.

Exempt from the single sign-on proxy and from CSRF (GitLab is not a browser
session): the delivery proves itself with ``X-Gitlab-Token``, compared in
constant time with LIAISON_GITLAB_WEBHOOK_SECRET (unset or shorter than
:data:`MIN_SECRET` characters, every delivery is refused: a short secret can
be guessed); wrong or missing, the answer is 401 and nothing is kept. The body is bounded (the app's
MAX_CONTENT_LENGTH: 413 before it is read). The view only parses the
payload, keeps the event durably (a UUID seen before is a replay: nothing
new) and answers at once; when it cannot be kept (a full disk), the answer
is 503, so that GitLab shows the delivery as failed and it can be sent again; the notifier's worker sends, so GitLab, which
disables hooks that are slow or fail, never waits on an SMS provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os

from flask import current_app, request

from liaison.notify.events import event_of

from .mine import project

SECRET_ENV = "LIAISON_GITLAB_WEBHOOK_SECRET"
MIN_SECRET = 16  # characters, as for the proxy's secret
log = logging.getLogger("liaison.notify")


def gitlab_hook():
    secret = os.environ.get(SECRET_ENV, "")
    token = request.headers.get("X-Gitlab-Token", "")
    if len(secret) < MIN_SECRET or not hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
        if len(secret) < MIN_SECRET:
            log.warning("webhook refused: %s is not set or shorter than %d characters", SECRET_ENV, MIN_SECRET)
        return {"ok": False, "error": "X-Gitlab-Token 不正确或未设置。"}, 401
    body = request.get_data(cache=False)
    try:
        payload = json.loads(body.decode("utf-8"))
    # ValueError: not UTF-8, not JSON, or a number of thousands of digits; RecursionError: nesting thousands deep.
    except (ValueError, RecursionError):
        return {"ok": False, "error": "请求体不是 JSON。"}, 400
    config = project().config
    event = event_of(
        request.headers.get("X-Gitlab-Event", ""), payload, config.returned_label, config.web.target_branch
    )
    if event is None:
        return {"ok": True, "queued": False}, 200
    delivery = request.headers.get("X-Gitlab-Event-UUID") or "body:" + hashlib.sha256(body).hexdigest()
    try:
        new = current_app.config["LIAISON_NOTIFIER"].receive(delivery, event)
    except OSError as error:  # a full or read-only disk: nothing half-written is left (write_durably)
        log.error("webhook %s event=%s not kept: %s", delivery, event.kind, error.strerror or type(error).__name__)
        return {
            "ok": False,
            "error": "表单服务的磁盘已满或不可写，这次通知没有保存。请腾出空间后在 GitLab 中重发。",
        }, 503
    log.info(
        "webhook %s event=%s mr=!%s record=%s %s",
        delivery,
        event.kind,
        event.merge_request,
        event.record_id,
        "queued" if new else "replayed",
    )
    return {"ok": True, "queued": new, "replayed": not new}, 200


ROUTES = [("/hooks/gitlab", "gitlab_hook", gitlab_hook, ["POST"])]
