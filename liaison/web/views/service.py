"""The service's own pages: health for monitoring, logout, and the development login."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, session, url_for

from .mine import project, submitter


def health():
    """Whether the outbox and the to-dos are healthy, for the administrator's monitoring: counts and ages, no personal data.

    A failed to-do needs a person (``build.py notify``), so it makes the service "not ok" until retried or dismissed.
    """
    state = submitter().health()
    todos = current_app.config["LIAISON_NOTIFIER"].health()
    state = {**state, **todos, "ok": state["ok"] and todos["todos_failed"] == 0}
    return state, 200 if state["ok"] else 503


def home():
    return redirect(url_for("new_record"))


def logout():
    """Forget this browser's session (and, in the page, its drafts); the SSO proxy decides about its own."""
    session.clear()
    message = "您已退出本系统，本机保存的草稿已清除。如需完全退出统一身份认证，请关闭浏览器或在学校门户退出。"
    return render_template("web/message.html", title="已退出", message=message, forget_drafts=True)


def dev_login():
    if not current_app.config["LIAISON"].dev_login:
        abort(404)
    roster = project().roster
    if request.method == "POST":
        login = request.form.get("login", "")
        if login not in roster.by_login:
            abort(400)
        session.clear()
        session["dev_login"] = login
        return redirect(url_for("new_record"), code=303)
    return render_template("web/dev_login.html", leaders=roster.leaders)


ROUTES = [
    ("/healthz", "health", health, ["GET"]),
    ("/", "home", home, ["GET"]),
    ("/logout", "logout", logout, ["GET", "POST"]),  # a link: at worst a forged one logs a leader out
    ("/dev-login", "dev_login", dev_login, ["GET", "POST"]),
]
