"""Submitting a record: a durable outbox, then one commit on its own branch, pushed with GitLab's push options.

The web form calls :meth:`Submitter.submit`, which only validates the token
and writes the outbox entry (written, fsynced, renamed) before returning, so a
leader is told "received" only once the record is safe on disk. A single
worker thread then turns each entry into a commit and pushes it:

* the commit is built without a working tree, in a private bare mirror of
  the remote, with a temporary index (``read-tree`` the target branch, add the
  file, ``write-tree``, ``commit-tree``): concurrent submissions never share a
  checkout, and a file lock serialises the git work across processes;
* author = the leader (roster name and e-mail), committer = the service;
* the branch ``record/<record id>`` is pushed with ``merge_request.create``,
  ``merge_request.target``, ``merge_request.title``,
  ``merge_request.remove_source_branch`` and the configured labels, so GitLab
  opens the merge request; the push result is checked;
* if the push fails the entry stays in the outbox and is retried with
  backoff, and again at start-up; a resubmitted form (same token) never makes
  a second record.

The embedded default remote is a local bare repository with push options
advertised and a hook that logs them: the same code path, real git.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import secrets
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from liaison.core.files import write_durably
from liaison.core.records import RECORD_ID, record_path
from liaison.git.repo import GitError, Repo

TOKEN = re.compile(r"[0-9a-f]{32}")
SERVICE_NAME = "liaison 表单服务"
SERVICE_EMAIL = "liaison@localhost"

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


def new_token() -> str:
    """A submission token for a freshly rendered form: the same token submitted twice is one record."""
    return secrets.token_hex(16)


def git(args: list[str], cwd: Path, env: dict | None = None, input: bytes | None = None, check: bool = True) -> str:
    """``git ARGS`` in ``cwd`` through the one runner, as stripped text; ``check`` raises GitError on failure."""
    result = Repo(cwd, env=env).attempt(*args, input=input)
    if check and not result.ok:
        raise GitError(list(args), result.status, result.stderr)
    return result.text


def init_local_remote(remote: Path, project_root: Path, branch: str = "main") -> None:
    """Create the embedded stand-in for GitLab: a bare repository seeded with the project's HEAD."""
    if (remote / "HEAD").exists():
        return
    remote.mkdir(parents=True, exist_ok=True)
    git(["init", "-q", "--bare", "-b", branch, str(remote)], cwd=remote.parent)
    git(["config", "receive.advertisePushOptions", "true"], cwd=remote)
    hook = remote / "hooks" / "post-receive"
    hook.write_text(PUSH_LOG_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    git(["push", "-q", str(remote), f"HEAD:refs/heads/{branch}"], cwd=project_root)


@dataclass(frozen=True)
class Entry:
    """One submission waiting in (or gone through) the outbox."""

    token: str
    kind: str  # new | correction
    record_id: str
    leader_id: str
    author_name: str
    author_email: str
    yaml: str
    title: str
    created: str  # ISO time: also the commit's date, so a retried commit is the same commit
    branch: str = ""  # a correction stays on its record's first branch, even when its id changes
    previous_path: str = ""  # a correction of the date moves the file: the path it leaves

    @property
    def path(self) -> str:
        return record_path(self.record_id)

    @property
    def branch_name(self) -> str:
        return self.branch or f"record/{self.record_id}"


@dataclass(frozen=True)
class Settings:
    remote: str
    target_branch: str = "main"
    labels: tuple[str, ...] = ()


class Submitter:
    """The outbox in ``data_dir`` and the worker that commits and pushes its entries."""

    def __init__(self, data_dir: Path, settings: Settings):
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.outbox = self.data_dir / "outbox"
        self.sent = self.data_dir / "sent"
        self.mirror = self.data_dir / "mirror.git"
        self.lock_path = self.data_dir / "git.lock"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._token_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.last_error: str = ""
        for folder in (self.outbox, self.sent):
            folder.mkdir(parents=True, exist_ok=True)
        self._init_mirror()

    # The outbox ----------------------------------------------------------

    def submit(self, entry: Entry) -> tuple[Entry, bool]:
        """Keep ``entry`` durably; returns (the entry on record, whether it is new).

        A token seen before returns the earlier entry: a double click or a
        browser retry never makes a second record.
        """
        if not TOKEN.fullmatch(entry.token):
            raise ValueError("bad submission token")
        with self._token_lock:
            earlier = self.find_token(entry.token)
            if earlier is not None:
                return earlier, False
            name = f"{time.time_ns():020d}-{entry.token}.json"
            write_durably(self.outbox / name, json.dumps(entry.__dict__, ensure_ascii=False).encode("utf-8"))
        self._wake.set()
        return entry, True

    def find_token(self, token: str) -> Entry | None:
        # The outbox first, then sent/: an entry moving between them meanwhile is found in sent/.
        for folder in (self.outbox, self.sent):
            for path in folder.glob(f"*{token}.json"):
                entry = _read_entry(path)
                if entry is not None:
                    return entry
        return None

    def pending(self) -> list[Entry]:
        """Entries not yet pushed, oldest first."""
        entries = (_read_entry(path) for path in sorted(self.outbox.glob("*.json")))
        return [entry for entry in entries if entry is not None]

    # The worker ------------------------------------------------------------

    def start(self) -> None:
        """Push what the outbox holds now (e.g. after a restart), then keep pushing as entries arrive."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="liaison-outbox", daemon=True)
            self._worker.start()
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker:
            self._worker.join(timeout=30)
            self._worker = None

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            self._wake.wait(timeout=delay if self.pending() else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            delay = 1.0 if self.flush() else min(delay * 2, 60.0)

    def flush(self) -> bool:
        """Commit and push every entry in order; stop at the first failure. True when the outbox is empty."""
        for path in sorted(self.outbox.glob("*.json")):
            try:
                with self._git_lock():
                    entry = _read_entry(path)
                    if entry is None:
                        continue  # another process pushed it
                    self._commit_and_push(entry)
                    os.replace(path, self.sent / f"{entry.token}.json")
                self.last_error = ""
            except (GitError, OSError) as err:
                self.last_error = str(err)
                return False
        return True

    @contextmanager
    def _git_lock(self):
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # Git -------------------------------------------------------------------

    def _init_mirror(self) -> None:
        if (self.mirror / "HEAD").exists():
            git(["remote", "set-url", "origin", self.settings.remote], cwd=self.mirror)
            return
        self.mirror.mkdir(parents=True)
        git(["init", "-q", "--bare", str(self.mirror)], cwd=self.data_dir)
        for key, value in (("core.fsync", "objects,reference"), ("core.fsyncMethod", "fsync"), ("gc.auto", "0")):
            git(["config", key, value], cwd=self.mirror)
        git(["remote", "add", "origin", self.settings.remote], cwd=self.mirror)

    def fetch(self) -> None:
        """Bring the mirror up to date: the target branch and every record/* branch (pruned)."""
        branch = self.settings.target_branch
        git(
            [
                "fetch",
                "-q",
                "--prune",
                "origin",
                f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                "+refs/heads/record/*:refs/remotes/origin/record/*",
            ],
            cwd=self.mirror,
        )

    def _commit_and_push(self, entry: Entry) -> None:
        branch = entry.branch_name
        local = f"refs/heads/{branch}"
        if not git(["rev-parse", "-q", "--verify", local], cwd=self.mirror, check=False):
            self.fetch()
            if entry.kind == "correction":
                parent = git(["rev-parse", f"refs/remotes/origin/{branch}"], cwd=self.mirror)
            else:
                parent = git(["rev-parse", f"refs/remotes/origin/{self.settings.target_branch}"], cwd=self.mirror)
            commit = self._commit(entry, parent)
            git(["update-ref", local, commit], cwd=self.mirror)
        elif entry.kind == "correction":
            head = git(["rev-parse", local], cwd=self.mirror)
            if git(["show", f"{head}:{entry.path}"], cwd=self.mirror, check=False) != entry.yaml.rstrip("\n"):
                git(["update-ref", local, self._commit(entry, head)], cwd=self.mirror)
        self._push(entry, branch)

    def _commit(self, entry: Entry, parent: str) -> str:
        blob = git(["hash-object", "-w", "--stdin"], cwd=self.mirror, input=entry.yaml.encode("utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            git(["read-tree", parent], cwd=self.mirror, env=index)
            if entry.previous_path and entry.previous_path != entry.path:  # a corrected date moves the file
                # Mode 0 removes the entry; --index-info works without a working tree (this is a bare mirror).
                removal = f"0 {'0' * 40}\t{entry.previous_path}\n".encode()
                git(["update-index", "--index-info"], cwd=self.mirror, env=index, input=removal)
            git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{entry.path}"], cwd=self.mirror, env=index)
            tree = git(["write-tree"], cwd=self.mirror, env=index)
        verb = "新增" if entry.kind == "new" else "修改"
        message = f"{verb}联系记录 {entry.record_id}\n\n{entry.title}\n\nSubmission-Token: {entry.token}\n"
        identity = {
            "GIT_AUTHOR_NAME": entry.author_name,
            "GIT_AUTHOR_EMAIL": entry.author_email,
            "GIT_AUTHOR_DATE": entry.created,
            "GIT_COMMITTER_NAME": SERVICE_NAME,
            "GIT_COMMITTER_EMAIL": SERVICE_EMAIL,
            "GIT_COMMITTER_DATE": entry.created,
        }
        return git(
            ["commit-tree", tree, "-p", parent, "-F", "-"], cwd=self.mirror, env=identity, input=message.encode("utf-8")
        )

    def push_options(self, entry: Entry) -> list[str]:
        options = [
            "merge_request.create",
            f"merge_request.target={self.settings.target_branch}",
            f"merge_request.title={' '.join(entry.title.split())}",
            "merge_request.remove_source_branch",
        ]
        options += [f"merge_request.label={label}" for label in self.settings.labels]
        return options

    def _push(self, entry: Entry, branch: str) -> None:
        args = ["push", "--porcelain"]
        for option in self.push_options(entry):
            args += ["-o", option]
        args += ["origin", f"refs/heads/{branch}:refs/heads/{branch}"]
        done = Repo(self.mirror).attempt(*args)
        out = done.stdout.decode("utf-8", "replace")
        # A zero exit code is not enough (GitPython does not even raise on a
        # rejected push): read git's own flag for this ref in --porcelain output.
        status = next((line for line in out.splitlines() if f"refs/heads/{branch}:refs/heads/{branch}" in line), "")
        if not done.ok or not status or status[0] not in " *=":
            raise GitError(args, done.status, f"push of {branch} rejected: {(done.stderr + out).strip()}")

    # Reading what the remote has -------------------------------------------------

    def branch_records(self, leader_id: str) -> dict[str, tuple[str, str]]:
        """Records waiting for review (remote record/* branches) of one leader: id -> (YAML text, branch).

        The file is the one the branch adds: after a corrected date it is no
        longer at the path the branch's name suggests.
        """
        refs = git(["for-each-ref", "--format=%(refname)", "refs/remotes/origin/record/"], cwd=self.mirror)
        target = f"refs/remotes/origin/{self.settings.target_branch}"
        found = {}
        for ref in refs.splitlines():
            match = RECORD_ID.fullmatch(ref.rsplit("/", 1)[1])
            if not match or match[4] != leader_id:
                continue
            names = git(
                ["diff", "--name-only", "--diff-filter=AMR", f"{target}...{ref}", "--", "records/"],
                cwd=self.mirror,
                check=False,
            ).splitlines()
            for name in names:
                text = git(["show", f"{ref}:{name}"], cwd=self.mirror, check=False)
                if text:
                    found[Path(name).stem] = (text + "\n", ref.removeprefix("refs/remotes/origin/"))
        return found

    def merged_records(self, leader_id: str) -> dict[str, str]:
        """Records of one leader on the target branch: id -> YAML text."""
        ref = f"refs/remotes/origin/{self.settings.target_branch}"
        if not git(["rev-parse", "-q", "--verify", ref], cwd=self.mirror, check=False):
            return {}
        names = git(["ls-tree", "-r", "--name-only", ref, "records/"], cwd=self.mirror).splitlines()
        mine = [n for n in names if (m := RECORD_ID.fullmatch(Path(n).stem)) and m[4] == leader_id]
        if not mine:
            return {}
        contents = Repo(self.mirror).objects(f"{ref}:{name}" for name in mine)
        return {
            Path(name).stem: data.decode("utf-8") for name in mine if (data := contents[f"{ref}:{name}"]) is not None
        }


def _read_entry(path: Path) -> Entry | None:
    """The entry in ``path``, or None if the worker moved it to sent/ since the folder was listed."""
    try:
        return Entry(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
