"""Git for the outbox: a private bare mirror of the remote, one commit per entry, pushed with GitLab's push options.

* The commit is built without a working tree, in the mirror, with a
  temporary index (``read-tree`` the parent, add the file, ``write-tree``,
  ``commit-tree``): concurrent submissions never share a checkout.
* Its parent is the **remote's** current head of the record's branch,
  fetched just before: a reviewer's commit on ``record/<id>`` (GitLab's
  "apply suggestion") is kept under the correction, and the push is never
  forced. A correction whose branch is gone (merged meanwhile) is built on
  the target branch and opens a new merge request that changes the merged
  record.
* The title, in the merge request and the commit message, and the
  description carry the leader's words made inert for GitLab
  (:mod:`liaison.submit.gitlabtext`): no mention, reference, link, image
  or quick action.
* author = the leader, committer = the service (``web.committer_email``);
  the message carries ``Submission-Token:`` and ``Submitted-By:`` trailers;
  with ``LIAISON_SIGNING_KEY`` set the commit is signed with SSH.
* Every network call (fetch, push) has a short process timeout, and HTTP
  transfers that stall are cut by git's own low-speed limit.

The embedded default remote is a local bare repository with push options
advertised and a hook that logs them: the same code path, real git.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from liaison.core.records import RECORD_ID
from liaison.git.closed import REOPEN
from liaison.git.repo import GitError, Repo
from liaison.submit.gitlabtext import inert_line

from .outbox import Entry

SERVICE_NAME = "liaison 表单服务"
NETWORK_TIMEOUT = 30.0  # seconds for one fetch or push, whole
LOW_SPEED_TIME = 10  # seconds below LOW_SPEED_LIMIT bytes/s before git gives up on an HTTP transfer
LOW_SPEED_LIMIT = 1000

# Installed in the embedded stand-in for GitLab: logs what GitLab would receive.
PUSH_LOG_HOOK = """#!/bin/sh
# liaison's stand-in for GitLab: record each push's options and refs.
log="$(git rev-parse --git-dir)/push-options.log"
{
  echo "--- push"
  i=0
  while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "value=\\$GIT_PUSH_OPTION_$i"
    printf 'option %s\\n' "$value"
    i=$((i + 1))
  done
  while read -r old new ref; do printf 'ref %s %s %s\\n' "$old" "$new" "$ref"; done
} >> "$log"
"""

# git's words for a remote that could not be reached or did not answer: try again later.
_TRANSIENT = re.compile(
    r"could not read from remote|unable to access|connection (refused|timed out|reset)|could not resolve"
    r"|does not appear to be a git repository|operation too slow|remote end hung up|early eof|rpc failed"
    r"|the requested url returned error: 5\d\d|temporary failure|fetch first|non-fast-forward|cannot lock ref"
    r"|failed to connect|timed out|network is unreachable|no route to host|ssl"
    # A full or read-only disk, here or at GitLab, refuses no record: it passes.
    r"|no space left on device|disk quota exceeded|read-only file system",
    re.IGNORECASE,
)


class DeliveryError(Exception):
    """A delivery failed; ``transient`` (remote away, timeout: retry later) or not (a hook or a rule refused)."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


def classify(error: GitError) -> DeliveryError:
    message = (error.stderr or str(error)).strip()
    return DeliveryError(message, error.timed_out or bool(_TRANSIENT.search(message)))


@dataclass(frozen=True)
class Settings:
    remote: str
    target_branch: str = "main"
    labels: tuple[str, ...] = ()
    committer_email: str = "liaison@localhost"
    signing_key: str = ""  # path of an SSH private key (LIAISON_SIGNING_KEY); '' = unsigned


def network_env() -> dict[str, str]:
    """Environment for git's network calls: stalled HTTP transfers end, nothing waits for a password."""
    env = {
        "GIT_HTTP_LOW_SPEED_LIMIT": str(LOW_SPEED_LIMIT),
        "GIT_HTTP_LOW_SPEED_TIME": str(LOW_SPEED_TIME),
        "GIT_TERMINAL_PROMPT": "0",
    }
    if "GIT_SSH_COMMAND" not in os.environ:
        wait = str(LOW_SPEED_TIME)
        env["GIT_SSH_COMMAND"] = (
            f"ssh -o BatchMode=yes -o ConnectTimeout={wait} -o ServerAliveInterval={wait} -o ServerAliveCountMax=1"
        )
    return env


