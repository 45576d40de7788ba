"""Pages Flask and Werkzeug write themselves, in Chinese: the body of a redirect.

A browser follows a redirect before anyone reads it, but a slow phone, a
proxy or ``curl`` shows Werkzeug's English 「Redirecting...」 page.
"""

from __future__ import annotations

from flask import Flask, Response
from markupsafe import escape

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
