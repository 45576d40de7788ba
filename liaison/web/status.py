"""A record's state in the words of 网上办事大厅, and what 思政科 said about it in GitLab.

Git alone tells 已提交 · 正在同步 (in the outbox), 审核中 (on a review
branch) and 已通过 (on main). When ``web.gitlab_api`` is set, a background
thread reads each open or recently closed merge request and its comments
through GitLab's REST API (python-gitlab, a read-only token from
LIAISON_GITLAB_TOKEN, a timeout on every call) and keeps the last answer;
a page only looks the answer up, so no request ever waits on GitLab.

The GitLab endpoints used (``/api/v4``):
  GET /projects/:id/merge_requests?state=opened|closed    the merge requests, by source branch
  GET /projects/:id/merge_requests/:iid/notes              their comments (system notes skipped)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app

from liaison.core import dates
from liaison.core.config import GitLabApiSettings

log = logging.getLogger(__name__)
TOKEN_ENV = "LIAISON_GITLAB_TOKEN"

# The states a leader reads, with the class that colours them (site/form.css).
SYNCING = ("已提交 · 正在同步", "syncing")
REVIEWING = ("审核中", "reviewing")
APPROVED = ("已通过", "approved")
RETURNED = ("已退回", "returned")
ATTENTION = ("需要处理", "attention")
CORRECTING = ("更正审核中", "correcting")  # 申请更正 of an approved record, sent or under review

# What the pages' state words (liaison/web/views) mean here.
_FROM_GIT = {
    "待同步": SYNCING,
    "待审核": REVIEWING,
    "已合并": APPROVED,
    "待人工处理": ATTENTION,
    "更正审核中": CORRECTING,
}


@dataclass(frozen=True)
class Comment:
    author: str
    body: str
    created: str  # ISO time as GitLab gives it


@dataclass(frozen=True)
class Review:
    """One merge request as the leader needs it: its number, whether it was sent back, the comments."""

    iid: int
    state: str  # opened, closed, merged, locked
    returned: bool
    comments: tuple[Comment, ...]


@dataclass(frozen=True)
class Status:
    label: str
    css: str
    reason: str = ""  # why it was sent back: the reviewer's last comment
    comments: tuple[Comment, ...] = ()
    merge_request: int | None = None

    @property
    def correctable(self) -> bool:
        return self.css in ("syncing", "reviewing", "returned", "attention", "correcting")


def status_of(git_state: str, review: Review | None) -> Status:
    """The leader's words for a record in ``git_state`` (待同步, 待审核, 已合并, 待人工处理) and its review."""
    label, css = _FROM_GIT.get(git_state, REVIEWING)
    if review is None or css in ("approved", "attention"):
        return Status(label, css)
    if review.returned:
        reason = review.comments[-1].body if review.comments else "思政科退回了这条记录，请修改后重新提交。"
        return Status(*RETURNED, reason=reason, comments=review.comments, merge_request=review.iid)
    return Status(label, css, comments=review.comments, merge_request=review.iid)


class GitLabReviews:
    """Reads merge requests and their comments from GitLab (network: only ever called by ReviewCache's thread)."""

    def __init__(self, settings: GitLabApiSettings, token: str):
        import gitlab  # only when configured

        self.settings = settings
        self.client = gitlab.Gitlab(
            settings.url, private_token=token, timeout=settings.timeout, retry_transient_errors=False
        )
        self.project = self.client.projects.get(settings.project, lazy=True)

    def read(self) -> dict[str, Review]:
        """Open and recently closed merge requests by source branch (an open one wins over a closed one)."""
        found: dict[str, Review] = {}
        for state in ("closed", "opened"):
            requests = self.project.mergerequests.list(
                state=state, order_by="updated_at", sort="desc", per_page=100, get_all=False
            )
            for request in requests:
                found[request.source_branch] = self._review(request)
        return found

    def _review(self, request) -> Review:
        notes = request.notes.list(sort="asc", order_by="created_at", per_page=100, get_all=False)
        comments = tuple(
            Comment(note.author.get("name") or note.author.get("username", ""), note.body.strip(), note.created_at)
            for note in notes
            if not note.system and note.body.strip()
        )
        returned = request.state == "closed" or self.settings.returned_label in (request.labels or [])
        return Review(request.iid, request.state, returned, comments)


class ReviewCache:
    """The last answer from GitLab, refreshed in the background every ``every`` seconds."""

    def __init__(self, reader, every: float):
        self.reader = reader
        self.every = every
        self.reviews: dict[str, Review] = {}
        self.read_at = 0.0  # time.monotonic() of the last good read; 0: none yet
        self.error = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="gitlab-reviews", daemon=True)
                self._thread.start()

    def review(self, branch: str) -> Review | None:
        self.ensure_started()
        return self.reviews.get(branch) if branch else None

    def refresh(self) -> None:
        try:
            self.reviews = self.reader.read()
            self.read_at = time.monotonic()
            self.error = ""
        except Exception as err:  # any failure of the network or of GitLab: keep the last answer, say so in the log
            self.error = str(err)
            log.warning("读取 GitLab 合并请求失败，继续显示上一次的结果：%s", err)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)


def install(app: Flask) -> None:
    """Give the templates ``record_status(item)``; with ``web.gitlab_api`` and a token, a ReviewCache too."""
    project = app.config["LIAISON_PROJECT"]
    settings = project.config.web.gitlab_api
    token = os.environ.get(TOKEN_ENV, "")
    if settings is not None and not token:
        log.warning("config.yaml 设置了 web.gitlab_api，但没有环境变量 %s：审核意见不会显示。", TOKEN_ENV)
    if settings is not None and token:
        app.config["LIAISON_REVIEWS"] = ReviewCache(GitLabReviews(settings, token), settings.every)
    app.jinja_env.globals["record_status"] = record_status
    app.jinja_env.globals["shown_time"] = lambda text: shown_time(text, project.config.timezone)


def shown_time(text: str, timezone: str) -> str:
    """A time GitLab gives (``2025-11-11T23:10:00.000Z``) as every page writes one, in the configured zone;
    text that is no such time as it came (GitLab's words are never lost)."""
    moment = dates.parse_moment(text)
    return dates.shown(moment, timezone) if moment is not None else text


def record_status(item) -> Status:
    """The Status of one of 我的记录's items (a view's MyRecord: ``status`` and ``branch``)."""
    cache: ReviewCache | None = current_app.config.get("LIAISON_REVIEWS")
    review = cache.review(item.branch) if cache is not None else None
    return status_of(item.status, review)
