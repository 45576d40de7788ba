"""The pages of the web form, one module per kind of page (as Datasette lays out its views).

``mine``: what a leader has sent and where each record stands (outbox,
review, merged), read from the outbox and the mirror as last fetched, never
from the network; ``form``: a new record or a correction; ``record``: a
record's page and its PDF; ``service``: health, logout and the development
login; ``hooks``: GitLab's webhook, which becomes to-dos (liaison.notify).
"""

from __future__ import annotations

from flask import Flask

from . import form, hooks, record, service


def register(app: Flask) -> None:
    for module in (service, form, record, hooks):
        for rule, endpoint, view, methods in module.ROUTES:
            app.add_url_rule(rule, endpoint, view, methods=methods)
