"""A stand-in for GitLab's REST API on loopback: the two endpoints liaison.web.status reads.

It answers as GitLab documents them (docs.gitlab.com/ee/api/merge_requests.html,
"List project merge requests"; docs.gitlab.com/ee/api/notes.html, "List all
merge request notes"): JSON lists of merge requests (iid, state,
source_branch, labels, …) and of notes (body, author, system, created_at).
It checks the PRIVATE-TOKEN header as GitLab does and counts the requests.
"""

from __future__ import annotations

import http.server
import json
import re
import urllib.parse

from webclient import ServerThread

MERGE_REQUESTS = re.compile(r"/api/v4/projects/(?P<project>[^/]+)/merge_requests$")
NOTES = re.compile(r"/api/v4/projects/(?P<project>[^/]+)/merge_requests/(?P<iid>\d+)/notes$")


class GitLabStandIn:
    """merge_requests: {iid: {...fields...}}; notes: {iid: [note, ...]}; served at ``url``."""

    def __init__(self, project: str, token: str):
        self.project = project
        self.token = token
        self.merge_requests: dict[int, dict] = {}
        self.notes: dict[int, list[dict]] = {}
        self.requests: list[str] = []
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                standin.requests.append(self.path)
                status, body = standin.answer(self.path, self.headers.get("PRIVATE-TOKEN", ""))
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.serving = ServerThread(self.server)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, raw_path: str, token: str) -> tuple[int, object]:
        if token != self.token:
            return 401, {"message": "401 Unauthorized"}
        parsed = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qs(parsed.query)
        if match := MERGE_REQUESTS.fullmatch(parsed.path):
            if urllib.parse.unquote(match["project"]) != self.project:
                return 404, {"message": "404 Project Not Found"}
            state = query.get("state", ["all"])[0]
            return 200, [mr for mr in self.merge_requests.values() if state in ("all", mr["state"])]
        if match := NOTES.fullmatch(parsed.path):
            return 200, self.notes.get(int(match["iid"]), [])
        return 404, {"message": "404 Not Found"}

    def add(self, iid: int, branch: str, state: str = "opened", labels=(), notes=()) -> None:
        self.merge_requests[iid] = {
            "id": 1000 + iid,
            "iid": iid,
            "project_id": 7,
            "title": f"记录 {iid}",
            "state": state,
            "source_branch": branch,
            "target_branch": "main",
            "labels": list(labels),
            "author": {"id": 1, "username": "liaison-form", "name": "联系记录表单"},
            "web_url": f"{self.url}/{self.project}/-/merge_requests/{iid}",
            "updated_at": "2024-10-20T09:00:00.000+08:00",
        }
        self.notes[iid] = [
            {
                "id": 5000 + iid * 10 + n,
                "body": body,
                "author": {"id": 2, "username": who, "name": name},
                "created_at": f"2024-10-20T10:0{n}:00.000+08:00",
                "system": system,
                "noteable_type": "MergeRequest",
                "noteable_iid": iid,
            }
            for n, (who, name, body, system) in enumerate(notes)
        ]

    def close(self) -> None:
        self.serving.close()
