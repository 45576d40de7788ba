"""``POST /hooks/gitlab``: GitLab's project webhook (merge requests, pipelines, comments) becomes to-dos.

Exempt from the single sign-on proxy and from CSRF (GitLab is not a browser
session): the delivery proves itself with ``X-Gitlab-Token``, compared in
constant time with LIAISON_GITLAB_WEBHOOK_SECRET; wrong or missing, the
answer is 401 and nothing is kept. The body is bounded (the app's
MAX_CONTENT_LENGTH: 413 before it is read). The view only parses the
payload, keeps the event durably (a UUID seen before is a replay: nothing
new) and answers at once; the notifier's worker sends, so GitLab, which
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
log = logging.getLogger("liaison.notify")


def gitlab_hook():
    secret = os.environ.get(SECRET_ENV, "")
    token = request.headers.get("X-Gitlab-Token", "")
    if not secret or not hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
        if not secret:
            log.warning("webhook refused: %s is not set", SECRET_ENV)
        return {"ok": False, "error": "X-Gitlab-Token 不正确或未设置。"}, 401
    body = request.get_data(cache=False)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: nesting thousands deep
        return {"ok": False, "error": "请求体不是 JSON。"}, 400
    event = event_of(request.headers.get("X-Gitlab-Event", ""), payload, project().config.returned_label)
    if event is None:
        return {"ok": True, "queued": False}, 200
    delivery = request.headers.get("X-Gitlab-Event-UUID") or "body:" + hashlib.sha256(body).hexdigest()
    new = current_app.config["LIAISON_NOTIFIER"].receive(delivery, event)
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
