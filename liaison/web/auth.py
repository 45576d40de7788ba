"""Who the user is: the single-sign-on proxy's header, vouched for by a shared secret.

Production: the proxy (CAS in front, as most Chinese universities run)
authenticates and passes the user name in a configured header, plus a shared
secret in another header. The app trusts the user header only when the
secret matches (constant-time comparison) and refuses the request otherwise:
401 without the headers, 403 with a wrong secret. Header names must use
dashes; waitress drops headers spelled with underscores, so
``X_Remote_User`` can never pose as ``X-Remote-User``.

Development (``serve --dev-login``): a login page lists the roster's leaders,
clearly marked, and only for requests from this machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from flask import abort, current_app, g, redirect, request, session, url_for

from liaison.core.roster import Leader


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def identify() -> None:
    """Before every request: set ``g.leader`` or refuse."""
    settings = current_app.config["LIAISON"]
    g.leader = None
    g.login = ""
    if request.endpoint in ("static", "health", "gitlab_hook"):  # the hook proves itself (views/hooks.py)
        return
    if settings.dev_login:
        if not is_loopback(request.remote_addr):
            abort(
                403,
                description="开发模式登录只允许本机访问。正式部署请在统一身份认证代理之后运行，不要使用 --dev-login。",
            )
        if request.endpoint in ("dev_login",):
            return
        login = session.get("dev_login")
        if not login:
            return redirect(url_for("dev_login"))
    else:
        secret = request.headers.get(settings.secret_header)
        login = request.headers.get(settings.user_header)
        if not secret or not login:
            abort(401, description="未通过统一身份认证。请从学校门户登录后再访问本页面。")
        if not hmac.compare_digest(secret.encode("utf-8"), settings.proxy_secret.encode("utf-8")):
            abort(403, description="身份认证代理的密钥不正确，请求已被拒绝。")
    leader = current_app.config["LIAISON_PROJECT"].roster.by_login.get(login)
    if leader is None or not leader.active:
        state = "已不在名单中（已离任）" if leader else "不在领导干部名单中"
        abort(403, description=f"账号“{login}”{state}，无法填写联系记录。如有疑问，请联系{settings.contact}。")
    if session.get("user") != login:
        # A login (or a different person in this browser): a new session, nothing of
        # the previous one carries over — not its CSRF token, not its id.
        session.clear()
        session["user"] = login
        session["sid"] = secrets.token_urlsafe(16)
        if settings.dev_login:
            session["dev_login"] = login
    g.leader = leader
    g.login = login


def leader() -> Leader:
    return g.leader
