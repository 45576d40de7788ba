"""The web form (``python build.py serve``): leaders submit records; Git keeps them; GitLab reviews them.

``create_app`` builds the Flask application in one place: settings, the
outbox worker, the before-request guards (identity, CSRF), the security
headers after every response, and the views.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, current_app, render_template

from liaison.core.project import irregular_sources, open_project
from liaison.notify.worker import open_notifier
from liaison.outputs.pdf import OnDemand, default_cache_dir
from liaison.submit.worker import open_submitter

from . import auth, chinese, csrf, status, views


@dataclass(frozen=True)
class WebSettings:
    user_header: str
    secret_header: str
    proxy_secret: str
    dev_login: bool
    contact: str


class ConfigurationError(Exception):
    """The app cannot start as configured; the message (Chinese) says what to set."""


def _secret_key(data_dir: Path) -> bytes:
    """Signs session cookies: LIAISON_SECRET_KEY, else a random key kept in the data folder (mode 600)."""
    if os.environ.get("LIAISON_SECRET_KEY"):
        return os.environ["LIAISON_SECRET_KEY"].encode("utf-8")
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(root: Path, data_dir: Path | None = None, dev_login: bool = False, start_worker: bool = True) -> Flask:
    """The application for the repository checkout at ``root``.

    ``data_dir`` (default ``<root>/.liaison``) holds the outbox, the git
    mirror, the to-dos' ledger (``notify/``), the session key and, when
    config.yaml names no remote, the embedded stand-in for GitLab (``remote.git``).
    """
    project = open_project(root)
    if project.config is None or project.roster is None or not project.sources_ok:
        raise ConfigurationError(
            "仓库的设置文件有问题（config.yaml、roster.yaml，或 templates/、site/ 中的链接），"
            "请先运行 python build.py check 查看并修改。"
        )
    data_dir = Path(data_dir or project.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    proxy_secret = _proxy_secret(dev_login)
    submitter = open_submitter(project.config, project.root, data_dir)
    app = Flask(
        __name__,
        template_folder=str(project.root / "templates"),
        static_folder=str(project.root / "site"),
        static_url_path="/static",
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.config.update(
        SECRET_KEY=_secret_key(data_dir),
        # waitress refuses longer bodies before reading them (liaison.web.server); this guards any other server.
        MAX_CONTENT_LENGTH=project.config.web.limits.max_body_kb * 1024,
        LIAISON_LIMITS=project.config.web.limits,  # as the service started: a changed limit needs a restart
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("LIAISON_COOKIE_SECURE") == "1",
        LIAISON=WebSettings(
            user_header=project.config.web.user_header,
            secret_header=project.config.web.secret_header,
            proxy_secret=proxy_secret,
            dev_login=dev_login,
            contact=project.config.web.contact or project.config.office,
        ),
        LIAISON_PROJECT=project,
        LIAISON_SUBMITTER=submitter,
        LIAISON_PDF=OnDemand(project.root, project.schema, project.config, default_cache_dir(project.root)),
    )
    # The notifier reads the project as the app has it now: an edited roster is used without a restart.
    notifier = open_notifier(data_dir, lambda: app.config["LIAISON_PROJECT"])
    app.config["LIAISON_NOTIFIER"] = notifier
    _install(app, dev_login)
    if start_worker:
        start_workers(app)
    return app


def start_workers(app: Flask) -> None:
    """Start the app's background workers: the outbox's deliveries and the to-dos' sending."""
    app.config["LIAISON_SUBMITTER"].start()
    app.config["LIAISON_NOTIFIER"].start()


def _proxy_secret(dev_login: bool) -> str:
    secret = os.environ.get("LIAISON_PROXY_SECRET", "")
    if not dev_login and len(secret) < 16:
        raise ConfigurationError(
            "未设置环境变量 LIAISON_PROXY_SECRET（至少 16 个字符），表单无法确认请求来自统一身份认证代理。"
            "请在代理与表单服务两边配置同一个密钥；本机试用可加 --dev-login。"
        )
    return secret


