"""GitLab's webhook payloads, read as the events of the flow: opened, merged, sent back, exported, commented.

Pure: a payload (as GitLab documents it, docs/user/project/integrations/
webhook_events.md) in, an :class:`Event` (or None for everything that is not
a step of the flow) out. What GitLab sends and what is used:

- ``Merge Request Hook``: ``object_attributes.action`` ``open``/``reopen``
  (思政科 has a record to review), ``merge`` (approved), ``close`` (closed
  unmerged: sent back), ``update`` with the 退回 label added (sent back) or
  taken off again (no longer sent back); ``source_branch``
  ``record/<记录编号>`` names the record and so the leader, but only for a
  merge request within the project (``source_project_id`` is
  ``target_project_id``: a fork's branch can be named anything) into the
  branch the form targets (a merge elsewhere approves nothing);
  ``last_commit.id`` is the version of the record in that state.
- ``Note Hook`` on a merge request: someone's words, with their GitLab
  username (``user.username``); the worker keeps those of 思政科's people as
  the reason of a later (or just earlier) sending back.
- ``Pipeline Hook``: ``object_attributes.status`` ``success`` with a job
  named ``export`` that succeeded: the semester's export is ready; the
  ``SEMESTER``/``FROM``/``TO`` variables say which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liaison.core.records import RECORD_ID

OPENED, MERGED, RETURNED, EXPORTED, COMMENT = "opened", "merged", "returned", "exported", "comment"
UNRETURNED = "unreturned"  # the 退回 label taken off: a sending back still gathering is called off
KINDS = (OPENED, MERGED, RETURNED, EXPORTED, COMMENT, UNRETURNED)
EXPORT_JOB = "export"
FORM_BRANCH = re.compile(r"record/(" + RECORD_ID.pattern + r")")
# The form's merge request title: "<name> <date> 联系<target>" (liaison.web.views.form._entry).
FORM_TITLE = re.compile(r"\S+ \d{4}-\d{2}-\d{2} 联系(?P<target>.+)")


@dataclass(frozen=True)
class Event:
    """One step of the flow, as the to-dos need it."""

    kind: str  # one of KINDS
    merge_request: int = 0  # the merge request's iid (0 for a pipeline)
    record_id: str = ""  # from the source branch record/<id>; '' for other branches
    leader_id: str = ""
    version: str = ""  # last commit of the merge request, or the pipeline's id: one state, one to-do
    url: str = ""  # the merge request's page, or the export job's artifacts
    list_url: str = ""  # the project's list of open merge requests (for a digest)
    target: str = ""  # 联系对象, from the form's title when it has one
    reason: str = ""  # a comment's text
    semester: str = ""  # the export's SEMESTER (or FROM–TO)
    author: str = ""  # a comment's writer: their GitLab username

    def data(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_data(cls, data: dict) -> Event | None:
        """The event kept in the inbox; None when the file holds no event of a known kind."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("kind") not in KINDS:
            return None
        event = cls(**values)
        for name, value in event.__dict__.items():  # a damaged file's "merge_request": "x" must not reach int()
            if type(value) is not type(getattr(cls, name, "")):
                return None
        return event


def event_of(kind_header: str, payload: object, returned_label: str, target_branch: str = "main") -> Event | None:
    """The flow's event in a webhook delivery (``X-Gitlab-Event`` and its JSON), or None when there is none.

    ``target_branch`` is the branch the form's merge requests go into (``web.target_branch``).
    """
    if not isinstance(payload, dict):
        return None
    kind = payload.get("object_kind")
    if kind == "merge_request" or kind_header == "Merge Request Hook":
        return _merge_request(payload, returned_label, target_branch)
    if kind == "note" or kind_header == "Note Hook":
        return _note(payload, target_branch)
    if kind == "pipeline" or kind_header == "Pipeline Hook":
        return _pipeline(payload)
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict]:
    """The objects of a JSON list (anything else in a payload's place of a list: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _labels(value: object) -> set[str]:
    """Label titles from GitLab's label objects (or plain strings, as older versions send)."""
    items = value if isinstance(value, list) else []
    return {_text(item.get("title")) if isinstance(item, dict) else _text(item) for item in items}


def _from_the_form(attributes: dict, target_branch: str) -> bool:
    """Whether a merge request can be one the form opened: a branch of this project into the form's target.

    A fork's branch (``source_project_id`` not the project's) may be called
    ``record/<anyone's record>``; a merge into another branch approves nothing.
    """
    source, target = _number(attributes.get("source_project_id")), _number(attributes.get("target_project_id"))
    if source and target and source != target:
        return False
    into = _text(attributes.get("target_branch"))
    return not into or into == target_branch


def _about(attributes: dict, project: dict, target_branch: str) -> dict:
    """The fields every merge request event has: number, record, leader, version, links, target."""
    branch = _text(attributes.get("source_branch"))
    match = FORM_BRANCH.fullmatch(branch) if _from_the_form(attributes, target_branch) else None
    title = FORM_TITLE.fullmatch(_text(attributes.get("title")))
    web = _text(project.get("web_url")).rstrip("/")
    return {
        "merge_request": _number(attributes.get("iid")),
        "record_id": match[1] if match else "",
        "leader_id": match[5] if match else "",
        "version": _text(_dict(attributes.get("last_commit")).get("id")),
        "url": _text(attributes.get("url")),
        "list_url": f"{web}/-/merge_requests" if web else "",
        "target": title["target"].strip() if title else "",
    }


def _merge_request(payload: dict, returned_label: str, target_branch: str) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    about = _about(attributes, _dict(payload.get("project")), target_branch)
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
    if state == "opened" and change and returned_label in _labels(change.get("previous")) - labels:
        return Event(UNRETURNED, **about)
    return None


def _note(payload: dict, target_branch: str) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    request = _dict(payload.get("merge_request"))
    if attributes.get("noteable_type") != "MergeRequest" or attributes.get("system") or not request:
        return None
    reason = _text(attributes.get("note")).strip()
    if not reason:
        return None
    about = _about(request, _dict(payload.get("project")), target_branch)
    author = _text(_dict(payload.get("user")).get("username"))
    return Event(COMMENT, reason=reason, author=author, **{**about, "url": _text(request.get("url"))})


def _pipeline(payload: dict) -> Event | None:
    attributes = _dict(payload.get("object_attributes"))
    if attributes.get("status") != "success":
        return None
    builds = _dicts(payload.get("builds"))
    job = next((b for b in builds if b.get("name") == EXPORT_JOB and b.get("status") == "success"), None)
    if job is None:
        return None
    web = _text(_dict(payload.get("project")).get("web_url")).rstrip("/")
    variables = {_text(v.get("key")): _text(v.get("value")) for v in _dicts(attributes.get("variables"))}
    span = variables.get("SEMESTER") or "至".join(x for x in (variables.get("FROM"), variables.get("TO")) if x)
    pipeline = _number(attributes.get("id"))
    return Event(
        EXPORTED,
        version=f"pipeline-{pipeline}",
        url=f"{web}/-/jobs/{_number(job.get('id'))}/artifacts/browse" if web else "",
        semester=span,
    )
