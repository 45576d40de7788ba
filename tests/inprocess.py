"""The form's app driven in-process (Flask's test client) as one signed-in leader, and its pages parsed."""

from __future__ import annotations

import html.parser
import re

from conftest import proxy_headers


class Leader:
    """A leader's browser without the browser: one cookie jar, the proxy's headers on every request."""

    def __init__(self, app, login: str = "zhao"):
        self.client = app.test_client()
        self.headers = proxy_headers(login)

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, data: dict, **kwargs):
        return self.client.post(path, data=data, headers=self.headers, **kwargs)

    def hidden(self, path: str = "/new") -> dict:
        """The hidden fields (csrf_token, token) of the form at ``path``, as a browser sends them back."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        return {name: field(page.text, name) for name in ("csrf_token", "token")}


def field(text: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', text)
    return match[1] if match else ""


class Elements(html.parser.HTMLParser):
    """Every element's tag, attributes and text (its own and its children's), in document order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.found: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **{k: (v if v is not None else "") for k, v in attrs}, "text": ""}
        self.found.append(element)
        if tag not in ("input", "meta", "link", "br", "img"):
            self._open.append(element)

    def handle_endtag(self, tag):
        for n in range(len(self._open) - 1, -1, -1):
            if self._open[n]["tag"] == tag:
                del self._open[n:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def by_id(self, ident: str) -> dict | None:
        return next((e for e in self.found if e.get("id") == ident), None)

    def select(self, tag: str, **attrs) -> list[dict]:
        return [e for e in self.found if e["tag"] == tag and all(e.get(k) == v for k, v in attrs.items())]