def init_local_remote(remote: Path, project_root: Path, branch: str = "main") -> None:
    """Create the embedded stand-in for GitLab: a bare repository seeded with the project's HEAD."""
    if (remote / "HEAD").exists():
        return
    remote.mkdir(parents=True, exist_ok=True)
    Repo(remote.parent).run("init", "-q", "--bare", "-b", branch, str(remote))
    Repo(remote).run("config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks" / "post-receive"
    hook.write_text(PUSH_LOG_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    Repo(project_root).run("push", "-q", str(remote), f"HEAD:refs/heads/{branch}")


class Mirror:
    """The private bare mirror of the remote in ``path``."""

    def __init__(self, path: Path, settings: Settings):
        self.path = Path(path)
        self.settings = settings
        self.repo = Repo(self.path)
        if (self.path / "HEAD").exists():
            self.repo.run("remote", "set-url", "origin", settings.remote)
            return
        self.path.mkdir(parents=True)
        Repo(self.path.parent).run("init", "-q", "--bare", str(self.path))
        for key, value in (("core.fsync", "objects,reference"), ("core.fsyncMethod", "fsync"), ("gc.auto", "0")):
            self.repo.run("config", key, value)
        self.repo.run("remote", "add", "origin", settings.remote)

    def _network(self, *args: str) -> str:
        """A fetch or push with the short timeout: its output, or a DeliveryError saying what git said."""
        try:
            result = self.repo.attempt(*args, env=network_env(), timeout=NETWORK_TIMEOUT)
        except GitError as error:  # timed out
            raise classify(error) from None
        out = result.stdout.decode("utf-8", "replace")
        if not result.ok:
            raise classify(GitError(list(args), result.status, f"{result.stderr}\n{out}".strip()))
        return out

    def fetch(self, branch: str = "record/") -> None:
        """Bring the mirror up to date: the target branch and the record branches under ``branch`` (pruned).

        The worker's periodic fetch takes every ``record/*`` branch; a delivery
        takes only its own (a glob that matches just that name, so a branch
        that does not exist yet is no error and one deleted is pruned).
        """
        target = self.settings.target_branch
        self._network(
            "fetch",
            "-q",
            "--prune",
            "origin",
            f"+refs/heads/{target}:refs/remotes/origin/{target}",
            f"+refs/heads/{branch}*:refs/remotes/origin/{branch}*",
        )

    def _head(self, ref: str) -> str | None:
        found = self.repo.attempt("rev-parse", "-q", "--verify", f"{ref}^{{commit}}")
        return found.text if found.ok else None

    def deliver(self, entry: Entry) -> str:
        """Commit ``entry`` on the remote's head of its branch and push it; returns what happened (for the log)."""
        try:
            self.fetch(entry.branch_name)
            remote_branch = self._head(f"refs/remotes/origin/{entry.branch_name}")
            if remote_branch and self._holds(remote_branch, entry):
                return "already on the remote"
            parent = remote_branch or self._head(f"refs/remotes/origin/{self.settings.target_branch}")
            if parent is None:
                raise DeliveryError(f"远程仓库没有分支 {self.settings.target_branch}", transient=False)
            commit = self._commit(entry, parent)
            self.repo.run("update-ref", f"refs/heads/{entry.branch_name}", commit)
            self._push(entry)
        except GitError as error:
            raise classify(error) from None
        if remote_branch:
            return "pushed onto the branch's current head"
        return "pushed as a new merge request" + (" (its branch was gone)" if entry.kind == "correction" else "")

    def _holds(self, head: str, entry: Entry) -> bool:
        """Whether the branch already has this entry's text (a crash after the push, before the move to sent/)."""
        names = [f"{head}:{entry.path}"] + ([f"{head}:{entry.previous_path}"] if entry.previous_path else [])
        found = self.repo.objects(names)
        moved_away = not entry.previous_path or entry.previous_path == entry.path or found[names[1]] is None
        return found[names[0]] == entry.yaml.encode("utf-8") and moved_away

    def _commit(self, entry: Entry, parent: str) -> str:
        blob = self.repo.text("hash-object", "-w", "--stdin", input=entry.yaml.encode("utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.repo.run("read-tree", parent, env=index)
            if entry.previous_path and entry.previous_path != entry.path:  # a corrected date moves the file
                # Mode 0 removes the entry; --index-info works without a working tree (this is a bare mirror).
                removal = f"0 {'0' * 40}\t{entry.previous_path}\n".encode()
                self.repo.run("update-index", "--index-info", env=index, input=removal)
            self.repo.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{entry.path}", env=index)
            tree = self.repo.text("write-tree", env=index)
        verb = "新增" if entry.kind == "new" else "更正" if entry.reason else "修改"
        trailers = f"Submission-Token: {entry.token}\n"
        if entry.submitted_by:
            trailers += f"Submitted-By: {_one_line_plain(entry.submitted_by)}\n"
        if entry.reopen:  # liaison/git/closed.py: check asks for it on a change to a closed semester
            trailers += f"{REOPEN}: {inert_line(entry.reason)}\n"
        reason = f"更正理由：{inert_line(entry.reason)}\n\n" if entry.reason else ""
        message = f"{verb}联系记录 {entry.record_id}\n\n{inert_line(entry.title)}\n\n{reason}{trailers}"
        identity = {
            "GIT_AUTHOR_NAME": entry.author_name,
            "GIT_AUTHOR_EMAIL": entry.author_email,
            "GIT_AUTHOR_DATE": entry.created,
            "GIT_COMMITTER_NAME": SERVICE_NAME,
            "GIT_COMMITTER_EMAIL": self.settings.committer_email,
            "GIT_COMMITTER_DATE": entry.created,
        }
        signing = []
        if self.settings.signing_key:
            signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.settings.signing_key}"]
        command = [*signing, "commit-tree", *(["-S"] if signing else []), tree, "-p", parent, "-F", "-"]
        return self.repo.text(*command, env=identity, input=message.encode("utf-8"))

    def push_options(self, entry: Entry) -> list[str]:
        options = [
            "merge_request.create",
            f"merge_request.target={self.settings.target_branch}",
            f"merge_request.title={inert_line(entry.title)}",
            "merge_request.remove_source_branch",
        ]
        if entry.description:
            options.append(f"merge_request.description={entry.description}")
        options += [f"merge_request.label={label}" for label in self.settings.labels]
        return options

    def _push(self, entry: Entry) -> None:
        branch = entry.branch_name
        refspec = f"refs/heads/{branch}:refs/heads/{branch}"  # no '+': never a forced push
        args = ["push", "--porcelain"]
        for option in self.push_options(entry):
            args += ["-o", option]
        out = self._network(*args, "origin", refspec)
        # A zero exit code is not enough (GitPython does not even raise on a
        # rejected push): read git's own flag for this ref in --porcelain output.
        status = next((line for line in out.splitlines() if refspec in line), "")
        if not status or status[0] not in " *=":
            raise DeliveryError(f"push of {branch} rejected: {out.strip()}", transient=False)

    # Reading what the remote has (as last fetched) ------------------------------

    def fetched_refs(self, leader_id: str) -> list[str]:
        refs = self.repo.text("for-each-ref", "--format=%(refname)", "refs/remotes/origin/record/")
        return [r for r in refs.splitlines() if (m := RECORD_ID.fullmatch(r.rsplit("/", 1)[1])) and m[4] == leader_id]

    def branch_records(self, leader_id: str) -> dict[str, tuple[str, str]]:
        """Records waiting for review (remote record/* branches) of one leader: id -> (YAML text, branch).

        The file is the one the branch adds: after a corrected date it is no
        longer at the path the branch's name suggests.
        """
        target = f"refs/remotes/origin/{self.settings.target_branch}"
        found = {}
        for ref in self.fetched_refs(leader_id):
            names = self.repo.attempt(
                "diff", "--name-only", "--diff-filter=AMR", f"{target}...{ref}", "--", "records/"
            ).text.splitlines()
            contents = self.repo.objects(f"{ref}:{name}" for name in names)
            for name in names:
                if data := contents[f"{ref}:{name}"]:
                    found[Path(name).stem] = (data.decode("utf-8"), ref.removeprefix("refs/remotes/origin/"))
        return found

    def merged_records(self, leader_id: str) -> dict[str, str]:
        """Records of one leader on the target branch: id -> YAML text."""
        ref = f"refs/remotes/origin/{self.settings.target_branch}"
        if self._head(ref) is None:
            return {}
        names = self.repo.text("ls-tree", "-r", "--name-only", ref, "records/").splitlines()
        mine = [n for n in names if (m := RECORD_ID.fullmatch(Path(n).stem)) and m[4] == leader_id]
        contents = self.repo.objects(f"{ref}:{name}" for name in mine)
        return {
            Path(name).stem: data.decode("utf-8") for name in mine if (data := contents[f"{ref}:{name}"]) is not None
        }


def _one_line_plain(text: str) -> str:
    return " ".join(text.split())
