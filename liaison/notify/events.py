"""GitLab's webhook payloads, read as the events of the flow: opened, merged, sent back, exported, commented.

Pure: a payload (as GitLab documents it, docs/user/project/integrations/
webhook_events.md) in, an :class:`Event` (or None for everything that is not
a step of the flow) out. What GitLab sends and what is used:

- ``Merge Request Hook``: ``object_attributes.action`` ``open``/``reopen``
  (思政科 has a record to review), ``merge`` (approved), ``close`` (closed
  unmerged: sent back), ``update`` with the 退回 label among ``labels``
  (sent back); ``source_branch`` ``record/<记录编号>`` names the record and so
  the leader; ``last_commit.id`` is the version of the record in that state.
- ``Note Hook`` on a merge request: the reviewer's words, kept as the reason
  of a later (or just earlier) sending back.
- ``Pipeline Hook``: ``object_attributes.status`` ``success`` with a job
  named ``export`` that succeeded: the semester's export is ready; the
  ``SEMESTER``/``FROM``/``TO`` variables say which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liaison.core.records import RECORD_ID

OPENED, MERGED, RETURNED, EXPORTED, COMMENT = "opened", "merged", "returned", "exported", "comment"
EXPORT_JOB = "export"
FORM_BRANCH = re.compile(r"record/(" + RECORD_ID.pattern + r")")
# The form's merge request title: "<name> <date> 联系<target>" (liaison.web.views.form._entry).
FORM_TITLE = re.compile(r"\S+ \d{4}-\d{2}-\d{2} 联系(?P<target>.+)")


@dataclass(frozen=True)
class Event:
    """One step of the flow, as the to-dos need it."""

    kind: str  # opened | merged | returned | exported | comment
    merge_request: int = 0  # the merge request's iid (0 for a pipeline)
    record_id: str = ""  # from the source branch record/<id>; '' for other branches
    leader_id: str = ""
    version: str = ""  # last commit of the merge request, or the pipeline's id: one state, one to-do
    url: str = ""  # the merge request's page, or the export job's artifacts
    list_url: str = ""  # the project's list of open merge requests (for a digest)
    target: str = ""  # 联系对象, from the form's title when it has one
    reason: str = ""  # a comment's text
    semester: str = ""  # the export's SEMESTER (or FROM–TO)

    def data(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_data(cls, data: dict) -> Event | None:
        """The event kept in the inbox; None when the file holds no event of a known kind."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("kind") not in (OPENED, MERGED, RETURNED, EXPORTED, COMMENT):
            return None
        try:
            return cls(**values)
        except TypeError:
            return None


def event_of(kind_header: str, payload: object, returned_label: str) -> Event | None:
    """The flow's event in a webhook delivery (``X-Gitlab-Event`` and its JSON), or None when there is none."""
    if not isinstance(payload, dict):
        return None
    kind = payload.get("object_kind")
    if kind == "merge_request" or kind_header == "Merge Request Hook":
        return _merge_request(payload, returned_label)
    if kind == "note" or kind_header == "Note Hook":
        return _note(payload)
    if kind == "pipeline" or kind_header == "Pipeline Hook":
        return _pipeline(payload)
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _labels(value: object) -> set[str]:
    """Label titles from GitLab's label objects (or plain strings, as older versions send)."""
    items = value if isinstance(value, list) else []
    return {_text(item.get("title")) if isinstance(item, dict) else _text(item) for item in items}


def _about(attributes: dict, project: dict) -> dict:
    """The fields every merge request event has: number, record, leader, version, links, target."""
    branch = _text(attributes.get("source_branch"))
    match = FORM_BRANCH.fullmatch(branch)
    title = FORM_TITLE.fullmatch(_text(attributes.get("title")))
    web = _text(project.get("web_url")).rstrip("/")
    iid = attributes.get("iid")
    return {
        "merge_request": iid if isinstance(iid, int) else 0,
        "record_id": match[1] if match else "",
        "leader_id": match[5] if match else "",
        "version": _text(_dict(attributes.get("last_commit")).get("id")),
        "url": _text(attributes.get("url")),
        "list_url": f"{web}/-/merge_requests" if web else "",
        "target": title["target"].strip() if title else "",
    }


def _merge_request(payload: dict, returned_label: str) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    about = _about(attributes, _dict(payload.get("project")))
    action = attributes.get("action")
    state = attributes.get("state")
    if action in ("open", "reopen") and state == "opened":
        return Event(OPENED, **about)
    if action == "merge":
        return Event(MERGED, **about)
    if action == "close" and state == "closed":
        return Event(RETURNED, **about)
    labels = _labels(attributes.get("labels")) or _labels(payload.get("labels"))
    change = _dict(_dict(payload.get("changes")).get("labels"))
    added = _labels(change.get("current")) - _labels(change.get("previous")) if change else labels
    if state == "opened" and returned_label in labels and returned_label in added:
        return Event(RETURNED, **about)
    return None


def _note(payload: dict) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    request = _dict(payload.get("merge_request"))
    if attributes.get("noteable_type") != "MergeRequest" or attributes.get("system") or not request:
        return None
    reason = _text(attributes.get("note")).strip()
    if not reason:
        return None
    about = _about(request, _dict(payload.get("project")))
    return Event(COMMENT, reason=reason, **{**about, "url": _text(request.get("url"))})


def _pipeline(payload: dict) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    if attributes.get("status") != "success":
        return None
    builds = [b for b in payload.get("builds") or () if isinstance(b, dict)]
    job = next((b for b in builds if b.get("name") == EXPORT_JOB and b.get("status") == "success"), None)
    if job is None:
        return None
    web = _text(_dict(payload.get("project")).get("web_url")).rstrip("/")
    variables = {
        _text(v.get("key")): _text(v.get("value")) for v in attributes.get("variables") or () if isinstance(v, dict)
    }
    span = variables.get("SEMESTER") or "至".join(x for x in (variables.get("FROM"), variables.get("TO")) if x)
    pipeline = attributes.get("id")
    return Event(
        EXPORTED,
        version=f"pipeline-{pipeline}",
        url=f"{web}/-/jobs/{job.get('id')}/artifacts/browse" if web else "",
        semester=span,
    )
