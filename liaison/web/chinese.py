"""Pages Flask, Werkzeug and waitress write themselves, in Chinese: a redirect's body, the server's refusals.

A browser follows a redirect before anyone reads it, but a slow phone, a
proxy or ``curl`` shows Werkzeug's English 「Redirecting...」 page. waitress
answers a request it refuses before the application sees it (too large, not
HTTP) with English text of its own; ``server_page`` is that page in Chinese.
"""

from __future__ import annotations

from flask import Flask, Response
from markupsafe import escape

from liaison.core.config import ServerLimits

REDIRECT_BODY = (
    '<!doctype html>\n<html lang="zh-CN">\n<meta charset="utf-8">\n<title>正在跳转</title>\n'
    '<p>正在跳转到 <a href="{url}">{url}</a>。如果页面没有自动打开，请点这个链接。</p>\n'
)


def chinese_redirect(response: Response) -> Response:
    """Replace Werkzeug's English redirect page with a Chinese one (the Location header is kept)."""
    location = response.headers.get("Location")
    if 300 <= response.status_code < 400 and location and response.mimetype == "text/html":
        response.set_data(REDIRECT_BODY.format(url=escape(location)))
        response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def install(app: Flask) -> None:
    app.after_request(chinese_redirect)


def too_large(limits: ServerLimits) -> str:
    """What a leader reads when a post is over ``web.limits.max_body_kb``, whoever refused it."""
    return (
        f"提交的内容超过了允许的大小（{limits.max_body_kb} KB），没有保存。"
        "请返回上一页（填写的内容仍在），精简联系内容后重新提交。"
    )


def server_page(code: int, limits: ServerLimits) -> bytes:
    """The page waitress sends for a request it refuses itself (status ``code``)."""
    titles = {
        400: ("请求有误", "请求的格式不正确，请返回重试。"),
        413: ("提交的内容太大", too_large(limits)),
        431: (
            "请求头太大",
            f"请求头超过了允许的大小（{limits.max_header_kb} KB）。请清除浏览器中本网站的 Cookie 后重试。",
        ),
    }
    title, message = titles.get(code, ("服务器出错", "服务器出了问题，请稍后再试。"))
    return (
        f'<!doctype html>\n<html lang="zh-CN">\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<h1>{title}</h1>\n<p>{message}</p>\n"
    ).encode()
