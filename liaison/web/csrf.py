"""CSRF protection: the synchronizer token pattern (OWASP CSRF Prevention Cheat Sheet).

A random token lives in the user's signed session and in every form; a POST
whose form token does not match the session's, compared in constant time, is
refused with 403 before any view runs.

The record form is the exception that keeps a leader's text: on a
logged-in session, an expired or missing token there marks the request
(``g.csrf_failed``) and the view gives the form back, everything typed, with
a fresh token and a line asking to press 提交 again — it submits nothing.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, g, request, session

FIELD = "csrf_token"
GIVES_THE_FORM_BACK = ("new_record", "edit_record")
NOT_A_BROWSER = ("gitlab_hook",)  # GitLab's webhook: no session, its own secret (views/hooks.py)


def token() -> str:
    """The session's token, created on first use."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def protect() -> None:
    """Call before every request: refuses unsafe methods without the right token."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint in NOT_A_BROWSER:
        return
    sent = request.form.get(FIELD, "")
    expected = session.get(FIELD, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        if request.endpoint in GIVES_THE_FORM_BACK and g.get("leader") is not None:
            g.csrf_failed = True
            return
        abort(403, description="表单已过期或来源不明（CSRF 校验失败）。请返回上一页，刷新后重新提交。")