def _install(app: Flask, dev_login: bool) -> None:
    """The guards before each request, the headers after it, the template context, the views and error pages."""
    app.before_request(_sources_plain)
    app.before_request(_refresh_roster)
    app.before_request(auth.identify)
    app.before_request(csrf.protect)
    app.after_request(security_headers)

    def context() -> dict:
        config = app.config["LIAISON_PROJECT"].config
        return {
            "csrf_token": csrf.token,
            "school": config.school,
            "dev_login": dev_login,
            "office": config.office,
            "timezone": config.timezone,  # the page's own times (a draft's) in the zone of every other time
        }

    app.context_processor(context)
    views.register(app)
    chinese.install(app)
    status.install(app)
    for code in ERRORS:
        app.register_error_handler(code, _error_page(code))


# No script or style from elsewhere, no inline script (drafts live in site/draft.js), never in a frame.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    """On every response; pages and PDFs carry personal data, so no cache keeps them (static files aside)."""
    from flask import request

    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def _sources_plain() -> Response | None:
    """A plain-text 503, before anything is served or rendered, while templates/ or site/ hold a link or a file
    that is not plain: a ``git pull`` after the start may bring one, and /static/ (open without login) and every
    page would read what it points to. A few dozen ``lstat`` a request; the page is no template (it may be the link).
    """
    found = irregular_sources(current_app.config["LIAISON_PROJECT"].root)
    if not found:
        return None
    current_app.logger.error("templates/、site/ 中有链接或非普通文件，暂停服务：%s", [p.format() for p in found])
    names = "、".join(p.path for p in found)
    message = (
        f"表单服务暂停：仓库中 {names} 是链接或不是普通文件，为安全起见不提供任何页面。"
        "请管理员删除它们（换成普通文件），运行 python build.py check 确认无误后再访问。"
    )
    return Response(message, status=503, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def _refresh_roster() -> None:
    """Pick up an edited roster.yaml or config.yaml without a restart (a stat per request).

    A broken edit keeps the last good version in use and is logged, so a typo
    in the roster never locks every leader out of the form.
    """
    from flask import current_app

    project = current_app.config["LIAISON_PROJECT"]
    stamp = tuple(_mtime(project.root / name) for name in ("roster.yaml", "config.yaml"))
    if stamp == current_app.config.setdefault("LIAISON_STAMP", stamp):
        return
    current_app.config["LIAISON_STAMP"] = stamp
    fresh = open_project(project.root)
    if fresh.roster is None or fresh.config is None:
        current_app.logger.error(
            "roster.yaml/config.yaml 有问题，继续使用上一版：%s", [p.format() for p in fresh.problems]
        )
        return
    current_app.config["LIAISON_PROJECT"] = fresh


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


# Title and default explanation of each error page; a view's own (Chinese) description wins.
ERRORS = {
    400: ("请求有误", "请求的格式不正确，请返回重试。"),
    401: ("需要登录", "请从学校门户登录后再访问。"),
    403: ("无权访问", "您没有权限访问这个页面。"),
    404: ("找不到", "页面不存在，或这条记录不属于您。"),
    405: ("不支持的操作", "请从页面上的按钮操作。"),
    413: ("提交的内容太大", ""),  # the limit's own words: chinese.too_large
    500: ("服务器出错", "服务器出了问题，您填写的内容如已提示“已收到”则不会丢失。请稍后再试。"),
}


def _error_page(code: int):
    title, default = ERRORS[code]

    def handler(error):
        description = getattr(error, "description", "") or ""
        if code == 413:
            description = chinese.too_large(current_app.config["LIAISON_LIMITS"])
        elif not any("\u4e00" <= ch <= "\u9fff" for ch in description):
            description = default
        return render_template("web/message.html", title=title, message=description), code

    return handler
